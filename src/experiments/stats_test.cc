#include "experiments/stats.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace vitrina::stats {
namespace {

// Reference values were computed by hand and checked at 30 digits with mpmath.
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Distribution helpers written out so the draws are the same with every
// standard library (std::*_distribution algorithms are unspecified).
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
double Exponential(std::mt19937_64& rng, double mean) { return -mean * std::log1p(-Uniform01(rng)); }
double StandardNormal(std::mt19937_64& rng) {
  const double u = 1 - Uniform01(rng);  // in (0, 1], so the log is finite
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * std::numbers::pi * Uniform01(rng));
}
uint64_t CountSuccesses(std::mt19937_64& rng, double p, int trials) {
  uint64_t successes = 0;
  for (int i = 0; i < trials; ++i) successes += Uniform01(rng) < p;
  return successes;
}
Moments Revenue(std::mt19937_64& rng, double mean, int n) {
  Moments m;
  for (int i = 0; i < n; ++i) m.Add(Exponential(rng, mean));
  return m;
}
Moments Of(const std::vector<double>& values) {
  Moments m;
  for (double v : values) m.Add(v);
  return m;
}
// Counts the seeds 1..repeats for which `happened(rng)` holds.
template <typename Event>
int CountSeeds(int repeats, Event happened) {
  int count = 0;
  for (int seed = 1; seed <= repeats; ++seed) {
    std::mt19937_64 rng(seed);
    count += happened(rng);
  }
  return count;
}

