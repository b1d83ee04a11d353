// The live catalog, kept current from every committed write: what answers
// that cannot wait for the next model snapshot read. Upsell and cold-start
// complements read a leaf category's items (those added a second ago too)
// with their prices; exploration's fresh arm reads the newest items.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "storage/store.h"

namespace vitrina {

// Thread-safe: any number of readers, one Apply at a time.
class CatalogIndex {
 public:
  struct Entry {
    std::string id;
    std::string leaf;        // leaf category; empty: none
    double price = NAN;      // NaN: no price
    int64_t created_ms = 0;
    bool in_stock = true;    // Item::InStock
  };

  // Reads every active item of `store` (replacing what was indexed).
  Status Build(const Store& store);
  // A committed write: upserted items replace their entries (an inactive
  // item leaves the index), deleted ones leave it.
  void Apply(const WriteBatch& batch, const std::vector<WriteOutcome>& outcomes);

  // Active items of leaf category `leaf` priced above `low` and at most
  // `high`, in stock, cheapest first; at most `limit`.
  std::vector<Entry> PricedIn(std::string_view leaf, double low, double high, size_t limit) const;
  // Active items of leaf category `leaf`, newest first; at most `limit`.
  std::vector<Entry> InCategory(std::string_view leaf, size_t limit) const;
  // Active items created at or after `since_ms`, newest first; at most `limit`.
  std::vector<Entry> Newest(int64_t since_ms, size_t limit) const;

  size_t size() const;
  // Goes up with every change, so readers can tell when a cached view is stale.
  uint64_t version() const;

 private:
  void Put(const Item& item);   // REQUIRES: mutex_ held exclusively
  void Erase(std::string_view id);  // REQUIRES: mutex_ held exclusively

  struct Leaf {
    std::set<std::pair<double, std::string>> by_price;    // priced items
    std::set<std::pair<int64_t, std::string>> by_created;  // all items
  };

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;             // GUARDED_BY(mutex_)
  std::unordered_map<std::string, Leaf> leaves_;               // GUARDED_BY(mutex_)
  std::set<std::pair<int64_t, std::string>> by_created_;       // GUARDED_BY(mutex_)
  uint64_t version_ = 0;                                       // GUARDED_BY(mutex_)
};

}  // namespace vitrina
