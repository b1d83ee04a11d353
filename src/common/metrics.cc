#include "common/metrics.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace vitrina {
namespace {

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Prometheus keeps ':' for recording rules' metric names and "__" for itself.
bool IsValidLabelName(std::string_view name) {
  return IsValidMetricName(name) && name.find(':') == std::string_view::npos && !name.starts_with("__");
}

// std::atomic<double>::fetch_add is missing from some standard libraries.
void AtomicAdd(std::atomic<double>* target, double delta) {
  double current = target->load(std::memory_order_relaxed);
  while (!target->compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

// Shortest text that parses back to `value`, without an exponent for
// ordinary magnitudes (so counts read "1000000", not "1e+06"), and with the
// spellings Prometheus expects for the special values.
void AppendValue(std::string* out, double value) {
  if (std::isnan(value)) {
    out->append("NaN");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
  } else if (value == 0) {
    out->push_back('0');  // also for -0
  } else {
    double magnitude = std::fabs(value);
    auto format = magnitude >= 1e-4 && magnitude < 1e21 ? std::chars_format::fixed : std::chars_format::general;
    char buf[64];
    std::to_chars_result result = std::to_chars(buf, buf + sizeof buf, value, format);
    if (result.ec != std::errc()) result = std::to_chars(buf, buf + sizeof buf, value);
    out->append(buf, result.ptr);
  }
}

void AppendEscaped(std::string* out, std::string_view text, bool escape_quote) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && escape_quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// Appends `name="value"` to the text between a sample's braces.
void AppendLabel(std::string* labels, std::string_view name, std::string_view value) {
  if (!labels->empty()) labels->push_back(',');
  labels->append(name);
  labels->append("=\"");
  AppendEscaped(labels, value, /*escape_quote=*/true);
  labels->push_back('"');
}

std::string LabelsText(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  std::string labels;
  for (size_t i = 0; i < names.size(); ++i) AppendLabel(&labels, names[i], values[i]);
  return labels;
}

void AppendSample(std::string* out, std::string_view name, std::string_view suffix, std::string_view labels,
                  double value) {
  out->append(name);
  out->append(suffix);
  if (!labels.empty()) {
    out->push_back('{');
    out->append(labels);
    out->push_back('}');
  }
  out->push_back(' ');
  AppendValue(out, value);
  out->push_back('\n');
}

void AppendHeader(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  if (!help.empty()) {
    out->append("# HELP ").append(name).push_back(' ');
    AppendEscaped(out, help, /*escape_quote=*/false);
    out->push_back('\n');
  }
  out->append("# TYPE ").append(name).append(" ").append(type).push_back('\n');
}

}  // namespace

std::vector<double> DefaultLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void Counter::Inc(double amount) {
  if (!(amount >= 0)) return;  // also NaN
  AtomicAdd(&value_, amount);
}

void Gauge::Add(double delta) { AtomicAdd(&value_, delta); }

Histogram::Histogram(const std::vector<double>* upper_bounds)
    : upper_bounds_(upper_bounds),
      bucket_counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds->size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // The first bound >= value: inclusive, as `le`; past the end is +Inf.
  size_t bucket = std::lower_bound(upper_bounds_->begin(), upper_bounds_->end(), value) - upper_bounds_->begin();
  bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_, value);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> counts(upper_bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    total += bucket_counts_[i].load(std::memory_order_relaxed);
    counts[i] = total;
  }
  return counts;
}

namespace metrics_internal {

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       std::string_view type, std::string_view reserved_label)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), type_(type) {
  if (!IsValidMetricName(name_)) throw std::invalid_argument("invalid metric name '" + name_ + "'");
  for (size_t i = 0; i < label_names_.size(); ++i) {
    const std::string& label = label_names_[i];
    if (!IsValidLabelName(label) || label == reserved_label) {
      throw std::invalid_argument("metric " + name_ + ": invalid label name '" + label + "'");
    }
    if (std::find(label_names_.begin(), label_names_.begin() + i, label) != label_names_.begin() + i) {
      throw std::invalid_argument("metric " + name_ + ": repeated label name '" + label + "'");
    }
  }
}

void FamilyBase::RenderHeader(std::string* out) const { AppendHeader(out, name_, type_, help_); }

}  // namespace metrics_internal

CounterFamily::CounterFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : Family(std::move(name), std::move(help), std::move(label_names), "counter") {
  if (this->label_names().empty()) With({});
}

void CounterFamily::Render(std::string* out) const {
  RenderHeader(out);
  ForEachChild([&](const std::vector<std::string>& values, const Counter& counter) {
    AppendSample(out, name(), "", LabelsText(label_names(), values), counter.Value());
  });
}

GaugeFamily::GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : Family(std::move(name), std::move(help), std::move(label_names), "gauge") {
  if (this->label_names().empty()) With({});
}

