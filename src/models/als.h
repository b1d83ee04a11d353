// Implicit-feedback matrix factorization (Hu, Koren & Volinsky 2008),
// solved by alternating least squares with a few conjugate-gradient steps
// per row (Takacs et al. 2011), multithreaded over rows.
//
// Preference p_ui = 1 for every observed pair with confidence
// c_ui = 1 + alpha * w_ui (w: summed interaction weight); unobserved pairs
// have p = 0, c = 1. A shopper is scored by folding in their history: the
// exact least-squares user vector given the item factors, so a new event
// changes the very next answer without retraining.
#pragma once

#include <Eigen/Dense>

#include "models/recommender.h"
#include "models/sparse.h"

namespace vitrina {

class AlsRecommender final : public Recommender {
 public:
  using Factors = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  explicit AlsRecommender(ModelOptions::Als options) : options_(options) {}

  std::string_view name() const override { return "als"; }
  Status Fit(const Dataset& data, const FitOptions& options) override;
  size_t num_items() const override { return static_cast<size_t>(item_factors_.rows()); }
  void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const override;
  // Exact, and usually far cheaper than scoring every item: rows are scanned
  // in descending order of norm and the scan stops once |x_u| |y_i| (which
  // bounds every later score) falls below the k-th best score.
  void TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
            const std::function<bool(uint32_t)>& skip, std::vector<std::pair<uint32_t, float>>* top) const override;
  // One dot product per item with the folded-in user vector (full precision).
  void ScoreItems(std::span<const HistoryEntry> history, Relation relation, std::span<const uint32_t> items,
                  std::span<float> scores) const override;
  int Explain(std::span<const HistoryEntry> history, uint32_t item) const override;
  void ExplainBatch(std::span<const HistoryEntry> history, std::span<const uint32_t> items,
                    std::span<int> anchors) const override;
  Status Save(const std::string& path) const override;
  Status Load(const std::string& path) override;

  // The training objective on the data last fitted:
  //   sum_ui c_ui (p_ui - x_u.y_i)^2 + reg (|X|^2 + |Y|^2), divided by the
  //   number of actors x items. Recorded after each iteration when the
  //   options ask for it (track_loss).
  const std::vector<double>& loss_history() const { return loss_history_; }
  const Factors& item_factors() const { return item_factors_; }

 private:
  // The fold-in of a history: its distinct items, the factorization of the
  // system and the user vector.
  struct FoldedIn {
    uint64_t serial = 0;  // the model's (0: empty)
    std::vector<HistoryEntry> history;
    std::vector<DistinctHistoryItem> distinct;
    Eigen::LDLT<Eigen::MatrixXf> factorization;
    Eigen::VectorXf user;
  };
  // The fold-in of `history`, or null when it has no known item (no
  // evidence). Serving ranks and then explains for the same shopper: the
  // last fold-in of each thread is kept and reused for the same history.
  const FoldedIn* FoldIn(std::span<const HistoryEntry> history) const;
  // Builds the fold-in system A x = b for a history.
  void FoldInSystem(std::span<const HistoryEntry> history, Eigen::MatrixXf* a, Eigen::VectorXf* b,
                    std::vector<DistinctHistoryItem>* distinct) const;
  // Derives what serving needs from item_factors_ (after Fit and Load).
  void PrepareServing();

  ModelOptions::Als options_;
  uint64_t serial_ = 0;  // new for every set of factors: keys the fold-in cache
  Factors item_factors_;
  Eigen::MatrixXf gram_;  // Y^T Y + reg I, cached for fold-in
  // What Score and TopK scan: the factors in half precision (half.h), rows
  // in descending order of their norm, the item of each row, and the norm
  // of each row as stored (so that it bounds the scores computed from it).
  std::vector<uint16_t> serving_rows_;
  std::vector<uint32_t> serving_items_;
  std::vector<float> serving_norms_;
  std::vector<double> loss_history_;
};

}  // namespace vitrina
