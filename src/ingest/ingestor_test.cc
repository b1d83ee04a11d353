#include "ingest/ingestor.h"

#include "storage/forwarding_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace vitrina {
namespace {

Event View(std::string id) {
  Event event;
  event.event_id = std::move(id);
  event.type = EventType::kView;
  event.user_id = "u";
  event.item_id = "i";
  event.timestamp_ms = 1'700'000'000'000;
  return event;
}

// Counts Write calls, optionally failing them.
class CountingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Status Write(WriteBatch* batch, std::vector<WriteOutcome>* outcomes) override {
    ++writes;
    if (fail) return Status::IOError("disk full");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // like an fsync
    return ForwardingStore::Write(batch, outcomes);
  }

  std::atomic<int> writes{0};
  std::atomic<bool> fail{false};
};

TEST(IngestorTest, ConcurrentSubmissionsShareWrites) {
  SystemClock clock;
  CountingStore store(NewMemoryStore(&clock));
  constexpr int kThreads = 8, kPerThread = 50;
  std::atomic<int> done{0}, duplicates{0};
  {
    Ingestor ingestor(&store, IngestorOptions{});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          WriteBatch batch;
          batch.AppendEvent(View("e" + std::to_string(t) + "-" + std::to_string(i)));
          batch.AppendEvent(View("shared-" + std::to_string(i)));  // every thread sends these
          std::promise<void> committed;
          ASSERT_TRUE(ingestor
                          .Submit(std::move(batch), 100,
                                  [&](const Status& status, std::vector<WriteOutcome> outcomes) {
                                    ASSERT_TRUE(status.ok());
                                    ASSERT_EQ(outcomes.size(), 2u);
                                    EXPECT_EQ(outcomes[0], WriteOutcome::kCreated);
                                    if (outcomes[1] == WriteOutcome::kDuplicate) ++duplicates;
                                    ++done;
                                    committed.set_value();
                                  })
                          .ok());
          committed.get_future().wait();  // like an HTTP client waiting for its response
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  EXPECT_EQ(done, kThreads * kPerThread);
  EXPECT_EQ(duplicates, (kThreads - 1) * kPerThread);
  EXPECT_EQ(store.Counts().events, static_cast<uint64_t>(kThreads * kPerThread + kPerThread));
  // Group commit: far fewer writes than submissions.
  EXPECT_LT(store.writes.load(), kThreads * kPerThread / 2);
}

TEST(IngestorTest, FailedWriteReportsToEveryBatchInTheGroup) {
  SystemClock clock;
  CountingStore store(NewMemoryStore(&clock));
  store.fail = true;
  std::promise<Status> result;
  {
    Ingestor ingestor(&store, IngestorOptions{});
    WriteBatch batch;
    batch.AppendEvent(View("x"));
    ASSERT_TRUE(ingestor.Submit(std::move(batch), 100, [&](const Status& status, std::vector<WriteOutcome> outcomes) {
                  EXPECT_TRUE(outcomes.empty());
                  result.set_value(status);
                }).ok());
  }
  EXPECT_EQ(result.get_future().get().code(), StatusCode::kIOError);
  EXPECT_EQ(store.Counts().events, 0u);
}

TEST(IngestorTest, FullQueueRefusesWithoutCallingBack) {
  SystemClock clock;
  CountingStore store(NewMemoryStore(&clock));
  IngestorOptions options;
  options.max_queued_records = 4;
  Ingestor ingestor(&store, options);
  int refused = 0;
  std::atomic<int> called{0};
  for (int i = 0; i < 200; ++i) {
    WriteBatch batch;
    batch.AppendEvent(View("q" + std::to_string(i)));
    batch.AppendEvent(View("r" + std::to_string(i)));
    Status status = ingestor.Submit(std::move(batch), 100, [&](const Status&, std::vector<WriteOutcome>) { ++called; });
    if (!status.ok()) {
      EXPECT_EQ(status.code(), StatusCode::kUnavailable);
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  while (called + refused < 200) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(called + refused, 200);
}

TEST(IngestorTest, ByteBudgetAndClose) {
  SystemClock clock;
  CountingStore store(NewMemoryStore(&clock));
  IngestorOptions options;
  options.max_queued_bytes = 1000;
  Ingestor ingestor(&store, options);
  std::atomic<int> committed{0};
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    WriteBatch batch;
    batch.AppendEvent(View("b" + std::to_string(i)));
    if (!ingestor.Submit(std::move(batch), 600, [&](const Status& s, std::vector<WriteOutcome>) {
          if (s.ok()) ++committed;
        }).ok()) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);  // at most one 600-byte request fits behind another
  ingestor.Close();       // commits what was queued
  EXPECT_EQ(committed + refused, 100);
  WriteBatch late;
  late.AppendEvent(View("late"));
  EXPECT_EQ(ingestor.Submit(std::move(late), 1, [](const Status&, std::vector<WriteOutcome>) {}).code(),
            StatusCode::kUnavailable);
}

// The committed hook sees each stored group, and only stored ones, before
// any response of the group is sent.
TEST(IngestorTest, CommittedHookSeesStoredGroupsBeforeTheirResponses) {
  SystemClock clock;
  CountingStore store(NewMemoryStore(&clock));
  std::atomic<int> seen_events{0}, seen_duplicates{0};
  {
    Ingestor ingestor(&store, IngestorOptions{},
                      [&](WriteBatch& batch, const std::vector<WriteOutcome>& outcomes) {
                        ASSERT_EQ(batch.size(), outcomes.size());
                        seen_events += static_cast<int>(batch.events().size());
                        for (WriteOutcome outcome : outcomes) seen_duplicates += outcome == WriteOutcome::kDuplicate;
                      });
    WriteBatch first, again;
    first.AppendEvent(View("a"));
    again.AppendEvent(View("a"));  // a duplicate: stored once, seen with its outcome
    std::promise<void> one, two;
    ASSERT_TRUE(ingestor.Submit(std::move(first), 10, [&](const Status&, std::vector<WriteOutcome>) {
      EXPECT_EQ(seen_events, 1);  // the hook ran first
      one.set_value();
    }).ok());
    one.get_future().wait();
    ASSERT_TRUE(ingestor.Submit(std::move(again), 10, [&](const Status&, std::vector<WriteOutcome>) {
      EXPECT_EQ(seen_duplicates, 1);
      two.set_value();
    }).ok());
    two.get_future().wait();
    // A failed write is not reported to the hook.
    store.fail = true;
    WriteBatch failing;
    failing.AppendEvent(View("b"));
    std::promise<void> three;
    ASSERT_TRUE(ingestor.Submit(std::move(failing), 10, [&](const Status& status, std::vector<WriteOutcome>) {
      EXPECT_FALSE(status.ok());
      three.set_value();
    }).ok());
    three.get_future().wait();
  }
  EXPECT_EQ(seen_events, 2);
  EXPECT_EQ(seen_duplicates, 1);
}

}  // namespace
}  // namespace vitrina
