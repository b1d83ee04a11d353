// What was served: every recommendation list with, per item, the source
// that proposed it, whether its slot explored, and its propensity.
//
// Kept twice: the recent lists in memory, so that a click carrying a
// recommendation_id can reward the source that showed the item (once per
// list and item); and every list as a JSON line in
// <dir>/served-YYYY-MM-DD.jsonl (UTC), written by a background thread and
// kept `retention_days` days, for offline evaluation that corrects for
// exploration. Serving never waits for the disk: when the writer falls
// behind by more than `max_queued` lists, further lists are dropped from
// the file (counted) but still kept in memory.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "models/dataset.h"

namespace vitrina {

struct ServedItem {
  std::string item_id;
  std::string source;     // the arm: the model that proposed it, "history", "trending", "rule"
  bool explored = false;
  double propensity = 1;
  bool rewarded = false;  // in memory: a click on it has been credited
};

struct ServedList {
  std::string recommendation_id;
  int64_t at_ms = 0;
  std::string scenario;
  std::string user_id, session_id;
  std::string snapshot;
  int64_t rules_version = 0;
  std::string experiment, variant;  // the experiment that served it, if any
  std::vector<ServedItem> items;    // in display order
};

struct ServedLogOptions {
  std::string dir;                // empty: nothing written to disk
  size_t memory_lists = 200000;   // recent lists kept for rewards
  int retention_days = 7;
  // Days from this time on are kept whatever the retention: an experiment
  // still needs its exposures to rebuild its results after a restart.
  // Empty, or INT64_MAX returned: the retention alone decides.
  std::function<int64_t()> keep_since;
  size_t max_queued = 100000;
};

struct ServedLogStats {
  uint64_t recorded = 0, written = 0, dropped = 0;
};

// Calls `visit` with every served list in the day files of `dir`, oldest
// day first (a missing directory has none). Lines that are not served
// lists (cut short by a crash) are skipped.
Status ForEachServedList(const std::string& dir, const std::function<void(const ServedList&)>& visit);
// ... into `builder`, for the ranker to learn from.
Status ReadServedLists(const std::string& dir, DatasetBuilder* builder);

// Thread-safe.
class ServedLog {
 public:
  ServedLog(ServedLogOptions options, const Clock* clock);
  ~ServedLog();  // writes what is queued

  // Creates the directory and starts the writer.
  Status Open();

  void Record(ServedList list);

  // The scenario and source that showed `item_id` in list
  // `recommendation_id`, the first time it is asked for that pair; nullopt
  // when the list is unknown (too old), did not hold the item, or was
  // already claimed.
  struct Claim {
    std::string scenario, source;
  };
  std::optional<Claim> ClaimReward(std::string_view recommendation_id, std::string_view item_id);

  // Writes everything queued so far (tests, shutdown).
  void Flush();
  ServedLogStats stats() const;

 private:
  void WriterLoop();
  void WriteBatch(std::vector<ServedList>* batch);
  void Prune(int64_t now_ms);

  const ServedLogOptions options_;
  const Clock* clock_;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, ServedList> recent_;   // GUARDED_BY(mutex_)
  std::deque<std::string> order_;                        // GUARDED_BY(mutex_): ids, oldest first
  std::vector<ServedList> queue_;                        // GUARDED_BY(mutex_)
  ServedLogStats stats_;                                 // GUARDED_BY(mutex_)
  bool stopping_ = false;                                // GUARDED_BY(mutex_)
  uint64_t flush_requested_ = 0, flushed_ = 0;           // GUARDED_BY(mutex_)
  std::condition_variable wake_, done_;
  std::thread writer_;
  std::string last_pruned_day_;  // writer thread only
};

}  // namespace vitrina
