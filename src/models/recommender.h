// The Recommender interface: every model (trending, co-occurrence, EASE,
// ALS, content) trains on a Dataset and scores every item for a shopper's
// history. Created by name with CreateRecommender.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "models/ann.h"
#include "models/dataset.h"

namespace vitrina {

// One item of a shopper's history. Histories are passed newest first; the
// same item may appear more than once. `weight` is the interaction's
// strength (see SignalWeights); models apply their own recency decay.
struct HistoryEntry {
  uint32_t item = 0;
  float weight = 1;
  Signal signal = Signal::kView;
  int64_t time_ms = 0;  // when it happened; 0 when unknown (models that use time treat it as old)
};

// The history entries (newest first, at most `max_history`) of
// interactions given oldest first.
std::vector<HistoryEntry> HistoryOf(std::span<const Interaction> interactions, size_t max_history);

// What kind of related items a score should favour.
enum class Relation : uint8_t {
  kAny,         // whatever the shopper is likely to want next (for you)
  kSubstitute,  // alternatives to the history items (similar items)
  kComplement,  // items bought with them (bought together, cart)
};

struct FitOptions {
  int threads = 2;
  uint64_t seed = 42;
  // Called from the training thread with the fraction done, 0..1. May be empty.
  std::function<void(double)> progress;
};

// Thread-safety: Fit and Load are not; after them, the const methods may be
// called from any number of threads at once.
class Recommender {
 public:
  virtual ~Recommender() = default;

  // The registry name: "trending", "cooccurrence", "ease", "als", ... (RecommenderNames()).
  virtual std::string_view name() const = 0;

  // Trains on `data`, replacing any previous state.
  virtual Status Fit(const Dataset& data, const FitOptions& options) = 0;

  // The number of items scored: data.num_items() at Fit.
  virtual size_t num_items() const = 0;

  // Writes a score for every item into `scores` (size num_items()); higher
  // is better, 0 means no evidence. History items are not excluded here.
  // Allocates O(model size) scratch at most, never per item.
  virtual void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const = 0;

  // The `k` best-scored items for `history`, best first, as (item, score),
  // leaving out scores <= `floor` and items for which `skip` is true. By
  // default Score ranks every item; models with an approximate index
  // (ann.h) search it instead, with the scores on Score's scale.
  virtual void TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
                    const std::function<bool(uint32_t)>& skip, std::vector<std::pair<uint32_t, float>>* top) const;

  // Scores of `items` only, into `scores` (same size), on Score's scale.
  // By default Score ranks every item and the wanted ones are picked;
  // models that can score one item cheaply (ALS, trending) override it.
  virtual void ScoreItems(std::span<const HistoryEntry> history, Relation relation, std::span<const uint32_t> items,
                          std::span<float> scores) const;

  // The approximate index TopK searches, or null when every item is scored.
  virtual const InnerProductIndex* index() const { return nullptr; }

  // The index into `history` of the entry that most supports recommending
  // `item`, or -1 when the score does not come from the history (trending).
  virtual int Explain(std::span<const HistoryEntry> history, uint32_t item) const = 0;
  // Explain for each of `items` into `anchors` (same size). Models whose
  // explanation shares work across items (a factorization) override it.
  virtual void ExplainBatch(std::span<const HistoryEntry> history, std::span<const uint32_t> items,
                            std::span<int> anchors) const {
    for (size_t i = 0; i < items.size(); ++i) anchors[i] = Explain(history, items[i]);
  }

  // Persists / restores the trained state (binary, versioned).
  virtual Status Save(const std::string& path) const = 0;
  virtual Status Load(const std::string& path) = 0;
};

