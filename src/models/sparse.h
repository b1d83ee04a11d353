// Compressed sparse rows and the helpers models share: the user-item
// matrix, transposes, top-k neighbour lists and top-k selection.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "common/status.h"
#include "models/binary_io.h"
#include "models/dataset.h"
#include "models/recommender.h"

namespace vitrina {

// Row r holds columns[offsets[r] .. offsets[r+1]) with their values;
// columns are sorted within a row unless a builder says otherwise.
struct SparseRows {
  std::vector<uint64_t> offsets{0};
  std::vector<uint32_t> columns;
  std::vector<float> values;

  size_t rows() const { return offsets.size() - 1; }
  size_t nnz() const { return columns.size(); }
  std::span<const uint32_t> RowColumns(size_t r) const {
    return {columns.data() + offsets[r], columns.data() + offsets[r + 1]};
  }
  std::span<const float> RowValues(size_t r) const { return {values.data() + offsets[r], values.data() + offsets[r + 1]}; }

  void Save(BinaryWriter* writer) const;
  // Checks that offsets are monotone and columns < `num_columns`.
  Status Load(BinaryReader* reader, size_t num_columns);
};

// Actors x items, summing the weights of repeated interactions.
SparseRows BuildUserItemMatrix(const Dataset& data);

// Columns become rows. Columns of the result are sorted.
SparseRows Transpose(const SparseRows& matrix, size_t num_columns);

// Keeps the `k` best (score, index) entries offered, in any order; ties go
// to the lower index and scores <= `floor` are refused. `storage` is scratch
// reused between calls.
class TopKHeap {
 public:
  TopKHeap(size_t k, float floor, std::vector<std::pair<float, uint32_t>>* storage)
      : k_(k), floor_(floor), heap_(storage) {
    heap_->clear();
  }
  bool full() const { return heap_->size() == k_; }
  // A score below this cannot enter (above floor once the heap is full).
  float bar() const { return full() && k_ > 0 ? std::max(floor_, heap_->front().first) : floor_; }
  // Whether (score, index) would be kept, before any other test.
  bool Admits(float score, uint32_t index) const {
    if (k_ == 0 || !(score > floor_)) return false;
    if (!full()) return true;
    const auto& root = heap_->front();
    return score > root.first || (score == root.first && index < root.second);
  }
  // Keeps an entry that Admits, pushing out the worst when full.
  void Push(float score, uint32_t index) {
    if (full()) {
      std::pop_heap(heap_->begin(), heap_->end(), Worse);
      heap_->back() = {score, index};
    } else {
      heap_->emplace_back(score, index);
    }
    std::push_heap(heap_->begin(), heap_->end(), Worse);
  }
  // The kept entries as (index, score), best first.
  void Finish(std::vector<std::pair<uint32_t, float>>* out) {
    out->clear();
    std::sort_heap(heap_->begin(), heap_->end(), Worse);
    for (const auto& [score, index] : *heap_) out->emplace_back(index, score);
  }

