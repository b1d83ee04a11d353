// Prometheus metrics kept in process and rendered in the text exposition
// format, version 0.0.4, for GET /metrics.
//
//   MetricsRegistry registry;  // built in main, passed to whoever records
//   CounterFamily& requests = registry.AddCounter(
//       "vitrina_http_requests_total", "HTTP requests served.", {"method", "route", "code"});
//   Counter& search_ok = requests.With({"GET", "/v1/search", "200"});  // once, when wiring
//   search_ok.Inc();                                                    // per request: one atomic add
//
// Registration happens at start-up, and a bad name there is a programming
// error: Add* throws std::invalid_argument. Everything else is thread-safe and
// drops bad input instead of failing, so a metrics bug never takes a request
// down. Label values must be valid UTF-8 (Prometheus rejects the scrape).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vitrina {

// The Content-Type of Render()'s text.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Latency upper bounds in seconds, 0.5 ms to 10 s, for request and stage timings.
std::vector<double> DefaultLatencyBuckets();

// A value that only goes up. Lock-free.
class Counter {
 public:
  // Negative and NaN amounts are dropped: rate() reads a decrease as a restart.
  void Inc(double amount = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down. Lock-free.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations by upper bound; a value equal to a bound lands in that
// bound's bucket (Prometheus's `le` is inclusive). Lock-free: one atomic
// increment and one atomic add per observation.
class Histogram {
 public:
  // `upper_bounds` is sorted and finite, and outlives this object (its family
  // owns it).
  explicit Histogram(const std::vector<double>* upper_bounds);

  // NaN is dropped: it would make _sum NaN for the life of the process.
  void Observe(double value);

  // Observations at or below each bound, then the total (the +Inf bucket).
  // Read one bucket at a time, so a scrape racing Observe may see a bucket
  // and the sum disagree by the observations in flight.
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;  // not cumulative; +Inf last
  std::atomic<double> sum_{0.0};
};

namespace metrics_internal {

// Orders label-value lists of any string type, so lookups copy nothing.
struct LabelValuesLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
  }
};

class FamilyBase {
 public:
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends the # HELP and # TYPE lines and every child's samples, children
  // sorted by label values.
  virtual void Render(std::string* out) const = 0;

 protected:
  // Throws std::invalid_argument on an invalid metric name, an invalid or
  // repeated label name, or a label name in `reserved_label`.
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names, std::string_view type,
             std::string_view reserved_label = {});

  void RenderHeader(std::string* out) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::string_view type_;
};

template <typename Metric>
class Family : public FamilyBase {
 public:
  // The child for these label values (in label-name order), created on first
  // use and valid for the registry's life: look it up once, then record
  // lock-free. With the wrong number of values this returns a detached child
  // that is never exported, so a wiring bug loses samples, not the server.
  Metric& With(std::initializer_list<std::string_view> label_values) { return Find(label_values); }
  Metric& With(const std::vector<std::string>& label_values) { return Find(label_values); }

 protected:
  using FamilyBase::FamilyBase;

  virtual std::unique_ptr<Metric> NewMetric() const = 0;

  // Calls fn(label_values, metric) for every exported child, in order.
  // Holds the lookup lock, so fn must not call With().
  template <typename Fn>
  void ForEachChild(Fn&& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [label_values, metric] : children_) fn(label_values, *metric);
  }

 private:
  template <typename Values>
  Metric& Find(const Values& label_values) {
    std::lock_guard<std::mutex> lock(mu_);
    if (label_values.size() != label_names().size()) {
      if (detached_ == nullptr) detached_ = NewMetric();
      return *detached_;
    }
    auto it = children_.find(label_values);
    if (it == children_.end()) {
      std::vector<std::string> key(label_values.begin(), label_values.end());
      it = children_.emplace(std::move(key), NewMetric()).first;
    }
    return *it->second;
  }

  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>, LabelValuesLess> children_;  // GUARDED_BY(mu_)
  std::unique_ptr<Metric> detached_;                                                        // GUARDED_BY(mu_)
};

}  // namespace metrics_internal

