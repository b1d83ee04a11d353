#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <rocksdb/db.h>
#include <thread>
#include <random>

#include "storage/backup.h"
#include "storage/rocksdb_store.h"
#include "storage/store.h"

namespace vitrina {
namespace {

namespace fs = std::filesystem;

std::string FreshDir(const std::string& name) {
  static std::atomic<int> counter{0};
  fs::path dir = fs::path(::testing::TempDir()) /
                 ("vitrina_store_" + name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::remove_all(dir);
  return dir.string();
}

Event MakeEvent(std::string id, std::string user, EventType type, int64_t ts) {
  Event event;
  event.event_id = std::move(id);
  event.type = type;
  event.user_id = std::move(user);
  event.item_id = "i1";
  event.timestamp_ms = ts;
  event.received_ms = ts + 5;
  if (type == EventType::kPurchase) {
    event.item_id.clear();
    event.lines = {{"i1", 2, 3.5}};
  }
  return event;
}

Item MakeItem(std::string id, std::string title) {
  Item item;
  item.id = std::move(id);
  item.title = std::move(title);
  item.price = 9.5;
  item.currency = "GBP";
  return item;
}

enum class Backend { kMemory, kRocksDb, kRocksDbActivityInMemory };

// Waits until the store's background load of recent activity is over.
void WaitForActivityLoad(const Store& store) {
  for (int i = 0; i < 2000 && !store.ActivityMemory().loaded; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(store.ActivityMemory().loaded);
}

// What GetRecentActivity must return: the lines of GetRecentEvents' events.
void ExpectActivityMatchesEvents(const Store& store, ActorKind kind, const std::string& actor, size_t limit) {
  std::vector<Event> events;
  ASSERT_TRUE(store.GetRecentEvents(kind, actor, limit, &events).ok());
  RecentActivity activity;
  ASSERT_TRUE(store.GetRecentActivity(kind, actor, limit, &activity).ok());
  std::vector<ActivityLine> expected;
  for (const Event& event : events) ForEachActivityLine(event, [&](const ActivityLine& line) { expected.push_back(line); });
  ASSERT_EQ(activity.lines.size(), expected.size()) << actor << " limit " << limit;
  for (size_t i = 0; i < expected.size(); ++i) {
    const ActivityLine& a = activity.lines[i];
    const ActivityLine& e = expected[i];
    EXPECT_EQ(a.timestamp_ms, e.timestamp_ms) << actor << " line " << i;
    EXPECT_EQ(a.type, e.type) << actor << " line " << i;
    EXPECT_EQ(a.item_id, e.item_id) << actor << " line " << i;
    EXPECT_EQ(a.amount, e.amount) << actor << " line " << i;
    EXPECT_TRUE(a.price == e.price || (std::isnan(a.price) && std::isnan(e.price))) << actor << " line " << i;
  }
}

class StoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kMemory) {
      store_ = NewMemoryStore(&clock_);
    } else {
      RocksDbOptions options;
      options.path = FreshDir("conformance");
      if (GetParam() == Backend::kRocksDbActivityInMemory) options.recent_events_mb = 16;
      auto opened = OpenRocksDbStore(options, &clock_);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      store_ = std::move(opened).value();
      if (GetParam() == Backend::kRocksDbActivityInMemory) {
        WaitForActivityLoad(*store_);
        ASSERT_TRUE(store_->ActivityMemory().complete);
      }
    }
  }

  std::vector<WriteOutcome> Write(WriteBatch batch) {
    std::vector<WriteOutcome> outcomes;
    Status status = store_->Write(&batch, &outcomes);
    EXPECT_TRUE(status.ok()) << status.ToString();
    last_batch_ = std::move(batch);
    return outcomes;
  }

  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<Store> store_;
  WriteBatch last_batch_;
};

TEST_P(StoreConformanceTest, UpsertKeepsCreatedTimeAndCountsOnce) {
  WriteBatch batch;
  batch.UpsertItem(MakeItem("a", "first"));
  EXPECT_EQ(Write(std::move(batch)), std::vector<WriteOutcome>{WriteOutcome::kCreated});
  clock_.Advance(1000);
  batch = {};
  batch.UpsertItem(MakeItem("a", "second"));
  batch.UpsertItem(MakeItem("b", "other"));
  EXPECT_EQ(Write(std::move(batch)), (std::vector<WriteOutcome>{WriteOutcome::kUpdated, WriteOutcome::kCreated}));

  auto item = store_->GetItem("a");
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->title, "second");
  EXPECT_EQ(item->created_ms, 1'700'000'000'000);
  EXPECT_EQ(item->updated_ms, 1'700'000'001'000);
  EXPECT_EQ(store_->Counts().items, 2u);
  EXPECT_TRUE(store_->GetItem("zzz").status().IsNotFound());
}

TEST_P(StoreConformanceTest, DeleteInsideABatchSeesEarlierOps) {
  WriteBatch batch;
  batch.UpsertItem(MakeItem("a", "x"));
  batch.DeleteItem("a");
  batch.DeleteItem("a");
  batch.UpsertItem(MakeItem("a", "y"));
  EXPECT_EQ(Write(std::move(batch)), (std::vector<WriteOutcome>{WriteOutcome::kCreated, WriteOutcome::kDeleted,
                                                                 WriteOutcome::kNotFound, WriteOutcome::kCreated}));
  EXPECT_EQ(store_->Counts().items, 1u);
  EXPECT_EQ(store_->GetItem("a")->title, "y");
}

