#include "common/metrics.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <thread>

namespace vitrina {
namespace {

struct ParsedSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // values unescaped
  double value = 0;
};

bool IsNameChar(char c, bool first, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
         (!first && c >= '0' && c <= '9');
}

std::string_view TakeName(std::string_view* line, bool allow_colon) {
  size_t n = 0;
  while (n < line->size() && IsNameChar((*line)[n], n == 0, allow_colon)) ++n;
  std::string_view name = line->substr(0, n);
  line->remove_prefix(n);
  return name;
}

// A sample line of the 0.0.4 text format, `name{label="value",...} number`
// (we never write timestamps), or nullopt when the line breaks the grammar.
std::optional<ParsedSample> ParseSampleLine(std::string_view line) {
  ParsedSample sample;
  sample.name = TakeName(&line, /*allow_colon=*/true);
  if (sample.name.empty()) return std::nullopt;
  if (!line.empty() && line[0] == '{') {
    line.remove_prefix(1);
    while (true) {
      std::string label(TakeName(&line, /*allow_colon=*/false));
      if (label.empty() || line.size() < 2 || line[0] != '=' || line[1] != '"') return std::nullopt;
      line.remove_prefix(2);
      std::string value;
      while (true) {
        if (line.empty() || line[0] == '\n') return std::nullopt;
        char c = line[0];
        line.remove_prefix(1);
        if (c == '"') break;
        if (c == '\\') {
          if (line.empty()) return std::nullopt;
          char escaped = line[0];
          line.remove_prefix(1);
          if (escaped == 'n') {
            c = '\n';
          } else if (escaped == '\\' || escaped == '"') {
            c = escaped;
          } else {
            return std::nullopt;
          }
        }
        value.push_back(c);
      }
      sample.labels.emplace_back(label, value);
      if (line.empty()) return std::nullopt;
      char separator = line[0];
      line.remove_prefix(1);
      if (separator == '}') break;
      if (separator != ',') return std::nullopt;
    }
  }
  if (line.empty() || line[0] != ' ') return std::nullopt;
  line.remove_prefix(1);
  if (line == "+Inf" || line == "-Inf" || line == "NaN") {
    sample.value = line == "NaN" ? std::nan("") : (line[0] == '+' ? 1 : -1) * std::numeric_limits<double>::infinity();
    return sample;
  }
  // from_chars alone would also take "inf" and "nan", which Prometheus does not.
  if (line.empty() || line.find_first_not_of("0123456789.-+e") != std::string_view::npos) return std::nullopt;
  auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), sample.value);
  if (ec != std::errc() || end != line.data() + line.size()) return std::nullopt;
  return sample;
}

// Checks every line of `text` against the format; returns the samples.
std::vector<ParsedSample> ParseExposition(const std::string& text) {
  std::vector<ParsedSample> samples;
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  std::set<std::string> typed_names;
  std::string family, type;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      bool is_type = line[2] == 'T';
      line.remove_prefix(7);
      std::string name(TakeName(&line, /*allow_colon=*/true));
      EXPECT_FALSE(name.empty());
      EXPECT_TRUE(line.starts_with(" ")) << name;
      if (is_type) {
        EXPECT_TRUE(typed_names.insert(name).second) << "second TYPE for " << name;
        family = name;
        type = line.substr(1);
        EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram" || type == "untyped") << type;
      }
      continue;
    }
    std::optional<ParsedSample> sample = ParseSampleLine(line);
    if (!sample) {
      ADD_FAILURE() << "not a sample line: " << line;
      continue;
    }
    bool in_family = sample->name == family ||
                     (type == "histogram" && (sample->name == family + "_bucket" || sample->name == family + "_sum" ||
                                              sample->name == family + "_count"));
    EXPECT_TRUE(in_family) << sample->name << " after TYPE " << family;
    samples.push_back(*sample);
  }
  return samples;
}

