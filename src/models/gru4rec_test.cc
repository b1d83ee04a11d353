#include "models/gru4rec.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace vitrina {
namespace {

// Shoppers walk the catalog in steps of 1 from a random start, with 10%
// random jumps: the next item is the last one plus one.
Dataset WalkDataset(size_t items, size_t actors, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Dataset data;
  for (size_t i = 0; i < items; ++i) data.items.push_back({.id = "i" + std::to_string(i)});
  for (size_t a = 0; a < actors; ++a) {
    data.actor_ids.push_back("u" + std::to_string(a));
    uint32_t item = static_cast<uint32_t>(rng() % items);
    const size_t length = 5 + rng() % 10;
    for (size_t t = 0; t < length; ++t) {
      data.interactions.push_back({.item = item, .time_ms = static_cast<int64_t>(t)});
      item = rng() % 10 == 0 ? static_cast<uint32_t>(rng() % items) : static_cast<uint32_t>((item + 1) % items);
    }
    data.offsets.push_back(static_cast<uint32_t>(data.interactions.size()));
  }
  return data;
}

ModelOptions::Gru4Rec SmallOptions(const std::string& loss) {
  ModelOptions::Gru4Rec o;
  o.hidden = 24;
  o.batch_size = 16;
  o.samples = 20;
  o.loss = loss;
  o.learning_rate = 0.1;
  o.momentum = loss == "bpr-max" ? 0.3 : 0;
  o.elu = loss == "bpr-max" ? 0.5 : 0;
  o.max_epochs = 30;
  o.patience = 5;
  o.validation_users = 150;
  return o;
}

size_t RankOf(const std::vector<float>& scores, uint32_t item) {
  size_t above = 0;
  for (float s : scores) above += s > scores[item];
  return above;
}

class Gru4RecLossTest : public ::testing::TestWithParam<std::string> {};

TEST_P(Gru4RecLossTest, LearnsTheWalkWithSessionParallelBatches) {
  Dataset data = WalkDataset(50, 500, 1);
  Gru4RecRecommender model(SmallOptions(GetParam()));
  ASSERT_TRUE(model.Fit(data, {.threads = 2, .seed = 5}).ok());
  ASSERT_FALSE(model.epochs().empty());
  EXPECT_LT(model.epochs().back().loss, model.epochs().front().loss);
  // 90% of steps follow the walk; a random guess scores about 0.05.
  EXPECT_GT(model.epochs()[static_cast<size_t>(model.best_epoch())].validation_ndcg, 0.6);
  std::vector<float> scores(50);
  std::vector<HistoryEntry> history = {{22}, {21}, {20}};  // newest first
  model.Score(history, Relation::kAny, scores);
  EXPECT_EQ(RankOf(scores, 23), 0u);
  for (float s : scores) {
    EXPECT_GT(s, 0.0f);
    EXPECT_LE(s, 1.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(Losses, Gru4RecLossTest, ::testing::Values("cross-entropy", "bpr-max"));

TEST(Gru4RecTest, SavesAndLoadsTheSameScores) {
  Dataset data = WalkDataset(30, 100, 2);
  ModelOptions::Gru4Rec o = SmallOptions("cross-entropy");
  o.max_epochs = 2;
  o.elu = 0.5;
  Gru4RecRecommender model(o);
  ASSERT_TRUE(model.Fit(data, {.threads = 1, .seed = 1}).ok());
  const std::string path = (std::filesystem::temp_directory_path() / "vitrina_gru4rec_test.bin").string();
  ASSERT_TRUE(model.Save(path).ok());
  Gru4RecRecommender loaded(ModelOptions::Gru4Rec{});
  ASSERT_TRUE(loaded.Load(path).ok());
  std::vector<float> a(30), b(30);
  std::vector<HistoryEntry> history = {{9}, {8}};
  model.Score(history, Relation::kAny, a);
  loaded.Score(history, Relation::kAny, b);
  EXPECT_EQ(a, b);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  EXPECT_EQ(loaded.Load(path).code(), StatusCode::kCorruption);
  std::filesystem::remove(path);
}

TEST(Gru4RecTest, RejectsAnUnknownLoss) {
  Gru4RecRecommender model(SmallOptions("top1"));
  Status status = model.Fit(WalkDataset(10, 10, 3), {});
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("top1"), std::string::npos);
}

}  // namespace
}  // namespace vitrina