void GaugeFamily::Render(std::string* out) const {
  RenderHeader(out);
  ForEachChild([&](const std::vector<std::string>& values, const Gauge& gauge) {
    AppendSample(out, name(), "", LabelsText(label_names(), values), gauge.Value());
  });
}

HistogramFamily::HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                                 std::vector<double> upper_bounds)
    : Family(std::move(name), std::move(help), std::move(label_names), "histogram", /*reserved_label=*/"le"),
      upper_bounds_(std::move(upper_bounds)) {
  if (!upper_bounds_.empty() && std::isinf(upper_bounds_.back()) && upper_bounds_.back() > 0) upper_bounds_.pop_back();
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (!std::isfinite(upper_bounds_[i]) || (i > 0 && !(upper_bounds_[i - 1] < upper_bounds_[i]))) {
      throw std::invalid_argument("histogram " + this->name() + ": buckets must be finite and strictly increasing");
    }
  }
  if (this->label_names().empty()) With({});
}

void HistogramFamily::Render(std::string* out) const {
  RenderHeader(out);
  // Formatted once per scrape, not once per child.
  std::vector<std::string> bound_texts;
  for (double bound : upper_bounds_) {
    bound_texts.emplace_back();
    AppendValue(&bound_texts.back(), bound);
  }
  bound_texts.push_back("+Inf");
  ForEachChild([&](const std::vector<std::string>& values, const Histogram& histogram) {
    std::string labels = LabelsText(label_names(), values);
    std::vector<uint64_t> counts = histogram.CumulativeCounts();
    for (size_t i = 0; i < counts.size(); ++i) {
      std::string bucket_labels = labels;
      AppendLabel(&bucket_labels, "le", bound_texts[i]);
      AppendSample(out, name(), "_bucket", bucket_labels, static_cast<double>(counts[i]));
    }
    AppendSample(out, name(), "_sum", labels, histogram.Sum());
    // The +Inf bucket, so that _count always equals it even mid-Observe.
    AppendSample(out, name(), "_count", labels, static_cast<double>(counts.back()));
  });
}

void MetricsWriter::BeginFamily(std::string_view name, std::string_view type, std::string_view help) {
  family_.clear();
  if (!IsValidMetricName(name) || (type != "counter" && type != "gauge" && type != "untyped")) return;
  // A second TYPE line for a name makes Prometheus reject the whole scrape.
  if (!written_names_->emplace(name).second) return;
  family_ = name;
  AppendHeader(out_, name, type, help);
}

template <typename Labels>
void MetricsWriter::WriteSample(const Labels& labels, double value) {
  if (family_.empty()) return;
  std::string text;
  for (const auto& [name, label_value] : labels) {
    if (!IsValidLabelName(name)) return;
    AppendLabel(&text, name, label_value);
  }
  AppendSample(out_, family_, "", text, value);
}

void MetricsWriter::Sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                           double value) {
  WriteSample(labels, value);
}

void MetricsWriter::Sample(const std::vector<std::pair<std::string, std::string>>& labels, double value) {
  WriteSample(labels, value);
}

template <typename F>
F& MetricsRegistry::Register(std::unique_ptr<F> family) {
  F& result = *family;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& existing : families_) {
    if (existing->name() == result.name()) {
      throw std::invalid_argument("metric " + result.name() + " is already registered");
    }
  }
  families_.push_back(std::move(family));
  return result;
}

// The constructors are private to the registry, hence `new` over make_unique.
CounterFamily& MetricsRegistry::AddCounter(std::string name, std::string help, std::vector<std::string> label_names) {
  return Register(std::unique_ptr<CounterFamily>(
      new CounterFamily(std::move(name), std::move(help), std::move(label_names))));
}

GaugeFamily& MetricsRegistry::AddGauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return Register(
      std::unique_ptr<GaugeFamily>(new GaugeFamily(std::move(name), std::move(help), std::move(label_names))));
}

HistogramFamily& MetricsRegistry::AddHistogram(std::string name, std::string help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> upper_bounds) {
  return Register(std::unique_ptr<HistogramFamily>(new HistogramFamily(
      std::move(name), std::move(help), std::move(label_names), std::move(upper_bounds))));
}

void MetricsRegistry::AddCollector(std::function<void(MetricsWriter&)> collector) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() const {
  // Copied out so rendering and collectors run without the registry lock:
  // families are never removed, and a collector may register families.
  std::vector<const metrics_internal::FamilyBase*> families;
  std::vector<std::function<void(MetricsWriter&)>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& family : families_) families.push_back(family.get());
    collectors = collectors_;
  }
  std::string out;
  std::set<std::string, std::less<>> written_names;
  for (const auto* family : families) {
    family->Render(&out);
    written_names.insert(family->name());
  }
  MetricsWriter writer(&out, &written_names);
  for (const auto& collector : collectors) collector(writer);
  return out;
}

}  // namespace vitrina
