// The ranking pipeline: candidates from several models ("sources": ALS,
// EASE, co-occurrence, the sequence models, trending, ...) plus the
// shopper's own recent items, described by features (features.h) and
// ordered by a LambdaMART ranker (lambdamart.h).
//
// Training (Fit) mirrors serving: the sources are trained on the data
// before a cut, candidates are generated for shoppers who came back after
// it, and the ranker learns which candidates they took. The sources are
// then trained again on all the data (or taken from the snapshot that
// trained them, UseSources) to serve.
//
// Registered as the model "pipeline": `vitrina evaluate --models pipeline`
// measures it like any other model.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/recommender.h"
#include "ranking/features.h"
#include "ranking/lambdamart.h"

namespace vitrina {

// One ranked candidate.
struct RankedCandidate {
  uint32_t item = 0;
  float score = 0;      // the ranker's score: only the order means anything
  int source = -1;      // the source that ranked it highest; -1: only from the shopper's history
  uint32_t row = 0;     // its row in the feature buffer Rank filled
};

// Reused between calls on one thread: Rank allocates nothing once warm.
struct RankScratch {
  ShopperProfile profile;
  std::vector<int32_t> slot;                // per item: its candidate row, -1 when none
  std::vector<uint32_t> items;              // candidate per row
  std::vector<int> best_source;             // per row
  std::vector<float> features;              // rows x features
  std::vector<float> predictions;           // the ranker's scores (and, while gathering, a source's)
  std::vector<std::pair<uint32_t, float>> top;
};

class PipelineRecommender final : public Recommender {
 public:
  explicit PipelineRecommender(const ModelOptions& options);

  std::string_view name() const override { return "pipeline"; }

  // Serve with these already-trained models (same data as Fit's) instead
  // of training its own; they must outlive this object. Call before Fit
  // (then Fit trains only the ranker and its pre-cut copies) or after Load.
  // InvalidArgument when the list is empty or a pointer is null.
  Status UseSources(const std::vector<const Recommender*>& sources);

  Status Fit(const Dataset& data, const FitOptions& options) override;
  size_t num_items() const override { return stats_.size(); }
  // Candidates get the ranker's order as positive scores; other items 0.
  void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const override;
  void TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
            const std::function<bool(uint32_t)>& skip, std::vector<std::pair<uint32_t, float>>* top) const override;
  int Explain(std::span<const HistoryEntry> history, uint32_t item) const override;
  // The ranker, statistics and source names; the sources are saved as the
  // snapshot's own models and given back with UseSources after Load.
  Status Save(const std::string& path) const override;
  Status Load(const std::string& path) override;

  // The `k` best candidates for `history`, best first, leaving out items
  // for which `skip` is true. Their features stay in scratch->features
  // (row RankedCandidate::row, feature_names() order) for explanations.
  void Rank(std::span<const HistoryEntry> history, const RankContext& context, size_t k,
            const std::function<bool(uint32_t)>& skip, RankScratch* scratch, std::vector<RankedCandidate>* out) const;

  const std::vector<std::string>& source_names() const { return source_names_; }
  const Recommender* source(size_t index) const { return sources_[index]; }
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  const LambdaMartRanker& ranker() const { return ranker_; }
  const LambdaMartReport& report() const { return report_; }
  // Training groups (shoppers or served lists) and rows the ranker learned from.
  size_t training_groups() const { return training_groups_; }
  size_t training_rows() const { return training_rows_; }
  // Whether it learned from served lists and what was taken from them,
  // rather than from what shoppers took after a cut.
  bool learned_from_served_lists() const { return from_served_; }

 private:
  struct Labeled;
  // Candidates and features for one shopper into scratch; returns the rows.
  // With `only`, those items are the candidates (a served list), in order.
  size_t Gather(const std::vector<const Recommender*>& sources, const ItemStats& stats,
                std::span<const HistoryEntry> history, const RankContext& context,
                const std::function<bool(uint32_t)>& skip, RankScratch* scratch,
                std::span<const uint32_t> only = {}) const;
  RankContext DefaultContext(std::span<const HistoryEntry> history) const;
  Status TrainSources(const Dataset& data, const FitOptions& options, double progress_from, double progress_to,
                      std::vector<std::unique_ptr<Recommender>>* out) const;

  ModelOptions options_;
  std::vector<std::string> source_names_;
  std::vector<const Recommender*> sources_;             // what serves: owned_ or given
  std::vector<std::unique_ptr<Recommender>> owned_;
  bool sources_given_ = false;
  std::vector<std::string> feature_names_;
  ItemStats stats_;
  LambdaMartRanker ranker_;
  LambdaMartReport report_;
  int64_t fit_end_ms_ = 0;       // latest interaction Fit saw
  bool real_time_ = false;       // trained on a temporal split (times are real dates)
  bool from_served_ = false;     // learned from served lists
  size_t training_groups_ = 0, training_rows_ = 0;
};

// CreateRecommender, plus "pipeline".
Result<std::unique_ptr<Recommender>> CreateModel(std::string_view name, const ModelOptions& options);
// RecommenderNames() and "pipeline".
const std::vector<std::string>& ModelNames();

}  // namespace vitrina
