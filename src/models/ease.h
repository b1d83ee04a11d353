// EASE (Steck 2019): a closed-form item-item linear model.
//   G = X^T X + lambda I,  P = G^-1,  B_ij = -P_ij / P_jj,  B_jj = 0,
// with X the binary actor x item matrix. A history's scores are the sum of
// its items' rows of B. Memory is 4 * items^2 bytes for P (plus as much
// again while training), so the catalog size is capped by max_items.
#pragma once

#include <Eigen/Dense>

#include "models/recommender.h"

namespace vitrina {

class EaseRecommender final : public Recommender {
 public:
  explicit EaseRecommender(ModelOptions::Ease options) : options_(options) {}

  std::string_view name() const override { return "ease"; }
  Status Fit(const Dataset& data, const FitOptions& options) override;
  size_t num_items() const override { return static_cast<size_t>(inverse_.rows()); }
  void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const override;
  int Explain(std::span<const HistoryEntry> history, uint32_t item) const override;
  Status Save(const std::string& path) const override;
  Status Load(const std::string& path) override;

  // B_ij, for tests.
  float Weight(uint32_t i, uint32_t j) const;

 private:
  ModelOptions::Ease options_;
  Eigen::MatrixXf inverse_;  // P, symmetric
};

}  // namespace vitrina
