// GRU4Rec (Hidasi et al. 2016; Hidasi & Karatzoglou 2018), as the official
// implementation trains it:
//  - session-parallel mini-batches: `batch_size` sequences advance one
//    event per step side by side; a finished one is replaced by the next
//    and its hidden state reset; the hidden state is carried between steps
//    without backpropagating through time;
//  - constrained embedding: the input embedding of an item is its row of
//    the output weight matrix;
//  - negatives: the other targets of the mini-batch plus `samples` items
//    drawn by popularity^sample_alpha, shared by the batch;
//  - losses: cross-entropy (with optional logQ correction) or BPR-max with
//    score regularization; optional ELU final activation;
//  - Adagrad with momentum, updating only the item rows a step touched.
// Early stopping on a held-out last item, as for SASRec.
#pragma once

#include "models/nn.h"
#include "models/recommender.h"
#include "models/sequences.h"

namespace vitrina {

class Gru4RecRecommender final : public Recommender {
 public:
  explicit Gru4RecRecommender(ModelOptions::Gru4Rec options, AnnOptions ann = {});
  ~Gru4RecRecommender() override;

  std::string_view name() const override { return "gru4rec"; }
  Status Fit(const Dataset& data, const FitOptions& options) override;
  size_t num_items() const override { return static_cast<size_t>(items_.rows()); }
  // Runs the latest max_length items through the network; scores are
  // exp(score - max score), in (0, 1].
  void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const override;
  // Searches the [embedding, bias] index when the catalog has one (ann.h);
  // the best item found scores 1.
  void TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
            const std::function<bool(uint32_t)>& skip, std::vector<std::pair<uint32_t, float>>* top) const override;
  const InnerProductIndex* index() const override { return index_.get(); }
  // The history item whose embedding is closest (dot product) to the item's.
  int Explain(std::span<const HistoryEntry> history, uint32_t item) const override;
  Status Save(const std::string& path) const override;
  Status Load(const std::string& path) override;

  // One entry per epoch trained; the best one is kept.
  const std::vector<EpochLog>& epochs() const { return epochs_; }
  int best_epoch() const { return best_epoch_; }

 private:
  // The output vector after the latest max_length history items; false
  // for a history with no known item.
  bool FinalState(std::span<const HistoryEntry> history, nn::RowVec<float>* encoded) const;
  // Indexes [item embedding, bias] rows when the catalog is large (ann.h).
  void BuildIndex(int threads, uint64_t seed);
  // The final output vector (1 x hidden) after reading `sequence` (oldest first).
  void Encode(std::span<const uint32_t> sequence, nn::GruCell<float>::Cache* cache, nn::Mat<float>* h,
              nn::Mat<float>* next, Eigen::Ref<nn::RowVec<float>> out) const;

  ModelOptions::Gru4Rec options_;
  AnnOptions ann_;
  std::unique_ptr<InnerProductIndex> index_;
  nn::Mat<float> items_;       // N x hidden: output weights and input embedding
  nn::RowVec<float> biases_;   // 1 x N output biases
  nn::Parameters<float> gru_params_;
  nn::GruCell<float> cell_;
  std::vector<EpochLog> epochs_;
  int best_epoch_ = -1;
};

}  // namespace vitrina
