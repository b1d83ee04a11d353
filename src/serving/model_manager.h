// Owns the serving snapshot and its history on disk, and trains new
// snapshots in the background (on the server's Scheduler): on a schedule
// and on request.
//
// Layout under `dir` (<data_dir>/models): one folder per snapshot named by
// its id, and CURRENT naming the one in service (replaced atomically).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/scheduler.h"
#include "common/status.h"
#include "serving/snapshot.h"
#include "storage/store.h"

namespace vitrina {

struct ModelManagerOptions {
  std::string dir;                  // where snapshots live
  TrainOptions train;
  int64_t train_interval_s = 3600;  // background retraining period; 0: only on request
  size_t keep_snapshots = 5;        // older snapshots are deleted after a successful training
  int training_nice = 19;           // nice value of background training (19: lowest priority)
  std::string served_log_dir;       // served lists (served_log.h) the ranker may learn from; empty: none
  // Quality guard: a new snapshot whose NDCG@10 is below (1 -
  // max_quality_drop) x the serving snapshot's, both measured on the same
  // test shoppers (at least train.guard_min_test_shoppers of them, with
  // events after the serving snapshot's data; fewer prove nothing and the
  // new snapshot serves), is saved but not put in service. 1 turns the
  // guard off.
  double max_quality_drop = 0.2;
};

// The offline quality the guard compares, NDCG@10 per model of each
// snapshot on the same test shoppers (SnapshotInfo::guard): the learned
// ranker's when both have it, else each snapshot's best among the models
// both have (which model leads may change between trainings). nullopt when
// they share no measured model.
struct QualityComparison {
  std::string model;          // the candidate's
  std::string serving_model;  // the serving snapshot's
  double candidate = 0, serving = 0;
};
std::optional<QualityComparison> CompareQuality(const std::map<std::string, double>& candidate,
                                                const std::map<std::string, double>& serving);

struct TrainingStatus {
  bool running = false;
  bool queued = false;
  std::string stage;        // model being trained, "evaluating", ...
  double fraction = 0;
  std::string last_error;   // of the last finished run, empty if it succeeded
  std::string last_snapshot;
  int64_t last_finished_ms = 0;
  double last_train_seconds = 0;  // of the last run that produced a snapshot
  uint64_t succeeded = 0, failed = 0, rejected = 0;  // runs since start
  uint64_t skipped = 0;           // runs with nothing to train on yet (an empty store): not failures
  std::string last_rejected;      // the last snapshot the quality guard kept out of service
  std::string last_rejected_reason;
  std::string last_guard;         // what the guard made of the last trained snapshot, in words
};

// Thread-safe.
class ModelManager {
 public:
  // `store` and `clock` must outlive the manager.
  ModelManager(const Store* store, const Clock* clock, ModelManagerOptions options);
  ~ModelManager();

  // Loads the snapshot CURRENT names, if any (a broken one is an error:
  // the operator decides). Does not schedule training.
  Status Open();
  // Trains on `scheduler` (which must outlive the manager, or Stop() be
  // called first): every train_interval_s, at once when there is no
  // snapshot yet, and on request.
  void Schedule(Scheduler* scheduler);
  // No more scheduled training; a training run in progress finishes first.
  void Stop();

  // The snapshot in service; null before the first training.
  std::shared_ptr<const Snapshot> current() const { return current_.load(); }

  // Asks for a training run now (Schedule first). False when a run is
  // already queued or running (the request is then already covered).
  bool RequestTraining();
  TrainingStatus status() const;

  // Trains from the store, saves, and swaps the result in; the previous
  // snapshot keeps serving throughout. On error nothing changes. When the
  // quality guard refuses the new snapshot it stays on disk (restorable)
  // and the answer is FailedPrecondition saying why.
  Result<SnapshotInfo> TrainNow(const std::function<void(std::string_view, double)>& progress);

  // Snapshots on disk, newest first.
  Result<std::vector<SnapshotInfo>> List() const;
  // Loads snapshot `id` and puts it in service. NotFound when absent.
  Status Restore(std::string_view id);

 private:
  // One scheduled run: trains, and without any snapshot retries soon.
  void ScheduledRun();
  Status SetCurrent(std::shared_ptr<const Snapshot> snapshot);
  // FailedPrecondition, saying why, when `info` falls short of the serving
  // snapshot on the same test shoppers; sets *verdict to what was judged.
  Status CheckQuality(const SnapshotInfo& info, std::string* verdict) const;
  void Prune();

  const Store* store_;
  const Clock* clock_;
  const ModelManagerOptions options_;
  std::atomic<std::shared_ptr<const Snapshot>> current_;

  std::mutex train_mutex_;  // one training (or restore) at a time
  mutable std::mutex mutex_;
  TrainingStatus status_;   // GUARDED_BY(mutex_)
  Scheduler* scheduler_ = nullptr;  // GUARDED_BY(mutex_)
  Scheduler::JobId job_ = 0;        // GUARDED_BY(mutex_)
};

}  // namespace vitrina
