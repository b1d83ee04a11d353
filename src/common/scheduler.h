// One scheduler for the server's background work (model training, catalog
// feed syncs, backups), driven by the injected Clock.
//
// A job runs on one of the scheduler's worker threads, never twice at once:
// a periodic job every `interval_ms` after its last run ended, any job when
// asked (RunSoon), a one-off job once. Stop() ends the jobs in the reverse
// order they were added, each after its run in progress (if any) finishes,
// so a job may rely on what was set up before it. Tests drive it with a
// ManualClock and RunDue() on their own thread instead of Start().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace vitrina {

// Thread-safe.
class Scheduler {
 public:
  using JobId = uint64_t;

  struct JobOptions {
    std::string name;
    int64_t interval_ms = 0;     // 0: runs only when asked (RunSoon)
    int64_t first_run_ms = -1;   // when it first runs (clock time); -1: one interval from now
    int nice = 0;                // the worker thread's nice value while it runs (19: lowest priority)
  };

  struct JobStatus {
    std::string name;
    bool running = false;
    int64_t next_ms = -1;        // -1: not due until asked
    uint64_t runs = 0;
    int64_t last_end_ms = 0;
  };

  // `clock` must outlive the scheduler. `threads` workers run jobs side by
  // side (training and a feed sync need not wait for each other).
  explicit Scheduler(const Clock* clock, int threads = 3);
  ~Scheduler();  // Stop()

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  JobId Add(JobOptions options, std::function<void()> run);
  // Runs `run` once as soon as a worker is free; it is forgotten afterwards.
  // Refused (false, nothing runs) once Stop() has begun.
  bool RunOnce(std::string name, std::function<void()> run);
  // Runs the job at the first chance (at most once more, however often asked).
  void RunSoon(JobId id);
  // Its next run `delay_ms` from now (an earlier due time stays).
  void RunIn(JobId id, int64_t delay_ms);
  // A new period, from the job's next run on.
  void SetInterval(JobId id, int64_t interval_ms);
  // Forgets the job, after its run in progress (if any) ends. Not from the job itself.
  void Remove(JobId id);

  // Starts the workers.
  void Start();
  // No run starts any more; waits for the runs in progress, the jobs added
  // last first. Idempotent.
  void Stop();
  // Runs, on this thread, every job due now; returns how many ran. For
  // tests without Start().
  size_t RunDue();

  std::vector<JobStatus> Jobs() const;

 private:
  struct Job {
    JobOptions options;
    std::function<void()> run;
    int64_t next_ms = -1;  // -1: not due until asked
    bool requested = false;  // RunSoon: due now, whatever next_ms says
    bool running = false;
    bool once = false;
    uint64_t runs = 0;
    int64_t last_end_ms = 0;
  };

  // The due job whose turn comes first, or 0; REQUIRES: mutex_ held.
  JobId NextDue(int64_t now_ms) const;
  // Runs job `id`, already marked running; REQUIRES: mutex_ held (released meanwhile).
  void RunLocked(JobId id, std::unique_lock<std::mutex>& lock);
  void WorkerLoop();

  const Clock* clock_;
  const int threads_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;   // a job became due, was added, or stopping
  std::condition_variable ended_;  // a run ended
  std::map<JobId, Job> jobs_;      // GUARDED_BY(mutex_); by id, which is the order added
  JobId next_id_ = 1;              // GUARDED_BY(mutex_)
  bool stopping_ = false;          // GUARDED_BY(mutex_)
  std::vector<std::thread> workers_;
};

}  // namespace vitrina
