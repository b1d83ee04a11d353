// A synthetic shop for benchmarks at a chosen scale (`vitrina bench gen`):
// a catalog and the event log of its shoppers, deterministic for a seed.
//
// What makes it realistic enough to benchmark serving and training on:
//   - item popularity follows a power law (Zipf over a random ranking),
//     categories inherit it, so a few items and categories get most views;
//   - shoppers differ in activity (heavy-tailed number of sessions) and
//     have one to three favourite categories they return to;
//   - a session browses one category; the next view is often a substitute
//     of the current item (a planted sequential signal);
//   - items go to the cart, carts are bought, and baskets pick up
//     complements from related categories (a planted bought-together
//     signal);
//   - some sessions are anonymous (no user id).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "schema/types.h"

namespace vitrina {

struct SyntheticShopOptions {
  uint32_t items = 50'000;
  uint32_t users = 200'000;
  uint32_t categories = 200;         // leaf categories, under departments of 10
  uint32_t brands = 2'000;
  double sessions_per_user = 3.0;    // mean of a heavy-tailed (Pareto) count
  double views_per_session = 5.0;    // mean of a geometric count
  double popularity_exponent = 1.0;  // Zipf exponent of item popularity
  double substitute_rate = 0.35;     // the next view is a substitute of the current item
  double cart_rate = 0.12;           // a viewed item goes to the cart
  double purchase_rate = 0.6;        // a session with a cart ends in a purchase
  double complement_rate = 0.4;      // a bought item brings one of its complements
  double anonymous_share = 0.1;      // sessions without a user id
  int days = 60;
  int64_t start_ms = 1'785'542'400'000;  // 2026-08-01T00:00:00Z
  uint64_t seed = 42;
};

// What GenerateEvents produced.
struct SyntheticShopStats {
  uint64_t sessions = 0;
  uint64_t anonymous_sessions = 0;
  uint64_t events = 0;
  uint64_t views = 0;
  uint64_t carts = 0;
  uint64_t purchases = 0;
  uint64_t searches = 0;
  std::vector<uint64_t> views_per_item;     // by item index
  std::vector<uint32_t> sessions_per_user;  // by user index (anonymous sessions included)
};

class SyntheticShop {
 public:
  // Builds the catalog; cheap next to GenerateEvents.
  explicit SyntheticShop(const SyntheticShopOptions& options);

  const SyntheticShopOptions& options() const { return options_; }
  // Item i has id "i<i>"; user u has id "u<u>".
  const std::vector<Item>& items() const { return items_; }
  // The planted structure, for tests and documentation.
  const std::vector<uint32_t>& substitutes(uint32_t item) const { return substitutes_[item]; }
  const std::vector<uint32_t>& complements(uint32_t item) const { return complements_[item]; }
  uint32_t category_of(uint32_t item) const { return item_category_[item]; }

  // Calls `sink` for every event, shopper by shopper (u0, u1, ...), each
  // shopper's events in time order. Event ids are "g<user>-<n>", so a
  // re-import stores nothing twice. Same options, same events.
  SyntheticShopStats GenerateEvents(const std::function<void(const Event&)>& sink) const;

 private:
  SyntheticShopOptions options_;
  std::vector<Item> items_;
  std::vector<uint32_t> item_category_;
  std::vector<double> item_weight_;                  // popularity
  std::vector<std::vector<uint32_t>> category_items_;
  std::vector<std::vector<double>> category_cumulative_;  // cumulative popularity of category_items_
  std::vector<double> category_weight_;              // sum of its items' weights
  std::vector<std::vector<uint32_t>> related_categories_;
  std::vector<std::vector<uint32_t>> substitutes_;
  std::vector<std::vector<uint32_t>> complements_;
};

}  // namespace vitrina
