#include "common/scheduler.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

namespace vitrina {
namespace {

// A waiting worker looks at the clock at least this often, so that due
// times are met when the clock jumps (a test's ManualClock, a time change).
constexpr int64_t kMaxWaitMs = 1000;

void RunGuarded(const std::string& name, const std::function<void()>& run) {
  try {
    run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "vitrina: background job %s failed: %s\n", name.c_str(), error.what());
  }
}

}  // namespace

Scheduler::Scheduler(const Clock* clock, int threads) : clock_(clock), threads_(std::max(1, threads)) {}

Scheduler::~Scheduler() { Stop(); }

Scheduler::JobId Scheduler::Add(JobOptions options, std::function<void()> run) {
  std::lock_guard lock(mutex_);
  const JobId id = next_id_++;
  Job& job = jobs_[id];
  job.next_ms = options.first_run_ms >= 0 ? options.first_run_ms
                : options.interval_ms > 0  ? clock_->NowMillis() + options.interval_ms
                                           : -1;
  job.options = std::move(options);
  job.run = std::move(run);
  wake_.notify_all();
  return id;
}

bool Scheduler::RunOnce(std::string name, std::function<void()> run) {
  std::lock_guard lock(mutex_);
  if (stopping_) return false;
  const JobId id = next_id_++;
  Job& job = jobs_[id];
  job.options.name = std::move(name);
  job.run = std::move(run);
  job.once = true;
  job.requested = true;
  wake_.notify_all();
  return true;
}

void Scheduler::RunSoon(JobId id) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  it->second.requested = true;
  wake_.notify_all();
}

void Scheduler::RunIn(JobId id, int64_t delay_ms) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  const int64_t at = clock_->NowMillis() + std::max<int64_t>(0, delay_ms);
  if (it->second.next_ms < 0 || at < it->second.next_ms) it->second.next_ms = at;
  wake_.notify_all();
}

void Scheduler::SetInterval(JobId id, int64_t interval_ms) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  it->second.options.interval_ms = interval_ms;
  if (!it->second.running) it->second.next_ms = interval_ms > 0 ? clock_->NowMillis() + interval_ms : -1;
  wake_.notify_all();
}

void Scheduler::Remove(JobId id) {
  std::unique_lock lock(mutex_);
  ended_.wait(lock, [&] {
    auto it = jobs_.find(id);
    return it == jobs_.end() || !it->second.running;
  });
  jobs_.erase(id);
}

void Scheduler::Start() {
  std::lock_guard lock(mutex_);
  if (!workers_.empty() || stopping_) return;
  for (int t = 0; t < threads_; ++t) workers_.emplace_back([this] { WorkerLoop(); });
}

void Scheduler::Stop() {
  std::vector<std::thread> workers;
  {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
    // The jobs added last first: each may rely on those before it.
    for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
      const JobId id = it->first;
      ended_.wait(lock, [&] { return !jobs_.contains(id) || !jobs_.at(id).running; });
    }
    workers.swap(workers_);
  }
  for (std::thread& worker : workers) worker.join();
}

size_t Scheduler::RunDue() {
  std::unique_lock lock(mutex_);
  size_t ran = 0;
  const int64_t now = clock_->NowMillis();
  while (!stopping_) {
    const JobId id = NextDue(now);
    if (id == 0) break;
    RunLocked(id, lock);
    ++ran;
  }
  return ran;
}

std::vector<Scheduler::JobStatus> Scheduler::Jobs() const {
  std::lock_guard lock(mutex_);
  std::vector<JobStatus> out;
  for (const auto& [id, job] : jobs_) {
    out.push_back({.name = job.options.name, .running = job.running, .next_ms = job.requested ? 0 : job.next_ms,
                   .runs = job.runs, .last_end_ms = job.last_end_ms});
  }
  return out;
}

Scheduler::JobId Scheduler::NextDue(int64_t now_ms) const {
  JobId best = 0;
  int64_t best_at = 0;
  for (const auto& [id, job] : jobs_) {
    if (job.running) continue;
    const int64_t at = job.requested ? INT64_MIN : job.next_ms;
    if (!job.requested && (job.next_ms < 0 || job.next_ms > now_ms)) continue;
    if (best == 0 || at < best_at) {
      best = id;
      best_at = at;
    }
  }
  return best;
}

void Scheduler::RunLocked(JobId id, std::unique_lock<std::mutex>& lock) {
  Job& job = jobs_.at(id);
  job.running = true;
  job.requested = false;  // asked again while it runs: it runs once more after
  const int64_t due_before = job.next_ms;
  const std::string name = job.options.name;
  const int nice = job.options.nice;
  std::function<void()> run = job.run;
  lock.unlock();
  if (nice != 0) {
    // A thread's nice value is its own on Linux, and raising priority back
    // needs privileges: a lower-priority run gets a thread of its own.
    std::thread thread([&] {
      (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice);
      RunGuarded(name, run);
    });
    thread.join();
  } else {
    RunGuarded(name, run);
  }
  lock.lock();
  auto it = jobs_.find(id);
  if (it != jobs_.end()) {
    Job& done = it->second;
    done.running = false;
    ++done.runs;
    done.last_end_ms = clock_->NowMillis();
    // RunIn while it ran set a due time of its own: that one stands.
    const bool moved = done.next_ms != due_before;
    if (done.once) {
      jobs_.erase(it);
    } else if (done.options.interval_ms > 0) {
      const int64_t next = done.last_end_ms + done.options.interval_ms;
      if (!moved || done.next_ms < 0 || done.next_ms > next) done.next_ms = next;
    } else if (!moved) {
      done.next_ms = -1;
    }
  }
  ended_.notify_all();
  wake_.notify_all();
}

void Scheduler::WorkerLoop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const int64_t now = clock_->NowMillis();
    const JobId id = NextDue(now);
    if (id != 0) {
      RunLocked(id, lock);
      continue;
    }
    int64_t earliest = -1;
    for (const auto& [job_id, job] : jobs_) {
      if (!job.running && job.next_ms >= 0 && (earliest < 0 || job.next_ms < earliest)) earliest = job.next_ms;
    }
    const int64_t wait = earliest < 0 ? kMaxWaitMs : std::clamp<int64_t>(earliest - now, 1, kMaxWaitMs);
    wake_.wait_for(lock, std::chrono::milliseconds(wait));
  }
}

}  // namespace vitrina
