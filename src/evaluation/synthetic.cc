#include "evaluation/synthetic.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "common/time_util.h"

namespace vitrina {
namespace {

constexpr const char* kDepartments[] = {"Electronics", "Home",  "Kitchen", "Garden", "Toys",    "Sports", "Beauty",
                                        "Books",       "Fashion", "Shoes", "Health", "Pets",    "Auto",   "Office",
                                        "Music",       "Baby",  "Grocery", "Tools",  "Games",   "Outdoor"};
constexpr const char* kNouns[] = {
    "lamp",   "kettle",  "mug",      "blender", "speaker", "headphones", "charger", "cable",   "backpack", "jacket",
    "sneaker", "boot",   "scarf",    "watch",   "wallet",  "pillow",     "blanket", "towel",   "candle",   "vase",
    "drill",  "hammer",  "saw",      "glove",   "helmet",  "ball",       "racket",  "bottle",  "tent",     "lantern",
    "shampoo", "cream",  "perfume",  "brush",   "mirror",  "novel",      "notebook", "pen",    "stapler",  "chair",
    "desk",   "shelf",   "rug",      "plant",   "pot",     "seed",       "hose",    "leash",   "collar",   "bowl",
    "puzzle", "doll",    "robot",    "kite",    "guitar",  "drum",       "ukulele", "tea",     "coffee",   "honey",
    "camera", "tripod",  "keyboard", "mouse",   "monitor", "router",     "tablet",  "phone",   "case",     "stroller"};
constexpr const char* kAdjectives[] = {"classic", "compact", "deluxe",  "eco",   "smart",  "mini",    "pro",
                                       "soft",    "steel",   "wooden",  "silver", "black", "white",   "travel",
                                       "premium", "vintage", "wireless", "cozy", "sport",  "organic", "retro"};
constexpr const char* kSyllables[] = {"ka", "lo", "mi", "ra", "to", "ve", "zu", "no", "pe", "si",
                                      "da", "fu", "gi", "ho", "ju", "ke", "lu", "ma", "ni", "or",
                                      "pa", "qu", "re", "sa", "ti", "ul", "vi", "wa", "xe", "yo"};
constexpr const char* kCountries[] = {"DE", "FR", "GB", "NL", "PL", "ES", "IT", "SE"};
// Relative traffic by hour of day (UTC), evening-heavy like most shops.
constexpr double kHourWeights[24] = {2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 9, 10, 9, 7, 4};

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Index drawn with probability proportional to the weights behind a
// cumulative sum. Empty or all-zero sums are the caller's problem.
template <typename Rng>
uint32_t Draw(const std::vector<double>& cumulative, Rng& rng) {
  double x = std::uniform_real_distribution<double>(0.0, cumulative.back())(rng);
  auto at = std::upper_bound(cumulative.begin(), cumulative.end(), x);
  return static_cast<uint32_t>(std::min<size_t>(at - cumulative.begin(), cumulative.size() - 1));
}

std::vector<double> Cumulative(const std::vector<double>& weights) {
  std::vector<double> out(weights.size());
  std::partial_sum(weights.begin(), weights.end(), out.begin());
  return out;
}

std::string BrandName(uint32_t brand) {
  constexpr uint32_t n = std::size(kSyllables);
  std::string name = std::string(kSyllables[brand % n]) + kSyllables[(brand / n) % n];
  if (brand >= n * n) name += kSyllables[(brand / (n * n)) % n];
  name[0] = static_cast<char>(name[0] - 'a' + 'A');
  return name;
}

std::string CategoryLeaf(uint32_t category) {
  constexpr uint32_t n = std::size(kNouns);
  std::string leaf = kNouns[category % n];
  leaf[0] = static_cast<char>(leaf[0] - 'a' + 'A');
  leaf += "s";
  if (category >= n) leaf += " " + std::to_string(category / n + 1);
  return leaf;
}

}  // namespace

SyntheticShop::SyntheticShop(const SyntheticShopOptions& options) : options_(options) {
  const uint32_t num_items = std::max<uint32_t>(1, options.items);
  const uint32_t num_categories = std::clamp<uint32_t>(options.categories, 1, num_items);
  const uint32_t num_brands = std::max<uint32_t>(1, options.brands);
  std::mt19937_64 rng(SplitMix(options.seed));
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  // Categories: sizes and popularity both skewed (Zipf 0.8 by index).
  std::vector<double> category_share(num_categories);
  for (uint32_t c = 0; c < num_categories; ++c) category_share[c] = 1.0 / std::pow(c + 1.0, 0.8);
  const std::vector<double> share_cumulative = Cumulative(category_share);
  std::vector<double> category_price(num_categories);
  for (double& price : category_price) price = std::exp(std::log(3.0) + unit(rng) * std::log(100.0));

  // Items: popularity by a random rank, category, brand, price, title.
  std::vector<uint32_t> rank(num_items);
  std::iota(rank.begin(), rank.end(), 0);
  std::shuffle(rank.begin(), rank.end(), rng);
  item_weight_.resize(num_items);
  item_category_.resize(num_items);
  category_items_.assign(num_categories, {});
  items_.resize(num_items);
  std::normal_distribution<double> price_noise(0.0, 0.4);
  for (uint32_t i = 0; i < num_items; ++i) {
    item_weight_[i] = 1.0 / std::pow(rank[i] + 1.0, options.popularity_exponent);
    // The first items fill every category once, so none is empty.
    const uint32_t c = i < num_categories ? i : Draw(share_cumulative, rng);
    item_category_[i] = c;
    category_items_[c].push_back(i);
    const uint32_t brand = (c * 37 + static_cast<uint32_t>(12 * unit(rng) * unit(rng))) % num_brands;
    const double price = std::max(0.5, std::round(category_price[c] * std::exp(price_noise(rng)) * 100) / 100 - 0.01);
    const uint32_t department = c / 10;
    const std::string noun = kNouns[c % std::size(kNouns)];
    Item& item = items_[i];
    item.id = "i" + std::to_string(i);
    item.title = BrandName(brand) + " " + kAdjectives[rng() % std::size(kAdjectives)] + " " + noun + " " +
                 static_cast<char>('A' + rng() % 26) + std::to_string(100 + rng() % 900);
    item.category = {std::string(kDepartments[department % std::size(kDepartments)]) +
                         (department >= std::size(kDepartments)
                              ? " " + std::to_string(department / std::size(kDepartments) + 1)
                              : ""),
                     CategoryLeaf(c)};
    item.brand = BrandName(brand);
    item.price = price;
    item.currency = "EUR";
    item.stock = unit(rng) < 0.05 ? 0 : static_cast<int64_t>(1 + rng() % 500);
    item.created_ms = options.start_ms - static_cast<int64_t>(rng() % 365) * kMillisPerDay;
    item.updated_ms = item.created_ms;
  }
  category_weight_.assign(num_categories, 0.0);
  for (uint32_t i = 0; i < num_items; ++i) category_weight_[item_category_[i]] += item_weight_[i];

  // Per category: a cumulative popularity over its items for drawing.
  category_cumulative_.assign(num_categories, {});
  for (uint32_t c = 0; c < num_categories; ++c) {
    std::vector<double> weights;
    weights.reserve(category_items_[c].size());
    for (uint32_t i : category_items_[c]) weights.push_back(item_weight_[i]);
    category_cumulative_[c] = Cumulative(weights);
  }
  auto draw_in = [&](uint32_t c) { return category_items_[c][Draw(category_cumulative_[c], rng)]; };

  // Related categories (where complements come from): two per category,
  // one from the same department when it has another.
  related_categories_.assign(num_categories, {});
  for (uint32_t c = 0; c < num_categories; ++c) {
    const uint32_t first = c / 10 * 10;
    const uint32_t span = std::min(num_categories, first + 10) - first;
    if (span > 1) related_categories_[c].push_back(first + (c - first + 1 + rng() % (span - 1)) % span);
    if (num_categories > 1) {
      uint32_t other = static_cast<uint32_t>(rng() % (num_categories - 1));
      related_categories_[c].push_back(other >= c ? other + 1 : other);
    }
  }

  // Substitutes (same category) and complements (related categories), both
  // drawn by popularity, so popular items are everybody's neighbour.
  substitutes_.assign(num_items, {});
  complements_.assign(num_items, {});
  for (uint32_t i = 0; i < num_items; ++i) {
    const uint32_t c = item_category_[i];
    if (category_items_[c].size() > 1) {
      for (int tries = 0; tries < 12 && substitutes_[i].size() < 4; ++tries) {
        uint32_t j = draw_in(c);
        if (j != i && std::find(substitutes_[i].begin(), substitutes_[i].end(), j) == substitutes_[i].end()) {
          substitutes_[i].push_back(j);
        }
      }
    }
    for (int tries = 0; tries < 9 && complements_[i].size() < 3 && !related_categories_[c].empty(); ++tries) {
      uint32_t j = draw_in(related_categories_[c][rng() % related_categories_[c].size()]);
      if (std::find(complements_[i].begin(), complements_[i].end(), j) == complements_[i].end()) {
        complements_[i].push_back(j);
      }
    }
  }
}

SyntheticShopStats SyntheticShop::GenerateEvents(const std::function<void(const Event&)>& sink) const {
  SyntheticShopStats stats;
  stats.views_per_item.assign(items_.size(), 0);
  stats.sessions_per_user.assign(options_.users, 0);

  const std::vector<double> categories = Cumulative(category_weight_);
  const std::vector<double> hours = Cumulative(std::vector<double>(std::begin(kHourWeights), std::end(kHourWeights)));
  // Pareto with shape 1.5 and the requested mean: x_m = mean / 3.
  constexpr double kShape = 1.5;
  const double scale = std::max(1.0, options_.sessions_per_user) * (kShape - 1) / kShape;
  const double stop_p = 1.0 / std::max(1.0, options_.views_per_session);
  const int days = std::max(1, options_.days);

  Event event;
  std::vector<int64_t> starts;
  std::vector<uint32_t> favourites;
  std::vector<uint32_t> cart;
  for (uint32_t u = 0; u < options_.users; ++u) {
    std::mt19937_64 rng(SplitMix(options_.seed * 0x2545f4914f6cdd1dULL + u + 1));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    auto draw_in = [&](uint32_t c) { return category_items_[c][Draw(category_cumulative_[c], rng)]; };
    const double pareto = scale * std::pow(1.0 - unit(rng), -1.0 / kShape);
    const uint32_t sessions = static_cast<uint32_t>(std::clamp(std::round(pareto), 1.0, 1000.0));
    stats.sessions_per_user[u] = sessions;
    favourites.clear();
    const uint32_t num_favourites = 1 + static_cast<uint32_t>(rng() % 3);
    for (uint32_t k = 0; k < num_favourites; ++k) favourites.push_back(Draw(categories, rng));
    const std::string user_id = "u" + std::to_string(u);
    const char* device = unit(rng) < 0.6 ? "mobile" : "desktop";
    const char* country = kCountries[rng() % std::size(kCountries)];

    starts.clear();
    for (uint32_t s = 0; s < sessions; ++s) {
      const int64_t day = static_cast<int64_t>(rng() % days);
      const int64_t hour = Draw(hours, rng);
      starts.push_back(options_.start_ms + day * kMillisPerDay + hour * 3'600'000 +
                       static_cast<int64_t>(rng() % 3'600'000));
    }
    std::sort(starts.begin(), starts.end());

    uint64_t n = 0;
    int64_t previous_end = 0;
    for (uint32_t s = 0; s < sessions; ++s) {
      ++stats.sessions;
      const bool anonymous = unit(rng) < options_.anonymous_share;
      stats.anonymous_sessions += anonymous;
      // A session starts at least half an hour after the previous one ended.
      int64_t now = std::max(starts[s], previous_end + 1'800'000);
      auto emit = [&](EventType type) {
        event.event_id = "g" + std::to_string(u) + "-" + std::to_string(n++);
        event.type = type;
        event.user_id = anonymous ? "" : user_id;
        event.session_id = "s" + std::to_string(u) + "-" + std::to_string(s);
        event.timestamp_ms = now;
        event.received_ms = now;
        event.context.device = device;
        event.context.country = country;
        sink(event);
        ++stats.events;
        now += 1000 + static_cast<int64_t>(-std::log(1.0 - unit(rng)) * 40'000);
      };
      event.item_id.clear();
      event.lines.clear();
      event.query.clear();

      const uint32_t category = unit(rng) < 0.75 ? favourites[rng() % favourites.size()] : Draw(categories, rng);
      if (unit(rng) < 0.2) {
        event.query = kNouns[category % std::size(kNouns)];
        emit(EventType::kSearch);
        ++stats.searches;
        event.query.clear();
      }
      cart.clear();
      uint32_t item = draw_in(category);
      while (true) {
        event.item_id = items_[item].id;
        emit(EventType::kView);
        ++stats.views;
        ++stats.views_per_item[item];
        bool carted = false;
        if (unit(rng) < options_.cart_rate && std::find(cart.begin(), cart.end(), item) == cart.end()) {
          event.lines = {EventLine{.item_id = items_[item].id, .quantity = 1, .price = items_[item].price}};
          event.item_id.clear();
          emit(EventType::kAddToCart);
          event.lines.clear();
          ++stats.carts;
          cart.push_back(item);
          carted = true;
        }
        if (unit(rng) < stop_p) break;
        if (carted && !complements_[item].empty() && unit(rng) < 0.3) {
          item = complements_[item][rng() % complements_[item].size()];  // cross-sell browsing
        } else if (!substitutes_[item].empty() && unit(rng) < options_.substitute_rate) {
          item = substitutes_[item][rng() % substitutes_[item].size()];
        } else {
          const uint32_t previous = item;
          item = draw_in(category);
          if (item == previous) item = draw_in(category);  // one more try at something new
        }
      }
      event.item_id.clear();
      if (!cart.empty() && unit(rng) < options_.purchase_rate) {
        const size_t carted = cart.size();
        for (size_t k = 0; k < carted; ++k) {
          const auto& complements = complements_[cart[k]];
          if (complements.empty() || unit(rng) >= options_.complement_rate) continue;
          // The first complement is the usual one.
          uint32_t pick = complements[unit(rng) < 0.6 ? 0 : rng() % complements.size()];
          if (std::find(cart.begin(), cart.end(), pick) == cart.end()) cart.push_back(pick);
        }
        for (uint32_t i : cart) {
          event.lines.push_back(
              EventLine{.item_id = items_[i].id, .quantity = static_cast<double>(1 + (rng() % 4 == 0)),
                        .price = items_[i].price});
        }
        emit(EventType::kPurchase);
        event.lines.clear();
        ++stats.purchases;
      }
      previous_end = now;
    }
  }
  return stats;
}

}  // namespace vitrina
