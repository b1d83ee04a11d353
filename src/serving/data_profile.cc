#include "serving/data_profile.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

namespace vitrina {
namespace {

constexpr int64_t kMillisPerDay = 86400000;
constexpr size_t kPriceBins = 10;
constexpr size_t kTopCategories = 15;
constexpr double kFloor = 1e-4;

void Normalize(std::vector<double>* counts) {
  double total = 0;
  for (double c : *counts) total += c;
  if (total <= 0) return;
  for (double& c : *counts) c /= total;
}

size_t PriceBin(const std::vector<double>& edges, double price) {
  if (std::isnan(price)) return edges.size() + 1;
  return static_cast<size_t>(std::lower_bound(edges.begin(), edges.end(), price) - edges.begin());
}

std::vector<double> ReadNumbers(simdjson::dom::element object, const char* key) {
  std::vector<double> out;
  simdjson::dom::array array;
  if (object[key].get(array) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element value : array) {
    double number = 0;
    if (value.get(number) == simdjson::SUCCESS) out.push_back(number);
  }
  return out;
}

}  // namespace

size_t ActivityBin(uint64_t interactions) {
  if (interactions <= 2) return interactions == 0 ? 0 : interactions - 1;
  if (interactions <= 4) return 2;
  if (interactions <= 8) return 3;
  if (interactions <= 16) return 4;
  return 5;
}

DataProfile ProfileWithBins(const DataProfile& reference, const ProfileCounts& counts) {
  DataProfile profile;
  profile.price_edges = reference.price_edges;
  profile.categories = reference.categories;
  profile.price.assign(reference.price_edges.size() + 2, 0);
  for (double price : counts.prices) profile.price[PriceBin(reference.price_edges, price)] += 1;
  profile.category.assign(reference.categories.size() + 1, 0);
  for (const auto& [category, n] : counts.categories) {
    auto it = std::find(reference.categories.begin(), reference.categories.end(), category);
    profile.category[static_cast<size_t>(it - reference.categories.begin())] += static_cast<double>(n);
  }
  profile.activity.assign(kActivityBins, 0);
  for (uint64_t n : counts.per_shopper) {
    profile.activity[ActivityBin(n)] += 1;
    profile.interactions += n;
  }
  profile.shopper_days = counts.per_shopper.size();
  profile.new_share =
      counts.per_shopper.empty() ? 0 : static_cast<double>(counts.new_shoppers) / double(counts.per_shopper.size());
  Normalize(&profile.price);
  Normalize(&profile.category);
  Normalize(&profile.activity);
  return profile;
}

DataProfile ProfileDataset(const Dataset& data, int days) {
  const int64_t cutoff = data.MaxTime() - days * kMillisPerDay;
  ProfileCounts counts;
  for (uint32_t actor = 0; actor < data.num_actors(); ++actor) {
    std::span<const Interaction> interactions = data.ActorInteractions(actor);
    if (interactions.empty()) continue;
    int64_t first = INT64_MAX;
    for (const Interaction& interaction : interactions) first = std::min(first, interaction.time_ms);
    std::map<int64_t, uint64_t> per_day;
    for (const Interaction& interaction : interactions) {
      if (interaction.time_ms < cutoff) continue;
      const ItemMeta& item = data.items[interaction.item];
      counts.prices.push_back(item.price.value_or(NAN));
      ++counts.categories[item.category.empty() ? std::string() : item.category.front()];
      ++per_day[interaction.time_ms / kMillisPerDay];
    }
    for (const auto& [day, n] : per_day) {
      counts.per_shopper.push_back(n);
      if (day == first / kMillisPerDay) ++counts.new_shoppers;
    }
  }
  // Bins from this data: price deciles, the most common categories.
  DataProfile bins;
  std::vector<double> prices;
  for (double price : counts.prices) {
    if (!std::isnan(price)) prices.push_back(price);
  }
  std::sort(prices.begin(), prices.end());
  for (size_t q = 1; q < kPriceBins && !prices.empty(); ++q) {
    const double edge = prices[q * (prices.size() - 1) / kPriceBins];
    if (bins.price_edges.empty() || edge > bins.price_edges.back()) bins.price_edges.push_back(edge);
  }
  std::vector<std::pair<uint64_t, std::string>> ranked;
  for (const auto& [category, n] : counts.categories) ranked.emplace_back(n, category);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (size_t i = 0; i < ranked.size() && i < kTopCategories; ++i) bins.categories.push_back(ranked[i].second);
  return ProfileWithBins(bins, counts);
}

double PopulationStabilityIndex(std::span<const double> expected, std::span<const double> actual) {
  if (expected.size() != actual.size() || expected.empty()) return NAN;
  double psi = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double e = std::max(expected[i], kFloor), a = std::max(actual[i], kFloor);
    psi += (a - e) * std::log(a / e);
  }
  return psi;
}

void WriteDataProfileJson(const DataProfile& profile, JsonWriter* w) {
  auto numbers = [&](std::string_view key, const std::vector<double>& values) {
    w->Key(key).BeginArray();
    for (double value : values) w->Double(value);
    w->EndArray();
  };
  w->BeginObject().Key("interactions").UInt(profile.interactions).Key("shopper_days").UInt(profile.shopper_days);
  numbers("price_edges", profile.price_edges);
  numbers("price", profile.price);
  w->Key("categories").BeginArray();
  for (const std::string& category : profile.categories) w->String(category);
  w->EndArray();
  numbers("category", profile.category);
  numbers("activity", profile.activity);
  w->Key("new_share").Double(profile.new_share).EndObject();
}

std::optional<DataProfile> ReadDataProfile(simdjson::dom::element element) {
  DataProfile profile;
  simdjson::dom::array categories;
  if (element["interactions"].get(profile.interactions) != simdjson::SUCCESS ||
      element["shopper_days"].get(profile.shopper_days) != simdjson::SUCCESS ||
      element["categories"].get(categories) != simdjson::SUCCESS ||
      element["new_share"].get(profile.new_share) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  profile.price_edges = ReadNumbers(element, "price_edges");
  profile.price = ReadNumbers(element, "price");
  profile.category = ReadNumbers(element, "category");
  profile.activity = ReadNumbers(element, "activity");
  for (simdjson::dom::element category : categories) {
    std::string_view text;
    if (category.get(text) == simdjson::SUCCESS) profile.categories.emplace_back(text);
  }
  if (profile.price.size() != profile.price_edges.size() + 2 ||
      profile.category.size() != profile.categories.size() + 1 || profile.activity.size() != kActivityBins) {
    return std::nullopt;
  }
  return profile;
}

}  // namespace vitrina