TEST_P(StoreConformanceTest, RepeatedEventIdsAreStoredOnce) {
  WriteBatch batch;
  batch.AppendEvent(MakeEvent("e1", "u", EventType::kView, 1000));
  batch.AppendEvent(MakeEvent("e1", "u", EventType::kView, 1000));  // same batch
  batch.AppendEvent(MakeEvent("", "u", EventType::kView, 1001));    // generated id
  EXPECT_EQ(Write(std::move(batch)), (std::vector<WriteOutcome>{WriteOutcome::kCreated, WriteOutcome::kDuplicate,
                                                                 WriteOutcome::kCreated}));
  EXPECT_EQ(last_batch_.events()[2].event_id[0], '~');
  batch = {};
  batch.AppendEvent(MakeEvent("e1", "u", EventType::kView, 1000));  // later batch
  EXPECT_EQ(Write(std::move(batch)), std::vector<WriteOutcome>{WriteOutcome::kDuplicate});
  EXPECT_EQ(store_->Counts().events, 2u);
  EXPECT_EQ(store_->Counts().events_by_type[static_cast<size_t>(EventType::kView)], 2u);
}

TEST_P(StoreConformanceTest, RecentEventsAreNewestFirstPerActor) {
  WriteBatch batch;
  batch.AppendEvent(MakeEvent("e1", "u1", EventType::kView, 3000));
  batch.AppendEvent(MakeEvent("e2", "u1", EventType::kPurchase, 1000));  // arrives late, happened earlier
  batch.AppendEvent(MakeEvent("e3", "u2", EventType::kView, 2000));
  Event session_event = MakeEvent("e4", "", EventType::kClick, 4000);
  session_event.session_id = "s1";
  batch.AppendEvent(session_event);
  Event both = MakeEvent("e5", "u1", EventType::kView, 5000);
  both.session_id = "s1";
  batch.AppendEvent(both);
  Write(std::move(batch));

  std::vector<Event> events;
  ASSERT_TRUE(store_->GetRecentEvents(ActorKind::kUser, "u1", 10, &events).ok());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].event_id, "e5");
  EXPECT_EQ(events[1].event_id, "e1");
  EXPECT_EQ(events[2].event_id, "e2");
  EXPECT_EQ(events[2].lines.size(), 1u);

  ASSERT_TRUE(store_->GetRecentEvents(ActorKind::kUser, "u1", 2, &events).ok());
  EXPECT_EQ(events.size(), 2u);
  ASSERT_TRUE(store_->GetRecentEvents(ActorKind::kSession, "s1", 10, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event_id, "e5");
  // "u" is a prefix of "u1" and "u2" but a different user.
  ASSERT_TRUE(store_->GetRecentEvents(ActorKind::kUser, "u", 10, &events).ok());
  EXPECT_TRUE(events.empty());
  ASSERT_TRUE(store_->GetRecentEvents(ActorKind::kUser, "nobody", 10, &events).ok());
  EXPECT_TRUE(events.empty());

  for (size_t limit : {1, 2, 10}) {
    for (const char* user : {"u1", "u2", "u", "nobody"}) ExpectActivityMatchesEvents(*store_, ActorKind::kUser, user, limit);
    ExpectActivityMatchesEvents(*store_, ActorKind::kSession, "s1", limit);
  }
  RecentActivity activity;
  ASSERT_TRUE(store_->GetRecentActivity(ActorKind::kUser, "u1", 10, &activity).ok());
  ASSERT_EQ(activity.lines.size(), 3u);
  EXPECT_EQ(activity.lines[2].type, EventType::kPurchase);
  EXPECT_EQ(activity.lines[2].amount, 2);
  EXPECT_EQ(activity.lines[2].price, 3.5f);
  if (GetParam() == Backend::kRocksDbActivityInMemory) {
    EXPECT_EQ(store_->ActivityMemory().actors, 3u);  // u1, u2, s1
  }
}

TEST_P(StoreConformanceTest, ScansSeeEverything) {
  WriteBatch batch;
  for (int i = 0; i < 50; ++i) batch.AppendEvent(MakeEvent("e" + std::to_string(i), "u", EventType::kView, 1000 + i));
  User user;
  user.id = "u";
  user.consent = {{"email", true}};
  batch.UpsertUser(user);
  batch.UpsertItem(MakeItem("b", "B"));
  batch.UpsertItem(MakeItem("a", "A"));
  Write(std::move(batch));

  std::vector<std::string> ids;
  ASSERT_TRUE(store_->ScanEvents([&](const Event& e) {
    ids.push_back(e.event_id);
    return true;
  }).ok());
  ASSERT_EQ(ids.size(), 50u);
  EXPECT_EQ(ids.front(), "e0");  // ingest order
  EXPECT_EQ(ids.back(), "e49");
  std::vector<std::string> items;
  ASSERT_TRUE(store_->ScanItems([&](const Item& item) {
    items.push_back(item.id);
    return true;
  }).ok());
  EXPECT_EQ(items, (std::vector<std::string>{"a", "b"}));
  int seen = 0;
  ASSERT_TRUE(store_->ScanEvents([&](const Event&) { return ++seen < 5; }).ok());
  EXPECT_EQ(seen, 5);
  EXPECT_EQ(store_->GetUser("u")->consent.size(), 1u);
  EXPECT_EQ(store_->Counts().users, 1u);
}

