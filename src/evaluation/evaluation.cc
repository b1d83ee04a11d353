#include "evaluation/evaluation.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

namespace vitrina {
namespace {

constexpr int64_t kMillisPerDay = 86400000;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

std::optional<Protocol> ParseProtocol(std::string_view name) {
  if (name == "loo") return Protocol::kLeaveOneOut;
  if (name == "temporal") return Protocol::kTemporal;
  return std::nullopt;
}

DataSplit SplitDataset(const Dataset& data, const SplitOptions& options) {
  DataSplit split;
  std::vector<uint32_t> keep(data.num_actors());
  if (options.protocol == Protocol::kLeaveOneOut) {
    for (uint32_t a = 0; a < data.num_actors(); ++a) {
      auto interactions = data.ActorInteractions(a);
      keep[a] = static_cast<uint32_t>(interactions.size());
      if (interactions.size() < 2) continue;
      keep[a] -= 1;
      TestCase test;
      test.actor = a;
      test.history = HistoryOf(interactions.first(keep[a]), options.max_history);
      test.targets = {interactions.back().item};
      split.cases.push_back(std::move(test));
    }
  } else {
    int64_t cut = data.MaxTime() - options.test_days * kMillisPerDay;
    for (uint32_t a = 0; a < data.num_actors(); ++a) {
      auto interactions = data.ActorInteractions(a);
      const uint32_t before = CountBefore(interactions, cut);
      keep[a] = before;
      if (before == 0 || before == interactions.size()) continue;
      TestCase test;
      test.actor = a;
      test.history = HistoryOf(interactions.first(before), options.max_history);
      std::vector<uint32_t> seen;
      for (const Interaction& interaction : interactions.first(before)) seen.push_back(interaction.item);
      std::sort(seen.begin(), seen.end());
      for (const Interaction& interaction : interactions.subspan(before)) {
        if (options.exclude_seen && std::binary_search(seen.begin(), seen.end(), interaction.item)) continue;
        test.targets.push_back(interaction.item);
      }
      std::sort(test.targets.begin(), test.targets.end());
      test.targets.erase(std::unique(test.targets.begin(), test.targets.end()), test.targets.end());
      if (!test.targets.empty()) split.cases.push_back(std::move(test));
    }
  }
  split.train = KeepPrefixes(data, keep);
  return split;
}

RankMetrics ComputeRankMetrics(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k) {
  RankMetrics metrics;
  if (targets.empty() || k == 0) return metrics;
  size_t hits = 0;
  double dcg = 0;
  for (size_t rank = 0; rank < std::min(k, ranked.size()); ++rank) {
    if (std::find(targets.begin(), targets.end(), ranked[rank]) == targets.end()) continue;
    ++hits;
    dcg += 1 / std::log2(static_cast<double>(rank) + 2);
    if (metrics.mrr == 0) metrics.mrr = 1 / static_cast<double>(rank + 1);
  }
  size_t ideal_hits = std::min(k, targets.size());
  double ideal = 0;
  for (size_t rank = 0; rank < ideal_hits; ++rank) ideal += 1 / std::log2(static_cast<double>(rank) + 2);
  metrics.recall = static_cast<double>(hits) / static_cast<double>(ideal_hits);
  metrics.ndcg = dcg / ideal;
  return metrics;
}

std::map<std::string, double> EvaluateTrainedModel(const Recommender& model, std::span<const TestCase> cases,
                                                   size_t num_items, const EvaluateOptions& options) {
  const size_t n = num_items;
  const size_t max_k = options.ks.empty() ? 0 : *std::max_element(options.ks.begin(), options.ks.end());
  const size_t nk = options.ks.size();
  std::vector<double> sums(3 * nk, 0);
  std::vector<uint8_t> covered(nk * n, 0);
#pragma omp parallel num_threads(std::max(1, options.threads))
  {
    std::vector<std::pair<uint32_t, float>> top;
    std::vector<uint32_t> ranked, seen;
    std::vector<double> local(3 * nk, 0);
    std::vector<uint8_t> local_covered(nk * n, 0);
#pragma omp for schedule(dynamic, 64)
    for (size_t c = 0; c < cases.size(); ++c) {
      const TestCase& test = cases[c];
      seen.clear();
      if (options.exclude_seen) {
        for (const HistoryEntry& h : test.history) seen.push_back(h.item);
        std::sort(seen.begin(), seen.end());
      }
      // As served: through the model's index when the catalog has one.
      model.TopK(
          test.history, Relation::kAny, max_k, -std::numeric_limits<float>::infinity(),
          [&](uint32_t item) { return std::binary_search(seen.begin(), seen.end(), item); }, &top);
      ranked.clear();
      for (const auto& [item, score] : top) ranked.push_back(item);
      for (size_t q = 0; q < nk; ++q) {
        RankMetrics m = ComputeRankMetrics(ranked, test.targets, options.ks[q]);
        local[3 * q] += m.recall;
        local[3 * q + 1] += m.ndcg;
        local[3 * q + 2] += m.mrr;
        for (size_t r = 0; r < std::min(options.ks[q], ranked.size()); ++r) {
          if (ranked[r] < n) local_covered[q * n + ranked[r]] = 1;
        }
      }
    }
#pragma omp critical
    {
      for (size_t i = 0; i < sums.size(); ++i) sums[i] += local[i];
      for (size_t i = 0; i < covered.size(); ++i) covered[i] |= local_covered[i];
    }
  }
  std::map<std::string, double> metrics;
  const double count = std::max<double>(1, static_cast<double>(cases.size()));
  for (size_t q = 0; q < nk; ++q) {
    std::string at = "@" + std::to_string(options.ks[q]);
    metrics["recall" + at] = sums[3 * q] / count;
    metrics["ndcg" + at] = sums[3 * q + 1] / count;
    metrics["mrr" + at] = sums[3 * q + 2] / count;
    size_t distinct = std::count(covered.begin() + q * n, covered.begin() + (q + 1) * n, 1);
    metrics["coverage" + at] = n == 0 ? 0 : static_cast<double>(distinct) / static_cast<double>(n);
  }
  return metrics;
}

std::vector<ModelResult> EvaluateModels(const DataSplit& split, const std::vector<std::string>& models,
                                        const EvaluateOptions& options, bool show_progress,
                                        const std::function<void(const Recommender&)>& on_trained) {
  std::vector<ModelResult> results;
  const size_t n = split.train.num_items();
  for (const std::string& name : models) {
    ModelResult result;
    result.model = name;
    ModelOptions model_options = options.models;
    model_options.sasrec.verbose = show_progress;
    model_options.gru4rec.verbose = show_progress;
    auto created = CreateModel(name, model_options);
    if (!created.ok()) {
      result.error = created.status().message();
      results.push_back(std::move(result));
      continue;
    }
    std::unique_ptr<Recommender> model = std::move(created).value();
    if (show_progress) std::fprintf(stderr, "%s: training on %zu interactions...\n", name.c_str(), split.train.interactions.size());
    auto start = std::chrono::steady_clock::now();
    Status fitted = model->Fit(split.train, {.threads = options.threads, .seed = options.seed});
    result.train_seconds = Seconds(start);
    if (!fitted.ok()) {
      result.error = fitted.message();
      if (show_progress) std::fprintf(stderr, "%s: %s\n", name.c_str(), result.error.c_str());
      results.push_back(std::move(result));
      continue;
    }
    if (show_progress) {
      std::fprintf(stderr, "%s: trained in %.1f s; ranking %zu items for %zu test cases...\n", name.c_str(),
                   result.train_seconds, n, split.cases.size());
    }
    start = std::chrono::steady_clock::now();
    result.metrics = EvaluateTrainedModel(*model, split.cases, n, options);
    result.eval_seconds = Seconds(start);
    if (on_trained) on_trained(*model);
    if (show_progress) std::fprintf(stderr, "%s: evaluated in %.1f s\n", name.c_str(), result.eval_seconds);
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace vitrina
