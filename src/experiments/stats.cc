#include "experiments/stats.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

namespace vitrina::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Boost.Math throws on domain errors by default; this policy makes it return
// NaN/inf instead, and Guarded() catches anything else, so no Boost exception
// leaves this file.
using NoThrow = boost::math::policies::policy<
    boost::math::policies::domain_error<boost::math::policies::ignore_error>,
    boost::math::policies::pole_error<boost::math::policies::ignore_error>,
    boost::math::policies::overflow_error<boost::math::policies::ignore_error>,
    boost::math::policies::underflow_error<boost::math::policies::ignore_error>,
    boost::math::policies::evaluation_error<boost::math::policies::ignore_error>,
    boost::math::policies::rounding_error<boost::math::policies::ignore_error>>;
using Normal = boost::math::normal_distribution<double, NoThrow>;
using StudentT = boost::math::students_t_distribution<double, NoThrow>;
using ChiSquared = boost::math::chi_squared_distribution<double, NoThrow>;

template <typename F>
double Guarded(F f) {
  try {
    return f();
  } catch (const std::exception&) {
    return kNaN;
  }
}

bool ValidConfidence(double confidence) { return confidence > 0 && confidence < 1; }

// The two-sided critical value: z such that P(|Z| <= z) = confidence.
double NormalCritical(double confidence) {
  if (!ValidConfidence(confidence)) return kNaN;
  return Guarded([&] { return boost::math::quantile(Normal(), 0.5 + confidence / 2); });
}

double TCritical(double confidence, double df) {
  if (!ValidConfidence(confidence) || !(df > 0)) return kNaN;
  return Guarded([&] { return boost::math::quantile(StudentT(df), 0.5 + confidence / 2); });
}

// Upper tails are taken with complement() rather than 1 - cdf(), which would
// round tiny p-values to 0.
double NormalTwoSidedP(double z) {
  if (std::isnan(z)) return kNaN;
  return Guarded([&] { return 2 * boost::math::cdf(boost::math::complement(Normal(), std::fabs(z))); });
}

double TTwoSidedP(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return kNaN;
  return Guarded([&] { return 2 * boost::math::cdf(boost::math::complement(StudentT(df), std::fabs(t))); });
}

Interval Around(double center, double half_width) {
  if (std::isnan(half_width)) return {};
  return {center - half_width, center + half_width};
}

double Relative(double a, double b) { return a == 0 ? kNaN : (b - a) / a; }

}  // namespace

void Moments::Add(double x) {
  ++n_;
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(n_);
  m2_ += delta * (x - mean_);
  sum_ += x;
}

// Chan et al.'s pairwise combination of two Welford states.
void Moments::Merge(const Moments& other) {
  if (other.n_ == 0) return;
  if (n_ == 0) {
    *this = other;
    return;
  }
  const double na = static_cast<double>(n_);
  const double nb = static_cast<double>(other.n_);
  const double n = na + nb;
  const double delta = other.mean_ - mean_;
  mean_ += delta * nb / n;
  m2_ += other.m2_ + delta * delta * na * nb / n;
  n_ += other.n_;
  sum_ += other.sum_;
}

double Moments::mean() const { return n_ == 0 ? kNaN : mean_; }

double Moments::variance() const { return n_ < 2 ? kNaN : m2_ / static_cast<double>(n_ - 1); }

Estimate Rate(uint64_t successes, uint64_t trials, double confidence) {
  if (trials == 0 || successes > trials) return {};
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  Estimate result;
  result.value = p;
  const double z = NormalCritical(confidence);
  if (std::isnan(z)) return result;
  const double z2 = z * z;
  const double denominator = 1 + z2 / n;
  const double center = (p + z2 / (2 * n)) / denominator;
  const double half = z / denominator * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  // At p = 0 or 1 the formula gives the bound only up to rounding; the exact
  // value matters to callers that test "lower bound > 0".
  result.ci.low = successes == 0 ? 0.0 : std::max(0.0, center - half);
  result.ci.high = successes == trials ? 1.0 : std::min(1.0, center + half);
  return result;
}

Estimate Mean(double mean, double variance, uint64_t n, double confidence) {
  if (n == 0) return {};
  Estimate result;
  result.value = mean;
  if (n < 2 || !(variance >= 0)) return result;
  const double count = static_cast<double>(n);
  result.ci = Around(mean, TCritical(confidence, count - 1) * std::sqrt(variance / count));
  return result;
}

Estimate Mean(const Moments& m, double confidence) { return Mean(m.mean(), m.variance(), m.n(), confidence); }