TEST_P(StoreConformanceTest, DocumentsAreWrittenTogetherAndScannedByPrefix) {
  ASSERT_TRUE(store_->PutDocuments({{"rules/current", "{\"version\":1}"}, {"rules/audit/0002", "b"},
                                     {"rules/audit/0001", "a"}, {"counts", "not the store's counts"}})
                  .ok());
  EXPECT_EQ(*store_->GetDocument("rules/current"), "{\"version\":1}");
  EXPECT_EQ(store_->GetDocument("rules/missing").status().code(), StatusCode::kNotFound);
  std::vector<std::string> seen;
  auto collect = [&](std::string_view key, std::string_view value) {
    seen.push_back(std::string(key) + "=" + std::string(value));
    return true;
  };
  ASSERT_TRUE(store_->ScanDocuments("rules/audit/", collect).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"rules/audit/0001=a", "rules/audit/0002=b"}));
  // Overwrite and delete (an empty value) in one call; the store's own counts are untouched.
  ASSERT_TRUE(store_->PutDocuments({{"rules/current", "{\"version\":2}"}, {"rules/audit/0001", ""}}).ok());
  seen.clear();
  ASSERT_TRUE(store_->ScanDocuments("rules/", collect).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"rules/audit/0002=b", "rules/current={\"version\":2}"}));
  seen.clear();
  ASSERT_TRUE(store_->ScanDocuments("", [&](std::string_view key, std::string_view value) {
    seen.emplace_back(key);
    return false;  // stops after the first
  }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"counts"}));
  EXPECT_EQ(store_->Counts().events, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest,
                         ::testing::Values(Backend::kMemory, Backend::kRocksDb, Backend::kRocksDbActivityInMemory),
                         [](const auto& info) {
                           switch (info.param) {
                             case Backend::kMemory: return "Memory";
                             case Backend::kRocksDb: return "RocksDb";
                             default: return "RocksDbActivityInMemory";
                           }
                         });

TEST(RocksDbStoreTest, DocumentsSurviveAReopen) {
  ManualClock clock(1'700'000'000'000);
  RocksDbOptions options;
  options.path = FreshDir("documents");
  {
    auto store = OpenRocksDbStore(options, &clock);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->PutDocuments({{"rules/current", "r1"}}).ok());
  }
  auto store = OpenRocksDbStore(options, &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(*(*store)->GetDocument("rules/current"), "r1");
  EXPECT_EQ((*store)->Counts().items, 0u);
}

TEST(RocksDbStoreTest, RecentActivityInMemoryMatchesTheLog) {
  // Shoppers with more events than are kept, events arriving out of time
  // order and with equal times, multi-line purchases, events without items,
  // users and sessions: loaded from disk on open, then updated live.
  ManualClock clock(1'700'000'000'000);
  RocksDbOptions options;
  options.path = FreshDir("activity");
  options.recent_events_per_actor = 6;
  std::mt19937 rng(7);
  int next_id = 0;
  auto random_batch = [&](int events) {
    WriteBatch batch;
    for (int i = 0; i < events; ++i) {
      const EventType types[] = {EventType::kView, EventType::kPurchase, EventType::kSearch, EventType::kAddToCart,
                                 EventType::kRating};
      const EventType type = types[rng() % 5];
      Event event = MakeEvent("e" + std::to_string(next_id++), "u" + std::to_string(rng() % 12), type,
                              1000 + static_cast<int64_t>(rng() % 40));
      if (rng() % 4 == 0) event.user_id.clear();
      if (event.user_id.empty() || rng() % 2 == 0) event.session_id = "s" + std::to_string(rng() % 9);
      if (type == EventType::kSearch) event.item_id.clear();
      if (type == EventType::kRating) event.value = 4;
      if (type == EventType::kAddToCart || type == EventType::kPurchase) {
        event.item_id.clear();
        event.lines = {{"i" + std::to_string(rng() % 5), 1.0 + rng() % 3, std::nullopt},
                       {"j" + std::to_string(rng() % 5), 1, 2.25}};
      }
      batch.AppendEvent(std::move(event));
    }
    return batch;
  };
  auto check_all = [&](const Store& store) {
    for (size_t limit : {1, 4, 6, 9}) {
      for (int u = 0; u < 12; ++u) ExpectActivityMatchesEvents(store, ActorKind::kUser, "u" + std::to_string(u), limit);
      for (int s = 0; s < 9; ++s) ExpectActivityMatchesEvents(store, ActorKind::kSession, "s" + std::to_string(s), limit);
    }
  };
  // Read from memory (nothing decoded from the log) unless more events are
  // asked for than are kept.
  auto from_memory = [](const Store& store, const std::string& user, size_t limit) {
    RecentActivity activity;
    EXPECT_TRUE(store.GetRecentActivity(ActorKind::kUser, user, limit, &activity).ok());
    EXPECT_FALSE(activity.lines.empty());
    return activity.backing.empty();
  };
  {
    auto store = OpenRocksDbStore(options, &clock);
    ASSERT_TRUE(store.ok());
    for (int b = 0; b < 5; ++b) {
      WriteBatch batch = random_batch(40);
      std::vector<WriteOutcome> outcomes;
      ASSERT_TRUE((*store)->Write(&batch, &outcomes).ok());
    }
    EXPECT_FALSE((*store)->ActivityMemory().enabled);
  }
  options.recent_events_mb = 16;
  auto store = OpenRocksDbStore(options, &clock);
  ASSERT_TRUE(store.ok());
  WaitForActivityLoad(**store);
  const ActivityMemoryStats loaded = (*store)->ActivityMemory();
  EXPECT_TRUE(loaded.complete);
  EXPECT_EQ(loaded.actors, 21u);
  EXPECT_GE(loaded.lines, 21u * 6);
  check_all(**store);
  std::string busiest;
  size_t most = 0;
  for (int u = 0; u < 12; ++u) {
    std::vector<Event> events;
    ASSERT_TRUE((*store)->GetRecentEvents(ActorKind::kUser, "u" + std::to_string(u), 100, &events).ok());
    if (events.size() > most) std::tie(busiest, most) = std::pair("u" + std::to_string(u), events.size());
  }
  ASSERT_GT(most, 9u);
  EXPECT_TRUE(from_memory(**store, busiest, 6));
  EXPECT_FALSE(from_memory(**store, busiest, 9));
  for (int b = 0; b < 3; ++b) {
    WriteBatch batch = random_batch(25);
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE((*store)->Write(&batch, &outcomes).ok());
  }
  check_all(**store);
}

