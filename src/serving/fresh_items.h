// The newest items in the catalog, for exploration's "fresh" arm: items
// with little or no history that no model proposes yet. The list is kept
// from a scan of the live catalog, refreshed in the background, so items
// added after the last snapshot are in it within one refresh.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "storage/store.h"

namespace vitrina {

struct FreshItemsOptions {
  double days = 14;              // items created at most this many days ago; 0: no fresh arm
  size_t max_items = 500;        // the newest this many at most
  double refresh_seconds = 60;   // how often the catalog is scanned again
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

  FreshItems(const Store* store, const Clock* clock, FreshItemsOptions options);
  ~FreshItems();  // stops the background refresh

  // Scans the catalog now: active items created within `days`, newest first.
  Status Refresh();
  // Refreshes now and then every refresh_seconds until destroyed.
  void Start();

  // The latest list, newest first (empty before the first refresh).
  std::shared_ptr<const std::vector<Entry>> Current() const;
  const FreshItemsOptions& options() const { return options_; }

 private:
  const Store* store_;
  const Clock* clock_;
  const FreshItemsOptions options_;
  mutable std::mutex mutex_;
  std::shared_ptr<const std::vector<Entry>> current_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;                              // GUARDED_BY(mutex_)
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace vitrina
