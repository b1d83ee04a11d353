// What the learned ranker sees of a candidate item for one shopper: each
// candidate source's score and rank, the item's popularity, freshness and
// price, the shopper's history with the item, its category and its brand,
// the price against what the shopper usually pays, and the request's
// context (hour, weekday, device, page, country).
//
// A feature the request cannot know (no price, no category, never touched)
// is NaN: "missing" to the trees, which learn where such rows go.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/dataset.h"
#include "models/recommender.h"

namespace vitrina {

// The features after the per-source ones, in the model's input order.
enum class Feature : uint32_t {
  kHistoryItemWeight,   // log(1 + the shopper's interaction weight on this item)
  kHistoryItemBuys,     // times the shopper bought it
  kHistoryItemDays,     // days since the shopper last touched it
  kHistoryItemSignal,   // strongest signal on it: 0 viewed, 1 carted, 2 bought
  kCategoryShare,       // share of the shopper's history in the item's category
  kCategoryDays,        // days since the shopper last touched that category
  kBrandShare,          // share of the shopper's history in the item's brand
  kPriceLog,            // log(1 + price)
  kPriceVsUsual,        // log price minus the shopper's mean log price
  kItemPopularity,      // log(1 + interaction weight of everyone)
  kItemShoppers,        // log(1 + shoppers who touched it)
  kItemRepeatRate,      // share of its shoppers who came back to it another day
  kItemAgeDays,         // days since it first appeared
  kShopperEvents,       // log(1 + events in the history)
  kShopperItems,        // log(1 + distinct items in the history)
  kShopperIdleDays,     // days since the shopper's latest event
  kShopperBuyShare,     // share of purchases in the history
  kContextHour,         // 0-23, UTC
  kContextWeekday,      // 0 Monday - 6 Sunday
  kContextDevice,       // 0 desktop, 1 mobile, 2 tablet, 3 other
  kContextPage,         // 0 home, 1 product, 2 cart, 3 search, 4 category, 5 other
  kContextCountryShare, // share of the item's shoppers who shop from the request's country
  kCount,
};
inline constexpr size_t kFixedFeatures = static_cast<size_t>(Feature::kCount);

// Per source: its score and its rank among its own candidates.
inline constexpr size_t kFeaturesPerSource = 2;

// "history_item_weight", ... in Feature order.
std::string_view FeatureName(Feature feature);
// Every feature name for these sources: "<source>_score", "<source>_rank"
// per source, then the fixed ones.
std::vector<std::string> FeatureNames(std::span<const std::string> sources);

// Facts about every item of a catalog, from the interactions a model was
// trained on. Read-only after Compute.
struct ItemStats {
  std::vector<float> popularity;    // log(1 + weight)
  std::vector<float> shoppers;      // log(1 + distinct actors)
  std::vector<float> repeat_rate;   // actors back on another day / actors
  std::vector<int64_t> first_seen_ms;  // 0: never seen
  std::vector<uint32_t> category;   // leaf category id, 0 for none
  std::vector<uint32_t> brand;      // brand id, 0 for none
  std::vector<float> log_price;     // log(1 + price), NaN for none
  // Per item, the share of its shoppers from each country they shop from:
  // entries [country_offsets[i], country_offsets[i+1]) of country_ids
  // (indices into countries) and country_shares.
  std::vector<std::string> countries;
  std::vector<uint32_t> country_offsets;
  std::vector<uint16_t> country_ids;
  std::vector<float> country_shares;

  size_t size() const { return popularity.size(); }
  static ItemStats Compute(const Dataset& data);
  // The index of a country in `countries`, -1 when no shopper came from it.
  int CountryIndex(std::string_view country) const;
  // The share of item's shoppers from country `index` (0 when none).
  float CountryShare(uint32_t item, int index) const;
};

// The request's situation, beside the history.
struct RankContext {
  int64_t now_ms = 0;    // reference time of "days since"; 0: the newest history time
  std::string_view device;  // "mobile", "desktop", "tablet", ...; empty: unknown
  std::string_view page;    // page type or URL; empty: unknown
  std::string_view country; // where the shopper is; empty: unknown
  bool has_clock = true;    // false: hour and weekday are unknown (offline datasets without real times)
};

// The shopper's history summarized for feature lookups; rebuilt per request
// into reused buffers.
class ShopperProfile {
 public:
  // `history` newest first. `stats` gives items' categories, brands, prices.
  void Build(std::span<const HistoryEntry> history, const ItemStats& stats, int64_t now_ms,
             std::string_view country = {});

  // Writes the fixed features of `item` into `out` (kFixedFeatures values).
  void Fill(uint32_t item, const ItemStats& stats, const RankContext& context, std::span<float> out) const;

  // Distinct history items, most recent first.
  std::span<const uint32_t> recent_items() const { return recent_items_; }
  int64_t now_ms() const { return now_ms_; }

 private:
  struct Touch {
    uint32_t key = 0;
    float weight = 0;
    int64_t last_ms = 0;
    uint16_t buys = 0;
    uint8_t signal = 0;
  };
  static const Touch* Find(const std::vector<Touch>& touches, uint32_t key);
  static void Add(std::vector<Touch>* touches, uint32_t key, const HistoryEntry& entry);

  std::vector<Touch> items_, categories_, brands_;  // sorted by key after Build
  std::vector<uint32_t> recent_items_;
  float total_weight_ = 0;
  float mean_log_price_ = 0;
  bool has_price_ = false;
  float events_ = 0, buy_share_ = 0;
  int64_t newest_ms_ = 0, now_ms_ = 0;
  int country_ = -1;  // index into ItemStats::countries
};

}  // namespace vitrina
