#include "models/sasrec.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace vitrina {
namespace {

// Shoppers walk the catalog in steps of 1 or 3 (their own), from a random
// start, with 10% random jumps: the next item depends on the last two, which
// no popularity or co-occurrence count of single items captures fully.
Dataset WalkDataset(size_t items, size_t actors, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Dataset data;
  for (size_t i = 0; i < items; ++i) data.items.push_back({.id = "i" + std::to_string(i)});
  for (size_t a = 0; a < actors; ++a) {
    data.actor_ids.push_back("u" + std::to_string(a));
    const uint32_t step = rng() % 2 == 0 ? 1 : 3;
    uint32_t item = static_cast<uint32_t>(rng() % items);
    const size_t length = 8 + rng() % 12;
    for (size_t t = 0; t < length; ++t) {
      data.interactions.push_back({.item = item, .time_ms = static_cast<int64_t>(t)});
      item = rng() % 10 == 0 ? static_cast<uint32_t>(rng() % items) : static_cast<uint32_t>((item + step) % items);
    }
    data.offsets.push_back(static_cast<uint32_t>(data.interactions.size()));
  }
  return data;
}

ModelOptions::SasRec SmallOptions() {
  ModelOptions::SasRec o;
  o.dim = 16;
  o.blocks = 1;
  o.heads = 2;
  o.max_length = 10;
  o.dropout = 0.1;
  o.learning_rate = 5e-3;
  o.batch_size = 64;
  o.max_epochs = 40;
  o.patience = 5;
  o.validation_users = 200;
  return o;
}

// The rank of `item` among the scores (0 = best).
size_t RankOf(const std::vector<float>& scores, uint32_t item) {
  size_t above = 0;
  for (float s : scores) above += s > scores[item];
  return above;
}

TEST(SasRecTest, LearnsEachShoppersStepAndStopsEarly) {
  Dataset data = WalkDataset(60, 600, 1);
  SasRecRecommender model(SmallOptions());
  ASSERT_TRUE(model.Fit(data, {.threads = 2, .seed = 7}).ok());
  ASSERT_FALSE(model.epochs().empty());
  EXPECT_LT(model.epochs().back().loss, model.epochs().front().loss);
  const double best = model.epochs()[static_cast<size_t>(model.best_epoch())].validation_ndcg;
  // 90% of steps follow the walk; a random guess would score about 0.04.
  EXPECT_GT(best, 0.7);
  // Unseen shoppers: 5, 6, 7 walks in steps of 1, then 40, 43 in steps of 3.
  std::vector<float> scores(60);
  std::vector<HistoryEntry> ones = {{7}, {6}, {5}};  // newest first
  model.Score(ones, Relation::kAny, scores);
  EXPECT_EQ(RankOf(scores, 8), 0u);
  for (float s : scores) {
    EXPECT_GT(s, 0.0f);
    EXPECT_LE(s, 1.0f);
  }
  std::vector<HistoryEntry> threes = {{43}, {40}};
  model.Score(threes, Relation::kAny, scores);
  EXPECT_EQ(RankOf(scores, 46), 0u);
}

TEST(SasRecTest, TrainingIsDeterministicForASeed) {
  Dataset data = WalkDataset(30, 200, 2);
  ModelOptions::SasRec o = SmallOptions();
  o.max_epochs = 3;
  SasRecRecommender a(o), b(o);
  ASSERT_TRUE(a.Fit(data, {.threads = 2, .seed = 3}).ok());
  ASSERT_TRUE(b.Fit(data, {.threads = 2, .seed = 3}).ok());
  std::vector<float> sa(30), sb(30);
  std::vector<HistoryEntry> history = {{4}, {3}};
  a.Score(history, Relation::kAny, sa);
  b.Score(history, Relation::kAny, sb);
  EXPECT_EQ(sa, sb);
  EXPECT_EQ(a.epochs().back().loss, b.epochs().back().loss);
}

TEST(SasRecTest, SavesAndLoadsTheSameScoresAndRejectsATruncatedFile) {
  Dataset data = WalkDataset(30, 200, 3);
  ModelOptions::SasRec o = SmallOptions();
  o.max_epochs = 2;
  SasRecRecommender model(o);
  ASSERT_TRUE(model.Fit(data, {.threads = 1, .seed = 1}).ok());
  const std::string path = (std::filesystem::temp_directory_path() / "vitrina_sasrec_test.bin").string();
  ASSERT_TRUE(model.Save(path).ok());
  SasRecRecommender loaded(ModelOptions::SasRec{});  // shape comes from the file
  ASSERT_TRUE(loaded.Load(path).ok());
  EXPECT_EQ(loaded.num_items(), 30u);
  std::vector<float> a(30), b(30);
  std::vector<HistoryEntry> history = {{9}, {8}, {7}};
  model.Score(history, Relation::kAny, a);
  loaded.Score(history, Relation::kAny, b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(model.Explain(history, 10), loaded.Explain(history, 10));

  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 5);
  SasRecRecommender truncated(o);
  Status status = truncated.Load(path);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kCorruption) << status.message();
  std::filesystem::remove(path);
}

