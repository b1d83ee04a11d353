#include "models/trending.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/binary_io.h"

namespace vitrina {
namespace {
constexpr uint32_t kFormatVersion = 1;
constexpr double kMillisPerDay = 86400000.0;
}  // namespace

std::vector<float> DecayedPopularity(const Dataset& data, double half_life_days) {
  std::vector<double> totals(data.num_items(), 0);
  const int64_t latest = data.MaxTime();
  const double half_life_ms = half_life_days * kMillisPerDay;
  for (const Interaction& interaction : data.interactions) {
    const double age = static_cast<double>(latest - interaction.time_ms);
    const double decay = half_life_ms > 0 ? std::exp2(-age / half_life_ms) : 1.0;
    totals[interaction.item] += interaction.weight * decay;
  }
  const double top = totals.empty() ? 0 : *std::max_element(totals.begin(), totals.end());
  std::vector<float> popularity(totals.size(), 0);
  if (top > 0) {
    for (size_t i = 0; i < totals.size(); ++i) popularity[i] = static_cast<float>(totals[i] / top);
  }
  return popularity;
}

Status TrendingRecommender::Fit(const Dataset& data, const FitOptions& options) {
  popularity_ = DecayedPopularity(data, options_.half_life_days);
  SortItems();
  if (options.progress) options.progress(1.0);
  return Status::OK();
}

void TrendingRecommender::SortItems() {
  by_popularity_.resize(popularity_.size());
  std::iota(by_popularity_.begin(), by_popularity_.end(), 0u);
  std::stable_sort(by_popularity_.begin(), by_popularity_.end(),
                   [&](uint32_t a, uint32_t b) { return popularity_[a] > popularity_[b]; });
}

void TrendingRecommender::TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
                               const std::function<bool(uint32_t)>& skip,
                               std::vector<std::pair<uint32_t, float>>* top) const {
  top->clear();
  for (uint32_t item : by_popularity_) {
    if (top->size() >= k || popularity_[item] <= floor) break;
    if (skip && skip(item)) continue;
    top->emplace_back(item, popularity_[item]);
  }
}

void TrendingRecommender::Score(std::span<const HistoryEntry> history, Relation relation,
                                std::span<float> scores) const {
  std::copy(popularity_.begin(), popularity_.end(), scores.begin());
}

Status TrendingRecommender::Save(const std::string& path) const {
  VITRINA_ASSIGN_OR_RETURN(BinaryWriter writer, BinaryWriter::Create(path, name(), kFormatVersion));
  writer.PutVector(popularity_);
  return writer.Close();
}

Status TrendingRecommender::Load(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(BinaryReader reader, BinaryReader::Open(path, name(), kFormatVersion));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&popularity_));
  VITRINA_RETURN_IF_ERROR(reader.ExpectEnd());
  SortItems();
  return Status::OK();
}

}  // namespace vitrina
