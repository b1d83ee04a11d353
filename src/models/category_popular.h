// Popular in the shopper's categories: each item's time-decayed popularity
// (as trending's) weighted by the share of the shopper's recent history in
// the item's leaf category. A candidate source for the learned ranker that
// follows what a shopper browses without needing item-to-item evidence.
//
// It also learns which leaf categories complement each other from orders
// (categories bought in one order, by cosine with shrinkage): what "bought
// together" can offer for an item too new, or too rarely bought, to have
// item-level evidence.
#pragma once

#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "models/recommender.h"

namespace vitrina {

class CategoryPopularRecommender final : public Recommender {
 public:
  explicit CategoryPopularRecommender(ModelOptions::CategoryPopular options) : options_(options) {}

  std::string_view name() const override { return "category_popular"; }
  Status Fit(const Dataset& data, const FitOptions& options) override;
  size_t num_items() const override { return popularity_.size(); }
  // share of the history in the item's category x the item's popularity
  // (the most popular item scores 1); 0 for items outside those categories.
  void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const override;
  void ScoreItems(std::span<const HistoryEntry> history, Relation relation, std::span<const uint32_t> items,
                  std::span<float> scores) const override;
  // Walks each history category's items in popularity order: no catalog scan.
  void TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
            const std::function<bool(uint32_t)>& skip, std::vector<std::pair<uint32_t, float>>* top) const override;
  // The newest history entry in the item's category.
  int Explain(std::span<const HistoryEntry> history, uint32_t item) const override;
  Status Save(const std::string& path) const override;
  Status Load(const std::string& path) override;

  // The item's leaf category id (0: none) and its name.
  uint32_t category(uint32_t item) const { return item_category_[item]; }
  const std::string& category_name(uint32_t id) const { return category_names_[id]; }
  // The id of leaf category `name` (0: not in the training data).
  uint32_t FindCategory(std::string_view name) const;
  // A category bought with another, and how strongly.
  struct Complement {
    uint32_t category = 0;
    float similarity = 0;
  };
  // The categories bought with `category`, the strongest first; each was in
  // at least kMinComplementOrders orders with it.
  std::span<const Complement> Complements(uint32_t category) const;
  // The items of `category`, the most popular first.
  std::span<const uint32_t> ItemsOf(uint32_t category) const;
  // The decayed popularity of `item` (the bestseller has 1).
  float popularity(uint32_t item) const { return popularity_[item]; }

  static constexpr size_t kComplementsPerCategory = 10;
  static constexpr float kMinComplementOrders = 2;

 private:
  // (category, share) of the history's categories, shares summing to 1.
  void Shares(std::span<const HistoryEntry> history, std::vector<std::pair<uint32_t, float>>* out) const;

  ModelOptions::CategoryPopular options_;
  std::vector<float> popularity_;            // the most popular item has 1
  std::vector<uint32_t> item_category_;      // by item; 0: none
  std::vector<std::string> category_names_;  // by id; [0] = ""
  std::vector<uint32_t> offsets_;            // category c's items: by_category_[offsets_[c], offsets_[c+1])
  std::vector<uint32_t> by_category_;        // most popular first within each category
  std::vector<uint32_t> complement_offsets_;  // category c's complements: complements_[offsets[c], offsets[c+1])
  std::vector<Complement> complements_;
};

}  // namespace vitrina
