#include "evaluation/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace vitrina {
namespace {

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("vitrina-eval-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string file = (path_ / name).string();
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::filesystem::path path_;
};

TEST(RankMetricsTest, MatchHandComputedValues) {
  std::vector<uint32_t> ranked = {7, 3, 9, 1, 5};
  // One target at rank 3: recall 1, ndcg 1/log2(4) = .5, mrr 1/3.
  RankMetrics m = ComputeRankMetrics(ranked, std::vector<uint32_t>{9}, 5);
  EXPECT_DOUBLE_EQ(m.recall, 1);
  EXPECT_DOUBLE_EQ(m.ndcg, 0.5);
  EXPECT_DOUBLE_EQ(m.mrr, 1.0 / 3);
  // Cut at 2: missed.
  m = ComputeRankMetrics(ranked, std::vector<uint32_t>{9}, 2);
  EXPECT_EQ(m.recall, 0);
  EXPECT_EQ(m.ndcg, 0);
  EXPECT_EQ(m.mrr, 0);
  // Targets {3, 5, 42} at k = 5: hits at ranks 2 and 5.
  // recall = 2/3; DCG = 1/log2(3) + 1/log2(6); IDCG = 1 + 1/log2(3) + 1/2.
  m = ComputeRankMetrics(ranked, std::vector<uint32_t>{3, 5, 42}, 5);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3);
  EXPECT_NEAR(m.ndcg, (1 / std::log2(3.0) + 1 / std::log2(6.0)) / (1 + 1 / std::log2(3.0) + 0.5), 1e-12);
  EXPECT_DOUBLE_EQ(m.mrr, 0.5);
  // More targets than k: recall is capped at k.
  m = ComputeRankMetrics(ranked, std::vector<uint32_t>{7, 3, 100, 101}, 2);
  EXPECT_DOUBLE_EQ(m.recall, 1);
  EXPECT_DOUBLE_EQ(m.ndcg, 1);
}

TEST(LoadDatasetTest, ReadsS3RecSequencesAndAttributes) {
  TempDir dir;
  std::string path = dir.Write("Tiny.txt", "1 10 11 12\n2 11 12\n\n3 12 10 13\n");
  dir.Write("Tiny_item2attributes.json", R"({"10": [1, 2], "13": [2], "99": [5]})");
  auto data = LoadDataset(path, DatasetFormat::kS3Rec);
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->num_items(), 4u);
  EXPECT_EQ(data->num_actors(), 3u);
  auto third = data->ActorInteractions(2);
  ASSERT_EQ(third.size(), 3u);
  EXPECT_EQ(data->items[third[0].item].id, "12");
  EXPECT_EQ(data->items[third[2].item].id, "13");
  EXPECT_EQ(data->items[third[1].item].tags, (std::vector<std::string>{"1", "2"}));
  EXPECT_NE(third[0].session, data->ActorInteractions(0)[0].session);
}

TEST(LoadDatasetTest, BadLinesNameFileAndLine) {
  TempDir dir;
  std::string path = dir.Write("Bad.txt", "1 10 11\n2 11 x12\n");
  auto data = LoadDataset(path, DatasetFormat::kS3Rec);
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("Bad.txt:2: item id 'x12'"), std::string::npos) << data.status().message();
  path = dir.Write("Short.txt", "1\n");
  EXPECT_NE(LoadDataset(path, DatasetFormat::kS3Rec).status().message().find("Short.txt:1:"), std::string::npos);
  path = dir.Write("events.jsonl", "{\"type\":\"view\",\"user_id\":\"u\",\"item_id\":\"a\",\"timestamp\":\"2024-01-01T00:00:00Z\"}\n{\"type\":\"view\"}\n");
  data = LoadDataset(path, DatasetFormat::kJsonl);
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("events.jsonl:2"), std::string::npos) << data.status().message();
}

Dataset Sequences(const std::string& text, TempDir* dir) {
  return std::move(LoadDataset(dir->Write("seq.txt", text), DatasetFormat::kS3Rec)).value();
}

TEST(SplitTest, LeaveOneOutHoldsOutEachActorsLastItem) {
  TempDir dir;
  Dataset data = Sequences("1 10 11 12\n2 13\n3 12 10\n", &dir);
  DataSplit split = SplitDataset(data, {.protocol = Protocol::kLeaveOneOut});
  ASSERT_EQ(split.cases.size(), 2u);  // actor 2 has one item: training only
  EXPECT_EQ(split.train.interactions.size(), 2u + 1u + 1u);
  const TestCase& first = split.cases[0];
  EXPECT_EQ(split.train.items[first.targets[0]].id, "12");
  ASSERT_EQ(first.history.size(), 2u);
  EXPECT_EQ(split.train.items[first.history[0].item].id, "11");  // newest first
  EXPECT_EQ(split.train.ActorInteractions(0).size(), 2u);
}

TEST(SplitTest, TemporalCutKeepsActorsWithHistory) {
  constexpr int64_t kDay = 86400000;
  DatasetBuilder builder;
  for (std::string id : {"a", "b", "c"}) builder.AddItem(ItemMeta{.id = id});
  builder.Add("old", Interaction{.item = 0, .time_ms = 0});
  builder.Add("old", Interaction{.item = 1, .time_ms = 50 * kDay});
  builder.Add("old", Interaction{.item = 0, .time_ms = 55 * kDay});
  builder.Add("new", Interaction{.item = 2, .time_ms = 59 * kDay});
  builder.Add("gone", Interaction{.item = 2, .time_ms = 1 * kDay});
  builder.Add("z", Interaction{.item = 2, .time_ms = 60 * kDay});
  Dataset data = std::move(builder).Finish();
  DataSplit split = SplitDataset(data, {.protocol = Protocol::kTemporal, .test_days = 28});
  ASSERT_EQ(split.cases.size(), 1u);  // "new" has no history, "gone" no test items
  EXPECT_EQ(split.cases[0].targets, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(split.train.interactions.size(), 2u);
  DataSplit only_new = SplitDataset(data, {.protocol = Protocol::kTemporal, .test_days = 28, .exclude_seen = true});
  ASSERT_EQ(only_new.cases.size(), 1u);
  EXPECT_EQ(only_new.cases[0].targets, (std::vector<uint32_t>{1}));
}

TEST(EvaluateTest, CooccurrenceFindsAPlantedSequenceAndTrendingDoesNot) {
  // Every actor browses s -> s+1 -> s+2: the held-out s+2 follows s+1,
  // which training shows for the actors who started at s+1. Popularity is
  // flat, so trending cannot tell.
  std::string text;
  for (int u = 0; u < 200; ++u) {
    int start = (u * 7) % 30;
    text += std::to_string(u) + " " + std::to_string(start) + " " + std::to_string(start + 1) + " " +
            std::to_string(start + 2) + "\n";
  }
  TempDir dir;
  Dataset data = Sequences(text, &dir);
  DataSplit split = SplitDataset(data, {.protocol = Protocol::kLeaveOneOut});
  EvaluateOptions options;
  options.ks = {1, 10};
  auto results = EvaluateModels(split, {"cooccurrence", "trending", "nope"}, options, false);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_GT(results[0].metrics["recall@1"], 0.9);
  EXPECT_LT(results[1].metrics["recall@1"], 0.2);
  EXPECT_FALSE(results[2].error.empty());
  EXPECT_GT(results[0].metrics["coverage@10"], results[1].metrics["coverage@10"]);
}

}  // namespace
}  // namespace vitrina
