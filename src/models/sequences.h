// What the sequence models (SASRec, GRU4Rec) train on: each shopper's items
// in time order, with the last item of some shoppers held out so that
// training can keep its best epoch (early stopping).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <Eigen/Dense>

#include "models/dataset.h"
#include "models/recommender.h"

namespace vitrina {

struct TrainingSequences {
  std::vector<uint32_t> offsets{0};
  std::vector<uint32_t> items;       // packed, oldest first
  std::vector<int64_t> validation;   // per sequence: the held-out item, or -1
  std::vector<uint32_t> validated;   // the sequences with a held-out item, ascending

  size_t size() const { return offsets.size() - 1; }
  std::span<const uint32_t> Full(size_t s) const { return {items.data() + offsets[s], items.data() + offsets[s + 1]}; }
  // Without the held-out item.
  std::span<const uint32_t> Training(size_t s) const {
    auto all = Full(s);
    return validation[s] >= 0 ? all.first(all.size() - 1) : all;
  }
};

// Shoppers with 2+ interactions become sequences; up to `validation_users`
// of those with 3+ (drawn with `rng`) have their last item held out.
TrainingSequences BuildTrainingSequences(const Dataset& data, int validation_users, std::mt19937_64* rng);

// Side features of the items (category path prefixes, brand, attribute
// tags) as a sparse item x feature matrix M whose row averages the item's
// features. A model adds M F to its item embeddings (F: one learned vector
// per feature), so items that share a brand or category share part of their
// embedding, and rarely seen items borrow from the features they have.
struct ItemFeatures {
  std::vector<uint32_t> offsets{0};  // item i's features: ids[offsets[i], offsets[i + 1])
  std::vector<uint32_t> ids;
  size_t num_features = 0;

  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  // out = items + M table (out must not alias table).
  void Compose(const Mat& items, const Mat& table, Mat* out) const;
  // table_gradient = M^T item_gradient.
  void Backpropagate(const Mat& item_gradient, Mat* table_gradient) const;
};

// The features shared by at least `min_items` items (a feature on one item
// says nothing its own embedding cannot).
ItemFeatures BuildItemFeatures(const Dataset& data, size_t min_items);

// One training epoch of a sequence model: the mean training loss and the
// validation NDCG@10 (0 when nothing was held out).
struct EpochLog {
  double loss = 0;
  double validation_ndcg = 0;
  double seconds = 0;
};

// The latest `max_length` items of a history (given newest first) that the
// model knows (index < num_items), oldest first.
std::vector<uint32_t> LatestItems(std::span<const HistoryEntry> history, size_t max_length, size_t num_items);

// The index into `history` (among its first `max_length` entries) of the
// item whose embedding row has the highest dot product with `item`'s, or -1.
int ClosestHistoryItem(const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>& embeddings,
                       std::span<const HistoryEntry> history, size_t max_length, uint32_t item);

// Turns the logits of an index search (best first) into Score's scale,
// exp(logit - best logit), and drops those <= floor.
void ToSoftmaxScale(float floor, std::vector<std::pair<uint32_t, float>>* top);

// NDCG@10 of one held-out item given the scores of every item (full
// ranking): 1 / log2(2 + items scored above it), 0 past rank 10.
double NdcgAt10(std::span<const float> scores, uint32_t target);

}  // namespace vitrina
