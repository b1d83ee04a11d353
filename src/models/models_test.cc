#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "models/als.h"
#include "models/category_popular.h"
#include "models/content.h"
#include "models/cooccurrence.h"
#include "models/ease.h"
#include "models/recommender.h"
#include "models/sparse.h"
#include "models/trending.h"

namespace vitrina {
namespace {

// Items "i0".."i{n-1}"; each actor's list of items is one session, in order.
Dataset MakeDataset(size_t num_items, const std::vector<std::vector<uint32_t>>& actors) {
  DatasetBuilder builder;
  for (size_t i = 0; i < num_items; ++i) builder.AddItem(ItemMeta{.id = "i" + std::to_string(i)});
  for (size_t a = 0; a < actors.size(); ++a) {
    int64_t t = 0;
    for (uint32_t item : actors[a]) {
      builder.Add("u" + std::to_string(a),
                  Interaction{.item = item, .time_ms = ++t, .session = static_cast<uint32_t>(a + 1)});
    }
  }
  return std::move(builder).Finish();
}

std::vector<float> ScoreAll(const Recommender& model, std::vector<HistoryEntry> history,
                            Relation relation = Relation::kAny) {
  std::vector<float> scores(model.num_items());
  model.Score(history, relation, scores);
  return scores;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          (name + "-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name()))
      .string();
}

TEST(DatasetTest, SortsEachActorByTimeAndMapsEvents) {
  DatasetBuilder builder;
  builder.AddItem(ItemMeta{.id = "a"});
  Event purchase{.type = EventType::kPurchase, .user_id = "u", .session_id = "s1",
                 .lines = {{.item_id = "a", .quantity = 3}, {.item_id = "new", .quantity = 1}}, .timestamp_ms = 20};
  Event view{.type = EventType::kView, .session_id = "s2", .item_id = "a", .timestamp_ms = 5};
  Event later_view{.type = EventType::kView, .user_id = "u", .session_id = "s1", .item_id = "a", .timestamp_ms = 10};
  Event search{.type = EventType::kSearch, .user_id = "u", .timestamp_ms = 1, .query = "mug"};
  // A search whose result the shopper clicked counts as a click on it.
  Event search_click{.type = EventType::kSearch, .session_id = "s3", .item_id = "a", .timestamp_ms = 2, .query = "mug"};
  builder.AddEvent(purchase, /*add_unknown_items=*/false);
  builder.AddEvent(view, false);
  builder.AddEvent(later_view, false);
  builder.AddEvent(search, false);
  builder.AddEvent(search_click, false);
  Dataset data = std::move(builder).Finish();
  ASSERT_EQ(data.num_items(), 1u);  // "new" was skipped
  ASSERT_EQ(data.num_actors(), 3u);
  EXPECT_EQ(data.actor_ids[0], "u");
  EXPECT_EQ(data.actor_ids[1], "session:s2");
  EXPECT_EQ(data.actor_ids[2], "session:s3");
  ASSERT_EQ(data.ActorInteractions(2).size(), 1u);
  EXPECT_FLOAT_EQ(data.ActorInteractions(2)[0].weight, SignalWeights{}.click);
  auto u = data.ActorInteractions(0);
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].time_ms, 10);  // sorted by time
  EXPECT_EQ(u[0].signal, Signal::kView);
  EXPECT_EQ(u[1].signal, Signal::kPurchase);
  EXPECT_FLOAT_EQ(u[1].weight, 5 * 2.0f);  // purchase weight * log2(1 + 3)
  EXPECT_NE(u[1].order, 0u);
  EXPECT_EQ(u[0].session, u[1].session);
  EXPECT_EQ(data.MaxTime(), 20);
}

TEST(SparseTest, TopKMatchesFullSortWithTiesToLowerIndex) {
  std::mt19937 rng(7);
  // Few distinct values (many ties) and continuous ones; sizes that are
  // and are not multiples of the scan's block; k below and above the
  // number of eligible scores; a positive and a negative floor; scores in
  // random, ascending and descending order of index.
  for (int order : {0, 1, 2}) {
    for (int distinct_values : {20, 0}) {
      for (size_t size : {size_t{5}, size_t{500}, size_t{4096}, size_t{10007}}) {
        for (size_t k : {size_t{1}, size_t{10}, size_t{200}}) {
          for (float floor : {0.0f, -0.5f}) {
            std::vector<float> scores(size);
            for (float& s : scores) {
              s = distinct_values > 0 ? static_cast<float>(std::uniform_int_distribution<int>(0, distinct_values)(rng))
                                      : std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
            }
            if (order == 1) std::sort(scores.begin(), scores.end());
            if (order == 2) std::sort(scores.begin(), scores.end(), std::greater<float>());
            std::vector<std::pair<float, uint32_t>> heap;
            std::vector<std::pair<uint32_t, float>> top;
            SelectTopK(scores, k, floor, [](uint32_t i) { return i % 7 == 0; }, &heap, &top);
            std::vector<uint32_t> expected;
            for (uint32_t i = 0; i < scores.size(); ++i) {
              if (i % 7 != 0 && scores[i] > floor) expected.push_back(i);
            }
            std::stable_sort(expected.begin(), expected.end(),
                             [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
            expected.resize(std::min(k, expected.size()));
            ASSERT_EQ(top.size(), expected.size()) << size << " " << k;
            for (size_t i = 0; i < expected.size(); ++i) {
              ASSERT_EQ(top[i].first, expected[i]) << "order " << order << " size " << size << " k " << k << " rank " << i;
              ASSERT_EQ(top[i].second, scores[expected[i]]);
            }
          }
        }
      }
    }
  }
}

TEST(SparseTest, DistinctHistoryKeepsNewestPositionAndSumsWeights) {
  std::vector<HistoryEntry> history = {{5, 1}, {3, 2}, {5, 4}, {9, 1}, {99, 1}};
  std::vector<DistinctHistoryItem> distinct;
  DistinctHistory(history, 10, &distinct);
  ASSERT_EQ(distinct.size(), 3u);  // 99 is out of range
  EXPECT_EQ(distinct[0].item, 5u);
  EXPECT_FLOAT_EQ(distinct[0].weight, 5);
  EXPECT_EQ(distinct[0].first_index, 0);
  EXPECT_EQ(distinct[1].item, 3u);
  EXPECT_EQ(distinct[1].position, 1u);
  EXPECT_EQ(distinct[2].item, 9u);
  EXPECT_EQ(distinct[2].first_index, 3);
}

TEST(EaseTest, MatchesHandComputedThreeByThree) {
  // X^T X + I = [[3,2,1],[2,4,2],[1,2,3]]; its inverse is
  // [[.5,-.25,0],[-.25,.5,-.25],[0,-.25,.5]], so B_01 = B_10 = B_12 = B_21 = .5
  // and B_02 = B_20 = 0.
  Dataset data = MakeDataset(3, {{0, 1}, {1, 2}, {0, 1, 2}});
  ModelOptions options;
  options.ease.lambda = 1;
  EaseRecommender ease(options.ease);
  ASSERT_TRUE(ease.Fit(data, {}).ok());
  EXPECT_NEAR(ease.Weight(0, 1), 0.5, 1e-5);
  EXPECT_NEAR(ease.Weight(1, 0), 0.5, 1e-5);
  EXPECT_NEAR(ease.Weight(1, 2), 0.5, 1e-5);
  EXPECT_NEAR(ease.Weight(0, 2), 0.0, 1e-5);
  EXPECT_NEAR(ease.Weight(1, 1), 0.0, 1e-6);
  std::vector<float> scores = ScoreAll(ease, {{0}});
  EXPECT_NEAR(scores[0], 0.0, 1e-5);
  EXPECT_NEAR(scores[1], 0.5, 1e-5);
  EXPECT_NEAR(scores[2], 0.0, 1e-5);
  scores = ScoreAll(ease, {{0}, {2}});
  EXPECT_NEAR(scores[1], 1.0, 1e-5);
  std::vector<HistoryEntry> history = {{2}, {0}};
  EXPECT_EQ(ease.Explain(history, 1), 0);  // tie: the more recent item
}

TEST(EaseTest, RefusesCatalogAboveLimit) {
  ModelOptions options;
  options.ease.max_items = 2;
  EaseRecommender ease(options.ease);
  Status status = ease.Fit(MakeDataset(3, {{0, 1, 2}}), {});
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
}

TEST(CooccurrenceTest, CountsSessionsAndOrdersApartWithCosineShrinkage) {
  DatasetBuilder builder;
  for (int i = 0; i < 4; ++i) builder.AddItem(ItemMeta{.id = "i" + std::to_string(i)});
  // Views: session 1 = 0,1,2; session 2 = 0,1. Order: 2 and 3 bought together twice.
  builder.AddEvent(Event{.type = EventType::kView, .user_id = "a", .session_id = "s1", .item_id = "i0", .timestamp_ms = 1}, false);
  builder.AddEvent(Event{.type = EventType::kView, .user_id = "a", .session_id = "s1", .item_id = "i1", .timestamp_ms = 2}, false);
  builder.AddEvent(Event{.type = EventType::kView, .user_id = "a", .session_id = "s1", .item_id = "i2", .timestamp_ms = 3}, false);
  builder.AddEvent(Event{.type = EventType::kView, .user_id = "b", .session_id = "s2", .item_id = "i0", .timestamp_ms = 1}, false);
  builder.AddEvent(Event{.type = EventType::kView, .user_id = "b", .session_id = "s2", .item_id = "i1", .timestamp_ms = 2}, false);
  for (std::string user : {"c", "d"}) {
    builder.AddEvent(Event{.type = EventType::kPurchase, .user_id = user, .session_id = "o-" + user,
                           .lines = {{.item_id = "i2"}, {.item_id = "i3"}}, .timestamp_ms = 9}, false);
  }
  Dataset data = std::move(builder).Finish();
  ModelOptions options;
  options.cooccurrence.window = 1;  // 0 and 2 are two apart in s1: not counted
  options.cooccurrence.shrinkage = 1;
  CooccurrenceRecommender model(options.cooccurrence);
  ASSERT_TRUE(model.Fit(data, {}).ok());
  // Viewed together: views only (the order sessions o-c, o-d hold
  // purchases, and "viewed together" must mean viewed).
  // c_01 = 2, n_0 = 2, n_1 = 2 -> 2 / (2 + 1).
  EXPECT_NEAR(NeighborSimilarity(model.viewed_together(), 0, 1), 2.0 / 3, 1e-6);
  EXPECT_EQ(NeighborSimilarity(model.viewed_together(), 0, 2), 0);
  // c_12 = 1, n_1 = 2, n_2 = 1 -> 1 / (sqrt(2) + 1).
  EXPECT_NEAR(NeighborSimilarity(model.viewed_together(), 1, 2), 1 / (std::sqrt(2.0) + 1), 1e-6);
  EXPECT_EQ(NeighborSimilarity(model.viewed_together(), 2, 3), 0);
  EXPECT_EQ(model.Evidence(2, 3), CooccurrenceEvidence::kBoughtTogether);
  EXPECT_EQ(model.Evidence(1, 2), CooccurrenceEvidence::kViewedTogether);
  EXPECT_EQ(model.Evidence(0, 3), CooccurrenceEvidence::kNone);
  // Bought together: orders only. c_23 = 2, n_2 = n_3 = 2 -> 2 / 3.
  EXPECT_NEAR(NeighborSimilarity(model.bought_together(), 2, 3), 2.0 / 3, 1e-6);
  EXPECT_EQ(NeighborSimilarity(model.bought_together(), 0, 1), 0);

  std::vector<float> complement = ScoreAll(model, {{2}}, Relation::kComplement);
  EXPECT_GT(complement[3], 0);
  EXPECT_EQ(complement[1], 0);
  std::vector<float> substitute = ScoreAll(model, {{2}}, Relation::kSubstitute);
  EXPECT_GT(substitute[1], 0);
  std::vector<HistoryEntry> history = {{1}, {2}};
  EXPECT_EQ(model.Explain(history, 3), 1);  // 3 comes from item 2, the second entry
  EXPECT_EQ(model.Explain(history, 0), 0);
}

TEST(CooccurrenceTest, TopKEqualsRankingEveryItem) {
  std::mt19937 rng(5);
  DatasetBuilder builder;
  const int num_items = 400;
  for (int i = 0; i < num_items; ++i) builder.AddItem(ItemMeta{.id = "i" + std::to_string(i)});
  for (int a = 0; a < 300; ++a) {
    const std::string user = "u" + std::to_string(a), session = "s" + std::to_string(a);
    const int start = static_cast<int>(rng() % num_items);
    for (int j = 0; j < 6; ++j) {
      builder.AddEvent(Event{.type = EventType::kView, .user_id = user, .session_id = session,
                             .item_id = "i" + std::to_string((start + j * j) % num_items), .timestamp_ms = j + 1},
                       false);
    }
    builder.AddEvent(Event{.type = EventType::kPurchase, .user_id = user, .session_id = "o" + session,
                           .lines = {{.item_id = "i" + std::to_string(start)},
                                     {.item_id = "i" + std::to_string(rng() % num_items)}},
                           .timestamp_ms = 9},
                     false);
  }
  ModelOptions options;
  CooccurrenceRecommender model(options.cooccurrence);
  ASSERT_TRUE(model.Fit(std::move(builder).Finish(), {}).ok());
  std::vector<std::pair<float, uint32_t>> heap;
  std::vector<std::pair<uint32_t, float>> expected, top;
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<HistoryEntry> history;
    for (int j = 0; j <= trial % 15; ++j) history.push_back({static_cast<uint32_t>(rng() % num_items)});
    const Relation relation = trial % 3 == 0 ? Relation::kAny : trial % 3 == 1 ? Relation::kSubstitute : Relation::kComplement;
    const std::vector<float> scores = ScoreAll(model, history, relation);
    const float floor = trial % 4 == 0 ? -1.0f : trial % 4 == 1 ? 0.05f : 0.0f;
    const size_t k = trial % 5 == 0 ? 500 : 3 + trial % 20;
    auto skip = [&](uint32_t i) { return i % 4 == static_cast<uint32_t>(trial % 4); };
    SelectTopK(scores, k, floor, skip, &heap, &expected);
    model.TopK(history, relation, k, floor, skip, &top);
    ASSERT_EQ(top, expected) << "trial " << trial;  // also: no sums left over from the previous trial
    // Scores of chosen items are Score's, to the bit.
    const std::vector<uint32_t> items = {0, 7, static_cast<uint32_t>(trial), history[0].item, 399};
    std::vector<float> some(items.size());
    model.ScoreItems(history, relation, items, some);
    for (size_t i = 0; i < items.size(); ++i) ASSERT_EQ(some[i], scores[items[i]]) << "trial " << trial;
  }
}

// Two communities: users 0..29 use items 0..9, users 30..59 items 10..19.
Dataset TwoCommunities() {
  std::mt19937 rng(3);
  std::vector<std::vector<uint32_t>> actors;
  for (int u = 0; u < 60; ++u) {
    uint32_t base = u < 30 ? 0 : 10;
    std::vector<uint32_t> items;
    for (int k = 0; k < 5; ++k) items.push_back(base + rng() % 10);
    actors.push_back(items);
  }
  return MakeDataset(20, actors);
}

TEST(AlsTest, LossDecreasesAndCommunitiesSeparate) {
  Dataset data = TwoCommunities();
  ModelOptions options;
  options.als.factors = 8;
  options.als.iterations = 8;
  options.als.regularization = 0.1;
  options.als.alpha = 2;
  options.als.track_loss = true;
  AlsRecommender als(options.als);
  ASSERT_TRUE(als.Fit(data, {.threads = 2}).ok());
  const auto& loss = als.loss_history();
  ASSERT_EQ(loss.size(), 8u);
  EXPECT_LT(loss.back(), loss.front() * 0.9);
  for (size_t i = 1; i < loss.size(); ++i) EXPECT_LE(loss[i], loss[i - 1] * 1.001) << "iteration " << i;

  std::vector<float> scores = ScoreAll(als, {{1}, {2}, {3}});
  float inside = 0, outside = 0;
  for (int i = 0; i < 10; ++i) inside += scores[i];
  for (int i = 10; i < 20; ++i) outside += scores[i];
  EXPECT_GT(inside, outside + 1.0f);
  // The best item of each community is explained by that community's
  // history item.
  std::vector<HistoryEntry> history = {{15}, {2}};
  scores = ScoreAll(als, history);
  auto best_in = [&](uint32_t begin, uint32_t skip) {
    uint32_t best = begin == skip ? begin + 1 : begin;
    for (uint32_t i = begin; i < begin + 10; ++i) {
      if (i != skip && scores[i] > scores[best]) best = i;
    }
    return best;
  };
  EXPECT_EQ(als.Explain(history, best_in(0, 2)), 1);
  EXPECT_EQ(als.Explain(history, best_in(10, 15)), 0);
  const uint32_t items[] = {best_in(10, 15), best_in(0, 2), 99};
  int anchors[3];
  als.ExplainBatch(history, items, anchors);
  EXPECT_EQ(anchors[0], 0);
  EXPECT_EQ(anchors[1], 1);
  EXPECT_EQ(anchors[2], -1);  // not an item
}

TEST(AlsTest, TopKEqualsRankingEveryItem) {
  // Zipf-popular items, so that factor norms spread out and the scan stops
  // early; the result must still be exactly the full ranking's.
  std::mt19937 rng(11);
  const size_t num_items = 3000;
  std::vector<double> weights(num_items);
  for (size_t i = 0; i < num_items; ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
  std::discrete_distribution<uint32_t> popular(weights.begin(), weights.end());
  std::vector<std::vector<uint32_t>> actors(1500);
  for (auto& items : actors) {
    const uint32_t start = popular(rng);  // neighbouring items go together
    for (int j = 0; j < 8; ++j) items.push_back(j % 2 ? popular(rng) : (start + j) % num_items);
  }
  ModelOptions options;
  options.als.factors = 16;
  options.als.iterations = 4;
  AlsRecommender als(options.als);
  ASSERT_TRUE(als.Fit(MakeDataset(num_items, actors), {.threads = 2}).ok());
  std::vector<std::pair<float, uint32_t>> heap;
  std::vector<std::pair<uint32_t, float>> expected, top;
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<HistoryEntry> history;
    for (int j = 0; j <= trial % 12; ++j) history.push_back({popular(rng), 1.0f + j % 3});
    const std::vector<float> scores = ScoreAll(als, history);
    const size_t k = trial % 3 == 0 ? 200 : 10 + trial;
    const float floor = trial % 4 == 0 ? -1.0f : 0.0f;
    auto skip = [&](uint32_t i) { return i % 5 == static_cast<uint32_t>(trial % 5); };
    SelectTopK(scores, k, floor, skip, &heap, &expected);
    als.TopK(history, Relation::kAny, k, floor, skip, &top);
    ASSERT_EQ(top, expected) << "trial " << trial;
    // Chosen items' scores in full precision: Score's (half-precision rows) to rounding.
    const std::vector<uint32_t> items = {0, 1, 2999, top.empty() ? 5u : top[0].first};
    std::vector<float> some(items.size());
    als.ScoreItems(history, Relation::kAny, items, some);
    for (size_t i = 0; i < items.size(); ++i) {
      ASSERT_NEAR(some[i], scores[items[i]], 2e-3f * std::max(1.0f, std::abs(some[i]))) << "trial " << trial;
    }
  }
  // Each thread keeps its last fold-in: another model asked about the same
  // history must not get it.
  AlsRecommender other(options.als);
  ASSERT_TRUE(other.Fit(MakeDataset(num_items, actors), {.threads = 2, .seed = 99}).ok());
  const std::vector<HistoryEntry> history = {{1}, {2, 2.0f}};
  ScoreAll(als, {{5}});
  const std::vector<float> mine = ScoreAll(als, history);
  ScoreAll(other, {{5}});
  const std::vector<float> theirs = ScoreAll(other, history);
  EXPECT_NE(mine, theirs);
  EXPECT_EQ(ScoreAll(als, history), mine);
  AlsRecommender reloaded(options.als);
  const std::string path = TempPath("als_topk");
  ASSERT_TRUE(other.Save(path).ok());
  ASSERT_TRUE(reloaded.Load(path).ok());
  EXPECT_EQ(ScoreAll(reloaded, history), theirs);
  std::filesystem::remove(path);
  // No history: no evidence, as with every score 0.
  als.TopK({}, Relation::kAny, 5, 0.0f, nullptr, &top);
  EXPECT_TRUE(top.empty());
  als.TopK({}, Relation::kAny, 5, -1.0f, nullptr, &top);
  ASSERT_EQ(top.size(), 5u);
  EXPECT_EQ(top[0].first, 0u);
}

TEST(AlsTest, FitIsDeterministicForASeed) {
  Dataset data = TwoCommunities();
  ModelOptions options;
  options.als.factors = 4;
  options.als.iterations = 3;
  AlsRecommender a(options.als), b(options.als);
  ASSERT_TRUE(a.Fit(data, {.threads = 1, .seed = 9}).ok());
  ASSERT_TRUE(b.Fit(data, {.threads = 2, .seed = 9}).ok());
  EXPECT_TRUE(a.item_factors().isApprox(b.item_factors(), 1e-4f));
}

TEST(TrendingTest, RecentInteractionsOutweighOldOnes) {
  constexpr int64_t kDay = 86400000;
  DatasetBuilder builder;
  builder.AddItem(ItemMeta{.id = "old"});
  builder.AddItem(ItemMeta{.id = "new"});
  for (int i = 0; i < 3; ++i) builder.Add("u" + std::to_string(i), Interaction{.item = 0, .time_ms = 0});
  for (int i = 0; i < 2; ++i) builder.Add("v" + std::to_string(i), Interaction{.item = 1, .time_ms = 14 * kDay});
  Dataset data = std::move(builder).Finish();
  ModelOptions options;
  options.trending.half_life_days = 7;
  TrendingRecommender trending(options.trending);
  ASSERT_TRUE(trending.Fit(data, {}).ok());
  // old: 3 * 2^-2 = 0.75; new: 2 -> scaled by the top (2).
  EXPECT_FLOAT_EQ(trending.popularity()[1], 1.0f);
  EXPECT_FLOAT_EQ(trending.popularity()[0], 0.375f);
  options.trending.half_life_days = 0;
  TrendingRecommender plain(options.trending);
  ASSERT_TRUE(plain.Fit(data, {}).ok());
  EXPECT_GT(plain.popularity()[0], plain.popularity()[1]);
}

TEST(CategoryPopularTest, ScoresByTheHistorysCategorySharesAndRanksWithoutAScan) {
  // Items 0-29 in "a", 30-59 in "b", 60-89 in "c", 90-99 without a category;
  // item i is viewed by (i % 30) + 1 shoppers, so within a category higher
  // numbers are more popular.
  DatasetBuilder builder;
  for (int i = 0; i < 100; ++i) {
    ItemMeta meta{.id = "i" + std::to_string(i)};
    if (i < 90) meta.category = {"Shop", std::string(1, static_cast<char>('a' + i / 30))};
    builder.AddItem(std::move(meta));
  }
  for (int i = 0; i < 100; ++i) {
    for (int v = 0; v <= i % 30; ++v) builder.Add("u" + std::to_string(v), Interaction{.item = static_cast<uint32_t>(i)});
  }
  ModelOptions options;
  options.category_popular.recency_decay = 0.5;
  CategoryPopularRecommender model(options.category_popular);
  ASSERT_TRUE(model.Fit(std::move(builder).Finish(), {}).ok());
  EXPECT_EQ(model.category_name(model.category(31)), "b");
  EXPECT_EQ(model.category(95), 0u);

  // Newest first: an item of "a", then one of "b": shares 1/1.5 and 0.5/1.5.
  const std::vector<HistoryEntry> history = {{.item = 3}, {.item = 40}};
  std::vector<float> scores = ScoreAll(model, history);
  const float top = 30;  // the most viewed items have 30 views each
  EXPECT_NEAR(scores[29], (1 / 1.5f) * (30 / top), 1e-6);
  EXPECT_NEAR(scores[59], (0.5f / 1.5f) * (30 / top), 1e-6);
  EXPECT_EQ(scores[89], 0.0f);  // "c" is not in the history
  EXPECT_EQ(scores[99], 0.0f);
  EXPECT_EQ(model.Explain(history, 50), 1);
  EXPECT_EQ(model.Explain(history, 70), -1);

  std::vector<std::pair<float, uint32_t>> heap;
  std::vector<std::pair<uint32_t, float>> expected, top_k;
  for (int trial = 0; trial < 12; ++trial) {
    const size_t k = 1 + trial * 7;
    const float floor = trial % 3 == 0 ? -1.0f : 0.0f;
    auto skip = [&](uint32_t i) { return i % 4 == static_cast<uint32_t>(trial % 4); };
    SelectTopK(scores, k, floor, skip, &heap, &expected);
    model.TopK(history, Relation::kAny, k, floor, skip, &top_k);
    ASSERT_EQ(top_k, expected) << "trial " << trial;
  }
  const std::vector<uint32_t> items = {29, 59, 89, 99};
  std::vector<float> some(items.size());
  model.ScoreItems(history, Relation::kAny, items, some);
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(some[i], scores[items[i]]);

  const std::string path = TempPath("category_popular");
  ASSERT_TRUE(model.Save(path).ok());
  CategoryPopularRecommender loaded(options.category_popular);
  ASSERT_TRUE(loaded.Load(path).ok());
  EXPECT_EQ(ScoreAll(loaded, history), scores);
  std::filesystem::remove(path);
}

TEST(TrendingTest, TopKEqualsRankingEveryItemAndSurvivesSaveAndLoad) {
  std::mt19937 rng(3);
  DatasetBuilder builder;
  for (int i = 0; i < 300; ++i) builder.AddItem(ItemMeta{.id = "i" + std::to_string(i)});
  for (int a = 0; a < 2000; ++a) {
    // Many ties: popularity takes few distinct values.
    builder.Add("u" + std::to_string(a), Interaction{.item = static_cast<uint32_t>(rng() % 300 / 7), .time_ms = 0});
  }
  ModelOptions options;
  TrendingRecommender model(options.trending);
  ASSERT_TRUE(model.Fit(std::move(builder).Finish(), {}).ok());
  const std::string path = TempPath("trending");
  ASSERT_TRUE(model.Save(path).ok());
  TrendingRecommender loaded(options.trending);
  ASSERT_TRUE(loaded.Load(path).ok());
  std::filesystem::remove(path);
  std::vector<std::pair<float, uint32_t>> heap;
  std::vector<std::pair<uint32_t, float>> expected, top;
  const std::vector<float> scores = ScoreAll(model, {});
  for (int trial = 0; trial < 20; ++trial) {
    const float floor = trial % 3 == 0 ? -1.0f : trial % 3 == 1 ? 0.5f : 0.0f;
    const size_t k = 1 + trial * 3;
    auto skip = [&](uint32_t i) { return i % 5 == static_cast<uint32_t>(trial % 5); };
    SelectTopK(scores, k, floor, skip, &heap, &expected);
    loaded.TopK({}, Relation::kAny, k, floor, skip, &top);
    ASSERT_EQ(top, expected) << "trial " << trial;
  }
}

TEST(ContentTest, TokensAndNeighboursAndUnseenItems) {
  ItemMeta mug{.id = "mug", .title = "Red Ceramic Mug", .brand = "Acme", .category = {"Home", "Kitchen"}};
  EXPECT_EQ(ContentTokens(mug), (std::vector<std::string>{"b:acme", "c:home", "c:home/kitchen", "t:ceramic",
                                                          "t:mug", "t:red"}));
  DatasetBuilder builder;
  builder.AddItem(mug);
  builder.AddItem(ItemMeta{.id = "cup", .title = "Blue Ceramic Cup", .brand = "Acme", .category = {"Home", "Kitchen"}});
  builder.AddItem(ItemMeta{.id = "tent", .title = "Two person tent", .brand = "Trek", .category = {"Outdoor"}});
  builder.AddItem(ItemMeta{.id = "stove", .title = "Camping stove", .brand = "Trek", .category = {"Outdoor"}});
  for (int i = 0; i < 6; ++i) builder.AddItem(ItemMeta{.id = "x" + std::to_string(i), .title = "filler " + std::to_string(i)});
  Dataset data = std::move(builder).Finish();
  ModelOptions options;
  options.content.max_document_frequency = 0.5;
  ContentRecommender content(options.content);
  ASSERT_TRUE(content.Fit(data, {}).ok());
  std::vector<float> scores = ScoreAll(content, {{0}});
  EXPECT_GT(scores[1], 0.5f);  // cup shares brand, category and "ceramic"
  EXPECT_EQ(scores[2], 0);
  EXPECT_GT(ScoreAll(content, {{2}})[3], 0.5f);
  auto similar = content.SimilarTo(ItemMeta{.id = "new", .title = "Green ceramic mug", .brand = "acme"}, 2);
  ASSERT_EQ(similar.size(), 2u);
  EXPECT_EQ(similar[0].first, 0u);  // the mug: brand, "ceramic" and "mug"
  EXPECT_EQ(similar[1].first, 1u);
}

TEST(RecommenderTest, FactoryKnowsEveryNameAndSnapshotsRoundTrip) {
  Dataset data = TwoCommunities();
  for (auto& meta : data.items) meta.title = "item " + meta.id + (meta.id < "i5" ? " red" : " blue");
  ModelOptions options;
  options.als.factors = 4;
  options.als.iterations = 2;
  EXPECT_FALSE(CreateRecommender("nope", options).ok());
  for (const std::string& name : RecommenderNames()) {
    SCOPED_TRACE(name);
    auto created = CreateRecommender(name, options);
    ASSERT_TRUE(created.ok());
    std::unique_ptr<Recommender> model = std::move(created).value();
    EXPECT_EQ(model->name(), name);
    ASSERT_TRUE(model->Fit(data, {}).ok());
    std::string path = TempPath("model-" + name);
    ASSERT_TRUE(model->Save(path).ok());
    auto restored = std::move(CreateRecommender(name, options)).value();
    ASSERT_TRUE(restored->Load(path).ok());
    std::vector<HistoryEntry> history = {{1}, {4, 3}};
    EXPECT_EQ(ScoreAll(*model, history), ScoreAll(*restored, history));

    // A truncated file and another model's file are refused.
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
    auto other = std::move(CreateRecommender(name, options)).value();
    EXPECT_EQ(other->Load(path).code(), StatusCode::kCorruption);
    std::string other_path = TempPath("model-other-" + name);
    auto trending = std::move(CreateRecommender(name == "trending" ? "content" : "trending", options)).value();
    ASSERT_TRUE(trending->Fit(data, {}).ok());
    ASSERT_TRUE(trending->Save(other_path).ok());
    EXPECT_EQ(other->Load(other_path).code(), StatusCode::kCorruption);
    std::filesystem::remove(path);
    std::filesystem::remove(other_path);
  }
}

}  // namespace
}  // namespace vitrina