TEST(RocksDbStoreTest, ReopenRestoresEverything) {
  ManualClock clock(1'700'000'000'000);
  RocksDbOptions options;
  options.path = FreshDir("reopen");
  {
    auto store = OpenRocksDbStore(options, &clock);
    ASSERT_TRUE(store.ok());
    WriteBatch batch;
    batch.UpsertItem(MakeItem("a", "A"));
    User user;
    user.id = "u1";
    batch.UpsertUser(user);
    for (int i = 0; i < 100; ++i) batch.AppendEvent(MakeEvent("e" + std::to_string(i), "u1", EventType::kView, 1000 + i));
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE((*store)->Write(&batch, &outcomes).ok());
  }
  auto store = OpenRocksDbStore(options, &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  StoreCounts counts = (*store)->Counts();
  EXPECT_EQ(counts.items, 1u);
  EXPECT_EQ(counts.users, 1u);
  EXPECT_EQ(counts.events, 100u);
  EXPECT_EQ((*store)->GetItem("a")->title, "A");
  std::vector<Event> events;
  ASSERT_TRUE((*store)->GetRecentEvents(ActorKind::kUser, "u1", 1, &events).ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event_id, "e99");
  // Sequence numbers continue: a new generated id does not reuse an old one.
  WriteBatch batch;
  batch.AppendEvent(MakeEvent("", "u1", EventType::kView, 5000));
  batch.AppendEvent(MakeEvent("e5", "u1", EventType::kView, 5000));
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE((*store)->Write(&batch, &outcomes).ok());
  EXPECT_EQ(batch.events()[0].event_id, "~100");
  EXPECT_EQ(outcomes[1], WriteOutcome::kDuplicate);
}

TEST(RocksDbStoreTest, ReadsTimelinesWrittenWithoutEventCopies) {
  // Stores written before timeline entries carried a copy of their event
  // have empty values there; their events are read from the log instead.
  SystemClock clock;
  RocksDbOptions options;
  options.path = FreshDir("timeline_copies");
  std::vector<Event> expected;
  {
    auto store = OpenRocksDbStore(options, &clock);
    ASSERT_TRUE(store.ok());
    WriteBatch batch;
    for (int i = 0; i < 30; ++i) {
      Event event = MakeEvent("e" + std::to_string(i), "u1", i % 5 == 0 ? EventType::kPurchase : EventType::kView,
                              1000 + 10 * (i % 7) + i);
      event.session_id = "s" + std::to_string(i % 3);
      batch.AppendEvent(std::move(event));
    }
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE((*store)->Write(&batch, &outcomes).ok());
    ASSERT_TRUE((*store)->GetRecentEvents(ActorKind::kUser, "u1", 20, &expected).ok());
    ASSERT_EQ(expected.size(), 20u);
  }
  {
    // Empty every other timeline value, as the older format left them.
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options.path, &names).ok());
    for (const std::string& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), options.path, descriptors, &handles, &db).ok());
    size_t timeline = std::find(names.begin(), names.end(), "timeline") - names.begin();
    ASSERT_LT(timeline, names.size());
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[timeline]));
    std::vector<std::string> keys;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      EXPECT_FALSE(it->value().empty()) << "a new timeline entry carries its event";
      keys.push_back(it->key().ToString());
    }
    it.reset();
    ASSERT_EQ(keys.size(), 60u);  // user and session entries
    for (size_t i = 0; i < keys.size(); i += 2) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[timeline], keys[i], rocksdb::Slice()).ok());
    }
    for (auto* handle : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    delete db;
  }
  options.recent_events_mb = 16;  // the loader reads such entries through the log too
  auto store = OpenRocksDbStore(options, &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<Event> events;
  ASSERT_TRUE((*store)->GetRecentEvents(ActorKind::kUser, "u1", 20, &events).ok());
  EXPECT_EQ(events, expected);
  WaitForActivityLoad(**store);
  EXPECT_TRUE((*store)->ActivityMemory().complete);
  EXPECT_EQ((*store)->ActivityMemory().actors, 4u);
  ExpectActivityMatchesEvents(**store, ActorKind::kUser, "u1", 20);
  for (const char* session : {"s0", "s1", "s2"}) ExpectActivityMatchesEvents(**store, ActorKind::kSession, session, 100);
  ASSERT_TRUE((*store)->GetRecentEvents(ActorKind::kSession, "s1", 100, &events).ok());
  ASSERT_EQ(events.size(), 10u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].session_id, "s1");
    if (i > 0) {
      EXPECT_GE(events[i - 1].timestamp_ms, events[i].timestamp_ms);
    }
  }
}

