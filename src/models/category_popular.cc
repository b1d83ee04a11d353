#include "models/category_popular.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "models/binary_io.h"
#include "models/sparse.h"
#include "models/trending.h"

namespace vitrina {
namespace {
// Version 2 adds the complement lists; version 1 files load without them.
constexpr uint32_t kFormatVersion = 2;
constexpr size_t kMaxCategories = 20;  // the shopper's categories considered, the strongest first
constexpr double kComplementShrinkage = 5;

// Leaf categories bought in one order: for each category the others with
// which it shares at least `min_orders` orders, by cosine with shrinkage,
// c_ab / (sqrt(n_a n_b) + shrinkage), the strongest `keep` first.
void CountComplements(const Dataset& data, const std::vector<uint32_t>& item_category, size_t categories,
                      size_t keep, float min_orders, std::vector<uint32_t>* offsets,
                      std::vector<CategoryPopularRecommender::Complement>* out) {
  std::vector<float> orders_with(categories, 0);
  std::unordered_map<uint64_t, float> pairs;
  std::vector<uint32_t> basket;
  auto close = [&] {
    std::sort(basket.begin(), basket.end());
    basket.erase(std::unique(basket.begin(), basket.end()), basket.end());
    for (size_t a = 0; a < basket.size(); ++a) {
      orders_with[basket[a]] += 1;
      for (size_t b = a + 1; b < basket.size(); ++b) pairs[(uint64_t{basket[a]} << 32) | basket[b]] += 1;
    }
    basket.clear();
  };
  for (uint32_t actor = 0; actor < data.num_actors(); ++actor) {
    uint32_t order = 0;
    for (const Interaction& interaction : data.ActorInteractions(actor)) {
      if (interaction.order != order) {
        close();
        order = interaction.order;
      }
      const uint32_t category = item_category[interaction.item];
      if (order != 0 && category != 0) basket.push_back(category);
    }
    close();
  }
  std::vector<std::vector<std::pair<uint32_t, float>>> lists(categories);
  for (const auto& [key, count] : pairs) {
    if (count < min_orders) continue;
    const auto a = static_cast<uint32_t>(key >> 32), b = static_cast<uint32_t>(key & 0xffffffffu);
    const float similarity =
        static_cast<float>(count / (std::sqrt(double(orders_with[a]) * orders_with[b]) + kComplementShrinkage));
    lists[a].emplace_back(b, similarity);
    lists[b].emplace_back(a, similarity);
  }
  offsets->assign(1, 0);
  out->clear();
  for (auto& list : lists) {
    std::sort(list.begin(), list.end(), [](const auto& x, const auto& y) {
      return x.second != y.second ? x.second > y.second : x.first < y.first;
    });
    if (list.size() > keep) list.resize(keep);
    for (const auto& [category, similarity] : list) out->push_back({category, similarity});
    offsets->push_back(static_cast<uint32_t>(out->size()));
  }
}

}  // namespace

Status CategoryPopularRecommender::Fit(const Dataset& data, const FitOptions& options) {
  popularity_ = DecayedPopularity(data, options_.half_life_days);
  std::unordered_map<std::string, uint32_t> ids;
  category_names_.assign(1, "");
  item_category_.assign(data.num_items(), 0);
  for (size_t i = 0; i < data.num_items(); ++i) {
    const std::vector<std::string>& path = data.items[i].category;
    if (path.empty() || path.back().empty()) continue;
    auto [it, inserted] = ids.try_emplace(path.back(), static_cast<uint32_t>(category_names_.size()));
    if (inserted) category_names_.push_back(path.back());
    item_category_[i] = it->second;
  }
  // Items grouped by category, most popular first (ties: lower index).
  by_category_.resize(data.num_items());
  std::iota(by_category_.begin(), by_category_.end(), 0u);
  std::stable_sort(by_category_.begin(), by_category_.end(), [&](uint32_t a, uint32_t b) {
    if (item_category_[a] != item_category_[b]) return item_category_[a] < item_category_[b];
    return popularity_[a] > popularity_[b];
  });
  offsets_.assign(category_names_.size() + 1, 0);
  for (uint32_t category : item_category_) ++offsets_[category + 1];
  for (size_t c = 0; c + 1 < offsets_.size(); ++c) offsets_[c + 1] += offsets_[c];
  CountComplements(data, item_category_, category_names_.size(), kComplementsPerCategory, kMinComplementOrders,
                   &complement_offsets_, &complements_);
  if (options.progress) options.progress(1.0);
  return Status::OK();
}

uint32_t CategoryPopularRecommender::FindCategory(std::string_view name) const {
  if (name.empty()) return 0;
  for (uint32_t c = 1; c < category_names_.size(); ++c) {
    if (category_names_[c] == name) return c;
  }
  return 0;
}

std::span<const CategoryPopularRecommender::Complement> CategoryPopularRecommender::Complements(
    uint32_t category) const {
  if (category + 1 >= complement_offsets_.size()) return {};
  return {complements_.data() + complement_offsets_[category],
          complements_.data() + complement_offsets_[category + 1]};
}

std::span<const uint32_t> CategoryPopularRecommender::ItemsOf(uint32_t category) const {
  if (category + 1 >= offsets_.size()) return {};
  return {by_category_.data() + offsets_[category], by_category_.data() + offsets_[category + 1]};
}

void CategoryPopularRecommender::Shares(std::span<const HistoryEntry> history,
                                        std::vector<std::pair<uint32_t, float>>* out) const {
  out->clear();
  thread_local std::vector<DistinctHistoryItem> distinct;
  DistinctHistory(history, num_items(), &distinct);
  float total = 0;
  for (const DistinctHistoryItem& h : distinct) {
    const uint32_t category = item_category_[h.item];
    if (category == 0) continue;
    const float weight = static_cast<float>(std::pow(options_.recency_decay, h.position)) * h.weight;
    auto it = std::find_if(out->begin(), out->end(), [&](const auto& entry) { return entry.first == category; });
    if (it == out->end()) {
      out->emplace_back(category, weight);
    } else {
      it->second += weight;
    }
    total += weight;
  }
  if (total <= 0) return out->clear();
  for (auto& entry : *out) entry.second /= total;
  std::stable_sort(out->begin(), out->end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (out->size() > kMaxCategories) out->resize(kMaxCategories);
}

void CategoryPopularRecommender::Score(std::span<const HistoryEntry> history, Relation relation,
                                       std::span<float> scores) const {
  std::fill(scores.begin(), scores.end(), 0.0f);
  thread_local std::vector<std::pair<uint32_t, float>> shares;
  Shares(history, &shares);
  for (const auto& [category, share] : shares) {
    for (uint32_t r = offsets_[category]; r < offsets_[category + 1]; ++r) {
      const uint32_t item = by_category_[r];
      scores[item] = share * popularity_[item];
    }
  }
}

void CategoryPopularRecommender::ScoreItems(std::span<const HistoryEntry> history, Relation relation,
                                            std::span<const uint32_t> items, std::span<float> scores) const {
  thread_local std::vector<std::pair<uint32_t, float>> shares;
  Shares(history, &shares);
  for (size_t i = 0; i < items.size(); ++i) {
    const uint32_t category = item_category_[items[i]];
    auto it = std::find_if(shares.begin(), shares.end(), [&](const auto& entry) { return entry.first == category; });
    scores[i] = it == shares.end() ? 0.0f : it->second * popularity_[items[i]];
  }
}

void CategoryPopularRecommender::TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
                                      const std::function<bool(uint32_t)>& skip,
                                      std::vector<std::pair<uint32_t, float>>* top) const {
  if (floor < 0) {
    // Items outside the shopper's categories (score 0) can make the list: rank them all.
    Recommender::TopK(history, relation, k, floor, skip, top);
    return;
  }
  // The best k overall are among each category's best k (scores within a
  // category keep its popularity order).
  thread_local std::vector<std::pair<uint32_t, float>> shares;
  thread_local std::vector<std::pair<float, uint32_t>> heap;
  Shares(history, &shares);
  TopKHeap best(k, floor, &heap);
  for (const auto& [category, share] : shares) {
    size_t taken = 0;
    for (uint32_t r = offsets_[category]; r < offsets_[category + 1] && taken < k; ++r) {
      const uint32_t item = by_category_[r];
      const float score = share * popularity_[item];
      if (!best.Admits(score, item)) break;  // the rest of this category scores no higher
      if (skip && skip(item)) continue;
      best.Push(score, item);
      ++taken;
    }
  }
  best.Finish(top);
}

int CategoryPopularRecommender::Explain(std::span<const HistoryEntry> history, uint32_t item) const {
  const uint32_t category = item < item_category_.size() ? item_category_[item] : 0;
  if (category == 0) return -1;
  for (size_t i = 0; i < history.size(); ++i) {
    if (history[i].item < item_category_.size() && item_category_[history[i].item] == category) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

Status CategoryPopularRecommender::Save(const std::string& path) const {
  VITRINA_ASSIGN_OR_RETURN(BinaryWriter writer, BinaryWriter::Create(path, name(), kFormatVersion));
  writer.PutVector(popularity_);
  writer.PutVector(item_category_);
  writer.Put<uint32_t>(static_cast<uint32_t>(category_names_.size()));
  for (const std::string& category : category_names_) writer.PutString(category);
  writer.PutVector(offsets_);
  writer.PutVector(by_category_);
  writer.PutVector(complement_offsets_);
  writer.PutVector(complements_);
  return writer.Close();
}

Status CategoryPopularRecommender::Load(const std::string& path) {
  uint32_t version = 0;
  VITRINA_ASSIGN_OR_RETURN(BinaryReader reader, BinaryReader::Open(path, name(), 1, kFormatVersion, &version));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&popularity_));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&item_category_));
  uint32_t count = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&count));
  if (count == 0 || count > item_category_.size() + 1) return Status::Corruption(path + ": bad category count");
  category_names_.resize(count);
  for (std::string& category : category_names_) VITRINA_RETURN_IF_ERROR(reader.GetString(&category));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&offsets_));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&by_category_));
  complement_offsets_.clear();
  complements_.clear();
  if (version >= 2) {
    VITRINA_RETURN_IF_ERROR(reader.GetVector(&complement_offsets_));
    VITRINA_RETURN_IF_ERROR(reader.GetVector(&complements_));
  }
  VITRINA_RETURN_IF_ERROR(reader.ExpectEnd());
  const size_t n = popularity_.size();
  const bool consistent = item_category_.size() == n && by_category_.size() == n && offsets_.size() == count + 1 &&
                          offsets_.back() == n &&
                          std::all_of(item_category_.begin(), item_category_.end(), [&](uint32_t c) { return c < count; }) &&
                          std::all_of(by_category_.begin(), by_category_.end(), [&](uint32_t i) { return i < n; });
  const bool complements_consistent =
      complement_offsets_.empty() ||
      (complement_offsets_.size() == count + 1 && complement_offsets_.back() == complements_.size() &&
       std::all_of(complements_.begin(), complements_.end(), [&](const Complement& c) { return c.category < count; }));
  if (!consistent || !complements_consistent) return Status::Corruption(path + ": inconsistent category lists");
  return Status::OK();
}

}  // namespace vitrina