TEST(ItemFeaturesTest, KeepsSharedCategoryLevelsBrandsAndTagsAndIsItsOwnAdjoint) {
  Dataset data;
  data.items = {{.id = "a", .brand = "Acme", .category = {"Home", "Mugs"}, .tags = {"red"}},
                {.id = "b", .brand = "Acme", .category = {"Home", "Cups"}, .tags = {"red", "red"}},
                {.id = "c", .brand = "Solo", .category = {"Garden"}},
                {.id = "d"}};
  const ItemFeatures features = BuildItemFeatures(data, 2);
  // Shared by 2+ items: "c:Home", "b:Acme", "t:red"; not Home/Mugs, Home/Cups, Garden, Solo.
  EXPECT_EQ(features.num_features, 3u);
  ASSERT_EQ(features.offsets, (std::vector<uint32_t>{0, 3, 6, 6, 6}));

  // Compose adds the mean of the item's feature rows; Backpropagate is its
  // adjoint: <G, M F> == <M^T G, F> for any G, F.
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal;
  ItemFeatures::Mat items(4, 2), table(3, 2), gradient(4, 2), composed, back(3, 2);
  for (auto* m : {&items, &table, &gradient}) {
    for (Eigen::Index i = 0; i < m->size(); ++i) m->data()[i] = normal(rng);
  }
  features.Compose(items, table, &composed);
  EXPECT_TRUE(composed.row(2).isApprox(items.row(2)));
  EXPECT_TRUE(composed.row(0).isApprox(items.row(0) + table.colwise().sum() / 3.0f, 1e-5f));
  features.Backpropagate(gradient, &back);
  const float lhs = (gradient.array() * (composed - items).array()).sum();
  const float rhs = (back.array() * table.array()).sum();
  EXPECT_NEAR(lhs, rhs, 1e-4f * std::max(1.0f, std::abs(lhs)));
}

// Six categories of ten items; shoppers browse one category at random, and
// the last item of each category is never seen. Its category's vector is
// all that can place it.
TEST(SasRecTest, ItemFeaturesPlaceItemsNoShopperHasSeen) {
  Dataset data;
  for (size_t i = 0; i < 60; ++i) {
    data.items.push_back({.id = "i" + std::to_string(i), .category = {"cat" + std::to_string(i / 10)}});
  }
  std::mt19937_64 rng(9);
  for (size_t a = 0; a < 600; ++a) {
    data.actor_ids.push_back("u" + std::to_string(a));
    const size_t category = rng() % 6;
    for (int t = 0; t < 8; ++t) {
      data.interactions.push_back({.item = static_cast<uint32_t>(10 * category + rng() % 9), .time_ms = t});
    }
    data.offsets.push_back(static_cast<uint32_t>(data.interactions.size()));
  }
  auto mean_cold_rank = [&](bool item_features) {
    ModelOptions::SasRec o = SmallOptions();
    o.max_epochs = 15;
    o.validation_users = 0;
    o.item_features = item_features;
    SasRecRecommender model(o);
    EXPECT_TRUE(model.Fit(data, {.threads = 2, .seed = 4}).ok());
    std::vector<float> scores(60);
    double total = 0;
    for (uint32_t category = 0; category < 6; ++category) {
      std::vector<HistoryEntry> history = {{10 * category + 2}, {10 * category + 5}, {10 * category + 1}};
      model.Score(history, Relation::kAny, scores);
      total += static_cast<double>(RankOf(scores, 10 * category + 9));
    }
    return total / 6;
  };
  const double with_features = mean_cold_rank(true), without = mean_cold_rank(false);
  // Nine seen items of the category may rank first; the cold one should
  // come right after them, ahead of the 50 items of other categories.
  EXPECT_LT(with_features, 12.0);
  EXPECT_GT(without, 15.0);
}

// 2,000 items: each step's softmax covers its targets and 300 uniform draws
// (64 shoppers x 10 positions + 300 < 2,000), and still learns the walks.
TEST(SasRecTest, SampledSoftmaxLearnsTheWalksOfALargerCatalog) {
  Dataset data = WalkDataset(2000, 3000, 5);
  ModelOptions::SasRec o = SmallOptions();
  o.negatives = 300;
  o.max_epochs = 8;
  o.validation_users = 300;
  SasRecRecommender model(o);
  ASSERT_TRUE(model.Fit(data, {.threads = 2, .seed = 7}).ok());
  double best = 0;
  for (const EpochLog& log : model.epochs()) best = std::max(best, log.validation_ndcg);
  // Full-catalog NDCG@10 of the held-out step; random ranking would give
  // about 0.003, the full softmax about 0.75 after 20 epochs.
  EXPECT_GT(best, 0.5);
  EXPECT_LT(model.epochs().back().loss, model.epochs().front().loss);
}

TEST(SasRecTest, RejectsAShapeThatDoesNotDivideIntoHeads) {
  ModelOptions::SasRec o = SmallOptions();
  o.heads = 3;
  SasRecRecommender model(o);
  Status status = model.Fit(WalkDataset(10, 20, 4), {});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("heads"), std::string::npos);
}

}  // namespace
}  // namespace vitrina