TEST(RocksDbStoreTest, SecondOpenOfTheSameDirectoryIsRefused) {
  SystemClock clock;
  RocksDbOptions options;
  options.path = FreshDir("locked");
  auto first = OpenRocksDbStore(options, &clock);
  ASSERT_TRUE(first.ok());
  auto second = OpenRocksDbStore(options, &clock);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use by another"), std::string::npos) << second.status().ToString();
}

TEST(RocksDbStoreTest, AcknowledgedWritesSurviveKill9) {
  // The child acknowledges each write over a pipe, as the server would over
  // HTTP, then dies by SIGKILL mid-stream. Everything acknowledged must be
  // there after reopening; "os" durability is enough for a process kill.
  for (Durability durability : {Durability::kFsync, Durability::kOs}) {
    RocksDbOptions options;
    options.path = FreshDir("kill9");
    options.durability = durability;
    options.fsync_interval_ms = 0;
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(pipe_fds[0]);
      SystemClock clock;
      auto store = OpenRocksDbStore(options, &clock);
      if (!store.ok()) ::_exit(2);
      for (uint32_t i = 0;; ++i) {
        WriteBatch batch;
        batch.AppendEvent(MakeEvent("e" + std::to_string(i), "u", EventType::kView, 1'600'000'000'000 + i));
        std::vector<WriteOutcome> outcomes;
        if (!(*store)->Write(&batch, &outcomes).ok()) ::_exit(3);
        if (::write(pipe_fds[1], &i, sizeof i) != sizeof i) ::_exit(4);
      }
    }
    ::close(pipe_fds[1]);
    uint32_t acknowledged = 0, value;
    while (acknowledged < 300 && ::read(pipe_fds[0], &value, sizeof value) == sizeof value) acknowledged = value + 1;
    ::kill(child, SIGKILL);
    while (::read(pipe_fds[0], &value, sizeof value) == sizeof value) acknowledged = value + 1;
    ::close(pipe_fds[0]);
    int wstatus;
    ::waitpid(child, &wstatus, 0);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with " << WEXITSTATUS(wstatus);

    SystemClock clock;
    auto store = OpenRocksDbStore(options, &clock);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_GE((*store)->Counts().events, acknowledged) << DurabilityName(durability);
    std::vector<Event> events;
    ASSERT_TRUE((*store)->GetRecentEvents(ActorKind::kUser, "u", 1'000'000, &events).ok());
    EXPECT_GE(events.size(), acknowledged);
  }
}

constexpr char kBulkChildEnv[] = "VITRINA_TEST_BULK_LOAD_DIR";

RocksDbOptions BulkOptions(std::string path) {
  RocksDbOptions options;
  options.path = std::move(path);
  options.disable_wal = true;
  options.write_buffer_mb = 4;  // flush often, so the kill lands between flushes
  return options;
}

// The writer of BulkLoadWithoutLogStaysConsistentAfterKill9, run in a fresh
// process (exec, not just fork: RocksDB's background threads, which do the
// flushes, do not survive a fork of a process that already used RocksDB).
TEST(RocksDbStoreTest, BulkLoadChild) {
  const char* path = std::getenv(kBulkChildEnv);
  if (path == nullptr) GTEST_SKIP() << "runs only as the child of BulkLoadWithoutLogStaysConsistentAfterKill9";
  SystemClock clock;
  auto store = OpenRocksDbStore(BulkOptions(path), &clock);
  ASSERT_TRUE(store.ok());
  for (uint64_t batch_index = 0;; ++batch_index) {
    WriteBatch batch;
    for (int i = 0; i < 500; ++i) {
      const uint64_t n = batch_index * 500 + i;
      batch.AppendEvent(MakeEvent("bulk-" + std::to_string(n), "user-" + std::to_string(n % 97), EventType::kView,
                                  1'600'000'000'000 + static_cast<int64_t>(n)));
    }
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE((*store)->Write(&batch, &outcomes).ok());
  }
}

