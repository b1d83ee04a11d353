// Popularity with time decay: each interaction counts its weight halved
// every `half_life_days` before the latest interaction in the data.
// Per-category trending is this score filtered by category (serving).
#pragma once

#include "models/recommender.h"

namespace vitrina {

// Each item's interaction weight, halved every `half_life_days` before the
// latest interaction (0: no decay), scaled so the most popular item has 1.
std::vector<float> DecayedPopularity(const Dataset& data, double half_life_days);

class TrendingRecommender final : public Recommender {
 public:
  explicit TrendingRecommender(ModelOptions::Trending options) : options_(options) {}

  std::string_view name() const override { return "trending"; }
  Status Fit(const Dataset& data, const FitOptions& options) override;
  size_t num_items() const override { return popularity_.size(); }
  void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const override;
  void ScoreItems(std::span<const HistoryEntry> history, Relation relation, std::span<const uint32_t> items,
                  std::span<float> scores) const override {
    for (size_t i = 0; i < items.size(); ++i) scores[i] = popularity_[items[i]];
  }
  // The same for every shopper: walks the items in popularity order.
  void TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
            const std::function<bool(uint32_t)>& skip, std::vector<std::pair<uint32_t, float>>* top) const override;
  int Explain(std::span<const HistoryEntry> history, uint32_t item) const override { return -1; }
  Status Save(const std::string& path) const override;
  Status Load(const std::string& path) override;

  // Decayed popularity, scaled so the most popular item has 1.
  const std::vector<float>& popularity() const { return popularity_; }

 private:
  void SortItems();

  ModelOptions::Trending options_;
  std::vector<float> popularity_;
  std::vector<uint32_t> by_popularity_;  // item indices, most popular first (ties: lower index)
};

}  // namespace vitrina