 private:
  // Min-heap on (score, -index): the root is the worst kept entry.
  static bool Worse(const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
    if (a.first != b.first) return a.first > b.first;
    return a.second < b.second;
  }
  size_t k_;
  float floor_;
  std::vector<std::pair<float, uint32_t>>* heap_;
};

// The `k` entries with the highest scores, best first; ties go to the lower
// index. Entries with score <= `floor` or for which `skip(index)` is true are
// left out. `heap` is scratch space reused between calls.
template <typename Skip>
void SelectTopK(std::span<const float> scores, size_t k, float floor, Skip&& skip,
                std::vector<std::pair<float, uint32_t>>* heap, std::vector<std::pair<uint32_t, float>>* out);

// Distinct items of a history (newest first) with the summed weight and the
// position (0 = newest) of their latest occurrence.
struct DistinctHistoryItem {
  uint32_t item;
  uint32_t position;
  float weight;
  int first_index;  // index into the original history of the latest occurrence
};
void DistinctHistory(std::span<const HistoryEntry> history, size_t num_items, std::vector<DistinctHistoryItem>* out);

// Item-to-item neighbour lists (rows sorted by descending similarity).
// For each item i, `accumulate(i, acc, touched)` adds raw co-scores of the
// other items into `acc` (dense, all zeros on entry) and appends each index
// it makes non-zero to `touched`; `similarity(i, j, raw)` turns a raw score
// into the similarity kept. The `k` most similar items (never i itself)
// are kept. Runs rows on `threads` threads; both callbacks must be safe to
// call concurrently for different i.
using AccumulateRow = std::function<void(uint32_t item, std::vector<float>* acc, std::vector<uint32_t>* touched)>;
using RowSimilarity = std::function<float(uint32_t item, uint32_t other, float raw)>;
SparseRows BuildNeighborGraph(size_t num_items, size_t k, int threads, const AccumulateRow& accumulate,
                              const RowSimilarity& similarity);

// Adds, over the distinct history items h, decay^position(h) *
// graph[h][j] into scores. With `touched`, also appends each j whose score
// was 0 before the addition (a j may be listed twice if its sum stays 0).
void ScoreFromNeighbors(const SparseRows& graph, std::span<const DistinctHistoryItem> history, double decay,
                        std::span<float> scores, std::vector<uint32_t>* touched = nullptr);
// graph[a][b], 0 when b is not among a's neighbours.
float NeighborSimilarity(const SparseRows& graph, uint32_t a, uint32_t b);

// ---- implementation of the template ----

template <typename Skip>
void SelectTopK(std::span<const float> scores, size_t k, float floor, Skip&& skip,
                std::vector<std::pair<float, uint32_t>>* heap, std::vector<std::pair<uint32_t, float>>* out) {
  out->clear();
  TopKHeap best(k, floor, heap);
  if (k == 0) return;
  // Scores are taken in blocks of 16. A block whose maximum cannot enter the
  // heap is skipped without a branch per score. The blocks with the highest
  // maxima go first, so that the bar is high before the rest is scanned:
  // taken in index order, scores that grow with the index (a catalog sorted
  // by popularity) would each enter the heap and be pushed out again. The
  // result does not depend on the order in which entries are offered.
  constexpr uint32_t kBlock = 16;
  const uint32_t n = static_cast<uint32_t>(scores.size());
  const uint32_t blocks = (n + kBlock - 1) / kBlock;
  thread_local std::vector<float> block_max;
  block_max.resize(blocks);
  for (uint32_t b = 0; b < blocks; ++b) {
    const uint32_t start = b * kBlock, end = std::min(n, start + kBlock);
    float m = floor;
#pragma omp simd reduction(max : m)
    for (uint32_t i = start; i < end; ++i) m = scores[i] > m ? scores[i] : m;
    block_max[b] = m;
  }
  float bar = floor;  // a block whose maximum is below this (or not above floor) is skipped
  auto visit = [&](uint32_t b) {
    if (!(block_max[b] > floor) || block_max[b] < bar) return;
    const uint32_t start = b * kBlock, end = std::min(n, start + kBlock);
    for (uint32_t i = start; i < end; ++i) {
      float s = scores[i];
      if (s < bar || !best.Admits(s, i) || skip(i)) continue;
      best.Push(s, i);
      bar = best.bar();
    }
  };
  // The blocks among the 2k highest maxima (at most a quarter of all) first...
  const size_t head = std::min<size_t>(2 * k, blocks / 4);
  float first = floor;
  if (head > 0) {
    thread_local std::vector<float> maxima;
    maxima.clear();
    for (uint32_t b = 0; b < blocks; ++b) {
      if (block_max[b] > floor) maxima.push_back(block_max[b]);
    }
    if (maxima.size() > head) {
      std::nth_element(maxima.begin(), maxima.begin() + static_cast<ptrdiff_t>(head - 1), maxima.end(),
                       std::greater<float>());
      first = maxima[head - 1];
      for (uint32_t b = 0; b < blocks; ++b) {
        if (block_max[b] >= first) {
          visit(b);
          block_max[b] = floor;  // visited
        }
      }
    }
  }
  // ...then every other block.
  for (uint32_t b = 0; b < blocks; ++b) visit(b);
  best.Finish(out);
}

}  // namespace vitrina
