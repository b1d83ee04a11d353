#include "ranking/lambdamart.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

namespace vitrina {
namespace {

// Groups of 20 rows with 3 features: feature 0 decides relevance (label 1
// for the two rows with the highest value), feature 1 is noise, feature 2
// is missing (NaN) in half the rows and otherwise noise.
RankingData MakeGroups(size_t groups, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(0, 1);
  RankingData data;
  data.num_features = 3;
  for (size_t g = 0; g < groups; ++g) {
    std::vector<float> signal(20);
    for (float& v : signal) v = uniform(rng);
    std::vector<float> sorted = signal;
    std::sort(sorted.rbegin(), sorted.rend());
    for (size_t r = 0; r < 20; ++r) {
      data.features.push_back(signal[r]);
      data.features.push_back(uniform(rng));
      data.features.push_back(uniform(rng) < 0.5 ? NAN : uniform(rng));
      data.labels.push_back(signal[r] >= sorted[1] ? 1.0f : 0.0f);
    }
    data.EndGroup(20);
  }
  return data;
}

double MeanNdcg(const RankingData& data, std::span<const float> scores) {
  double sum = 0;
  size_t start = 0;
  for (uint32_t size : data.group_sizes) {
    sum += GroupNdcg(scores.subspan(start, size), std::span<const float>(data.labels).subspan(start, size), 10);
    start += size;
  }
  return sum / static_cast<double>(data.group_sizes.size());
}

TEST(GroupNdcgTest, MatchesHandComputedValues) {
  // Relevant rows ranked 2nd and 3rd: (1/log2(3) + 1/log2(4)) / (1 + 1/log2(3)).
  const float scores[] = {0.9f, 0.8f, 0.7f, 0.1f};
  const float labels[] = {0, 1, 1, 0};
  const double expected = (1 / std::log2(3.0) + 0.5) / (1 + 1 / std::log2(3.0));
  EXPECT_NEAR(GroupNdcg(scores, labels, 10), expected, 1e-12);
  // Cut at 2: only the 2nd row counts.
  EXPECT_NEAR(GroupNdcg(scores, labels, 2), (1 / std::log2(3.0)) / (1 + 1 / std::log2(3.0)), 1e-12);
  const float none[] = {0, 0, 0, 0};
  EXPECT_EQ(GroupNdcg(scores, none, 10), 1.0);
}

TEST(LambdaMartTest, LearnsTheInformativeFeatureAndStopsEarly) {
  const RankingData train = MakeGroups(300, 1), validation = MakeGroups(60, 2), test = MakeGroups(100, 3);
  LambdaMartRanker ranker;
  auto report = ranker.Train(train, validation, {.rounds = 200, .early_stopping_rounds = 10, .threads = 2, .seed = 7});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_LT(report->rounds, 200);  // the validation NDCG levels off long before
  EXPECT_GT(report->validation_ndcg, 0.9);

  std::vector<float> scores(test.num_rows());
  Status predicted = ranker.Predict(test.features, scores);
  ASSERT_TRUE(predicted.ok()) << predicted.ToString();
  EXPECT_GT(MeanNdcg(test, scores), 0.9);
  // Ranking by the noise feature instead does far worse.
  std::vector<float> noise(test.num_rows());
  for (size_t r = 0; r < test.num_rows(); ++r) noise[r] = test.features[3 * r + 1];
  EXPECT_LT(MeanNdcg(test, noise), 0.6);
}

TEST(LambdaMartTest, SavedModelPredictsTheSameAndContributionsAddUp) {
  const RankingData train = MakeGroups(200, 4), test = MakeGroups(20, 5);
  LambdaMartRanker ranker;
  ASSERT_TRUE(ranker.Train(train, {}, {.rounds = 30, .threads = 1}).ok());
  auto model = ranker.Serialize();
  ASSERT_TRUE(model.ok());
  LambdaMartRanker loaded;
  ASSERT_TRUE(loaded.Load(*model, 3).ok());
  std::vector<float> a(test.num_rows()), b(test.num_rows());
  ASSERT_TRUE(ranker.Predict(test.features, a).ok());
  ASSERT_TRUE(loaded.Predict(test.features, b).ok());
  EXPECT_EQ(a, b);

  std::vector<float> contributions;
  ASSERT_TRUE(loaded.Contributions(test.features, &contributions).ok());
  ASSERT_EQ(contributions.size(), test.num_rows() * 4);
  double informative = 0, noise = 0;
  for (size_t r = 0; r < test.num_rows(); ++r) {
    const float* row = &contributions[4 * r];
    EXPECT_NEAR(row[0] + row[1] + row[2] + row[3], a[r], 1e-4);
    informative += std::abs(row[0]);
    noise += std::abs(row[1]);
  }
  EXPECT_GT(informative, 3 * noise);
}

TEST(LambdaMartTest, RefusesBadInput) {
  LambdaMartRanker ranker;
  std::vector<float> scores(1);
  EXPECT_EQ(ranker.Predict(std::vector<float>{1, 2, 3}, scores).code(), StatusCode::kFailedPrecondition);

  RankingData bad = MakeGroups(2, 6);
  bad.group_sizes.back() = 3;  // groups no longer cover the rows
  EXPECT_EQ(ranker.Train(bad, {}, {.rounds = 2}).status().code(), StatusCode::kInvalidArgument);
  bad = MakeGroups(2, 6);
  bad.labels.pop_back();
  EXPECT_EQ(ranker.Train(bad, {}, {.rounds = 2}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ranker.Train(RankingData{}, {}, {}).status().code(), StatusCode::kInvalidArgument);

  EXPECT_FALSE(ranker.Load("not a model", 3).ok());
  ASSERT_TRUE(ranker.Train(MakeGroups(20, 7), {}, {.rounds = 3, .threads = 1}).ok());
  auto model = ranker.Serialize();
  ASSERT_TRUE(model.ok());
  LambdaMartRanker other;
  EXPECT_EQ(other.Load(*model, 4).code(), StatusCode::kCorruption);  // the model has 3 features
  EXPECT_EQ(ranker.Predict(std::vector<float>{1, 2}, scores).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vitrina
