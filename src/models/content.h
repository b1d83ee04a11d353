// Content similarity for cold start: items described by tokens of their
// category path, brand, title words, attribute tags and price band,
// weighted by TF-IDF
// and compared by cosine. Each item keeps its top `neighbors`; an item
// that arrived after training is compared against the index directly
// (SimilarTo), so new items are recommendable at once.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "models/recommender.h"
#include "models/sparse.h"

namespace vitrina {

// The tokens an item is described by: "c:Home", "c:Home/Kitchen", "b:acme",
// "t:mug", "a:<tag>" and its price band "p:<n>" (the price's log base 1.5,
// rounded down). Lower-cased; title words of one character and all-digit
// words are dropped.
std::vector<std::string> ContentTokens(const ItemMeta& item);

class ContentRecommender final : public Recommender {
 public:
  explicit ContentRecommender(ModelOptions::Content options) : options_(options) {}

  std::string_view name() const override { return "content"; }
  Status Fit(const Dataset& data, const FitOptions& options) override;
  size_t num_items() const override { return neighbors_.rows(); }
  void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const override;
  int Explain(std::span<const HistoryEntry> history, uint32_t item) const override;
  Status Save(const std::string& path) const override;
  Status Load(const std::string& path) override;

  // The `k` known items most similar to `item` (which need not be known),
  // best first, as (index, cosine).
  std::vector<std::pair<uint32_t, float>> SimilarTo(const ItemMeta& item, size_t k) const;
  // The cosine of two items' vectors over the known vocabulary (neither
  // need be known): how new items compare with each other.
  float Similarity(const ItemMeta& a, const ItemMeta& b) const;

 private:
  // Sparse TF-IDF vector of an item over the known vocabulary, L2-normalized.
  void Vectorize(const ItemMeta& item, std::vector<std::pair<uint32_t, float>>* out) const;

  ModelOptions::Content options_;
  std::unordered_map<std::string, uint32_t> vocabulary_;  // token -> id (kept tokens only)
  std::vector<float> idf_;                                 // by token id
  SparseRows postings_;                                    // token -> (item, weight)
  SparseRows neighbors_;                                   // item -> (item, cosine)
};

}  // namespace vitrina
