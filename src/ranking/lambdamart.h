// A learned ranker: gradient-boosted trees trained with LambdaMART
// (XGBoost's rank:ndcg objective, Debian's libxgboost), over row-major
// float features where NaN means "missing".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vitrina {

// Rows grouped by query (a shopper's request): rows of one group are
// consecutive and compared only with each other.
struct RankingData {
  size_t num_features = 0;
  std::vector<float> features;        // rows x num_features, row-major
  std::vector<float> labels;          // relevance per row: 0 irrelevant, higher better
  std::vector<uint32_t> group_sizes;  // rows per group, in order

  size_t num_rows() const { return labels.size(); }
  // Appends a group of `rows` rows (features and labels already appended).
  void EndGroup(uint32_t rows) { group_sizes.push_back(rows); }
};

struct LambdaMartOptions {
  int rounds = 300;                 // boosting rounds at most
  double learning_rate = 0.08;
  int max_depth = 6;
  double min_child_weight = 1;
  double subsample = 0.8;           // rows sampled per tree
  double colsample = 0.8;           // features sampled per tree
  double l2 = 1;                    // L2 regularization of leaf weights
  int early_stopping_rounds = 30;   // stop when validation NDCG@10 has not improved for this many rounds
  int threads = 2;
  uint64_t seed = 42;
};

struct LambdaMartReport {
  int rounds = 0;                   // rounds kept (the best on validation)
  double validation_ndcg = 0;       // NDCG@10 of the kept model on the validation groups
  double train_ndcg = 0;
};

// Thread-safety: Train and Load are not; Predict and Contributions may be
// called from any number of threads at once (XGBoost's in-place prediction
// is thread-safe for tree models since 1.4).
class LambdaMartRanker {
 public:
  LambdaMartRanker() = default;
  LambdaMartRanker(LambdaMartRanker&& other) noexcept;
  LambdaMartRanker& operator=(LambdaMartRanker&& other) noexcept;
  LambdaMartRanker(const LambdaMartRanker&) = delete;
  LambdaMartRanker& operator=(const LambdaMartRanker&) = delete;
  ~LambdaMartRanker();

  bool trained() const { return booster_ != nullptr; }
  size_t num_features() const { return num_features_; }

  // Trains on `train`, keeping the round with the best NDCG@10 on
  // `validation` (which may be empty: then every round is kept).
  Result<LambdaMartReport> Train(const RankingData& train, const RankingData& validation,
                                 const LambdaMartOptions& options);

  // One score per row of `rows` (count x num_features()) into `scores`.
  // Higher ranks first; only the order within a group means anything.
  Status Predict(std::span<const float> rows, std::span<float> scores) const;

  // Each row's score split into per-feature contributions (TreeSHAP, as
  // XGBoost's pred_contribs): count x (num_features() + 1), the last
  // column being the bias; a row's values sum to its score.
  Status Contributions(std::span<const float> rows, std::vector<float>* contributions) const;

  // The model as XGBoost JSON; Load takes it back.
  Result<std::string> Serialize() const;
  Status Load(std::string_view model, size_t num_features);

 private:
  void* booster_ = nullptr;  // BoosterHandle
  size_t num_features_ = 0;
};

// NDCG@k of one group's scores against its labels (gain 2^label - 1, ties
// broken by row order), as XGBoost's ndcg@k; a group without any relevant
// row counts 1 (XGBoost's default).
double GroupNdcg(std::span<const float> scores, std::span<const float> labels, size_t k);

}  // namespace vitrina
