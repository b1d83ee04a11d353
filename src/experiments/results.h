// An experiment's results: per group the funnel, rates and revenue with
// 95% intervals, each compared with the control (the first variant):
// two-proportion z-tests for rates, Welch's t-test for revenue per user
// and order value, CUPED-adjusted revenue per user (the pre-period's
// purchases as covariate), and a sample-ratio-mismatch check.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json_writer.h"
#include "experiments/attribution.h"
#include "experiments/experiment.h"
#include "experiments/stats.h"

namespace vitrina {

// One metric of one group, with its comparison to the control (none for the control itself).
struct MetricResult {
  stats::Estimate estimate;
  std::optional<stats::Comparison> vs_control;
};

struct GroupResult {
  std::string name;
  bool holdout = false;
  double expected_share = 0, observed_share = 0;
  uint64_t units = 0, lists = 0, impressions = 0, clicks = 0, carts = 0, purchases = 0;  // attributed
  uint64_t orders = 0, converted = 0;  // every order after exposure; units with one
  double revenue = 0, attributed_revenue = 0;
  MetricResult ctr;                  // clicks / items shown
  MetricResult add_to_cart_rate;     // carts / items shown
  MetricResult conversion;           // units with an order / units
  MetricResult revenue_per_user;     // revenue / units
  MetricResult revenue_per_user_cuped;
  MetricResult attributed_revenue_per_user;  // of purchase lines attributed to the group's lists
  MetricResult average_order_value;  // revenue / orders
};

struct ExperimentResults {
  bool enough_data = false;
  std::string message;           // why not, in words; or a summary
  stats::RatioTest sample_ratio;
  bool sample_ratio_mismatch = false;  // p < 0.001: the split is broken, do not trust the results
  double cuped_theta = 0;
  double cuped_variance_reduction = 0;  // 1 - var(adjusted) / var(raw), pooled
  std::vector<GroupResult> groups;      // control first
};

inline constexpr double kSampleRatioAlpha = 0.001;

ExperimentResults ComputeResults(const Experiment& experiment, const ExperimentData& data);
void WriteResultsJson(const Experiment& experiment, const ExperimentResults& results, int64_t now_ms, JsonWriter* w);

}  // namespace vitrina
