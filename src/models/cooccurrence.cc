#include "models/cooccurrence.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace vitrina {
namespace {

constexpr uint32_t kFormatVersion = 1;

// Groups of items (sessions or orders) as compressed rows, plus for each
// item the (group, position) places it occurs at.
struct Groups {
  SparseRows members;        // row g: the group's items in order, no repeats
  std::vector<uint64_t> place_offsets;
  std::vector<std::pair<uint32_t, uint32_t>> places;  // (group, position)
  std::vector<float> group_count;                     // n_i: groups holding item i
};

// Splits each actor's interactions into runs with the same non-zero key
// (session or order id) and indexes them. Sessions hold only views and
// clicks: "viewed together" must mean that (a session of purchases alone,
// such as an anonymous invoice, is an order, counted as bought together).
Groups BuildGroups(const Dataset& data, bool by_order) {
  Groups groups;
  std::vector<uint32_t> current;
  auto close_group = [&] {
    if (current.size() >= 2) {
      for (uint32_t item : current) groups.members.columns.push_back(item);
      groups.members.values.resize(groups.members.columns.size(), 1.0f);
      groups.members.offsets.push_back(groups.members.columns.size());
    }
    current.clear();
  };
  for (uint32_t actor = 0; actor < data.num_actors(); ++actor) {
    uint32_t key = 0;
    for (const Interaction& interaction : data.ActorInteractions(actor)) {
      uint32_t this_key = by_order ? interaction.order : interaction.session;
      if (this_key != key) {
        close_group();
        key = this_key;
      }
      if (key == 0 || (!by_order && interaction.signal != Signal::kView)) continue;
      if (std::find(current.begin(), current.end(), interaction.item) == current.end()) {
        current.push_back(interaction.item);
      }
    }
    close_group();
  }
  size_t n = data.num_items();
  groups.group_count.assign(n, 0);
  groups.place_offsets.assign(n + 1, 0);
  for (uint32_t item : groups.members.columns) ++groups.place_offsets[item + 1];
  for (size_t i = 0; i < n; ++i) {
    groups.group_count[i] = static_cast<float>(groups.place_offsets[i + 1]);
    groups.place_offsets[i + 1] += groups.place_offsets[i];
  }
  groups.places.resize(groups.members.nnz());
  std::vector<uint64_t> cursor(groups.place_offsets.begin(), groups.place_offsets.end() - 1);
  for (size_t g = 0; g < groups.members.rows(); ++g) {
    auto items = groups.members.RowColumns(g);
    for (uint32_t pos = 0; pos < items.size(); ++pos) {
      groups.places[cursor[items[pos]]++] = {static_cast<uint32_t>(g), pos};
    }
  }
  return groups;
}

SparseRows BuildGraph(const Groups& groups, size_t num_items, int window, const ModelOptions::Cooccurrence& options,
                      int threads) {
  // Orders have no sequence: both directions count fully.
  const float backward = window > 0 ? static_cast<float>(options.backward_weight) : 1.0f;
  auto accumulate = [&](uint32_t item, std::vector<float>* acc, std::vector<uint32_t>* touched) {
    for (uint64_t p = groups.place_offsets[item]; p < groups.place_offsets[item + 1]; ++p) {
      auto [group, position] = groups.places[p];
      auto members = groups.members.RowColumns(group);
      size_t begin = 0, end = members.size();
      if (window > 0) {
        begin = position > static_cast<uint32_t>(window) ? position - window : 0;
        end = std::min(members.size(), static_cast<size_t>(position) + window + 1);
      }
      for (size_t q = begin; q < end; ++q) {
        uint32_t other = members[q];
        if (other == item) continue;
        if ((*acc)[other] == 0) touched->push_back(other);
        (*acc)[other] += q > position ? 1.0f : backward;
      }
    }
  };
  auto similarity = [&](uint32_t item, uint32_t other, float raw) {
    double norm = std::sqrt(static_cast<double>(groups.group_count[item]) * groups.group_count[other]);
    return static_cast<float>(raw / (norm + options.shrinkage));
  };
  return BuildNeighborGraph(num_items, options.neighbors, threads, accumulate, similarity);
}

}  // namespace

Status CooccurrenceRecommender::Fit(const Dataset& data, const FitOptions& options) {
  num_items_ = data.num_items();
  Groups sessions = BuildGroups(data, /*by_order=*/false);
  viewed_ = BuildGraph(sessions, num_items_, options_.window, options_, options.threads);
  if (options.progress) options.progress(0.5);
  Groups orders = BuildGroups(data, /*by_order=*/true);
  bought_ = BuildGraph(orders, num_items_, /*window=*/0, options_, options.threads);
  if (options.progress) options.progress(1.0);
  return Status::OK();
}

