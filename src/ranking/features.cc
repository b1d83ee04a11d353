#include "ranking/features.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "common/strings.h"

namespace vitrina {
namespace {

constexpr double kMillisPerDay = 86400000.0;
constexpr int64_t kMillisPerHour = 3600000;

constexpr std::string_view kFeatureNames[] = {
    "history_item_weight", "history_item_buys", "history_item_days", "history_item_signal",
    "category_share",      "category_days",     "brand_share",       "price_log",
    "price_vs_usual",      "item_popularity",   "item_shoppers",     "item_repeat_rate",
    "item_age_days",       "shopper_events",    "shopper_items",     "shopper_idle_days",
    "shopper_buy_share",   "context_hour",      "context_weekday",   "context_device",
    "context_page",        "context_country_share",
};
static_assert(std::size(kFeatureNames) == kFixedFeatures);

float Days(int64_t from_ms, int64_t to_ms) {
  return static_cast<float>(static_cast<double>(to_ms - from_ms) / kMillisPerDay);
}

float DeviceCode(std::string_view device) {
  if (device.empty()) return NAN;
  const std::string lower = AsciiLower(device);
  if (lower == "desktop" || lower == "pc" || lower == "web") return 0;
  if (lower == "mobile" || lower == "phone" || lower == "smartphone") return 1;
  if (lower == "tablet") return 2;
  return 3;
}

float PageCode(std::string_view page) {
  if (page.empty()) return NAN;
  const std::string lower = AsciiLower(page);
  if (lower == "home" || lower == "/" || lower == "index") return 0;
  auto has = [&](std::string_view word) { return lower.find(word) != std::string::npos; };
  if (has("product") || has("item")) return 1;
  if (has("cart") || has("basket") || has("checkout")) return 2;
  if (has("search")) return 3;
  if (has("category") || has("catalog") || has("collection")) return 4;
  return 5;
}

uint32_t Intern(std::unordered_map<std::string, uint32_t>* ids, const std::string& text) {
  if (text.empty()) return 0;
  return ids->try_emplace(text, static_cast<uint32_t>(ids->size() + 1)).first->second;
}

}  // namespace

std::string_view FeatureName(Feature feature) { return kFeatureNames[static_cast<size_t>(feature)]; }

std::vector<std::string> FeatureNames(std::span<const std::string> sources) {
  std::vector<std::string> names;
  for (const std::string& source : sources) {
    names.push_back(source + "_score");
    names.push_back(source + "_rank");
  }
  for (std::string_view name : kFeatureNames) names.emplace_back(name);
  return names;
}

ItemStats ItemStats::Compute(const Dataset& data) {
  const size_t n = data.num_items();
  ItemStats stats;
  std::vector<double> weight(n, 0);
  std::vector<uint32_t> shoppers(n, 0), returning(n, 0);
  stats.first_seen_ms.assign(n, 0);
  std::vector<const Interaction*> touches;
  for (uint32_t a = 0; a < data.num_actors(); ++a) {
    touches.clear();
    for (const Interaction& interaction : data.ActorInteractions(a)) {
      weight[interaction.item] += interaction.weight;
      int64_t& first = stats.first_seen_ms[interaction.item];
      if (first == 0 || interaction.time_ms < first) first = interaction.time_ms;
      touches.push_back(&interaction);
    }
    // Per item of this actor: did they come back to it, in another order
    // or more than an hour later?
    std::stable_sort(touches.begin(), touches.end(),
                     [](const Interaction* x, const Interaction* y) { return x->item < y->item; });
    for (size_t i = 0; i < touches.size();) {
      size_t j = i;
      bool again = false;
      for (; j < touches.size() && touches[j]->item == touches[i]->item; ++j) {
        const bool other_order = touches[j]->order != 0 && touches[j]->order != touches[i]->order;
        if (other_order || touches[j]->time_ms - touches[i]->time_ms > kMillisPerHour) again = true;
      }
      ++shoppers[touches[i]->item];
      if (again) ++returning[touches[i]->item];
      i = j;
    }
  }
  // Shoppers per item and country, from each actor's country.
  std::vector<std::pair<uint32_t, uint16_t>> item_countries;  // (item, country) per distinct actor-item pair
  std::vector<uint32_t> seen;
  for (uint32_t a = 0; a < data.num_actors(); ++a) {
    const uint16_t country = a < data.actor_countries.size() ? data.actor_countries[a] : 0;
    if (country == 0) continue;
    seen.clear();
    for (const Interaction& interaction : data.ActorInteractions(a)) seen.push_back(interaction.item);
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (uint32_t item : seen) item_countries.emplace_back(item, country);
  }
  std::sort(item_countries.begin(), item_countries.end());
  stats.countries = data.countries;
  stats.country_offsets.assign(n + 1, 0);
  for (size_t i = 0; i < item_countries.size();) {
    size_t j = i;
    while (j < item_countries.size() && item_countries[j] == item_countries[i]) ++j;
    const uint32_t item = item_countries[i].first;
    stats.country_ids.push_back(item_countries[i].second);
    stats.country_shares.push_back(static_cast<float>(j - i) / static_cast<float>(std::max<uint32_t>(1, shoppers[item])));
    ++stats.country_offsets[item + 1];
    i = j;
  }
  for (size_t i = 0; i < n; ++i) stats.country_offsets[i + 1] += stats.country_offsets[i];

  std::unordered_map<std::string, uint32_t> categories, brands;
  stats.popularity.resize(n);
  stats.shoppers.resize(n);
  stats.repeat_rate.resize(n);
  stats.category.resize(n);
  stats.brand.resize(n);
  stats.log_price.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const ItemMeta& item = data.items[i];
    stats.popularity[i] = static_cast<float>(std::log1p(weight[i]));
    stats.shoppers[i] = static_cast<float>(std::log1p(shoppers[i]));
    stats.repeat_rate[i] = shoppers[i] == 0 ? 0.0f : static_cast<float>(returning[i]) / static_cast<float>(shoppers[i]);
    stats.category[i] = item.category.empty() ? 0 : Intern(&categories, item.category.back());
    stats.brand[i] = Intern(&brands, item.brand);
    stats.log_price[i] = item.price && *item.price >= 0 ? static_cast<float>(std::log1p(*item.price)) : NAN;
  }
  return stats;
}