// Hyper-parameters of every model, with the defaults used when not set.
struct ModelOptions {
  struct Trending {
    double half_life_days = 7;  // time decay of popularity; 0: no decay
  } trending;
  struct Cooccurrence {
    int window = 5;             // items up to this far apart in a session co-occur
    double backward_weight = 0.5;  // a pair seen in the order j then i counts this much for i -> j
    double shrinkage = 10;      // cosine shrinkage: c_ij / (sqrt(n_i n_j) + shrinkage)
    int neighbors = 100;        // kept per item and relation
    double recency_decay = 0.8; // weight of the k-th most recent history item: decay^k
  } cooccurrence;
  struct Ease {
    double lambda = 500;        // L2 regularization
    int max_items = 25000;      // refuses larger catalogs (memory: 8 bytes * items^2)
  } ease;
  struct Als {
    int factors = 64;
    int iterations = 15;
    double regularization = 5;
    double alpha = 10;          // confidence = 1 + alpha * weight
    int cg_steps = 3;
    bool track_loss = false;    // compute the objective after each sweep (costs about a sweep's tenth)
  } als;
  struct CategoryPopular {
    double half_life_days = 7;   // as trending's
    double recency_decay = 0.8;  // weight of the k-th most recent history item: decay^k
  } category_popular;
  struct Content {
    int neighbors = 50;
    double max_document_frequency = 0.2;  // tokens in more items than this share (and 100) are ignored
    double recency_decay = 0.8;
  } content;
  struct SasRec {
    int dim = 64;               // embedding and hidden size
    int blocks = 2;             // transformer blocks
    int heads = 1;              // attention heads (dim must divide by it)
    int max_length = 50;        // latest items read per shopper
    double dropout = 0.2;
    double learning_rate = 1e-3;
    double weight_decay = 0;
    int batch_size = 128;       // shoppers per step
    int max_epochs = 200;
    int patience = 10;          // stop after this many epochs without a better validation NDCG@10
    int validation_users = 2000;  // shoppers whose last item is held out for early stopping (0: none)
    bool item_features = false; // add learned category, brand and tag vectors to the item embeddings
    int negatives = 0;          // 0: softmax over the whole catalog; n: over the step's targets and n uniform draws
    bool verbose = false;       // print a line per epoch to stderr
  } sasrec;
  struct Gru4Rec {
    int hidden = 128;           // GRU size, also the item embedding size
    int batch_size = 64;        // sequences advanced side by side
    int samples = 2048;         // extra negatives per step, shared by the batch
    double sample_alpha = 0.5;  // negatives drawn with probability ~ popularity^alpha
    std::string loss = "cross-entropy";  // or "bpr-max"
    double bpreg = 1.0;         // bpr-max: weight of the score regularization
    double logq = 0;            // cross-entropy: subtract logq * log(sampling probability) from scores
    double elu = 0;             // final activation: 0 linear, > 0 ELU with this alpha
    double dropout_embed = 0;
    double dropout_hidden = 0;
    double learning_rate = 0.05;  // Adagrad
    double momentum = 0;
    int max_length = 50;        // latest items read when scoring a shopper
    int max_epochs = 50;
    int patience = 5;
    int validation_users = 2000;
    bool verbose = false;
  } gru4rec;
  // The learned ranker over several models' candidates ("pipeline",
  // ranking/pipeline.h).
  struct Pipeline {
    std::string sources = "trending,category_popular,cooccurrence,ease,als";  // candidate sources it trains (a snapshot's own models when served)
    int candidates_per_source = 50;  // each source's top items that become candidates
    int history_candidates = 50;     // the shopper's latest distinct items are candidates too (re-orders)
    std::string split = "auto";      // how labels are made: temporal, loo, or auto (temporal when enough shoppers return)
    int label_days = 28;             // temporal: the last days before the training end are the labels
    int max_groups = 5000;           // shoppers (or served lists) the ranker learns from at most (a fixed sample beyond)
    int min_served_lists = 200;      // served lists with a click in the label window needed to learn from them instead
    double validation_share = 0.15;  // of those, held out for early stopping
    int rounds = 300;                // boosting rounds at most
    double learning_rate = 0.08;
    int max_depth = 6;
    int early_stopping_rounds = 30;
  } pipeline;
  // The approximate index of sasrec and gru4rec (ann.h).
  AnnOptions ann;
};

// The names CreateRecommender accepts, in the order documented.
const std::vector<std::string>& RecommenderNames();

// InvalidArgument for an unknown name.
Result<std::unique_ptr<Recommender>> CreateRecommender(std::string_view name, const ModelOptions& options);

}  // namespace vitrina