Comparison CompareRates(uint64_t successes_a, uint64_t trials_a, uint64_t successes_b, uint64_t trials_b,
                        double confidence) {
  if (trials_a == 0 || trials_b == 0 || successes_a > trials_a || successes_b > trials_b) return {};
  const double na = static_cast<double>(trials_a);
  const double nb = static_cast<double>(trials_b);
  const double pa = static_cast<double>(successes_a) / na;
  const double pb = static_cast<double>(successes_b) / nb;
  Comparison result;
  result.difference = pb - pa;
  result.relative = Relative(pa, pb);

  const double pooled = static_cast<double>(successes_a + successes_b) / (na + nb);
  const double pooled_se = std::sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb));
  if (pooled_se == 0) {
    result.p_value = 1;
    return result;
  }
  result.statistic = result.difference / pooled_se;
  result.p_value = NormalTwoSidedP(result.statistic);
  const double wald_se = std::sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb);
  result.ci = Around(result.difference, NormalCritical(confidence) * wald_se);
  return result;
}

Comparison CompareMeans(double mean_a, double var_a, uint64_t n_a, double mean_b, double var_b, uint64_t n_b,
                        double confidence) {
  if (n_a == 0 || n_b == 0) return {};
  Comparison result;
  result.difference = mean_b - mean_a;
  result.relative = Relative(mean_a, mean_b);
  if (n_a < 2 || n_b < 2 || !(var_a >= 0) || !(var_b >= 0)) return result;

  const double na = static_cast<double>(n_a);
  const double nb = static_cast<double>(n_b);
  const double va = var_a / na;  // squared standard error of each mean
  const double vb = var_b / nb;
  const double se2 = va + vb;
  if (se2 == 0) {
    result.p_value = result.difference == 0 ? 1 : 0;
    return result;
  }
  const double se = std::sqrt(se2);
  result.statistic = result.difference / se;
  result.df = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1));
  result.p_value = TTwoSidedP(result.statistic, result.df);
  result.ci = Around(result.difference, TCritical(confidence, result.df) * se);
  return result;
}

Comparison CompareMeans(const Moments& a, const Moments& b, double confidence) {
  return CompareMeans(a.mean(), a.variance(), a.n(), b.mean(), b.variance(), b.n(), confidence);
}

double CupedTheta(std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size()) return kNaN;
  const size_t n = x.size();
  if (n < 2) return 0;
  // Two passes (means first) rather than sums of products, which cancel
  // badly when the metric is large compared with its spread.
  double mean_x = 0, mean_y = 0;
  for (size_t i = 0; i < n; ++i) {
    mean_x += x[i];
    mean_y += y[i];
  }
  mean_x /= static_cast<double>(n);
  mean_y /= static_cast<double>(n);
  double cov = 0, var = 0;
  for (size_t i = 0; i < n; ++i) {
    cov += (x[i] - mean_x) * (y[i] - mean_y);
    var += (x[i] - mean_x) * (x[i] - mean_x);
  }
  return var == 0 ? 0 : cov / var;
}

Moments CupedAdjusted(std::span<const double> x, std::span<const double> y, double theta, double mean_x) {
  Moments adjusted;
  if (x.size() != y.size()) return adjusted;
  for (size_t i = 0; i < x.size(); ++i) adjusted.Add(y[i] - theta * (x[i] - mean_x));
  return adjusted;
}

RatioTest SampleRatio(std::span<const uint64_t> observed, std::span<const double> expected_shares) {
  if (observed.size() != expected_shares.size() || observed.size() < 2) return {};
  double total = 0, share_sum = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (!(expected_shares[i] > 0) || !std::isfinite(expected_shares[i])) return {};
    total += static_cast<double>(observed[i]);
    share_sum += expected_shares[i];
  }
  if (total == 0 || !std::isfinite(share_sum)) return {};

  RatioTest result;
  result.chi_square = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double expected = total * expected_shares[i] / share_sum;
    const double diff = static_cast<double>(observed[i]) - expected;
    result.chi_square += diff * diff / expected;
  }
  // A share so small that its expected count rounds to nothing makes the
  // statistic infinite: certainly a mismatch.
  if (std::isinf(result.chi_square)) {
    result.p_value = 0;
    return result;
  }
  const double df = static_cast<double>(observed.size() - 1);
  result.p_value =
      Guarded([&] { return boost::math::cdf(boost::math::complement(ChiSquared(df), result.chi_square)); });
  return result;
}

}  // namespace vitrina::stats