int ItemStats::CountryIndex(std::string_view country) const {
  if (country.empty()) return -1;
  for (size_t c = 1; c < countries.size(); ++c) {
    if (EqualsIgnoreCase(countries[c], country)) return static_cast<int>(c);
  }
  return -1;
}

float ItemStats::CountryShare(uint32_t item, int index) const {
  for (uint32_t e = country_offsets[item]; e < country_offsets[item + 1]; ++e) {
    if (country_ids[e] == index) return country_shares[e];
  }
  return 0;
}

const ShopperProfile::Touch* ShopperProfile::Find(const std::vector<Touch>& touches, uint32_t key) {
  auto it = std::lower_bound(touches.begin(), touches.end(), key,
                             [](const Touch& touch, uint32_t k) { return touch.key < k; });
  return it != touches.end() && it->key == key ? &*it : nullptr;
}

void ShopperProfile::Add(std::vector<Touch>* touches, uint32_t key, const HistoryEntry& entry) {
  touches->push_back({.key = key,
                      .weight = entry.weight,
                      .last_ms = entry.time_ms,
                      .buys = static_cast<uint16_t>(entry.signal == Signal::kPurchase),
                      .signal = static_cast<uint8_t>(entry.signal)});
}

void ShopperProfile::Build(std::span<const HistoryEntry> history, const ItemStats& stats, int64_t now_ms,
                           std::string_view country) {
  country_ = stats.CountryIndex(country);
  items_.clear();
  categories_.clear();
  brands_.clear();
  recent_items_.clear();
  total_weight_ = 0;
  newest_ms_ = 0;
  double price_sum = 0, price_weight = 0;
  size_t buys = 0;
  for (const HistoryEntry& entry : history) {
    if (entry.item >= stats.size()) continue;
    Add(&items_, entry.item, entry);
    if (uint32_t category = stats.category[entry.item]) Add(&categories_, category, entry);
    if (uint32_t brand = stats.brand[entry.item]) Add(&brands_, brand, entry);
    total_weight_ += entry.weight;
    newest_ms_ = std::max(newest_ms_, entry.time_ms);
    if (entry.signal == Signal::kPurchase) ++buys;
    if (!std::isnan(stats.log_price[entry.item])) {
      price_sum += entry.weight * stats.log_price[entry.item];
      price_weight += entry.weight;
    }
  }
  // Distinct items, most recent first (history is newest first).
  for (const Touch& touch : items_) {
    if (std::find(recent_items_.begin(), recent_items_.end(), touch.key) == recent_items_.end()) {
      recent_items_.push_back(touch.key);
    }
  }
  // Merge each list by key: weights add up, the latest time and strongest signal win.
  for (std::vector<Touch>* touches : {&items_, &categories_, &brands_}) {
    std::stable_sort(touches->begin(), touches->end(), [](const Touch& a, const Touch& b) { return a.key < b.key; });
    size_t out = 0;
    for (size_t i = 0; i < touches->size(); ++i) {
      const Touch& touch = (*touches)[i];
      if (out > 0 && (*touches)[out - 1].key == touch.key) {
        Touch& merged = (*touches)[out - 1];
        merged.weight += touch.weight;
        merged.last_ms = std::max(merged.last_ms, touch.last_ms);
        merged.buys = static_cast<uint16_t>(merged.buys + touch.buys);
        merged.signal = std::max(merged.signal, touch.signal);
      } else {
        (*touches)[out++] = touch;
      }
    }
    touches->resize(out);
  }
  has_price_ = price_weight > 0;
  mean_log_price_ = has_price_ ? static_cast<float>(price_sum / price_weight) : 0;
  events_ = static_cast<float>(history.size());
  buy_share_ = history.empty() ? 0.0f : static_cast<float>(buys) / static_cast<float>(history.size());
  now_ms_ = now_ms != 0 ? now_ms : newest_ms_;
}

