// Item-item co-occurrence, two graphs kept apart:
//   viewed together: items viewed or clicked up to `window` positions apart
//     in one session,
//     a pair counting 1 for "i then j" and backward_weight for "j then i"
//     (what comes next is more telling than what came before);
//   bought together: items in the same order (purchase event).
// Counts are normalized by cosine with shrinkage,
//   sim(i, j) = c_ij / (sqrt(n_i * n_j) + shrinkage),
// where n_i counts the sessions (orders) holding i, so bestsellers do not
// become everyone's neighbour. Each item keeps its top `neighbors`.
#pragma once

#include "models/recommender.h"
#include "models/sparse.h"

namespace vitrina {

// What links two items in the co-occurrence graphs, the strongest first.
enum class CooccurrenceEvidence : uint8_t { kNone, kViewedTogether, kBoughtTogether };

class CooccurrenceRecommender final : public Recommender {
 public:
  explicit CooccurrenceRecommender(ModelOptions::Cooccurrence options) : options_(options) {}

  std::string_view name() const override { return "cooccurrence"; }
  Status Fit(const Dataset& data, const FitOptions& options) override;
  size_t num_items() const override { return num_items_; }
  // kAny sums both graphs, kSubstitute uses viewed-together only,
  // kComplement bought-together only. History items count decay^k by
  // recency rank k.
  void Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const override;
  // Ranks only the neighbours of the history (the only items scored above
  // 0), not the whole catalog; the same result as ranking every score.
  // The summed neighbour lists, read for the wanted items only.
  void ScoreItems(std::span<const HistoryEntry> history, Relation relation, std::span<const uint32_t> items,
                  std::span<float> scores) const override;
  void TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
            const std::function<bool(uint32_t)>& skip, std::vector<std::pair<uint32_t, float>>* top) const override;
  int Explain(std::span<const HistoryEntry> history, uint32_t item) const override;
  Status Save(const std::string& path) const override;
  Status Load(const std::string& path) override;

  // Whether `item` is among `anchor`'s bought-together neighbours, else its
  // viewed-together ones: what a reason may honestly say of the pair.
  CooccurrenceEvidence Evidence(uint32_t anchor, uint32_t item) const;

  const SparseRows& viewed_together() const { return viewed_; }
  const SparseRows& bought_together() const { return bought_; }

 private:
  // Sums the history's neighbour lists into a per-thread buffer, calls
  // read(sums, touched) and clears the buffer again.
  template <typename Read>
  void WithSums(std::span<const HistoryEntry> history, Relation relation, Read&& read) const;

  ModelOptions::Cooccurrence options_;
  size_t num_items_ = 0;
  SparseRows viewed_;
  SparseRows bought_;
};

}  // namespace vitrina
