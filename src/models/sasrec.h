// SASRec (Kang & McAuley 2018): a causal transformer over the shopper's
// latest items predicts the next one. Trained with cross-entropy over the
// whole catalog at every position (the "SASRec+" finding of Klenitskiy &
// Vasilev 2023 and gSASRec: this loss, not binary cross-entropy with one
// negative, is what makes the model strong), with the output layer tied to
// the item embedding.
//
// Layers (nn.h): item + position embedding, dropout, `blocks` pre-norm
// transformer blocks, a final layer norm; logits = h E^T. Training holds out
// each shopper's last item for validation and keeps the epoch with the best
// validation NDCG@10 (early stopping); workers split each batch.
#pragma once

#include <memory>

#include "models/nn.h"
#include "models/recommender.h"
#include "models/sequences.h"

namespace vitrina {

class SasRecRecommender final : public Recommender {
 public:
  explicit SasRecRecommender(ModelOptions::SasRec options, AnnOptions ann = {});
  ~SasRecRecommender() override;

  std::string_view name() const override { return "sasrec"; }
  Status Fit(const Dataset& data, const FitOptions& options) override;
  size_t num_items() const override { return num_items_; }
  // Scores are exp(logit - max logit): the softmax up to its normalizer,
  // in (0, 1], so the ranking is the model's.
  void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const override;
  // Searches the item-embedding index when the catalog has one (ann.h);
  // the best item found scores 1.
  void TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
            const std::function<bool(uint32_t)>& skip, std::vector<std::pair<uint32_t, float>>* top) const override;
  const InnerProductIndex* index() const override { return index_.get(); }
  // Items x dim: the input embeddings and the tied output layer (with side
  // features, their vectors are folded in).
  const nn::Mat<float>& item_embeddings() const { return params_[0]; }
  // The history item whose embedding is closest (dot product) to the item's.
  int Explain(std::span<const HistoryEntry> history, uint32_t item) const override;
  Status Save(const std::string& path) const override;
  Status Load(const std::string& path) override;

  // One entry per epoch trained; the best one is kept.
  const std::vector<EpochLog>& epochs() const { return epochs_; }
  int best_epoch() const { return best_epoch_; }

  struct Network;  // one worker's layers and buffers (sasrec.cc)

 private:
  // The transformer's output at the newest position: the logits are the
  // item embeddings times it. False for a history with no known item.
  bool FinalState(std::span<const HistoryEntry> history, Eigen::VectorXf* state) const;
  // Indexes the item embeddings when the catalog is large (ann.h).
  void BuildIndex(int threads, uint64_t seed);

  ModelOptions::SasRec options_;
  AnnOptions ann_;
  std::unique_ptr<InnerProductIndex> index_;  // over the item embeddings, for large catalogs
  size_t num_items_ = 0;
  nn::Parameters<float> params_;
  std::vector<EpochLog> epochs_;
  int best_epoch_ = -1;
};

}  // namespace vitrina
