// Statistics for A/B test results: rates and means with confidence
// intervals, two-sample comparisons, CUPED variance reduction and the sample
// ratio mismatch check.
//
// Conventions shared by every function here:
// - Nothing throws. A value that is undefined for the inputs (no trials, too
//   few units, a confidence outside (0, 1), mismatched span sizes, negative
//   or NaN variances) comes back as NaN, so it shows up in reports instead
//   of being silently replaced by a plausible number.
// - `confidence` is two-sided: 0.95 gives the 2.5% and 97.5% bounds.
// - p-values are two-sided.
// - Comparisons take the control as `a` and the treatment as `b`.
// All functions are pure and thread-safe; Moments is a plain value type.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>

namespace vitrina::stats {

struct Interval {
  double low = NAN;
  double high = NAN;
};

// Running count, mean and sample variance (Welford's update, so a long
// stream of large values does not lose the variance to cancellation).
// Mergeable, so per-shard or per-day moments combine without revisiting the data.
// REQUIRES: added values are finite.
class Moments {
 public:
  void Add(double x);
  void Merge(const Moments& other);

  uint64_t n() const { return n_; }
  double mean() const;      // NaN when n == 0
  double variance() const;  // sample variance (divides by n - 1); NaN when n < 2
  double sum() const { return sum_; }  // 0 when n == 0

 private:
  uint64_t n_ = 0;
  double mean_ = 0;
  double m2_ = 0;  // sum of squared deviations from the mean
  double sum_ = 0;
};

struct Estimate {
  double value = NAN;
  Interval ci;
};

// A rate with its Wilson score interval, which stays inside [0, 1] and keeps
// its coverage for small counts and rates near 0 or 1 (unlike Wald).
// The bound is exactly 0 when successes == 0 and exactly 1 when
// successes == trials. trials == 0 or successes > trials: value and
// interval NaN.
Estimate Rate(uint64_t successes, uint64_t trials, double confidence = 0.95);

// A mean with its Student-t interval on n - 1 degrees of freedom.
// n == 0: all NaN; n < 2 (or a negative/NaN variance): interval NaN.
// Variance 0 (a constant sample) gives the zero-width interval [mean, mean].
Estimate Mean(double mean, double variance, uint64_t n, double confidence = 0.95);
Estimate Mean(const Moments& m, double confidence = 0.95);

// A comparison of a treatment (b) against a control (a).
struct Comparison {
  double difference = NAN;  // b - a
  Interval ci;              // of the difference
  double relative = NAN;    // (b - a) / a; NaN when a == 0
  double statistic = NAN;   // z or t
  double df = NAN;          // degrees of freedom (Welch); NaN for z
  double p_value = NAN;     // two-sided
};

// Two-proportion z-test: z uses the pooled proportion (the null hypothesis
// says both rates are equal); the interval of the difference is the
// unpooled Wald interval (no such assumption once there is an effect).
// A trial count of 0 or successes > trials: all fields NaN.
// Pooled variance 0 (both rates 0, or both 1): difference and relative are
// filled in, statistic and ci are NaN, p_value is 1 (the rates are equal).
Comparison CompareRates(uint64_t successes_a, uint64_t trials_a, uint64_t successes_b, uint64_t trials_b,
                        double confidence = 0.95);

// Welch's unequal-variance t-test with the Welch–Satterthwaite df; the
// interval of the difference uses the same t quantile and df.
// difference and relative are filled in whenever both n >= 1. The test
// fields (statistic, df, ci, p_value) are NaN when n < 2 on a side or a
// variance is negative/NaN.
// Both variances 0 (constant samples): statistic, df and ci are NaN, and
// p_value is the limit as the variances go to 0: 1 when the means are equal,
// 0 when they differ.
Comparison CompareMeans(const Moments& a, const Moments& b, double confidence = 0.95);
Comparison CompareMeans(double mean_a, double var_a, uint64_t n_a, double mean_b, double var_b, uint64_t n_b,
                        double confidence = 0.95);

// CUPED (Deng et al. 2013). x: the pre-period covariate per unit, y: the
// metric per unit, over all units of all groups pooled (one theta for every
// group keeps the adjusted difference unbiased).
// theta = cov(x, y) / var(x); 0 (no adjustment) when var(x) is 0 or there are
// fewer than 2 units; NaN when x and y differ in size (a caller bug).
double CupedTheta(std::span<const double> x, std::span<const double> y);

// Moments of y - theta * (x - mean_x) over one group's units, ready for
// Mean() or CompareMeans(). mean_x must be the pooled covariate mean (the
// same for every group), so the adjusted group means stay comparable.
// x and y differ in size: empty Moments (so everything downstream is NaN).
Moments CupedAdjusted(std::span<const double> x, std::span<const double> y, double theta, double mean_x);

// Sample ratio mismatch: Pearson chi-square goodness of fit of observed unit
// counts against expected shares, df = groups - 1. Shares are normalized, so
// {1, 1} and {0.5, 0.5} mean the same split.
// NaN when the sizes differ, there are fewer than 2 groups, the total is 0,
// or a share is not positive and finite. A share so small that chi_square
// overflows to infinity gives p_value 0.
struct RatioTest {
  double chi_square = NAN;
  double p_value = NAN;
};
RatioTest SampleRatio(std::span<const uint64_t> observed, std::span<const double> expected_shares);

}  // namespace vitrina::stats
