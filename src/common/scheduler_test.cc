#include "common/scheduler.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace vitrina {
namespace {

TEST(SchedulerTest, PeriodicJobsRunWhenDueByTheInjectedClock) {
  ManualClock clock(1000);
  Scheduler scheduler(&clock);
  int runs = 0;
  scheduler.Add({.name = "sync", .interval_ms = 100}, [&] { ++runs; });
  EXPECT_EQ(scheduler.RunDue(), 0u);
  clock.Advance(99);
  EXPECT_EQ(scheduler.RunDue(), 0u);
  clock.Advance(1);
  EXPECT_EQ(scheduler.RunDue(), 1u);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(scheduler.RunDue(), 0u);  // the next period counts from the end of the run
  clock.Advance(100);
  EXPECT_EQ(scheduler.RunDue(), 1u);
  // A first run at a given time (training starts at once without a snapshot).
  int first = 0;
  scheduler.Add({.name = "first", .interval_ms = 1000000, .first_run_ms = clock.NowMillis()}, [&] { ++first; });
  EXPECT_EQ(scheduler.RunDue(), 1u);
  EXPECT_EQ(first, 1);
}

TEST(SchedulerTest, RunSoonRunOnceRunInAndIntervals) {
  ManualClock clock(0);
  Scheduler scheduler(&clock);
  int train = 0, once = 0;
  const Scheduler::JobId job = scheduler.Add({.name = "train"}, [&] { ++train; });
  EXPECT_EQ(scheduler.RunDue(), 0u);  // no interval: only when asked
  scheduler.RunSoon(job);
  scheduler.RunSoon(job);  // asked twice before it ran: once
  EXPECT_EQ(scheduler.RunDue(), 1u);
  EXPECT_EQ(train, 1);
  EXPECT_TRUE(scheduler.RunOnce("backup", [&] { ++once; }));
  EXPECT_EQ(scheduler.RunDue(), 1u);
  EXPECT_EQ(scheduler.RunDue(), 0u);
  EXPECT_EQ(once, 1);
  EXPECT_EQ(scheduler.Jobs().size(), 1u);  // the one-off is forgotten
  scheduler.RunIn(job, 50);
  clock.Advance(49);
  EXPECT_EQ(scheduler.RunDue(), 0u);
  clock.Advance(1);
  EXPECT_EQ(scheduler.RunDue(), 1u);
  scheduler.SetInterval(job, 10);
  clock.Advance(10);
  EXPECT_EQ(scheduler.RunDue(), 1u);
  EXPECT_EQ(train, 3);
  scheduler.Remove(job);
  EXPECT_TRUE(scheduler.Jobs().empty());
}

TEST(SchedulerTest, WorkersRunJobsSideBySideAndStopWaitsForRunsInProgress) {
  SystemClock clock;
  Scheduler scheduler(&clock, 2);
  std::atomic<int> ticks{0};
  std::atomic<bool> long_started{false}, long_done{false};
  scheduler.Add({.name = "tick", .interval_ms = 10}, [&] { ++ticks; });
  const Scheduler::JobId slow = scheduler.Add({.name = "slow"}, [&] {
    long_started = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    long_done = true;
  });
  scheduler.Start();
  scheduler.RunSoon(slow);
  for (int i = 0; i < 200 && !long_started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(long_started);
  const int before = ticks;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_GT(ticks, before + 2) << "the slow job does not hold up the periodic one";
  scheduler.Stop();
  EXPECT_TRUE(long_done) << "Stop waits for the run in progress";
  const int stopped = ticks;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(ticks, stopped);
  EXPECT_FALSE(scheduler.RunOnce("late", [] {}));
}

TEST(SchedulerTest, ALowerPriorityJobRunsOnAThreadOfItsOwn) {
  ManualClock clock(0);
  Scheduler scheduler(&clock);
  int seen = -100;
  const Scheduler::JobId job =
      scheduler.Add({.name = "train", .nice = 19}, [&] { seen = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())); });
  scheduler.RunSoon(job);
  ASSERT_EQ(scheduler.RunDue(), 1u);
  EXPECT_EQ(seen, 19);
  EXPECT_EQ(::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())), 0) << "the caller's priority is untouched";
}

}  // namespace
}  // namespace vitrina
