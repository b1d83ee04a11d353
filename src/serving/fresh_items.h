// The newest items in the catalog, for exploration's "fresh" arm: items
// with little or no history that no model proposes yet. Read from the live
// CatalogIndex, so an item added a second ago is in the list at once.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "serving/catalog_index.h"

namespace vitrina {

struct FreshItemsOptions {
  double days = 14;              // items created at most this many days ago; 0: no fresh arm
  size_t max_items = 500;        // the newest this many at most
  double refresh_seconds = 60;   // the list is worked out again after a catalog change, or this often
  // Items whose decayed popularity (trending's, the bestseller at 1) in the
  // serving snapshot is above this are no longer new to shoppers.
  double max_popularity = 0.05;
};

// Thread-safe.
class FreshItems {
 public:
  struct Entry {
    std::string id;
    std::string category;  // leaf category; empty: none
    int64_t created_ms = 0;
  };

  // `catalog` and `clock` must outlive this.
  FreshItems(const CatalogIndex* catalog, const Clock* clock, FreshItemsOptions options);

  // Active items created within `days`, newest first (at most max_items).
  std::shared_ptr<const std::vector<Entry>> Current() const;
  const FreshItemsOptions& options() const { return options_; }

 private:
  const CatalogIndex* catalog_;
  const Clock* clock_;
  const FreshItemsOptions options_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const std::vector<Entry>> current_;  // GUARDED_BY(mutex_)
  mutable uint64_t current_version_ = 0;                      // GUARDED_BY(mutex_): the catalog's, when worked out
  mutable int64_t current_at_ms_ = 0;                         // GUARDED_BY(mutex_)
};

}  // namespace vitrina
