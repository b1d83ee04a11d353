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