// The Inc/Set/Add/Observe conveniences below look the child up under a mutex
// on every call: fine for rare events, not for per-request paths.

class CounterFamily final : public metrics_internal::Family<Counter> {
 public:
  void Inc(std::initializer_list<std::string_view> label_values, double amount = 1.0) {
    With(label_values).Inc(amount);
  }
  void Render(std::string* out) const override;

 private:
  friend class MetricsRegistry;
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  std::unique_ptr<Counter> NewMetric() const override { return std::make_unique<Counter>(); }
};

class GaugeFamily final : public metrics_internal::Family<Gauge> {
 public:
  void Set(std::initializer_list<std::string_view> label_values, double value) { With(label_values).Set(value); }
  void Add(std::initializer_list<std::string_view> label_values, double delta) { With(label_values).Add(delta); }
  void Render(std::string* out) const override;

 private:
  friend class MetricsRegistry;
  GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names);
  std::unique_ptr<Gauge> NewMetric() const override { return std::make_unique<Gauge>(); }
};

class HistogramFamily final : public metrics_internal::Family<Histogram> {
 public:
  void Observe(std::initializer_list<std::string_view> label_values, double value) {
    With(label_values).Observe(value);
  }
  void Render(std::string* out) const override;

 private:
  friend class MetricsRegistry;
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> upper_bounds);
  std::unique_ptr<Histogram> NewMetric() const override { return std::make_unique<Histogram>(&upper_bounds_); }

  std::vector<double> upper_bounds_;
};

// Writes families computed at scrape time (model age, online CTR) from a
// collector. A family with an invalid name or type, or whose name was already
// written in this scrape, is dropped with its samples, as are samples with an
// invalid label name or before any BeginFamily: a collector bug costs its own
// lines, not the whole scrape.
class MetricsWriter {
 public:
  // Starts a family; the samples that follow belong to it. `type` is
  // "counter", "gauge" or "untyped".
  void BeginFamily(std::string_view name, std::string_view type, std::string_view help);
  // Labels are written in the order given.
  void Sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value);
  void Sample(const std::vector<std::pair<std::string, std::string>>& labels, double value);

 private:
  friend class MetricsRegistry;
  MetricsWriter(std::string* out, std::set<std::string, std::less<>>* written_names)
      : out_(out), written_names_(written_names) {}

  template <typename Labels>
  void WriteSample(const Labels& labels, double value);

  std::string* out_;
  std::set<std::string, std::less<>>* written_names_;
  std::string family_;  // empty while samples are dropped
};

// Owns every family. Not copyable or movable, because callers keep references
// into it; build it in main before anything records.
class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // The returned family lives as long as the registry. Throws
  // std::invalid_argument on an invalid or already registered name, or an
  // invalid or repeated label name. A family without labels exports 0 from
  // the start; one with labels exports its children once they are used.
  CounterFamily& AddCounter(std::string name, std::string help, std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // Also throws when `upper_bounds` is not strictly increasing or not finite
  // (a trailing +Inf is allowed and ignored; +Inf is always added), or on a
  // label named "le".
  HistogramFamily& AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                std::vector<double> upper_bounds);

  // Runs on every Render, after the registered families, in the order added.
  // Scrapes may run at once, so a collector must be thread-safe; it may add
  // families but must not call Render.
  void AddCollector(std::function<void(MetricsWriter&)> collector);

  // The whole exposition text: registered families in registration order,
  // then the collectors' families.
  std::string Render() const;

 private:
  template <typename F>
  F& Register(std::unique_ptr<F> family);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<metrics_internal::FamilyBase>> families_;  // GUARDED_BY(mu_)
  std::vector<std::function<void(MetricsWriter&)>> collectors_;          // GUARDED_BY(mu_)
};

}  // namespace vitrina
