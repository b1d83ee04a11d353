// vitrina evaluate: models side by side under a published protocol.
#include <omp.h>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "apps/commands.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "evaluation/evaluation.h"

namespace vitrina {
namespace {

struct EvaluateFlags {
  ConfigFlags config;
  std::string dataset;
  std::string format;
  std::string protocol;
  int test_days = 28;
  std::string models = "trending,cooccurrence,ease,als,content";
  std::string ks = "10,20";
  bool json = false;
  bool exclude_seen = false;
  int threads = 0;
  uint64_t seed = 42;
};

std::string Fixed(double value, int digits) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

void PrintTable(const std::vector<ModelResult>& results, const std::vector<size_t>& ks) {
  std::ostringstream out;
  out << "model        ";
  for (size_t k : ks) {
    for (std::string metric : {"recall", "ndcg", "mrr", "coverage"}) {
      std::string header = metric + "@" + std::to_string(k);
      out << " " << std::string(header.size() < 11 ? 11 - header.size() : 0, ' ') << header;
    }
  }
  out << "    train_s\n";
  for (const ModelResult& result : results) {
    std::string name = result.model;
    out << name << std::string(name.size() < 13 ? 13 - name.size() : 1, ' ');
    if (!result.error.empty()) {
      out << "failed: " << result.error << "\n";
      continue;
    }
    for (size_t k : ks) {
      for (std::string metric : {"recall", "ndcg", "mrr", "coverage"}) {
        out << " " << std::string(5, ' ') << Fixed(result.metrics.at(metric + "@" + std::to_string(k)), 4);
      }
    }
    out << " " << std::string(4, ' ') << Fixed(result.train_seconds, 2) << "\n";
  }
  std::cout << out.str();
}

std::string ResultsJson(const EvaluateFlags& flags, const DataSplit& split, const std::vector<ModelResult>& results) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("dataset").String(flags.dataset).Key("format").String(flags.format);
  w.Key("protocol").String(flags.protocol);
  if (flags.protocol == "temporal") w.Key("test_days").Int(flags.test_days);
  w.Key("exclude_seen").Bool(flags.exclude_seen);
  w.Key("items").UInt(split.train.num_items()).Key("actors").UInt(split.train.num_actors());
  w.Key("train_interactions").UInt(split.train.interactions.size()).Key("test_cases").UInt(split.cases.size());
  w.Key("results").BeginArray();
  for (const ModelResult& result : results) {
    w.BeginObject().Key("model").String(result.model);
    if (!result.error.empty()) {
      w.Key("error").String(result.error);
    } else {
      w.Key("metrics").BeginObject();
      for (const auto& [name, value] : result.metrics) w.Key(name).Double(value);
      w.EndObject();
      w.Key("train_seconds").Double(result.train_seconds).Key("eval_seconds").Double(result.eval_seconds);
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  return body;
}

int RunEvaluate(const EvaluateFlags& flags) {
  std::optional<LoadedConfig> loaded = flags.config.Load();
  if (!loaded) return kExitUsage;
  std::optional<DatasetFormat> format = ParseDatasetFormat(flags.format);
  std::optional<Protocol> protocol = ParseProtocol(flags.protocol);
  EvaluateOptions options;
  options.ks.clear();
  for (std::string_view k : Split(flags.ks, ",")) {
    std::optional<int64_t> value = ParseInt64(TrimWhitespace(k));
    if (!value || *value < 1 || *value > 1000) {
      std::cerr << "vitrina evaluate: --k: '" << PrintableAscii(k, 20) << "' is not a cutoff in 1..1000\n";
      return kExitUsage;
    }
    options.ks.push_back(static_cast<size_t>(*value));
  }
  std::vector<std::string> models;
  for (std::string_view name : Split(flags.models, ",")) {
    std::string model(TrimWhitespace(name));
    if (auto created = CreateModel(model, {}); !created.ok()) {
      std::cerr << "vitrina evaluate: --models: " << created.status().message() << "\n";
      return kExitUsage;
    }
    models.push_back(model);
  }
  options.exclude_seen = flags.exclude_seen;
  options.threads = flags.threads > 0 ? flags.threads : omp_get_num_procs();
  options.seed = flags.seed;
  options.models = loaded->config.models;

  std::fprintf(stderr, "loading %s...\n", flags.dataset.c_str());
  auto data = LoadDataset(flags.dataset, *format);
  if (!data.ok()) {
    std::cerr << "vitrina evaluate: " << data.status().message() << "\n";
    return kExitFailure;
  }
  SplitOptions split_options;
  split_options.protocol = *protocol;
  split_options.test_days = flags.test_days;
  split_options.exclude_seen = flags.exclude_seen;
  DataSplit split = SplitDataset(*data, split_options);
  std::fprintf(stderr, "%zu items, %zu actors, %zu training interactions, %zu test cases\n", split.train.num_items(),
               split.train.num_actors(), split.train.interactions.size(), split.cases.size());
  if (split.cases.empty()) {
    std::cerr << "vitrina evaluate: the split left no test cases (check --protocol and --test-days)\n";
    return kExitFailure;
  }
  std::vector<ModelResult> results = EvaluateModels(split, models, options, /*show_progress=*/true);
  if (flags.json) {
    std::cout << ResultsJson(flags, split, results) << "\n";
  } else {
    std::cout << flags.dataset << ": protocol " << flags.protocol
              << (flags.protocol == "temporal" ? " (last " + std::to_string(flags.test_days) + " days)" : "")
              << ", " << (flags.exclude_seen ? "history items excluded" : "history items ranked")
              << ", full ranking over " << split.train.num_items() << " items, " << split.cases.size()
              << " test cases\n";
    PrintTable(results, options.ks);
  }
  for (const ModelResult& result : results) {
    if (!result.error.empty()) return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

Command AddEvaluateCommand(CLI::App* app) {
  auto flags = std::make_shared<EvaluateFlags>();
  CLI::App* cmd = app->add_subcommand("evaluate", "Evaluate models offline under a published protocol");
  cmd->add_option("--dataset", flags->dataset, "Dataset file (plain or .zst)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--format", flags->format, "s3rec, online-retail or jsonl (events)")
      ->required()
      ->check(CLI::IsMember({"s3rec", "online-retail", "jsonl"}));
  cmd->add_option("--protocol", flags->protocol, "loo (leave last out) or temporal (last --test-days)")
      ->required()
      ->check(CLI::IsMember({"loo", "temporal"}));
  cmd->add_option("--test-days", flags->test_days, "Temporal protocol: days at the end held out")
      ->check(CLI::Range(1, 3650));
  cmd->add_option("--models", flags->models, "Comma-separated models")->capture_default_str();
  cmd->add_option("--k", flags->ks, "Comma-separated cutoffs")->capture_default_str();
  cmd->add_flag("--json", flags->json, "Print one JSON object instead of a table");
  cmd->add_flag("--exclude-seen", flags->exclude_seen,
                "Never rank the shopper's history items (as the S3-Rec code does); temporal: only new items are targets");
  cmd->add_option("--threads", flags->threads, "Threads (default: all cores)")->check(CLI::Range(1, 256));
  cmd->add_option("--seed", flags->seed, "Random seed")->capture_default_str();
  flags->config.Register(cmd);
  return {cmd, [flags] { return RunEvaluate(*flags); }};
}

}  // namespace vitrina
