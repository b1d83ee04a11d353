// Offline evaluation: load a dataset, split it under a published
// protocol, train each model on the training part and rank every item for
// each test shopper (full ranking, no sampled negatives).
//
// Protocols (docs/EVALUATION.md has the exact definitions):
//   loo       leave-one-out as in S3-Rec: each actor's last interaction is
//             the test target, everything before it is history and training
//             data. Actors with fewer than 2 interactions are not tested.
//   temporal  a time cut `test_days` before the latest interaction: train on
//             everything before it; test actors who have history before the
//             cut, their targets being the distinct items they interacted
//             with after it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "models/dataset.h"
#include "models/recommender.h"
#include "ranking/pipeline.h"

namespace vitrina {

enum class DatasetFormat { kS3Rec, kOnlineRetail, kJsonl };
std::optional<DatasetFormat> ParseDatasetFormat(std::string_view name);

// Loads a dataset file. s3rec: "user item item ..." lines in time order;
// an "<name>_item2attributes.json[.zst]" file beside it supplies item tags
// when present. online-retail and jsonl (events) go through the importer
// into an in-memory store. Errors name the file and line.
Result<Dataset> LoadDataset(const std::string& path, DatasetFormat format);

enum class Protocol { kLeaveOneOut, kTemporal };
std::optional<Protocol> ParseProtocol(std::string_view name);

struct TestCase {
  uint32_t actor = 0;
  std::vector<HistoryEntry> history;  // newest first, as models take it
  std::vector<uint32_t> targets;      // distinct items to find
};

struct DataSplit {
  Dataset train;
  std::vector<TestCase> cases;
};

struct SplitOptions {
  Protocol protocol = Protocol::kLeaveOneOut;
  int test_days = 28;          // temporal only
  bool exclude_seen = false;   // temporal: drop targets already in the history
  size_t max_history = 200;    // most recent history entries given to models
};

DataSplit SplitDataset(const Dataset& data, const SplitOptions& options);

// Ranking metrics of one list against a set of targets, cut at k:
//   recall@k = hits / min(k, |targets|)
//   ndcg@k   = DCG / ideal DCG with binary gains, log2(rank + 1) discount
//   mrr@k    = 1 / rank of the first hit (0 without one)
struct RankMetrics {
  double recall = 0;
  double ndcg = 0;
  double mrr = 0;
};
RankMetrics ComputeRankMetrics(std::span<const uint32_t> ranked, std::span<const uint32_t> targets, size_t k);

struct EvaluateOptions {
  std::vector<size_t> ks = {10, 20};
  bool exclude_seen = false;  // never rank the actor's history items
  int threads = 2;
  uint64_t seed = 42;
  ModelOptions models;
};

struct ModelResult {
  std::string model;
  std::map<std::string, double> metrics;  // "recall@10", "ndcg@10", "mrr@10", "coverage@10", ...
  double train_seconds = 0;
  double eval_seconds = 0;
  std::string error;  // non-empty when the model could not be trained
};

// Trains each model on split.train and evaluates it on split.cases.
// coverage@k = distinct items in any top-k list / catalog size.
// `on_trained`, when set, is shown each trained model after its evaluation
// (to score it on other cases too).
std::vector<ModelResult> EvaluateModels(const DataSplit& split, const std::vector<std::string>& models,
                                        const EvaluateOptions& options, bool show_progress,
                                        const std::function<void(const Recommender&)>& on_trained = nullptr);

// The metrics of a trained model on `cases`, items indexed as the model's
// (a target at or above num_items, an item the model does not know, is
// never found).
std::map<std::string, double> EvaluateTrainedModel(const Recommender& model, std::span<const TestCase> cases,
                                                   size_t num_items, const EvaluateOptions& options);

}  // namespace vitrina