TEST(MetricsTest, RendersExactText) {
  MetricsRegistry registry;
  CounterFamily& requests = registry.AddCounter("http_requests_total", "Requests served.", {"method", "code"});
  requests.With({"POST", "200"}).Inc(2);
  requests.With({"GET", "200"}).Inc();
  requests.Inc({"GET", "500"});
  registry.AddCounter("errors_total", "Errors.");
  HistogramFamily& latency = registry.AddHistogram("latency_seconds", "Request latency.", {"route"}, {0.25, 0.5, 1});
  Histogram& search = latency.With({"/search"});
  for (double seconds : {0.25, 0.5, 0.75, 2.0}) search.Observe(seconds);  // the first two on bucket edges
  latency.Observe({"/a"}, 1);
  registry.AddGauge("model_loaded", "").With({}).Set(2.5);
  registry.AddCollector([](MetricsWriter& writer) {
    writer.BeginFamily("model_age_seconds", "gauge", "Age of the served model.");
    writer.Sample({{"model", "ease"}}, 90);
  });

  EXPECT_EQ(registry.Render(),
            "# HELP http_requests_total Requests served.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",code=\"200\"} 1\n"
            "http_requests_total{method=\"GET\",code=\"500\"} 1\n"
            "http_requests_total{method=\"POST\",code=\"200\"} 2\n"
            "# HELP errors_total Errors.\n"
            "# TYPE errors_total counter\n"
            "errors_total 0\n"
            "# HELP latency_seconds Request latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{route=\"/a\",le=\"0.25\"} 0\n"
            "latency_seconds_bucket{route=\"/a\",le=\"0.5\"} 0\n"
            "latency_seconds_bucket{route=\"/a\",le=\"1\"} 1\n"
            "latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 1\n"
            "latency_seconds_sum{route=\"/a\"} 1\n"
            "latency_seconds_count{route=\"/a\"} 1\n"
            "latency_seconds_bucket{route=\"/search\",le=\"0.25\"} 1\n"
            "latency_seconds_bucket{route=\"/search\",le=\"0.5\"} 2\n"
            "latency_seconds_bucket{route=\"/search\",le=\"1\"} 3\n"
            "latency_seconds_bucket{route=\"/search\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{route=\"/search\"} 3.5\n"
            "latency_seconds_count{route=\"/search\"} 4\n"
            "# TYPE model_loaded gauge\n"
            "model_loaded 2.5\n"
            "# HELP model_age_seconds Age of the served model.\n"
            "# TYPE model_age_seconds gauge\n"
            "model_age_seconds{model=\"ease\"} 90\n");
}

