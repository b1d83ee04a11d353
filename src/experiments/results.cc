#include "experiments/results.h"

#include <cmath>

#include "common/time_util.h"

namespace vitrina {
namespace {

void WriteInterval(const stats::Interval& interval, JsonWriter* w) {
  w->BeginArray().Double(interval.low).Double(interval.high).EndArray();
}

void WriteMetric(std::string_view name, const MetricResult& metric, bool enough_data, JsonWriter* w) {
  w->Key(name).BeginObject().Key("value").Double(metric.estimate.value).Key("ci95");
  WriteInterval(metric.estimate.ci, w);
  if (metric.vs_control) {
    const stats::Comparison& c = *metric.vs_control;
    w->Key("vs_control").BeginObject().Key("difference").Double(c.difference).Key("ci95");
    WriteInterval(c.ci, w);
    w->Key("relative").Double(c.relative).Key("p_value").Double(c.p_value);
    w->Key("significant").Bool(enough_data && std::isfinite(c.p_value) && c.p_value < 0.05).EndObject();
  }
  w->EndObject();
}

}  // namespace

ExperimentResults ComputeResults(const Experiment& experiment, const ExperimentData& data) {
  ExperimentResults results;
  const size_t groups = data.groups.size();
  // CUPED: one theta over every unit of every group.
  std::vector<double> pooled_x, pooled_y;
  for (const auto& units : data.units) {
    for (const UnitOutcome& unit : units) {
      pooled_x.push_back(unit.pre_revenue);
      pooled_y.push_back(unit.revenue);
    }
  }
  results.cuped_theta = stats::CupedTheta(pooled_x, pooled_y);
  double mean_x = 0;
  for (double x : pooled_x) mean_x += x;
  if (!pooled_x.empty()) mean_x /= static_cast<double>(pooled_x.size());

  uint64_t total_units = 0;
  for (const auto& units : data.units) total_units += units.size();
  std::vector<stats::Moments> revenue(groups), adjusted(groups), attributed(groups);
  stats::Moments all_raw, all_adjusted;
  for (size_t g = 0; g < groups; ++g) {
    GroupResult result;
    result.name = data.groups[g];
    result.holdout = result.name == kHoldoutGroup && g + 1 == groups && experiment.holdout > 0;
    result.expected_share = data.shares[g];
    result.units = data.units[g].size();
    result.observed_share = total_units == 0 ? 0 : static_cast<double>(result.units) / static_cast<double>(total_units);
    std::vector<double> x, y;
    for (const UnitOutcome& unit : data.units[g]) {
      result.lists += unit.lists;
      result.impressions += unit.impressions;
      result.clicks += unit.clicks;
      result.carts += unit.carts;
      result.purchases += unit.purchases;
      result.orders += unit.orders;
      result.converted += unit.orders > 0 ? 1 : 0;
      result.revenue += unit.revenue;
      result.attributed_revenue += unit.attributed_revenue;
      revenue[g].Add(unit.revenue);
      attributed[g].Add(unit.attributed_revenue);
      x.push_back(unit.pre_revenue);
      y.push_back(unit.revenue);
    }
    adjusted[g] = stats::CupedAdjusted(x, y, results.cuped_theta, mean_x);
    all_raw.Merge(revenue[g]);
    all_adjusted.Merge(adjusted[g]);
    result.ctr.estimate = stats::Rate(result.clicks, result.impressions);
    result.add_to_cart_rate.estimate = stats::Rate(result.carts, result.impressions);
    result.conversion.estimate = stats::Rate(result.converted, result.units);
    result.revenue_per_user.estimate = stats::Mean(revenue[g]);
    result.revenue_per_user_cuped.estimate = stats::Mean(adjusted[g]);
    result.attributed_revenue_per_user.estimate = stats::Mean(attributed[g]);
    result.average_order_value.estimate = stats::Mean(data.order_values[g]);
    results.groups.push_back(std::move(result));
  }
  if (all_raw.n() >= 2 && all_raw.variance() > 0) {
    results.cuped_variance_reduction = 1 - all_adjusted.variance() / all_raw.variance();
  }
  for (size_t g = 1; g < groups; ++g) {
    const GroupResult& control = results.groups[0];
    GroupResult& group = results.groups[g];
    group.ctr.vs_control = stats::CompareRates(control.clicks, control.impressions, group.clicks, group.impressions);
    group.add_to_cart_rate.vs_control =
        stats::CompareRates(control.carts, control.impressions, group.carts, group.impressions);
    group.conversion.vs_control = stats::CompareRates(control.converted, control.units, group.converted, group.units);
    group.revenue_per_user.vs_control = stats::CompareMeans(revenue[0], revenue[g]);
    group.revenue_per_user_cuped.vs_control = stats::CompareMeans(adjusted[0], adjusted[g]);
    group.attributed_revenue_per_user.vs_control = stats::CompareMeans(attributed[0], attributed[g]);
    group.average_order_value.vs_control = stats::CompareMeans(data.order_values[0], data.order_values[g]);
  }

  std::vector<uint64_t> observed;
  for (const GroupResult& group : results.groups) observed.push_back(group.units);
  results.sample_ratio = stats::SampleRatio(observed, data.shares);
  results.sample_ratio_mismatch =
      std::isfinite(results.sample_ratio.p_value) && results.sample_ratio.p_value < kSampleRatioAlpha;

  const GroupResult* smallest = nullptr;
  for (const GroupResult& group : results.groups) {
    if (smallest == nullptr || group.units < smallest->units) smallest = &group;
  }
  results.enough_data = smallest != nullptr && smallest->units >= experiment.min_units;
  if (!results.enough_data) {
    results.message = "not enough data yet: each group needs " + std::to_string(experiment.min_units) +
                      " shoppers; " + (smallest == nullptr ? std::string("none") : smallest->name) + " has " +
                      std::to_string(smallest == nullptr ? 0 : smallest->units);
  } else if (results.sample_ratio_mismatch) {
    results.message = "sample ratio mismatch: the groups' sizes differ from their shares more than chance allows "
                      "(p < 0.001); find the cause before trusting these results";
  } else {
    results.message = "ready";
  }
  return results;
}

void WriteResultsJson(const Experiment& experiment, const ExperimentResults& results, int64_t now_ms, JsonWriter* w) {
  w->BeginObject().Key("experiment").String(experiment.id).Key("name").String(experiment.name);
  w->Key("status").String(experiment.StatusAt(now_ms));
  w->Key("start").String(FormatTimestampMillis(experiment.start_ms));
  if (experiment.end_ms() != 0) w->Key("end").String(FormatTimestampMillis(experiment.end_ms()));
  w->Key("state").String(!results.enough_data ? "not_enough_data" : results.sample_ratio_mismatch ? "sample_ratio_mismatch" : "ready");
  w->Key("message").String(results.message);
  w->Key("sample_ratio").BeginObject()
      .Key("chi_square").Double(results.sample_ratio.chi_square)
      .Key("p_value").Double(results.sample_ratio.p_value)
      .Key("mismatch").Bool(results.sample_ratio_mismatch)
      .EndObject();
  w->Key("cuped").BeginObject()
      .Key("covariate").String("revenue in the " + std::to_string(experiment.cuped_days) + " days before the start")
      .Key("theta").Double(results.cuped_theta)
      .Key("variance_reduction").Double(results.cuped_variance_reduction)
      .EndObject();
  w->Key("groups").BeginArray();
  for (size_t g = 0; g < results.groups.size(); ++g) {
    const GroupResult& group = results.groups[g];
    w->BeginObject().Key("name").String(group.name);
    w->Key("role").String(g == 0 ? "control" : group.holdout ? "holdout" : "treatment");
    w->Key("expected_share").Double(group.expected_share).Key("observed_share").Double(group.observed_share);
    w->Key("users").UInt(group.units).Key("lists").UInt(group.lists).Key("impressions").UInt(group.impressions);
    w->Key("clicks").UInt(group.clicks).Key("add_to_carts").UInt(group.carts).Key("purchases").UInt(group.purchases);
    w->Key("orders").UInt(group.orders).Key("converted_users").UInt(group.converted);
    w->Key("revenue").Double(group.revenue).Key("attributed_revenue").Double(group.attributed_revenue);
    w->Key("metrics").BeginObject();
    WriteMetric("ctr", group.ctr, results.enough_data, w);
    WriteMetric("add_to_cart_rate", group.add_to_cart_rate, results.enough_data, w);
    WriteMetric("conversion", group.conversion, results.enough_data, w);
    WriteMetric("revenue_per_user", group.revenue_per_user, results.enough_data, w);
    WriteMetric("revenue_per_user_cuped", group.revenue_per_user_cuped, results.enough_data, w);
    WriteMetric("attributed_revenue_per_user", group.attributed_revenue_per_user, results.enough_data, w);
    WriteMetric("average_order_value", group.average_order_value, results.enough_data, w);
    w->EndObject().EndObject();
  }
  w->EndArray().EndObject();
}

}  // namespace vitrina
