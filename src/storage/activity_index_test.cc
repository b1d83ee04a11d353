#include "storage/activity_index.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace vitrina {
namespace {

Event View(std::string user, std::string item, int64_t ts) {
  Event event;
  event.type = EventType::kView;
  event.user_id = std::move(user);
  event.item_id = std::move(item);
  event.timestamp_ms = ts;
  return event;
}

Event Purchase(std::string user, int64_t ts) {
  Event event;
  event.type = EventType::kPurchase;
  event.user_id = std::move(user);
  event.timestamp_ms = ts;
  event.lines = {{"a", 2, 9.5}, {"b", 1, std::nullopt}};
  return event;
}

// "item@time" per line, newest first: compact to compare.
std::vector<std::string> Describe(const RecentActivity& activity) {
  std::vector<std::string> out;
  for (const ActivityLine& line : activity.lines) out.push_back(std::string(line.item_id) + "@" + std::to_string(line.timestamp_ms));
  return out;
}

std::vector<std::string> Read(const ActivityIndex& index, std::string_view user, size_t limit) {
  RecentActivity activity;
  EXPECT_TRUE(index.Get(ActorKind::kUser, user, limit, &activity)) << user;
  return Describe(activity);
}

TEST(ActivityIndexTest, KeepsTheLatestEventsInTimeOrder) {
  ActivityIndex index(3, 64 << 20);
  index.FinishLoad(true);
  index.Add(View("u", "x", 100));
  index.Add(Purchase("u", 300));
  index.Add(View("u", "late", 50));  // arrives last, happened first
  index.Add(View("u", "tie", 300));  // same time as the purchase, ingested later: newer
  EXPECT_EQ(Read(index, "u", 3), (std::vector<std::string>{"tie@300", "a@300", "b@300", "x@100"}))
      << "3 events kept: the oldest (late@50) dropped";
  EXPECT_EQ(Read(index, "u", 2), (std::vector<std::string>{"tie@300", "a@300", "b@300"}));

  RecentActivity activity;
  ASSERT_TRUE(index.Get(ActorKind::kUser, "u", 2, &activity));
  ASSERT_EQ(activity.lines.size(), 3u);
  EXPECT_EQ(activity.lines[1].type, EventType::kPurchase);
  EXPECT_EQ(activity.lines[1].amount, 2);
  EXPECT_EQ(activity.lines[1].price, 9.5f);
  EXPECT_TRUE(std::isnan(activity.lines[2].price));
  // The dropped event makes a longer read impossible from memory.
  EXPECT_FALSE(index.Get(ActorKind::kUser, "u", 4, &activity));
  // Absent after a complete load: no events.
  ASSERT_TRUE(index.Get(ActorKind::kUser, "nobody", 10, &activity));
  EXPECT_TRUE(activity.lines.empty());
  ASSERT_TRUE(index.Get(ActorKind::kSession, "u", 10, &activity));
  EXPECT_TRUE(activity.lines.empty()) << "users and sessions are apart";
}

TEST(ActivityIndexTest, EventsWithoutItemsCountAsEvents) {
  ActivityIndex index(2, 64 << 20);
  index.FinishLoad(true);
  Event search;
  search.type = EventType::kSearch;
  search.session_id = "s";
  search.query = "mug";
  search.timestamp_ms = 20;
  Event view = View("", "x", 10);
  view.session_id = "s";
  index.Add(view);
  index.Add(search);
  RecentActivity activity;
  ASSERT_TRUE(index.Get(ActorKind::kSession, "s", 1, &activity));
  ASSERT_EQ(activity.lines.size(), 1u);
  EXPECT_EQ(activity.lines[0].type, EventType::kSearch);
  EXPECT_TRUE(activity.lines[0].item_id.empty());
}

TEST(ActivityIndexTest, LoadMergesWithEventsAddedMeanwhile) {
  ActivityIndex index(4, 64 << 20);
  RecentActivity activity;
  index.Add(View("u", "live", 200));  // while loading
  EXPECT_FALSE(index.Get(ActorKind::kUser, "u", 10, &activity)) << "not loaded yet";
  EXPECT_FALSE(index.Get(ActorKind::kUser, "v", 10, &activity)) << "absent, but loading is not over";
  const Event a = View("u", "stored1", 100), b = View("u", "stored2", 200);
  ASSERT_TRUE(index.Load(ActorKind::kUser, "u", {&a, &b}, /*truncated=*/false));
  // Equal times: the live event was ingested after the stored one.
  EXPECT_EQ(Read(index, "u", 10), (std::vector<std::string>{"live@200", "stored2@200", "stored1@100"}));

  index.Add(View("w", "only-live", 5));  // an actor with nothing stored
  index.FinishLoad(true);
  EXPECT_EQ(Read(index, "w", 10), (std::vector<std::string>{"only-live@5"}));
  const ActivityMemoryStats stats = index.stats();
  EXPECT_TRUE(stats.loaded);
  EXPECT_TRUE(stats.complete);
  EXPECT_EQ(stats.actors, 2u);
  EXPECT_EQ(stats.lines, 4u);
}

TEST(ActivityIndexTest, TruncatedLoadsAnswerOnlyUpToTheLimit) {
  ActivityIndex index(2, 64 << 20);
  const Event a = View("u", "a", 1), b = View("u", "b", 2);
  ASSERT_TRUE(index.Load(ActorKind::kUser, "u", {&a, &b}, /*truncated=*/true));
  index.FinishLoad(true);
  EXPECT_EQ(Read(index, "u", 2), (std::vector<std::string>{"b@2", "a@1"}));
  RecentActivity activity;
  EXPECT_FALSE(index.Get(ActorKind::kUser, "u", 3, &activity));
}

TEST(ActivityIndexTest, IncompleteLoadsSendAbsentActorsToDisk) {
  ActivityIndex index(2, 64 << 20);
  index.FinishLoad(false);
  index.Add(View("u", "a", 1));
  RecentActivity activity;
  EXPECT_FALSE(index.Get(ActorKind::kUser, "u", 2, &activity)) << "u may have stored events not in memory";
  EXPECT_FALSE(index.stats().complete);
}

TEST(ActivityIndexTest, StaysWithinItsBudget) {
  const size_t budget = 256 << 10;
  ActivityIndex index(5, budget);
  index.FinishLoad(true);
  for (int u = 0; u < 3000; ++u) index.Add(View("user-" + std::to_string(u), "item-" + std::to_string(u % 50), u));
  const ActivityMemoryStats stats = index.stats();
  EXPECT_FALSE(stats.complete);
  EXPECT_LE(stats.bytes, budget + 1024);
  EXPECT_GT(stats.bytes, budget / 2);
  EXPECT_GT(stats.actors, 100u);
  EXPECT_LT(stats.actors, 3000u);
  EXPECT_EQ(Read(index, "user-0", 5), (std::vector<std::string>{"item-0@0"})) << "admitted before the budget ran out";
  RecentActivity activity;
  EXPECT_FALSE(index.Get(ActorKind::kUser, "user-2999", 5, &activity)) << "left out: read from disk";
  // Admitted actors keep receiving events.
  index.Add(View("user-0", "item-7", 10'000));
  EXPECT_EQ(Read(index, "user-0", 5), (std::vector<std::string>{"item-7@10000", "item-0@0"}));
}

}  // namespace
}  // namespace vitrina
