// The write pipeline behind the HTTP API: request threads submit validated
// batches; one commit thread merges whatever is waiting into a single
// Store::Write (group commit), so many concurrent requests share one fsync.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"
#include "storage/store.h"

namespace vitrina {

struct IngestorOptions {
  // Records merged into one Store::Write at most.
  size_t max_group_records = 20000;
  // Records waiting at most; beyond it Submit refuses (back-pressure).
  size_t max_queued_records = 200000;
};

struct IngestorStats {
  uint64_t groups = 0;   // Store::Write calls
  uint64_t batches = 0;  // Submit calls committed
  uint64_t records = 0;  // operations committed
};

class Ingestor {
 public:
  // Called once per submitted batch, on the commit thread, after the write
  // is durable (status OK) or has failed (nothing of the batch applied).
  // Must be quick: it delays the next group.
  using Done = std::function<void(const Status& status, std::vector<WriteOutcome> outcomes)>;

  // `store` must outlive the Ingestor.
  Ingestor(Store* store, IngestorOptions options);
  // Commits everything already submitted, then stops.
  ~Ingestor();

  Ingestor(const Ingestor&) = delete;
  Ingestor& operator=(const Ingestor&) = delete;

  // Queues `batch`. Thread-safe. Returns Unavailable without calling `done`
  // when the queue is full or the ingestor is stopping.
  Status Submit(WriteBatch batch, Done done);

  IngestorStats stats() const;

 private:
  struct Job {
    WriteBatch batch;
    Done done;
  };

  void Run();

  Store* store_;
  const IngestorOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;      // GUARDED_BY(mutex_)
  size_t queued_records_ = 0;  // GUARDED_BY(mutex_)
  bool stopping_ = false;      // GUARDED_BY(mutex_)
  IngestorStats stats_;        // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace vitrina