TEST(RocksDbStoreTest, BulkLoadWithoutLogStaysConsistentAfterKill9) {
  // Bulk loads skip the write-ahead log. A crash loses the unflushed tail,
  // but what survives must agree across column families: every stored event
  // is counted, indexed for dedup and on its timeline.
  RocksDbOptions options = BulkOptions(FreshDir("bulk_kill9"));
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setenv(kBulkChildEnv, options.path.c_str(), 1);
    const char* argv[] = {"storage_tests", "--gtest_filter=RocksDbStoreTest.BulkLoadChild", nullptr};
    ::execv("/proc/self/exe", const_cast<char**>(argv));
    ::_exit(127);
  }
  // Kill it once something reached a table file (a fixed wait could pass
  // before the first flush on a loaded machine).
  auto flushed = [&] {
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(options.path, error)) {
      if (entry.path().extension() == ".sst") return true;
    }
    return false;
  };
  for (int waited = 0; waited < 200 && !flushed(); ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let that flush finish
  ::kill(child, SIGKILL);
  int wstatus;
  ::waitpid(child, &wstatus, 0);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with " << WEXITSTATUS(wstatus);

  SystemClock clock;
  options.disable_wal = false;
  auto store = OpenRocksDbStore(options, &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<std::string> ids;
  ASSERT_TRUE((*store)->ScanEvents([&](const Event& e) {
    ids.push_back(e.event_id);
    return true;
  }).ok());
  EXPECT_GT(ids.size(), 0u) << "some flushes should have happened";
  EXPECT_EQ((*store)->Counts().events, ids.size());
  size_t on_timelines = 0;
  for (int u = 0; u < 97; ++u) {
    std::vector<Event> events;
    ASSERT_TRUE((*store)->GetRecentEvents(ActorKind::kUser, "user-" + std::to_string(u), 1'000'000, &events).ok());
    on_timelines += events.size();
  }
  EXPECT_EQ(on_timelines, ids.size());
  WriteBatch again;
  for (const std::string& id : ids) again.AppendEvent(MakeEvent(id, "user-0", EventType::kView, 1'600'000'000'000));
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE((*store)->Write(&again, &outcomes).ok());
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), WriteOutcome::kDuplicate),
            static_cast<long>(ids.size()));
}

TEST(RocksDbStoreTest, CleanCloseLeavesNoLogToReplay) {
  ManualClock clock(1'700'000'000'000);
  RocksDbOptions options;
  options.path = FreshDir("clean_close");
  {
    auto store = OpenRocksDbStore(options, &clock);
    ASSERT_TRUE(store.ok());
    WriteBatch batch;
    for (int i = 0; i < 2000; ++i) batch.AppendEvent(MakeEvent("e" + std::to_string(i), "u", EventType::kView, 1000 + i));
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE((*store)->Write(&batch, &outcomes).ok());
  }
  uintmax_t log_bytes = 0;
  for (const auto& entry : fs::directory_iterator(options.path)) {
    if (entry.path().extension() == ".log") log_bytes += entry.file_size();
  }
  EXPECT_EQ(log_bytes, 0u) << "a clean close must flush memtables, leaving nothing to replay";
  auto store = OpenRocksDbStore(options, &clock);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Counts().events, 2000u);
}

TEST(RocksDbStoreTest, RefusesDirectoriesThatAreNotVitrinaStores) {
  SystemClock clock;
  RocksDbOptions options;
  options.path = FreshDir("not_empty");
  fs::create_directories(options.path);
  std::ofstream(options.path + "/notes.txt") << "my files";
  auto store = OpenRocksDbStore(options, &clock);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("is not empty and holds no Vitrina store"), std::string::npos)
      << store.status().ToString();
  EXPECT_TRUE(fs::exists(options.path + "/notes.txt"));

  options.path = FreshDir("foreign_rocksdb");
  {
    rocksdb::DB* db = nullptr;
    rocksdb::Options raw;
    raw.create_if_missing = true;
    ASSERT_TRUE(rocksdb::DB::Open(raw, options.path, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "someone", "else's data").ok());
    delete db;
  }
  store = OpenRocksDbStore(options, &clock);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("not a Vitrina store"), std::string::npos) << store.status().ToString();
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options.path, &families).ok());
  EXPECT_EQ(families.size(), 1u) << "the foreign database must be left untouched";
}

TEST(RocksDbStoreTest, ForeignDirectoryIsNotTakenOver) {
  SystemClock clock;
  RocksDbOptions options;
  options.path = FreshDir("missing");
  options.create_if_missing = false;
  auto store = OpenRocksDbStore(options, &clock);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(options.path), std::string::npos);
}

