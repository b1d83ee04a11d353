#include "models/sparse.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <omp.h>

namespace vitrina {

void SparseRows::Save(BinaryWriter* writer) const {
  writer->PutVector(offsets);
  writer->PutVector(columns);
  writer->PutVector(values);
}

Status SparseRows::Load(BinaryReader* reader, size_t num_columns) {
  VITRINA_RETURN_IF_ERROR(reader->GetVector(&offsets));
  VITRINA_RETURN_IF_ERROR(reader->GetVector(&columns));
  VITRINA_RETURN_IF_ERROR(reader->GetVector(&values));
  bool valid = !offsets.empty() && offsets.front() == 0 && offsets.back() == columns.size() &&
               values.size() == columns.size() && std::is_sorted(offsets.begin(), offsets.end()) &&
               std::all_of(columns.begin(), columns.end(), [&](uint32_t c) { return c < num_columns; });
  if (!valid) return Status::Corruption("sparse matrix in model file is inconsistent");
  return Status::OK();
}

SparseRows BuildUserItemMatrix(const Dataset& data) {
  SparseRows matrix;
  matrix.offsets.reserve(data.num_actors() + 1);
  std::vector<float> accumulated(data.num_items(), 0);
  std::vector<uint32_t> touched;
  for (uint32_t actor = 0; actor < data.num_actors(); ++actor) {
    touched.clear();
    for (const Interaction& interaction : data.ActorInteractions(actor)) {
      if (accumulated[interaction.item] == 0) touched.push_back(interaction.item);
      accumulated[interaction.item] += interaction.weight;
    }
    std::sort(touched.begin(), touched.end());
    for (uint32_t item : touched) {
      matrix.columns.push_back(item);
      matrix.values.push_back(accumulated[item]);
      accumulated[item] = 0;
    }
    matrix.offsets.push_back(matrix.columns.size());
  }
  return matrix;
}

SparseRows Transpose(const SparseRows& matrix, size_t num_columns) {
  SparseRows result;
  result.offsets.assign(num_columns + 1, 0);
  for (uint32_t c : matrix.columns) ++result.offsets[c + 1];
  std::partial_sum(result.offsets.begin(), result.offsets.end(), result.offsets.begin());
  result.columns.resize(matrix.nnz());
  result.values.resize(matrix.nnz());
  std::vector<uint64_t> cursor(result.offsets.begin(), result.offsets.end() - 1);
  for (size_t r = 0; r < matrix.rows(); ++r) {
    for (uint64_t i = matrix.offsets[r]; i < matrix.offsets[r + 1]; ++i) {
      uint64_t slot = cursor[matrix.columns[i]]++;
      result.columns[slot] = static_cast<uint32_t>(r);
      result.values[slot] = matrix.values[i];
    }
  }
  return result;
}

void DistinctHistory(std::span<const HistoryEntry> history, size_t num_items, std::vector<DistinctHistoryItem>* out) {
  out->clear();
  for (int i = 0; i < static_cast<int>(history.size()); ++i) {
    if (history[i].item < num_items) out->push_back({history[i].item, 0, history[i].weight, i});
  }
  // Group by item keeping the newest occurrence first, sum the weights,
  // then restore recency order.
  std::sort(out->begin(), out->end(), [](const DistinctHistoryItem& a, const DistinctHistoryItem& b) {
    return a.item != b.item ? a.item < b.item : a.first_index < b.first_index;
  });
  size_t kept = 0;
  for (size_t i = 0; i < out->size(); ++i) {
    if (kept > 0 && (*out)[kept - 1].item == (*out)[i].item) {
      (*out)[kept - 1].weight += (*out)[i].weight;
    } else {
      (*out)[kept++] = (*out)[i];
    }
  }
  out->resize(kept);
  std::sort(out->begin(), out->end(),
            [](const DistinctHistoryItem& a, const DistinctHistoryItem& b) { return a.first_index < b.first_index; });
  for (size_t i = 0; i < out->size(); ++i) (*out)[i].position = static_cast<uint32_t>(i);
}

SparseRows BuildNeighborGraph(size_t num_items, size_t k, int threads, const AccumulateRow& accumulate,
                              const RowSimilarity& similarity) {
  std::vector<std::vector<std::pair<uint32_t, float>>> rows(num_items);
#pragma omp parallel num_threads(std::max(1, threads))
  {
    std::vector<float> acc(num_items, 0);
    std::vector<uint32_t> touched;
    std::vector<float> sims;
    std::vector<std::pair<float, uint32_t>> heap;
#pragma omp for schedule(dynamic, 64)
    for (size_t i = 0; i < num_items; ++i) {
      uint32_t item = static_cast<uint32_t>(i);
      touched.clear();
      accumulate(item, &acc, &touched);
      heap.clear();
      auto worse = [](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      };
      for (uint32_t other : touched) {
        float raw = acc[other];
        acc[other] = 0;
        if (other == item || raw == 0) continue;
        float sim = similarity(item, other, raw);
        if (!(sim > 0)) continue;
        if (heap.size() == k) {
          if (!worse({sim, other}, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), worse);
            heap.back() = {sim, other};
            std::push_heap(heap.begin(), heap.end(), worse);
          }
        } else {
          heap.emplace_back(sim, other);
          std::push_heap(heap.begin(), heap.end(), worse);
        }
      }
      std::sort_heap(heap.begin(), heap.end(), worse);
      auto& row = rows[i];
      row.reserve(heap.size());
      for (const auto& [sim, other] : heap) row.emplace_back(other, sim);
    }
  }
  SparseRows graph;
  graph.offsets.reserve(num_items + 1);
  for (const auto& row : rows) {
    for (const auto& [other, sim] : row) {
      graph.columns.push_back(other);
      graph.values.push_back(sim);
    }
    graph.offsets.push_back(graph.columns.size());
  }
  return graph;
}

void ScoreFromNeighbors(const SparseRows& graph, std::span<const DistinctHistoryItem> history, double decay,
                        std::span<float> scores, std::vector<uint32_t>* touched) {
  for (const DistinctHistoryItem& h : history) {
    if (h.item >= graph.rows()) continue;
    float factor = static_cast<float>(std::pow(decay, h.position));
    auto columns = graph.RowColumns(h.item);
    auto values = graph.RowValues(h.item);
    if (touched == nullptr) {
      for (size_t i = 0; i < columns.size(); ++i) scores[columns[i]] += factor * values[i];
      continue;
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      float& score = scores[columns[i]];
      if (score == 0.0f) touched->push_back(columns[i]);
      score += factor * values[i];
    }
  }
}

float NeighborSimilarity(const SparseRows& graph, uint32_t a, uint32_t b) {
  if (a >= graph.rows()) return 0;
  auto columns = graph.RowColumns(a);
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == b) return graph.RowValues(a)[i];
  }
  return 0;
}

}  // namespace vitrina
