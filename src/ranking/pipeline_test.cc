#include "ranking/pipeline.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

namespace vitrina {
namespace {

constexpr int64_t kDay = 86400000;
constexpr int64_t kStart = 1700000000000;  // 2023-11-14

// A shop with a known signal no single model sees whole: every shopper
// re-buys two personal staples (of 40) every 6-10 days, and each order also
// holds a one-off gift whose complement (the other item of its pair) comes
// in the next order. 120 days of orders.
// With `served_lists`, the shop also showed each shopper three lists of
// eight gifts in the last 28 days, and they clicked the cheapest of each.
Dataset RepeatShop(uint64_t seed, size_t shoppers = 400, bool served_lists = false) {
  std::mt19937_64 rng(seed);
  DatasetBuilder builder;
  for (uint32_t i = 0; i < 240; ++i) {
    ItemMeta meta{.id = "i" + std::to_string(i), .price = 1.0 + i % 50};
    meta.category = i < 40 ? std::vector<std::string>{"Pantry"} : std::vector<std::string>{"Gifts", "g" + std::to_string(i % 10)};
    builder.AddItem(std::move(meta));
  }
  uint32_t order = 1;
  for (size_t a = 0; a < shoppers; ++a) {
    const std::string actor = "u" + std::to_string(a);
    const uint32_t first = static_cast<uint32_t>(rng() % 40);
    const uint32_t second = (first + 1 + static_cast<uint32_t>(rng() % 39)) % 40;
    int64_t t = kStart + static_cast<int64_t>(rng() % 5) * kDay;
    int64_t complement = -1;
    while (t < kStart + 120 * kDay) {
      auto buy = [&](uint32_t item) {
        builder.Add(actor, Interaction{.item = item, .signal = Signal::kPurchase, .weight = 5, .time_ms = t, .order = order});
      };
      if (rng() % 10 < 8) buy(first);
      if (rng() % 10 < 8) buy(second);
      if (complement >= 0) buy(static_cast<uint32_t>(complement));
      const uint32_t gift = 40 + 2 * static_cast<uint32_t>(rng() % 100);
      buy(gift);
      complement = gift + 1;
      ++order;
      t += (6 + static_cast<int64_t>(rng() % 5)) * kDay;
    }
    for (int list = 0; served_lists && list < 3; ++list) {
      const int64_t at = kStart + (93 + 9 * list + static_cast<int64_t>(rng() % 5)) * kDay;
      const std::string id = actor + "-list" + std::to_string(list);
      std::vector<std::string> shown;
      uint32_t cheapest = 0;
      for (int slot = 0; slot < 8; ++slot) {
        const uint32_t gift = 40 + static_cast<uint32_t>(rng() % 200);
        shown.push_back("i" + std::to_string(gift));
        if (slot == 0 || gift % 50 < cheapest % 50) cheapest = gift;
      }
      builder.AddServedList(id, actor, at, shown);
      builder.AddEvent(Event{.type = EventType::kClick, .user_id = actor, .item_id = "i" + std::to_string(cheapest),
                             .timestamp_ms = at + 60000, .recommendation_id = id},
                       false);
    }
  }
  return std::move(builder).Finish();
}

// Of the pairs of items ranked for `history` (those `skip` lets through),
// the share ranked cheaper first.
double CheaperFirst(const PipelineRecommender& pipeline, const Dataset& data, std::span<const HistoryEntry> history,
                    const std::function<bool(uint32_t)>& skip) {
  RankScratch scratch;
  std::vector<RankedCandidate> ranked;
  pipeline.Rank(history, {.now_ms = data.MaxTime()}, 1000, skip, &scratch, &ranked);
  size_t concordant = 0, pairs = 0;
  for (size_t a = 0; a < ranked.size(); ++a) {
    for (size_t b = a + 1; b < ranked.size(); ++b) {
      const double pa = *data.items[ranked[a].item].price, pb = *data.items[ranked[b].item].price;
      if (pa == pb) continue;
      ++pairs;
      concordant += pa < pb;
    }
  }
  return pairs == 0 ? 0 : static_cast<double>(concordant) / static_cast<double>(pairs);
}

// NDCG@10 of `model` for every shopper who bought after `cut`, trained on
// what came before it (the temporal protocol, history items ranked).
double TemporalNdcg(const Dataset& data, int64_t cut, Recommender* model, const FitOptions& fit = {}) {
  std::vector<uint32_t> keep(data.num_actors());
  std::vector<std::pair<std::vector<HistoryEntry>, std::vector<uint32_t>>> cases;
  for (uint32_t a = 0; a < data.num_actors(); ++a) {
    auto interactions = data.ActorInteractions(a);
    keep[a] = CountBefore(interactions, cut);
    if (keep[a] == 0 || keep[a] == interactions.size()) continue;
    std::vector<uint32_t> targets;
    for (const Interaction& later : interactions.subspan(keep[a])) targets.push_back(later.item);
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    cases.emplace_back(HistoryOf(interactions.first(keep[a]), 200), std::move(targets));
  }
  EXPECT_TRUE(model->Fit(KeepPrefixes(data, keep), fit).ok());
  double sum = 0;
  std::vector<std::pair<uint32_t, float>> top;
  for (const auto& [history, targets] : cases) {
    model->TopK(history, Relation::kAny, 10, -INFINITY, nullptr, &top);
    double dcg = 0, ideal = 0;
    for (size_t r = 0; r < top.size(); ++r) {
      if (std::binary_search(targets.begin(), targets.end(), top[r].first)) dcg += 1 / std::log2(r + 2.0);
    }
    for (size_t r = 0; r < std::min<size_t>(10, targets.size()); ++r) ideal += 1 / std::log2(r + 2.0);
    sum += dcg / ideal;
  }
  return sum / static_cast<double>(cases.size());
}

ModelOptions PipelineOptions(const std::string& sources) {
  ModelOptions options;
  options.pipeline.sources = sources;
  options.pipeline.rounds = 120;
  return options;
}

TEST(PipelineTest, BeatsEachOfItsSourcesOnAShopWithAKnownSignal) {
  const Dataset data = RepeatShop(11);
  const int64_t cut = kStart + 92 * kDay;
  ModelOptions options = PipelineOptions("trending,cooccurrence");
  auto trending = CreateRecommender("trending", options);
  auto cooccurrence = CreateRecommender("cooccurrence", options);
  ASSERT_TRUE(trending.ok() && cooccurrence.ok());
  const double best_source = std::max(TemporalNdcg(data, cut, trending->get()), TemporalNdcg(data, cut, cooccurrence->get()));
  PipelineRecommender pipeline(options);
  const double ranked = TemporalNdcg(data, cut, &pipeline, {.threads = 2});
  EXPECT_GT(pipeline.training_groups(), 300u);
  EXPECT_GT(ranked, 1.25 * best_source) << "pipeline " << ranked << ", best source " << best_source;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))).string();
}