TEST(MomentsTest, KnownValues) {
  EXPECT_EQ(Moments().n(), 0u);
  EXPECT_TRUE(std::isnan(Moments().mean()));
  EXPECT_EQ(Moments().sum(), 0);
  EXPECT_EQ(Of({3.5}).mean(), 3.5);
  EXPECT_TRUE(std::isnan(Of({3.5}).variance()));
  // Mean 40 / 8 = 5; squared deviations 9+1+1+1+0+0+4+16 = 32; 32 / 7.
  Moments m = Of({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_EQ(m.n(), 8u);
  EXPECT_DOUBLE_EQ(m.mean(), 5);
  EXPECT_DOUBLE_EQ(m.sum(), 40);
  EXPECT_DOUBLE_EQ(m.variance(), 32.0 / 7);
  // Sum-of-squares formulas lose everything here (1e18 + small); Welford keeps it.
  EXPECT_NEAR(Of({1e9 + 1, 1e9 + 2, 1e9 + 3}).variance(), 1.0, 1e-6);
}

TEST(MomentsTest, MergeEqualsAddingAll) {
  std::mt19937_64 rng(7);
  std::vector<double> values;
  for (int i = 0; i < 1000; ++i) values.push_back(Exponential(rng, 20) + 100);
  const Moments all = Of(values);
  // Uneven pieces, including an empty one on either side of a merge.
  Moments merged;
  merged.Merge(Moments());
  merged.Merge(Of({values.begin(), values.begin() + 1}));
  merged.Merge(Of({values.begin() + 1, values.begin() + 300}));
  merged.Merge(Moments());
  merged.Merge(Of({values.begin() + 300, values.end()}));
  EXPECT_EQ(merged.n(), all.n());
  EXPECT_NEAR(merged.mean(), all.mean(), 1e-10);
  EXPECT_NEAR(merged.variance(), all.variance(), 1e-9 * all.variance());
  EXPECT_NEAR(merged.sum(), all.sum(), 1e-8);
}

TEST(RateTest, WilsonTextbookValues) {
  // 10/100: p = 0.1, z^2/n = 0.0384146; center = (0.1 + 0.0192073) / 1.0384146 = 0.1147974;
  // half = z / 1.0384146 * sqrt(0.0009 + 0.0000960365) = 0.0595683.
  Estimate e = Rate(10, 100);
  EXPECT_DOUBLE_EQ(e.value, 0.1);
  EXPECT_NEAR(e.ci.low, 0.0552291, 1e-6);
  EXPECT_NEAR(e.ci.high, 0.1743657, 1e-6);
  // 90% uses z = 1.6448536.
  Estimate e90 = Rate(10, 100, 0.90);
  EXPECT_NEAR(e90.ci.low, 0.0607187, 1e-6);
  EXPECT_NEAR(e90.ci.high, 0.1603555, 1e-6);
}

TEST(RateTest, WilsonAtTheBoundaries) {
  // 0/10: the interval is [0, (z^2/n) / (1 + z^2/n)] = [0, 0.3841459 / 1.3841459].
  Estimate zero = Rate(0, 10);
  EXPECT_EQ(zero.value, 0);
  EXPECT_EQ(zero.ci.low, 0);
  EXPECT_NEAR(zero.ci.high, 0.2775328, 1e-6);
  Estimate all = Rate(10, 10);
  EXPECT_NEAR(all.ci.low, 1 - 0.2775328, 1e-6);
  EXPECT_EQ(all.ci.high, 1);
  // Without the special case the formula misses 0 and 1 by rounding for many n.
  for (uint64_t n = 1; n <= 200; ++n) {
    EXPECT_EQ(Rate(0, n).ci.low, 0) << n;
    EXPECT_EQ(Rate(n, n).ci.high, 1) << n;
  }
}

TEST(RateTest, DegenerateInputs) {
  EXPECT_TRUE(std::isnan(Rate(0, 0).value) && std::isnan(Rate(0, 0).ci.low));
  EXPECT_TRUE(std::isnan(Rate(11, 10).value));
  for (double confidence : {0.0, 1.0, 1.5, -0.2, kNaN}) {
    Estimate e = Rate(10, 100, confidence);
    EXPECT_DOUBLE_EQ(e.value, 0.1);
    EXPECT_TRUE(std::isnan(e.ci.low)) << confidence;
    EXPECT_TRUE(std::isnan(e.ci.high)) << confidence;
  }
}

TEST(MeanTest, StudentTInterval) {
  // {1,2,3,4,5}: mean 3, variance 10/4 = 2.5, SE sqrt(2.5/5) = 0.7071068.
  // t(0.975, 4) = 2.7764451 -> 3 -+ 1.9632432; t(0.95, 4) = 2.1318468 -> 3 -+ 1.5074433.
  const Moments m = Of({1, 2, 3, 4, 5});
  Estimate e = Mean(m);
  EXPECT_DOUBLE_EQ(e.value, 3);
  EXPECT_NEAR(e.ci.low, 1.0367568, 1e-6);
  EXPECT_NEAR(e.ci.high, 4.9632432, 1e-6);
  Estimate e90 = Mean(3, 2.5, 5, 0.90);
  EXPECT_NEAR(e90.ci.low, 1.4925567, 1e-6);
  EXPECT_NEAR(e90.ci.high, 4.5074433, 1e-6);
}

TEST(MeanTest, DegenerateInputs) {
  EXPECT_TRUE(std::isnan(Mean(Moments()).value));
  Estimate one = Mean(Of({4}));
  EXPECT_EQ(one.value, 4);
  EXPECT_TRUE(std::isnan(one.ci.low));
  EXPECT_TRUE(std::isnan(Mean(1, -1, 10).ci.low));
  EXPECT_TRUE(std::isnan(Mean(1, kNaN, 10).ci.high));
  EXPECT_TRUE(std::isnan(Mean(1, 1, 10, 1.0).ci.low));
  Estimate constant = Mean(Of({2, 2, 2}));
  EXPECT_EQ(constant.ci.low, 2);
  EXPECT_EQ(constant.ci.high, 2);
}

TEST(MeanTest, IntervalCoversTheTrueMean) {
  // n = 10 draws from N(0, 1): the t interval covers 0 95% of the time; a z
  // interval would cover only 91.8%, outside the band.
  const int covered = CountSeeds(2000, [](std::mt19937_64& rng) {
    Moments m;
    for (int i = 0; i < 10; ++i) m.Add(StandardNormal(rng));
    const Estimate e = Mean(m);
    return e.ci.low <= 0 && 0 <= e.ci.high;
  });
  EXPECT_GE(covered, 1870);
  EXPECT_LE(covered, 1930);
}

TEST(CompareRatesTest, TwoProportionZTest) {
  // 200/1000 vs 250/1000: pooled p = 450/2000 = 0.225;
  // SE0 = sqrt(0.225 * 0.775 * (2/1000)) = sqrt(0.00034875) = 0.0186748;
  // z = 0.05 / 0.0186748 = 2.6773978; p = 2 * (1 - Phi(z)) = 0.0074196.
  // Wald: SE = sqrt(0.2*0.8/1000 + 0.25*0.75/1000) = sqrt(0.0003475) = 0.0186414;
  // 0.05 -+ 1.959964 * 0.0186414 = [0.0134636, 0.0865364]. (The pooled SE would
  // give [0.0133980, 0.0866020], outside the tolerance.)
  Comparison c = CompareRates(200, 1000, 250, 1000);
  EXPECT_NEAR(c.difference, 0.05, 1e-12);
  EXPECT_NEAR(c.relative, 0.25, 1e-12);
  EXPECT_NEAR(c.statistic, 2.6773978, 1e-6);
  EXPECT_NEAR(c.p_value, 0.0074196, 1e-6);
  EXPECT_NEAR(c.ci.low, 0.0134636, 1e-6);
  EXPECT_NEAR(c.ci.high, 0.0865364, 1e-6);
  EXPECT_TRUE(std::isnan(c.df));

  // Swapping the arms flips the sign, not the evidence.
  Comparison swapped = CompareRates(250, 1000, 200, 1000);
  EXPECT_NEAR(swapped.statistic, -2.6773978, 1e-6);
  EXPECT_NEAR(swapped.p_value, c.p_value, 1e-12);
  EXPECT_NEAR(swapped.ci.low, -0.0865364, 1e-6);
  EXPECT_NEAR(swapped.relative, -0.2, 1e-12);
}

TEST(CompareRatesTest, DegenerateInputs) {
  EXPECT_TRUE(std::isnan(CompareRates(0, 0, 5, 10).difference));
  EXPECT_TRUE(std::isnan(CompareRates(0, 0, 5, 10).p_value));
  EXPECT_TRUE(std::isnan(CompareRates(5, 10, 0, 0).statistic));
  EXPECT_TRUE(std::isnan(CompareRates(11, 10, 5, 10).p_value));

  // Pooled variance 0: nothing varies, so no evidence of a difference.
  Comparison none = CompareRates(0, 100, 0, 200);
  EXPECT_EQ(none.difference, 0);
  EXPECT_TRUE(std::isnan(none.relative));
  EXPECT_TRUE(std::isnan(none.statistic));
  EXPECT_TRUE(std::isnan(none.ci.low));
  EXPECT_EQ(none.p_value, 1);
  Comparison every = CompareRates(100, 100, 50, 50);
  EXPECT_EQ(every.relative, 0);
  EXPECT_EQ(every.p_value, 1);
  EXPECT_TRUE(std::isnan(CompareRates(10, 100, 12, 100, 1.0).ci.low));
}

TEST(CompareMeansTest, WelchHandComputed) {
  // a = {1,2,3,4,5}: mean 3, var 2.5; b = {2,4,6,8,10}: mean 6, var 10.
  // SE^2 = 2.5/5 + 10/5 = 0.5 + 2 = 2.5; t = 3 / sqrt(2.5) = 1.8973666.
  // df = 2.5^2 / (0.5^2/4 + 2^2/4) = 6.25 / 1.0625 = 5.8823529.
  // p = 2 * P(T_5.88 > 1.8973666) = 0.1075312 (pooled df 8 would give 0.0943).
  // t(0.975, 5.88) = 2.5383; 3 -+ 2.5383 * 1.5811388 = [-0.8877416, 6.8877416].
  Comparison c = CompareMeans(Of({1, 2, 3, 4, 5}), Of({2, 4, 6, 8, 10}));
  EXPECT_DOUBLE_EQ(c.difference, 3);
  EXPECT_DOUBLE_EQ(c.relative, 1);
  EXPECT_NEAR(c.statistic, 1.8973666, 1e-6);
  EXPECT_NEAR(c.df, 5.8823529, 1e-6);
  EXPECT_NEAR(c.p_value, 0.1075312, 1e-6);
  EXPECT_NEAR(c.ci.low, -0.8877416, 1e-6);
  EXPECT_NEAR(c.ci.high, 6.8877416, 1e-6);

  Comparison raw = CompareMeans(3, 2.5, 5, 6, 10, 5);
  EXPECT_DOUBLE_EQ(raw.statistic, c.statistic);
  EXPECT_DOUBLE_EQ(raw.df, c.df);

  // a = {5,5,5} has no variance: SE^2 = 2.5/5 = 0.5, df = 0.25 / (0.25/4) = 4 exactly,
  // t = -2 / sqrt(0.5) = -2.8284271, p = 0.0474207.
  Comparison constant_a = CompareMeans(Of({5, 5, 5}), Of({1, 2, 3, 4, 5}));
  EXPECT_NEAR(constant_a.statistic, -2.8284271, 1e-6);
  EXPECT_NEAR(constant_a.df, 4, 1e-12);
  EXPECT_NEAR(constant_a.p_value, 0.0474207, 1e-6);
}

TEST(CompareMeansTest, DegenerateInputs) {
  EXPECT_TRUE(std::isnan(CompareMeans(Moments(), Of({1, 2})).difference));
  Comparison single = CompareMeans(Of({1}), Of({1, 2, 3}));
  EXPECT_EQ(single.difference, 1);
  EXPECT_TRUE(std::isnan(single.statistic));
  EXPECT_TRUE(std::isnan(single.df));
  EXPECT_TRUE(std::isnan(single.p_value));
  EXPECT_TRUE(std::isnan(single.ci.low));
  EXPECT_TRUE(std::isnan(CompareMeans(0, -1, 10, 1, 1, 10).p_value));
  EXPECT_TRUE(std::isnan(CompareMeans(0, 1, 10, 1, 1, 10, 0.0).ci.high));
  EXPECT_TRUE(std::isnan(CompareMeans(0, 1, 10, 1, 1, 10).relative));

  Comparison same = CompareMeans(Of({2, 2}), Of({2, 2, 2}));
  EXPECT_EQ(same.p_value, 1);
  EXPECT_TRUE(std::isnan(same.statistic));
  EXPECT_TRUE(std::isnan(same.ci.low));
  Comparison different = CompareMeans(Of({2, 2}), Of({3, 3, 3}));
  EXPECT_EQ(different.p_value, 0);
  EXPECT_EQ(different.difference, 1);

  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_NO_THROW(CompareMeans(0, inf, 10, 1, 1, 10));
  EXPECT_NO_THROW(CompareMeans(0, 1e-300, 1u << 30, 1, 1e300, 2));
}

TEST(CupedTest, Theta) {
  // y = 2x + 1 exactly: cov(x, y) = 2 var(x).
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};
  const std::vector<double> y = {3, 5, 7, 9, 11, 13};
  EXPECT_DOUBLE_EQ(CupedTheta(x, y), 2);
  const std::vector<double> flat = {4, 4, 4, 4, 4, 4};
  EXPECT_EQ(CupedTheta(flat, y), 0);
  EXPECT_EQ(CupedTheta(std::vector<double>{1}, std::vector<double>{2}), 0);
  EXPECT_EQ(CupedTheta({}, {}), 0);
  EXPECT_TRUE(std::isnan(CupedTheta(x, std::span<const double>(flat).first(5))));
}

TEST(CupedTest, AdjustedMomentsByHand) {
  // theta 1, mean_x 2: y - (x - 2) = {2+1, 4+0, 7-1} = {3, 4, 6}.
  const std::vector<double> x = {1, 2, 3};
  const std::vector<double> y = {2, 4, 7};
  Moments m = CupedAdjusted(x, y, 1, 2);
  EXPECT_EQ(m.n(), 3u);
  EXPECT_DOUBLE_EQ(m.mean(), 13.0 / 3);
  Moments unadjusted = CupedAdjusted(x, y, 0, 2);
  EXPECT_DOUBLE_EQ(unadjusted.mean(), 13.0 / 3);
  EXPECT_DOUBLE_EQ(unadjusted.variance(), Of(y).variance());
  EXPECT_EQ(CupedAdjusted(x, std::vector<double>{1, 2}, 1, 2).n(), 0u);
}

TEST(CupedTest, ShrinksVarianceAndKeepsTheEffect) {
  // Pre-period spend x ~ Exp(50); metric y = x + N(0, 5) + 2 in treatment.
  std::mt19937_64 rng(3);
  // Units [0, 4000) are control, [4000, 8000) treatment.
  constexpr size_t kGroup = 4000;
  std::vector<double> x, y;
  for (size_t i = 0; i < 2 * kGroup; ++i) {
    x.push_back(Exponential(rng, 50));
    y.push_back(x.back() + 5 * StandardNormal(rng) + (i < kGroup ? 0 : 2));
  }
  const double theta = CupedTheta(x, y);
  EXPECT_NEAR(theta, 1, 0.01);
  const std::span<const double> xs(x), ys(y);
  const Moments raw_a = CupedAdjusted(xs.first(kGroup), ys.first(kGroup), 0, 0);
  const Moments raw_b = CupedAdjusted(xs.last(kGroup), ys.last(kGroup), 0, 0);
  const double mean_x = Of(x).mean();
  const Moments adjusted_a = CupedAdjusted(xs.first(kGroup), ys.first(kGroup), theta, mean_x);
  const Moments adjusted_b = CupedAdjusted(xs.last(kGroup), ys.last(kGroup), theta, mean_x);
  // Var(y) = 2500 + 25 before; 25 left after removing x.
  EXPECT_LT(adjusted_a.variance(), 0.02 * raw_a.variance());
  Comparison raw = CompareMeans(raw_a, raw_b);
  Comparison cuped = CompareMeans(adjusted_a, adjusted_b);
  // The interval shrinks by about sqrt(25 / 2525) = 0.1.
  EXPECT_LT(cuped.ci.high - cuped.ci.low, 0.15 * (raw.ci.high - raw.ci.low));
  EXPECT_LT(cuped.p_value, 1e-6);
  EXPECT_LT(cuped.ci.low, 2);
  EXPECT_GT(cuped.ci.high, 2);
}

TEST(SampleRatioTest, PearsonChiSquare) {
  const std::vector<double> even = {0.5, 0.5};
  RatioTest balanced = SampleRatio(std::vector<uint64_t>{5000, 5000}, even);
  EXPECT_EQ(balanced.chi_square, 0);
  EXPECT_NEAR(balanced.p_value, 1, 1e-12);
  // (200^2 + 200^2) / 5000 = 16; P(chi2_1 > 16) = erfc(sqrt(8)) = 6.33425e-5.
  RatioTest skewed = SampleRatio(std::vector<uint64_t>{5200, 4800}, even);
  EXPECT_DOUBLE_EQ(skewed.chi_square, 16);
  EXPECT_NEAR(skewed.p_value, 6.33425e-5, 1e-9);
  RatioTest unnormalized = SampleRatio(std::vector<uint64_t>{5200, 4800}, std::vector<double>{3, 3});
  EXPECT_DOUBLE_EQ(unnormalized.chi_square, 16);
  // Shares 2:1:1 of 1000 expect {500, 250, 250}: 400/500 + 100/250 + 100/250 = 1.6;
  // df 2, so p = exp(-1.6 / 2) = 0.4493290.
  RatioTest three = SampleRatio(std::vector<uint64_t>{520, 240, 240}, std::vector<double>{2, 1, 1});
  EXPECT_NEAR(three.chi_square, 1.6, 1e-12);
  EXPECT_NEAR(three.p_value, 0.4493290, 1e-6);
  // Expected count 2e-319 for the second group: chi-square overflows to infinity.
  RatioTest impossible = SampleRatio(std::vector<uint64_t>{10, 10}, std::vector<double>{1, 1e-320});
  EXPECT_TRUE(std::isinf(impossible.chi_square));
  EXPECT_EQ(impossible.p_value, 0);
}

TEST(SampleRatioTest, DegenerateInputs) {
  const std::vector<double> even = {1, 1};
  EXPECT_TRUE(std::isnan(SampleRatio(std::vector<uint64_t>{0, 0}, even).p_value));
  EXPECT_TRUE(std::isnan(SampleRatio(std::vector<uint64_t>{10}, std::vector<double>{1}).chi_square));
  EXPECT_TRUE(std::isnan(SampleRatio(std::vector<uint64_t>{10, 10, 10}, even).p_value));
  for (double bad : {0.0, -1.0, kNaN, std::numeric_limits<double>::infinity()}) {
    EXPECT_TRUE(std::isnan(SampleRatio(std::vector<uint64_t>{10, 10}, std::vector<double>{1, bad}).p_value)) << bad;
  }
}

// A/A experiments must reject at about the nominal 5% (expected 10 of 200,
// sd 3.1); planted effects with about 99% power must be found.
TEST(SimulationTest, RatesAAAndPlantedEffect) {
  const int false_positives = CountSeeds(200, [](std::mt19937_64& rng) {
    return CompareRates(CountSuccesses(rng, 0.1, 2000), 2000, CountSuccesses(rng, 0.1, 2000), 2000).p_value < 0.05;
  });
  EXPECT_GE(false_positives, 4);
  EXPECT_LE(false_positives, 18);
  // 0.10 vs 0.13: SE = sqrt(0.09/5000 + 0.1131/5000) = 0.0064, z = 4.7.
  const int found = CountSeeds(100, [](std::mt19937_64& rng) {
    const Comparison c =
        CompareRates(CountSuccesses(rng, 0.10, 5000), 5000, CountSuccesses(rng, 0.13, 5000), 5000);
    return c.p_value < 0.05 && c.difference > 0;
  });
  EXPECT_GE(found, 90);
}

TEST(SimulationTest, WelchOnExponentialRevenue) {
  const int false_positives = CountSeeds(200, [](std::mt19937_64& rng) {
    return CompareMeans(Revenue(rng, 10, 2000), Revenue(rng, 10, 2000)).p_value < 0.05;
  });
  EXPECT_GE(false_positives, 4);
  EXPECT_LE(false_positives, 18);
  // Means 10 vs 11 (sd = mean): SE = sqrt(100/5000 + 121/5000) = 0.21, t = 4.8.
  const int found = CountSeeds(100, [](std::mt19937_64& rng) {
    const Comparison c = CompareMeans(Revenue(rng, 10, 5000), Revenue(rng, 11, 5000));
    return c.p_value < 0.05 && c.difference > 0;
  });
  EXPECT_GE(found, 90);
}

}  // namespace
}  // namespace vitrina::stats
