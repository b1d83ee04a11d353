#include "evaluation/synthetic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "models/cooccurrence.h"
#include "models/dataset.h"
#include "schema/json.h"
#include "schema/validate.h"

namespace vitrina {
namespace {

SyntheticShopOptions Small(uint64_t seed = 7) {
  return SyntheticShopOptions{.items = 4000, .users = 3000, .categories = 40, .brands = 100, .seed = seed};
}

std::vector<std::string> EventLines(const SyntheticShop& shop) {
  std::vector<std::string> lines;
  shop.GenerateEvents([&](const Event& e) {
    std::string line;
    JsonWriter w(&line);
    WriteEventJson(e, &w);
    lines.push_back(std::move(line));
  });
  return lines;
}

TEST(SyntheticShopTest, SameSeedSameShopOtherSeedAnother) {
  SyntheticShop a(Small(7)), b(Small(7)), c(Small(8));
  EXPECT_EQ(a.items(), b.items());
  EXPECT_NE(a.items(), c.items());
  std::vector<std::string> lines = EventLines(a);
  EXPECT_EQ(lines, EventLines(b));
  EXPECT_NE(lines, EventLines(c));
}

TEST(SyntheticShopTest, RecordsAreValidOrderedAndUniquelyIdentified) {
  SyntheticShop shop(Small());
  Limits limits;
  const int64_t now = shop.options().start_ms + 400LL * 86'400'000;
  for (const Item& item : shop.items()) {
    RecordError error;
    ASSERT_TRUE(ValidateItem(item, limits, &error)) << item.id << ": " << error.field << " " << error.message;
    ASSERT_EQ(item.category.size(), 2u);
    ASSERT_GT(*item.price, 0);
  }
  std::set<std::string> ids;
  std::unordered_map<std::string, int64_t> last_time;  // per user or session
  uint64_t count = 0;
  SyntheticShopStats stats = shop.GenerateEvents([&](const Event& e) {
    ++count;
    RecordError error;
    ASSERT_TRUE(ValidateEvent(e, limits, now, &error)) << e.event_id << ": " << error.field << " " << error.message;
    ASSERT_TRUE(ids.insert(e.event_id).second) << e.event_id;
    const std::string actor = e.user_id.empty() ? "s:" + e.session_id : e.user_id;
    auto [it, first] = last_time.try_emplace(actor, e.timestamp_ms);
    ASSERT_GE(e.timestamp_ms, it->second) << e.event_id;
    it->second = e.timestamp_ms;
    ASSERT_GE(e.timestamp_ms, shop.options().start_ms);
    ASSERT_LT(e.timestamp_ms, shop.options().start_ms + (shop.options().days + 1) * 86'400'000LL);
  });
  EXPECT_EQ(stats.events, count);
  EXPECT_EQ(stats.events, stats.views + stats.carts + stats.purchases + stats.searches);
  EXPECT_GT(stats.purchases, 0u);
  EXPECT_GT(stats.anonymous_sessions, 0u);
  EXPECT_LT(stats.anonymous_sessions, stats.sessions / 4);
}

TEST(SyntheticShopTest, PopularityAndActivityAreHeavyTailed) {
  SyntheticShop shop(Small());
  SyntheticShopStats stats = shop.GenerateEvents([](const Event&) {});
  std::vector<uint64_t> views = stats.views_per_item;
  std::sort(views.rbegin(), views.rend());
  uint64_t top = 0;
  for (size_t i = 0; i < views.size() / 100; ++i) top += views[i];
  // Zipf(1) over 4,000 items gives the top 1% about half the weight.
  EXPECT_GT(static_cast<double>(top) / stats.views, 0.25);
  EXPECT_LT(static_cast<double>(top) / stats.views, 0.75);
  // Mean sessions near the requested 3, with a long tail.
  const auto& sessions = stats.sessions_per_user;
  const double mean = static_cast<double>(stats.sessions) / sessions.size();
  EXPECT_NEAR(mean, 3.0, 0.6);
  EXPECT_GE(*std::max_element(sessions.begin(), sessions.end()), 30u);
  EXPECT_GT(std::count(sessions.begin(), sessions.end(), 1u), static_cast<long>(sessions.size() / 4));
}

// The planted complements are what a bought-together model should find.
TEST(SyntheticShopTest, CooccurrenceRecoversPlantedComplements) {
  SyntheticShop shop(Small());
  DatasetBuilder builder;
  for (const Item& item : shop.items()) builder.AddItem(ItemMetaFrom(item));
  shop.GenerateEvents([&](const Event& e) { builder.AddEvent(e, false); });
  Dataset data = std::move(builder).Finish();
  CooccurrenceRecommender model(ModelOptions::Cooccurrence{});
  ASSERT_TRUE(model.Fit(data, FitOptions{.threads = 1}).ok());

  // Over the 100 best-selling items, how often is the first planted
  // complement among the 10 top bought-together neighbours?
  std::vector<uint32_t> order(shop.items().size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  const SparseRows& bought = model.bought_together();
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return bought.RowColumns(a).size() > bought.RowColumns(b).size(); });
  int found = 0, checked = 0;
  std::vector<float> scores(data.num_items());
  for (uint32_t k = 0; k < 100; ++k) {
    const uint32_t item = order[k];
    if (shop.complements(item).empty()) continue;
    ++checked;
    HistoryEntry history[] = {{.item = item, .weight = 1, .signal = Signal::kPurchase}};
    model.Score(history, Relation::kComplement, scores);
    scores[item] = -1;
    std::vector<uint32_t> top(10);
    std::partial_sort_copy(order.begin(), order.end(), top.begin(), top.end(),
                           [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
    const uint32_t planted = shop.complements(item)[0];
    found += std::find(top.begin(), top.end(), planted) != top.end();
  }
  ASSERT_GT(checked, 90);
  EXPECT_GT(found, checked * 6 / 10) << found << " of " << checked;
}

}  // namespace
}  // namespace vitrina