TEST(MetricsTest, EscapesHelpAndLabelValues) {
  MetricsRegistry registry;
  GaugeFamily& gauge = registry.AddGauge("escaped", "Say \"hi\"\\bye\nnext line.", {"value"});
  gauge.Set({"a\\b\"c\nd"}, 1);
  EXPECT_EQ(registry.Render(),
            "# HELP escaped Say \"hi\"\\\\bye\\nnext line.\n"
            "# TYPE escaped gauge\n"
            "escaped{value=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(MetricsTest, FormatsNumbersForPrometheus) {
  MetricsRegistry registry;
  GaugeFamily& gauge = registry.AddGauge("number", "", {"case"});
  const std::vector<std::pair<double, std::string>> cases = {
      {1e6, "1000000"},    {123456789012, "123456789012"}, {3, "3"},
      {0.1, "0.1"},        {0.0005, "0.0005"},             {-2.5, "-2.5"},
      {1e-7, "1e-07"},     {1e22, "1e+22"},                {-0.0, "0"},
      {INFINITY, "+Inf"},  {-INFINITY, "-Inf"},            {std::nan(""), "NaN"},
  };
  for (size_t i = 0; i < cases.size(); ++i) gauge.Set({cases[i].second}, cases[i].first);
  std::string text = registry.Render();
  for (const auto& [value, expected] : cases) {
    EXPECT_NE(text.find("number{case=\"" + expected + "\"} " + expected + "\n"), std::string::npos) << expected;
  }
}

TEST(MetricsTest, OutputParsesBack) {
  MetricsRegistry registry;
  const std::string odd_value = "quote\" back\\slash\nnewline, comma} brace=equals ёлка";
  registry.AddCounter("odd_total", "Odd\nhelp \\ text.", {"value", "other"}).With({odd_value, ""}).Inc(7);
  HistogramFamily& histogram = registry.AddHistogram("took_seconds", "", {"stage"}, DefaultLatencyBuckets());
  for (double seconds : {0.0001, 0.0005, 0.3, 12.0}) histogram.Observe({odd_value}, seconds);
  GaugeFamily& gauge = registry.AddGauge("special", "", {"kind"});
  gauge.Set({"nan"}, std::nan(""));
  gauge.Set({"inf"}, -INFINITY);
  gauge.Set({"tiny"}, 1e-300);
  registry.AddCollector([&](MetricsWriter& writer) {
    writer.BeginFamily("ctr", "gauge", "Online CTR.");
    writer.Sample(std::vector<std::pair<std::string, std::string>>{{"slot", odd_value}}, 0.0325);
  });

  std::vector<ParsedSample> samples = ParseExposition(registry.Render());
  ASSERT_EQ(samples.size(), 1u + (DefaultLatencyBuckets().size() + 3) + 3 + 1);
  EXPECT_EQ(samples[0].labels, (std::vector<std::pair<std::string, std::string>>{{"value", odd_value}, {"other", ""}}));
  EXPECT_EQ(samples[0].value, 7);
  EXPECT_EQ(samples[1].labels[1], (std::pair<std::string, std::string>{"le", "0.0005"}));
  EXPECT_EQ(samples[1].value, 2);  // 0.0001 and 0.0005 (inclusive)
  EXPECT_EQ(samples.back().labels[0].second, odd_value);
  EXPECT_EQ(samples.back().value, 0.0325);
}

TEST(MetricsTest, ParserRejectsMalformedLines) {
  // Guards the parse-back test: the parser must be able to fail.
  EXPECT_TRUE(ParseSampleLine("a{b=\"c\"} 1").has_value());
  for (std::string_view bad : {"a{b=\"c\"}1", "a{b=\"c} 1", "a{b=c} 1", "a{b=\"\\t\"} 1", "1a 1", "a inf",
                               "a 1 2", "a{__b:c=\"x\"} 1", "a{b=\"c\",} 1", "a 1e+06x"}) {
    EXPECT_FALSE(ParseSampleLine(bad).has_value()) << bad;
  }
}

TEST(MetricsTest, ConcurrentIncrementsAreExact) {
  MetricsRegistry registry;
  CounterFamily& requests = registry.AddCounter("requests_total", "", {"route"});
  HistogramFamily& latency = registry.AddHistogram("latency_seconds", "", {"route"}, {0.25, 1});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Each thread looks up its own handles, racing the lookups and creation too.
      Counter& counter = requests.With({"/v1/search"});
      Histogram& histogram = latency.With({"/v1/search"});
      for (int i = 0; i < kPerThread; ++i) {
        counter.Inc();
        histogram.Observe(0.5);
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 20; ++i) ParseExposition(registry.Render());
  });
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(requests.With({"/v1/search"}).Value(), kThreads * kPerThread);
  std::vector<uint64_t> counts = latency.With({"/v1/search"}).CumulativeCounts();
  EXPECT_EQ(counts, (std::vector<uint64_t>{0, kThreads * kPerThread, kThreads * kPerThread}));
  EXPECT_EQ(latency.With({"/v1/search"}).Sum(), 0.5 * kThreads * kPerThread);
}

TEST(MetricsTest, ChildHandlesAreStable) {
  MetricsRegistry registry;
  CounterFamily& requests = registry.AddCounter("requests_total", "", {"method", "route"});
  Counter& first = requests.With({"GET", "/a"});
  for (int i = 0; i < 100; ++i) requests.With({"GET", "/route" + std::to_string(i)});
  EXPECT_EQ(&first, &requests.With({"GET", "/a"}));
  EXPECT_EQ(&first, &requests.With(std::vector<std::string>{"GET", "/a"}));
}