TEST(RocksDbStoreTest, CheckpointOpensWithTheSameDataAndDocuments) {
  ManualClock clock(1'700'000'000'000);
  RocksDbOptions options;
  options.path = FreshDir("checkpoint_source");
  options.durability = Durability::kOs;  // acknowledged writes sit in the log and the memtable
  options.fsync_interval_ms = 0;
  auto store = OpenRocksDbStore(options, &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  WriteBatch batch;
  batch.UpsertItem(MakeItem("a", "A"));
  batch.UpsertItem(MakeItem("b", "B"));
  User user;
  user.id = "u1";
  batch.UpsertUser(user);
  for (int i = 0; i < 50; ++i) batch.AppendEvent(MakeEvent("e" + std::to_string(i), "u1", EventType::kView, 1000 + i));
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE((*store)->Write(&batch, &outcomes).ok());
  ASSERT_TRUE((*store)->PutDocuments({{"rules/current", "r1"}, {"synonyms/current", "s1"}}).ok());

  const std::string copy_dir = FreshDir("checkpoint_copy");
  auto info = (*store)->Checkpoint(copy_dir);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->store_dir, options.path);
  EXPECT_GT(info->files, 0u);
  EXPECT_GT(info->bytes, 0u);
  EXPECT_FALSE((*store)->Checkpoint(copy_dir).ok()) << "the directory must not exist yet";

  RocksDbOptions copy_options;
  copy_options.path = copy_dir;
  copy_options.create_if_missing = false;
  auto copy = OpenRocksDbStore(copy_options, &clock);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ((*copy)->Counts(), (*store)->Counts());
  EXPECT_EQ(*(*copy)->GetDocument("rules/current"), "r1");
  EXPECT_EQ(*(*copy)->GetDocument("synonyms/current"), "s1");
  EXPECT_EQ((*copy)->GetItem("b")->title, "B");
  std::vector<Event> events;
  ASSERT_TRUE((*copy)->GetRecentEvents(ActorKind::kUser, "u1", 100, &events).ok());
  ASSERT_EQ(events.size(), 50u);
  EXPECT_EQ(events[0].event_id, "e49");

  EXPECT_EQ(NewMemoryStore(&clock)->Checkpoint(FreshDir("memory_checkpoint")).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(RocksDbStoreTest, CheckpointUnderWritesHoldsEveryEarlierAcknowledgedWrite) {
  // Writers keep going while the checkpoint is taken. Every write that
  // returned before Checkpoint was called must be in the copy, and the copy
  // must be consistent: its counts match its log, even for writes caught
  // half-way through the flush.
  for (Durability durability : {Durability::kFsync, Durability::kOs}) {
    SystemClock clock;
    RocksDbOptions options;
    options.path = FreshDir("checkpoint_load");
    options.durability = durability;
    options.fsync_interval_ms = 0;
    auto store = OpenRocksDbStore(options, &clock);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    constexpr int kWriters = 4;
    std::atomic<bool> checkpoint_called{false}, stop{false};
    std::vector<std::vector<std::string>> before(kWriters);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; !stop; ++i) {
          WriteBatch batch;
          const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
          batch.AppendEvent(MakeEvent(id, "user-" + std::to_string(w), EventType::kView, 1'600'000'000'000 + i));
          User user;
          user.id = "user-" + std::to_string(w) + "-" + std::to_string(i % 7);
          batch.UpsertUser(user);
          std::vector<WriteOutcome> outcomes;
          if (!(*store)->Write(&batch, &outcomes).ok()) return;
          if (!checkpoint_called) before[w].push_back(id);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    checkpoint_called = true;
    const std::string copy_dir = FreshDir("checkpoint_load_copy");
    auto info = (*store)->Checkpoint(copy_dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop = true;
    for (auto& writer : writers) writer.join();
    ASSERT_TRUE(info.ok()) << info.status().ToString();

    RocksDbOptions copy_options;
    copy_options.path = copy_dir;
    copy_options.create_if_missing = false;
    auto copy = OpenRocksDbStore(copy_options, &clock);
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    size_t acknowledged = 0;
    for (int w = 0; w < kWriters; ++w) {
      acknowledged += before[w].size();
      std::vector<Event> events;
      ASSERT_TRUE((*copy)->GetRecentEvents(ActorKind::kUser, "user-" + std::to_string(w), 10'000'000, &events).ok());
      std::set<std::string> stored;
      for (const Event& event : events) stored.insert(event.event_id);
      for (const std::string& id : before[w]) {
        ASSERT_TRUE(stored.count(id)) << DurabilityName(durability) << ": acknowledged " << id << " missing";
      }
    }
    EXPECT_GT(acknowledged, 20u);
    uint64_t logged = 0;
    ASSERT_TRUE((*copy)->ScanEvents([&](const Event&) { return ++logged, true; }).ok());
    uint64_t users = 0;
    ASSERT_TRUE((*copy)->ScanUsers([&](const User&) { return ++users, true; }).ok());
    EXPECT_EQ((*copy)->Counts().events, logged) << DurabilityName(durability);
    EXPECT_EQ((*copy)->Counts().users, users) << DurabilityName(durability);
    EXPECT_GE(logged, acknowledged);
  }
}

// A data directory as `vitrina serve` leaves it: the store, model
// snapshots (one being written) and served-list logs (one being appended).
struct ServedDataDirectory {
  ManualClock clock{1'700'000'000'000};
  RocksDbOptions options;
  std::unique_ptr<Store> store;

  ServedDataDirectory() {
    options.path = FreshDir("backup_source");
    auto opened = OpenRocksDbStore(options, &clock);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    store = std::move(opened).value();
    WriteBatch batch;
    batch.UpsertItem(MakeItem("a", "A"));
    for (int i = 0; i < 20; ++i) {
      batch.AppendEvent(MakeEvent("e" + std::to_string(i), "u1", EventType::kView, 1000 + i));
    }
    std::vector<WriteOutcome> outcomes;
    EXPECT_TRUE(store->Write(&batch, &outcomes).ok());
    EXPECT_TRUE(store->PutDocuments({{"rules/current", "r1"}}).ok());
    const fs::path data(options.path);
    fs::create_directories(data / "models" / "snap-1");
    fs::create_directories(data / "models" / "snap-2");
    fs::create_directories(data / "logs");
    std::ofstream(data / "models" / "CURRENT") << "snap-2\n";
    std::ofstream(data / "models" / "CURRENT.tmp") << "snap-3\n";
    for (const char* snapshot : {"snap-1", "snap-2"}) {
      std::ofstream(data / "models" / snapshot / "manifest.json") << "{}\n";
      std::ofstream(data / "models" / snapshot / "als.bin") << std::string(5000, 'x');
    }
    std::ofstream(data / "logs" / "served-2026-01-01.jsonl") << "{\"a\":1}\n{\"a\":2}\n{\"a\":";
  }
};

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(BackupDataDirectoryTest, CopiesTheStoreSnapshotsAndLogs) {
  ServedDataDirectory source;
  const std::string to = FreshDir("backup_target") + "/nested/backup";
  auto report = BackupDataDirectory(source.store.get(), to, &source.clock);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->path, to);
  EXPECT_EQ(report->counts, source.store->Counts());
  EXPECT_GT(report->store_files, 0u);
  EXPECT_GT(report->store_bytes, 0u);
  ASSERT_EQ(report->folders.size(), 2u);
  EXPECT_EQ(report->folders["models"].folders, 2u);
  EXPECT_EQ(report->folders["models"].files, 5u) << "CURRENT and two files per snapshot; CURRENT.tmp left out";
  EXPECT_EQ(report->folders["logs"].files, 1u);

  const fs::path backup(to);
  EXPECT_EQ(ReadAll(backup / "models" / "CURRENT"), "snap-2\n");
  EXPECT_FALSE(fs::exists(backup / "models" / "CURRENT.tmp"));
  EXPECT_EQ(ReadAll(backup / "models" / "snap-1" / "als.bin"), std::string(5000, 'x'));
  EXPECT_EQ(ReadAll(backup / "logs" / "served-2026-01-01.jsonl"), "{\"a\":1}\n{\"a\":2}\n")
      << "a line being written is left out";
  const std::string manifest = ReadAll(backup / kBackupManifestName);
  EXPECT_NE(manifest.find("\"format\":\"vitrina-backup-1\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"events\":20"), std::string::npos) << manifest;
  EXPECT_FALSE(fs::exists(backup / ".checkpoint"));
  uintmax_t log_bytes = 0;
  for (const auto& entry : fs::directory_iterator(backup)) {
    if (entry.path().extension() == ".log") log_bytes += entry.file_size();
  }
  EXPECT_EQ(log_bytes, 0u) << "the backup's write-ahead log is folded into table files";

  RocksDbOptions copy_options;
  copy_options.path = to;
  copy_options.create_if_missing = false;
  auto copy = OpenRocksDbStore(copy_options, &source.clock);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ((*copy)->Counts(), source.store->Counts());
  EXPECT_EQ(*(*copy)->GetDocument("rules/current"), "r1");
}

TEST(BackupDataDirectoryTest, RefusesTargetsItCannotUseAndLeavesThemAsTheyWere) {
  ServedDataDirectory source;
  auto refused = [&](const std::string& to) {
    auto report = BackupDataDirectory(source.store.get(), to, &source.clock);
    EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument) << to;
    EXPECT_EQ(report.status().message().rfind("to: ", 0), 0u) << report.status().message();
    return report.status().message();
  };
  EXPECT_NE(refused("relative/backup").find("absolute"), std::string::npos);
  refused("");
  const std::string full = FreshDir("backup_full");
  fs::create_directories(full);
  std::ofstream(full + "/keep.txt") << "mine";
  EXPECT_NE(refused(full).find("not an empty directory"), std::string::npos);
  EXPECT_EQ(ReadAll(full + "/keep.txt"), "mine");
  const std::string inside = source.options.path + "/backups/today";
  EXPECT_NE(refused(inside).find("inside the data directory"), std::string::npos);
  EXPECT_FALSE(fs::exists(inside));

  // An empty directory (a mount point, say) is used, and left empty on failure.
  const std::string empty = FreshDir("backup_empty");
  fs::create_directories(empty);
  auto report = BackupDataDirectory(source.store.get(), empty, &source.clock);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(fs::exists(fs::path(empty) / kBackupManifestName));
  auto memory = NewMemoryStore(&source.clock);
  const std::string unused = FreshDir("backup_of_memory");
  fs::create_directories(unused);
  EXPECT_EQ(BackupDataDirectory(memory.get(), unused, &source.clock).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(fs::is_empty(unused));
}

}  // namespace
}  // namespace vitrina