TEST(PipelineTest, RanksCandidatesRespectsSkipAndRoundTripsWithGivenSources) {
  const Dataset data = RepeatShop(12, 150);
  ModelOptions options = PipelineOptions("trending,cooccurrence");
  PipelineRecommender pipeline(options);
  ASSERT_TRUE(pipeline.Fit(data, {.threads = 2}).ok());
  ASSERT_EQ(pipeline.num_items(), data.num_items());
  EXPECT_EQ(pipeline.feature_names().size(), 2 * kFeaturesPerSource + kFixedFeatures);
  EXPECT_EQ(pipeline.feature_names()[0], "trending_score");
  EXPECT_EQ(pipeline.feature_names()[3], "cooccurrence_rank");

  const std::vector<HistoryEntry> history = HistoryOf(data.ActorInteractions(0), 200);
  RankScratch scratch;
  std::vector<RankedCandidate> ranked;
  const RankContext context{.now_ms = data.MaxTime()};
  pipeline.Rank(history, context, 10, nullptr, &scratch, &ranked);
  ASSERT_EQ(ranked.size(), 10u);
  for (size_t i = 1; i < ranked.size(); ++i) EXPECT_GE(ranked[i - 1].score, ranked[i].score);
  // The shopper's staples (bought every week) lead.
  const uint32_t staple = std::find_if(history.begin(), history.end(), [](const HistoryEntry& h) { return h.item < 40; })->item;
  EXPECT_TRUE(std::any_of(ranked.begin(), ranked.begin() + 3, [&](const RankedCandidate& c) { return c.item == staple; }));

  // Skipped items never come back.
  auto skip = [&](uint32_t item) { return item < 40; };
  pipeline.Rank(history, context, 10, skip, &scratch, &ranked);
  ASSERT_FALSE(ranked.empty());
  for (const RankedCandidate& c : ranked) EXPECT_GE(c.item, 40u);

  // Saved and loaded, with the same sources given back, it ranks the same.
  std::vector<std::pair<uint32_t, float>> before, after;
  pipeline.TopK(history, Relation::kAny, 10, -INFINITY, nullptr, &before);
  const std::string path = TempPath("pipeline");
  ASSERT_TRUE(pipeline.Save(path).ok());
  PipelineRecommender loaded(options);
  ASSERT_TRUE(loaded.Load(path).ok());
  EXPECT_EQ(loaded.UseSources({pipeline.source(1), pipeline.source(0)}).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(loaded.UseSources({pipeline.source(0), pipeline.source(1)}).ok());
  loaded.TopK(history, Relation::kAny, 10, -INFINITY, nullptr, &after);
  EXPECT_EQ(before, after);
  std::filesystem::remove(path);

  // Given the sources before Fit, it trains only the ranker, to the same model.
  PipelineRecommender given(options);
  ASSERT_TRUE(given.UseSources({pipeline.source(0), pipeline.source(1)}).ok());
  ASSERT_TRUE(given.Fit(data, {.threads = 2}).ok());
  given.TopK(history, Relation::kAny, 10, -INFINITY, nullptr, &after);
  EXPECT_EQ(before, after);
}

TEST(PipelineTest, LearnsFromServedListsAndWhatWasClickedInThem) {
  const Dataset data = RepeatShop(14, 300, /*served_lists=*/true);
  ASSERT_EQ(data.impressions.size(), 900u);
  EXPECT_EQ(data.impressions[0].shown.size(), 8u);
  ASSERT_EQ(data.impressions[0].taken.size(), 1u);
  ModelOptions options = PipelineOptions("trending,cooccurrence");
  options.pipeline.min_served_lists = 100;
  PipelineRecommender served(options);
  ASSERT_TRUE(served.Fit(data, {.threads = 2}).ok());
  EXPECT_TRUE(served.learned_from_served_lists());
  EXPECT_EQ(served.training_groups(), 900u);
  options.pipeline.min_served_lists = 1000;  // more than there are: what shoppers took next
  PipelineRecommender taken(options);
  ASSERT_TRUE(taken.Fit(data, {.threads = 2}).ok());
  EXPECT_FALSE(taken.learned_from_served_lists());

  // Among gifts (staples and the shopper's own items left out), the ranker
  // that learned from the clicks puts the cheaper ones first.
  const std::vector<HistoryEntry> history = HistoryOf(data.ActorInteractions(3), 200);
  auto gifts_only = [&](uint32_t item) {
    return item < 40 || std::any_of(history.begin(), history.end(), [&](const HistoryEntry& h) { return h.item == item; });
  };
  const double learned = CheaperFirst(served, data, history, gifts_only);
  const double unlearned = CheaperFirst(taken, data, history, gifts_only);
  // (Clicks are interactions too, so cheap gifts grew a little more popular
  // for both rankers.)
  EXPECT_GT(learned, 0.85) << "unlearned " << unlearned;
  EXPECT_GT(learned - unlearned, 0.12) << "learned " << learned << ", unlearned " << unlearned;
}

TEST(PipelineTest, RefusesWhatItCannotLearnFrom) {
  ModelOptions options = PipelineOptions("");
  PipelineRecommender no_sources(options);
  EXPECT_EQ(no_sources.Fit(RepeatShop(13, 20), {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(no_sources.UseSources({}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(no_sources.UseSources({nullptr}).code(), StatusCode::kInvalidArgument);

  PipelineRecommender pipeline(PipelineOptions("trending"));
  DatasetBuilder builder;
  builder.AddItem(ItemMeta{.id = "a"});
  builder.Add("u", Interaction{.item = 0, .time_ms = kStart});
  EXPECT_EQ(pipeline.Fit(std::move(builder).Finish(), {}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CreateModel("pipelines", {}).status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(CreateModel("pipeline", {}).ok());
  EXPECT_EQ((*CreateModel("pipeline", {}))->name(), "pipeline");
}

TEST(FeaturesTest, ShopperProfileMatchesHandComputedValues) {
  DatasetBuilder builder;
  builder.AddItem(ItemMeta{.id = "mug", .brand = "Acme", .category = {"Home", "Kitchen"}, .price = 9});
  builder.AddItem(ItemMeta{.id = "cup", .brand = "Acme", .category = {"Home", "Kitchen"}, .price = 3});
  builder.AddItem(ItemMeta{.id = "lamp", .category = {"Home", "Light"}, .price = 99});
  builder.Add("u", Interaction{.item = 0, .signal = Signal::kPurchase, .weight = 5, .time_ms = kStart, .order = 1});
  builder.Add("u", Interaction{.item = 0, .signal = Signal::kPurchase, .weight = 5, .time_ms = kStart + 3 * kDay, .order = 2});
  builder.Add("v", Interaction{.item = 0, .weight = 1, .time_ms = kStart});
  builder.Add("v", Interaction{.item = 1, .weight = 1, .time_ms = kStart + 1});
  const Dataset data = std::move(builder).Finish();
  const ItemStats stats = ItemStats::Compute(data);
  EXPECT_FLOAT_EQ(stats.repeat_rate[0], 0.5f);  // u came back to the mug, v did not
  EXPECT_FLOAT_EQ(stats.popularity[0], std::log1p(11.0f));
  EXPECT_EQ(stats.category[0], stats.category[1]);
  EXPECT_NE(stats.category[0], stats.category[2]);
  EXPECT_EQ(stats.brand[2], 0u);

  // History, newest first: viewed the cup a day ago, bought the mug 10 days ago.
  const int64_t now = kStart + 10 * kDay;
  std::vector<HistoryEntry> history = {{.item = 1, .weight = 1, .signal = Signal::kView, .time_ms = now - kDay},
                                       {.item = 0, .weight = 5, .signal = Signal::kPurchase, .time_ms = now - 10 * kDay}};
  ShopperProfile profile;
  profile.Build(history, stats, now);
  std::vector<float> out(kFixedFeatures);
  auto at = [&](Feature f) { return out[static_cast<size_t>(f)]; };
  profile.Fill(0, stats, {.device = "Mobile", .page = "/product/mug"}, out);
  EXPECT_FLOAT_EQ(at(Feature::kHistoryItemWeight), std::log1p(5.0f));
  EXPECT_EQ(at(Feature::kHistoryItemBuys), 1);
  EXPECT_FLOAT_EQ(at(Feature::kHistoryItemDays), 10);
  EXPECT_EQ(at(Feature::kHistoryItemSignal), 2);
  EXPECT_FLOAT_EQ(at(Feature::kCategoryShare), 1);  // both history items are in Kitchen
  EXPECT_FLOAT_EQ(at(Feature::kCategoryDays), 1);
  EXPECT_FLOAT_EQ(at(Feature::kBrandShare), 1);
  const float usual = (1 * std::log1p(3.0f) + 5 * std::log1p(9.0f)) / 6;
  EXPECT_NEAR(at(Feature::kPriceVsUsual), std::log1p(9.0f) - usual, 1e-6);
  EXPECT_FLOAT_EQ(at(Feature::kShopperIdleDays), 1);
  EXPECT_FLOAT_EQ(at(Feature::kShopperBuyShare), 0.5f);
  EXPECT_EQ(at(Feature::kContextDevice), 1);
  EXPECT_EQ(at(Feature::kContextPage), 1);
  EXPECT_EQ(at(Feature::kContextWeekday), 4);  // 2023-11-24 was a Friday
  EXPECT_FLOAT_EQ(at(Feature::kItemAgeDays), 10);

  profile.Fill(2, stats, {}, out);  // the lamp: never touched, no brand, another category
  EXPECT_TRUE(std::isnan(at(Feature::kHistoryItemDays)));
  EXPECT_EQ(at(Feature::kHistoryItemBuys), 0);
  EXPECT_EQ(at(Feature::kCategoryShare), 0);
  EXPECT_TRUE(std::isnan(at(Feature::kCategoryDays)));
  EXPECT_TRUE(std::isnan(at(Feature::kBrandShare)));
  EXPECT_TRUE(std::isnan(at(Feature::kContextDevice)));
  EXPECT_TRUE(std::isnan(at(Feature::kItemAgeDays)));  // never seen in the data
  EXPECT_EQ(std::vector<uint32_t>(profile.recent_items().begin(), profile.recent_items().end()),
            (std::vector<uint32_t>{1, 0}));
}

TEST(FeaturesTest, CountryShareIsTheItemsShareOfShoppersFromTheRequestsCountry) {
  DatasetBuilder builder;
  builder.AddItem(ItemMeta{.id = "mug"});
  builder.AddItem(ItemMeta{.id = "cup"});
  builder.AddItem(ItemMeta{.id = "lamp"});
  auto view = [&](std::string user, std::string item, std::string country) {
    builder.AddEvent(Event{.type = EventType::kView, .user_id = user, .item_id = item, .timestamp_ms = kStart,
                           .context = {.country = country}},
                     false);
  };
  view("u", "mug", "United Kingdom");
  view("u", "cup", "United Kingdom");
  view("v", "mug", "France");
  view("w", "lamp", "");  // no country
  const Dataset data = std::move(builder).Finish();
  ASSERT_EQ(data.countries.size(), 3u);  // "", United Kingdom, France
  EXPECT_EQ(data.countries[data.actor_countries[0]], "United Kingdom");
  const ItemStats stats = ItemStats::Compute(data);
  const int uk = stats.CountryIndex("united kingdom");
  ASSERT_GT(uk, 0);
  EXPECT_EQ(stats.CountryIndex("Spain"), -1);
  EXPECT_FLOAT_EQ(stats.CountryShare(0, uk), 0.5f);
  EXPECT_FLOAT_EQ(stats.CountryShare(1, uk), 1.0f);
  EXPECT_FLOAT_EQ(stats.CountryShare(1, stats.CountryIndex("France")), 0.0f);
  EXPECT_FLOAT_EQ(stats.CountryShare(2, uk), 0.0f);

  ShopperProfile profile;
  std::vector<float> out(kFixedFeatures);
  const size_t feature = static_cast<size_t>(Feature::kContextCountryShare);
  profile.Build({}, stats, kStart, "United Kingdom");
  profile.Fill(0, stats, {}, out);
  EXPECT_FLOAT_EQ(out[feature], 0.5f);
  profile.Build({}, stats, kStart, "Spain");  // no shopper from there: unknown
  profile.Fill(0, stats, {}, out);
  EXPECT_TRUE(std::isnan(out[feature]));
}

}  // namespace
}  // namespace vitrina