void CooccurrenceRecommender::Score(std::span<const HistoryEntry> history, Relation relation,
                                    std::span<float> scores) const {
  std::fill(scores.begin(), scores.end(), 0.0f);
  std::vector<DistinctHistoryItem> distinct;
  DistinctHistory(history, num_items_, &distinct);
  if (relation != Relation::kComplement) ScoreFromNeighbors(viewed_, distinct, options_.recency_decay, scores);
  if (relation != Relation::kSubstitute) ScoreFromNeighbors(bought_, distinct, options_.recency_decay, scores);
}

template <typename Read>
void CooccurrenceRecommender::WithSums(std::span<const HistoryEntry> history, Relation relation, Read&& read) const {
  // Sums go into a dense buffer that is all zeros between calls; the entries
  // made non-zero are listed and zeroed again after `read`. The sums are
  // taken as in Score, so the scores are the same floats.
  thread_local std::vector<float> sums;
  thread_local std::vector<uint32_t> touched;
  thread_local std::vector<DistinctHistoryItem> distinct;
  if (sums.size() < num_items_) sums.resize(num_items_, 0.0f);
  touched.clear();
  DistinctHistory(history, num_items_, &distinct);
  const double decay = options_.recency_decay;
  if (relation != Relation::kComplement) ScoreFromNeighbors(viewed_, distinct, decay, sums, &touched);
  if (relation != Relation::kSubstitute) ScoreFromNeighbors(bought_, distinct, decay, sums, &touched);
  read(std::as_const(sums), std::as_const(touched));
  for (uint32_t item : touched) sums[item] = 0.0f;
}

void CooccurrenceRecommender::TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
                                   const std::function<bool(uint32_t)>& skip,
                                   std::vector<std::pair<uint32_t, float>>* top) const {
  if (floor < 0) {
    // Items with no evidence (score 0) can make the list: rank them all.
    Recommender::TopK(history, relation, k, floor, skip, top);
    return;
  }
  thread_local std::vector<std::pair<float, uint32_t>> heap;
  WithSums(history, relation, [&](const std::vector<float>& sums, const std::vector<uint32_t>& touched) {
    TopKHeap best(k, floor, &heap);
    for (uint32_t item : touched) {
      const float score = sums[item];
      if (!best.Admits(score, item) || (skip && skip(item))) continue;
      best.Push(score, item);
    }
    best.Finish(top);
  });
}

void CooccurrenceRecommender::ScoreItems(std::span<const HistoryEntry> history, Relation relation,
                                         std::span<const uint32_t> items, std::span<float> scores) const {
  WithSums(history, relation, [&](const std::vector<float>& sums, const std::vector<uint32_t>&) {
    for (size_t i = 0; i < items.size(); ++i) scores[i] = sums[items[i]];
  });
}

int CooccurrenceRecommender::Explain(std::span<const HistoryEntry> history, uint32_t item) const {
  std::vector<DistinctHistoryItem> distinct;
  DistinctHistory(history, num_items_, &distinct);
  int best = -1;
  float best_score = 0;
  for (const DistinctHistoryItem& h : distinct) {
    float sim = NeighborSimilarity(viewed_, h.item, item) + NeighborSimilarity(bought_, h.item, item);
    float score = static_cast<float>(std::pow(options_.recency_decay, h.position)) * sim;
    if (score > best_score) {
      best_score = score;
      best = h.first_index;
    }
  }
  return best;
}

CooccurrenceEvidence CooccurrenceRecommender::Evidence(uint32_t anchor, uint32_t item) const {
  if (anchor >= num_items_ || item >= num_items_) return CooccurrenceEvidence::kNone;
  if (NeighborSimilarity(bought_, anchor, item) > 0) return CooccurrenceEvidence::kBoughtTogether;
  if (NeighborSimilarity(viewed_, anchor, item) > 0) return CooccurrenceEvidence::kViewedTogether;
  return CooccurrenceEvidence::kNone;
}

Status CooccurrenceRecommender::Save(const std::string& path) const {
  VITRINA_ASSIGN_OR_RETURN(BinaryWriter writer, BinaryWriter::Create(path, name(), kFormatVersion));
  writer.Put<uint64_t>(num_items_);
  viewed_.Save(&writer);
  bought_.Save(&writer);
  return writer.Close();
}

Status CooccurrenceRecommender::Load(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(BinaryReader reader, BinaryReader::Open(path, name(), kFormatVersion));
  uint64_t n = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&n));
  VITRINA_RETURN_IF_ERROR(viewed_.Load(&reader, n));
  VITRINA_RETURN_IF_ERROR(bought_.Load(&reader, n));
  if (viewed_.rows() != n || bought_.rows() != n) return Status::Corruption(path + ": graph sizes disagree");
  num_items_ = n;
  return reader.ExpectEnd();
}

}  // namespace vitrina