void ShopperProfile::Fill(uint32_t item, const ItemStats& stats, const RankContext& context,
                          std::span<float> out) const {
  auto set = [&](Feature feature, float value) { out[static_cast<size_t>(feature)] = value; };
  const Touch* touch = Find(items_, item);
  set(Feature::kHistoryItemWeight, touch ? std::log1p(touch->weight) : 0.0f);
  set(Feature::kHistoryItemBuys, touch ? touch->buys : 0.0f);
  set(Feature::kHistoryItemDays, touch ? Days(touch->last_ms, now_ms_) : NAN);
  set(Feature::kHistoryItemSignal, touch ? touch->signal : NAN);
  const uint32_t category = item < stats.size() ? stats.category[item] : 0;
  const Touch* in_category = category != 0 ? Find(categories_, category) : nullptr;
  set(Feature::kCategoryShare, category == 0 ? NAN : in_category && total_weight_ > 0 ? in_category->weight / total_weight_ : 0.0f);
  set(Feature::kCategoryDays, in_category ? Days(in_category->last_ms, now_ms_) : NAN);
  const uint32_t brand = item < stats.size() ? stats.brand[item] : 0;
  const Touch* of_brand = brand != 0 ? Find(brands_, brand) : nullptr;
  set(Feature::kBrandShare, brand == 0 ? NAN : of_brand && total_weight_ > 0 ? of_brand->weight / total_weight_ : 0.0f);
  const float log_price = item < stats.size() ? stats.log_price[item] : NAN;
  set(Feature::kPriceLog, log_price);
  set(Feature::kPriceVsUsual, has_price_ && !std::isnan(log_price) ? log_price - mean_log_price_ : NAN);
  const bool known = item < stats.size();
  set(Feature::kItemPopularity, known ? stats.popularity[item] : 0.0f);
  set(Feature::kItemShoppers, known ? stats.shoppers[item] : 0.0f);
  set(Feature::kItemRepeatRate, known ? stats.repeat_rate[item] : NAN);
  set(Feature::kItemAgeDays, known && stats.first_seen_ms[item] != 0 ? Days(stats.first_seen_ms[item], now_ms_) : NAN);
  set(Feature::kShopperEvents, std::log1p(events_));
  set(Feature::kShopperItems, std::log1p(static_cast<float>(items_.size())));
  set(Feature::kShopperIdleDays, newest_ms_ != 0 ? Days(newest_ms_, now_ms_) : NAN);
  set(Feature::kShopperBuyShare, buy_share_);
  if (context.has_clock && now_ms_ > 0) {
    const int64_t days = now_ms_ / 86400000;
    set(Feature::kContextHour, static_cast<float>((now_ms_ % 86400000) / kMillisPerHour));
    set(Feature::kContextWeekday, static_cast<float>((days + 3) % 7));  // 1970-01-01 was a Thursday
  } else {
    set(Feature::kContextHour, NAN);
    set(Feature::kContextWeekday, NAN);
  }
  set(Feature::kContextDevice, DeviceCode(context.device));
  set(Feature::kContextPage, PageCode(context.page));
  set(Feature::kContextCountryShare, country_ >= 0 && known ? stats.CountryShare(item, country_) : NAN);
}

}  // namespace vitrina
