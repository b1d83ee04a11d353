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
  // Records and bytes (as the caller estimates them) waiting at most;
  // beyond either, Submit refuses (back-pressure).
  size_t max_queued_records = 200000;
  size_t max_queued_bytes = 256 << 20;
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

  // Called on the commit thread with each group just written (the batch
  // as stored, and what each operation did), before any of its `done`
  // callbacks: what a response confirms is already visible to it. Used to
  // keep in-memory indexes (search) up to date. Must be quick.
  using Committed = std::function<void(WriteBatch& batch, const std::vector<WriteOutcome>& outcomes)>;

  // `store` must outlive the Ingestor. `committed` may be empty.
  Ingestor(Store* store, IngestorOptions options, Committed committed = nullptr);
  // Close()s.
  ~Ingestor();

  Ingestor(const Ingestor&) = delete;
  Ingestor& operator=(const Ingestor&) = delete;

  // Queues `batch`; `approx_bytes` is its size as received (for the byte
  // budget). Thread-safe. Returns Unavailable without calling `done` when
  // the queue is full or the ingestor is closed.
  Status Submit(WriteBatch batch, size_t approx_bytes, Done done);

  // Refuses new batches, commits everything already queued (calling each
  // `done`), and stops the commit thread. Idempotent; thread-safe.
  void Close();

  IngestorStats stats() const;

 private:
  struct Job {
    WriteBatch batch;
    size_t bytes;
    Done done;
  };

  void Run();

  Store* store_;
  const IngestorOptions options_;
  const Committed committed_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;      // GUARDED_BY(mutex_)
  size_t queued_records_ = 0;  // GUARDED_BY(mutex_)
  size_t queued_bytes_ = 0;    // GUARDED_BY(mutex_)
  bool stopping_ = false;      // GUARDED_BY(mutex_)
  IngestorStats stats_;        // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace vitrina