TEST(MetricsTest, WrongLabelCountGetsADetachedChild) {
  MetricsRegistry registry;
  CounterFamily& requests = registry.AddCounter("requests_total", "Requests.", {"method", "route"});
  Counter& detached = requests.With({"GET"});
  detached.Inc(5);
  EXPECT_EQ(&detached, &requests.With({"GET", "/a", "extra"}));
  EXPECT_EQ(detached.Value(), 5);
  EXPECT_EQ(registry.Render(), "# HELP requests_total Requests.\n# TYPE requests_total counter\n");
}

TEST(MetricsTest, DropsInvalidObservations) {
  MetricsRegistry registry;
  Counter& counter = registry.AddCounter("c_total", "").With({});
  counter.Inc(2);
  counter.Inc(-1);
  counter.Inc(std::nan(""));
  EXPECT_EQ(counter.Value(), 2);
  Histogram& histogram = registry.AddHistogram("h", "", {}, {1, INFINITY}).With({});
  histogram.Observe(std::nan(""));
  histogram.Observe(INFINITY);
  EXPECT_EQ(histogram.CumulativeCounts(), (std::vector<uint64_t>{0, 1}));  // the trailing +Inf bound is not doubled
}

TEST(MetricsTest, RejectsInvalidRegistrations) {
  MetricsRegistry registry;
  registry.AddCounter("ns:requests_total", "", {"_route", "code2"});
  EXPECT_THROW(registry.AddCounter("ns:requests_total", "", {}), std::invalid_argument);  // registered already
  EXPECT_THROW(registry.AddGauge("ns:requests_total", "", {}), std::invalid_argument);
  for (const char* name : {"", "2xx", "a-b", "a b", "ёлка"}) {
    EXPECT_THROW(registry.AddGauge(name, ""), std::invalid_argument) << name;
  }
  for (const char* label : {"", "__name", "a:b", "9a", "a-b"}) {
    EXPECT_THROW(registry.AddGauge("g", "", {label}), std::invalid_argument) << label;
  }
  EXPECT_THROW(registry.AddGauge("g", "", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "", {}, {2, 1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "", {}, {std::nan(""), 1}), std::invalid_argument);
  EXPECT_THROW(registry.AddHistogram("h", "", {}, {-INFINITY, 1}), std::invalid_argument);
  // The failed registrations left nothing behind.
  EXPECT_EQ(ParseExposition(registry.Render()).size(), 0u);
  registry.AddGauge("g", "", {"le"});  // only histograms reserve "le"
  registry.AddHistogram("h", "", {}, {});  // just +Inf
  EXPECT_NE(registry.Render().find("h_bucket{le=\"+Inf\"} 0\n"), std::string::npos);
}

TEST(MetricsTest, CollectorMistakesCostOnlyTheirOwnLines) {
  MetricsRegistry registry;
  registry.AddGauge("taken", "", {});
  registry.AddCollector([](MetricsWriter& writer) {
    writer.Sample({{"a", "b"}}, 1);  // before any family
    writer.BeginFamily("taken", "gauge", "");  // a registered family's name
    writer.Sample({}, 2);
    writer.BeginFamily("bad-name", "gauge", "");
    writer.Sample({}, 3);
    writer.BeginFamily("kind", "summary", "");
    writer.Sample({}, 4);
    writer.BeginFamily("good", "counter", "");
    writer.Sample({{"__reserved", "x"}}, 5);
    writer.Sample({{"ok", "x"}}, 6);
    writer.BeginFamily("good", "counter", "");  // twice in one scrape
    writer.Sample({}, 7);
  });
  EXPECT_EQ(registry.Render(), "# TYPE taken gauge\ntaken 0\n# TYPE good counter\ngood{ok=\"x\"} 6\n");
}

}  // namespace
}  // namespace vitrina
