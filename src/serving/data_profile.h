// A profile of the shop's traffic: the distributions data drift watches
// (item prices, category mix, interactions per shopper and day, the share
// of new shoppers), and the population stability index that compares two
// profiles. Each snapshot keeps the profile of its training data's last
// days; serving profiles the last day live (drift_monitor.h).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/json_writer.h"
#include "models/dataset.h"

namespace vitrina {

struct DataProfile {
  std::vector<double> price_edges;      // upper edges of the price bins (the reference's deciles)
  std::vector<double> price;            // shares: price_edges.size() + 1 bins, then one for lines without a price
  std::vector<std::string> categories;  // the reference's most common root categories
  std::vector<double> category;         // shares: one per category, then the rest
  std::vector<double> activity;         // shares of shopper-days by interactions: 1, 2, 3-4, 5-8, 9-16, 17+
  double new_share = 0;                 // share of shopper-days that were the shopper's first
  uint64_t interactions = 0, shopper_days = 0;

  bool empty() const { return interactions == 0; }
};

inline constexpr size_t kActivityBins = 6;
size_t ActivityBin(uint64_t interactions);

// The profile of `data`'s last `days` days (bins fitted to it).
DataProfile ProfileDataset(const Dataset& data, int days);

// Fills `profile`'s shares from raw observations with `reference`'s bins.
struct ProfileCounts {
  std::vector<double> prices;  // NaN: no price
  std::unordered_map<std::string, uint64_t> categories;  // root category -> interactions
  std::vector<uint64_t> per_shopper;  // interactions of each shopper in the window
  uint64_t new_shoppers = 0;
};
DataProfile ProfileWithBins(const DataProfile& reference, const ProfileCounts& counts);

// PSI = sum over bins of (a - e) * ln(a / e), shares floored at 1e-4 so an
// empty bin does not make it infinite. Under 0.1: stable; over 0.2: shifted.
double PopulationStabilityIndex(std::span<const double> expected, std::span<const double> actual);

void WriteDataProfileJson(const DataProfile& profile, JsonWriter* w);
std::optional<DataProfile> ReadDataProfile(simdjson::dom::element element);

}  // namespace vitrina
