#include "models/trending.h"

#include <algorithm>
#include <cmath>

#include "models/binary_io.h"

namespace vitrina {
namespace {
constexpr uint32_t kFormatVersion = 1;
constexpr double kMillisPerDay = 86400000.0;
}  // namespace

Status TrendingRecommender::Fit(const Dataset& data, const FitOptions& options) {
  std::vector<double> totals(data.num_items(), 0);
  int64_t latest = data.MaxTime();
  double half_life_ms = options_.half_life_days * kMillisPerDay;
  for (const Interaction& interaction : data.interactions) {
    double age = static_cast<double>(latest - interaction.time_ms);
    double decay = half_life_ms > 0 ? std::exp2(-age / half_life_ms) : 1.0;
    totals[interaction.item] += interaction.weight * decay;
  }
  double top = totals.empty() ? 0 : *std::max_element(totals.begin(), totals.end());
  popularity_.assign(totals.size(), 0);
  if (top > 0) {
    for (size_t i = 0; i < totals.size(); ++i) popularity_[i] = static_cast<float>(totals[i] / top);
  }
  if (options.progress) options.progress(1.0);
  return Status::OK();
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
  return reader.ExpectEnd();
}

}  // namespace vitrina
