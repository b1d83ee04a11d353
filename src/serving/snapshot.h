// A model snapshot: everything serving needs, trained together and never
// changed afterwards. Serving holds a shared_ptr to the current snapshot;
// a retrain builds a new one beside it and swaps the pointer.
//
// On disk: <dir>/manifest.json (id, time, sizes, offline metrics),
// <dir>/items.bin (the item table) and <dir>/<model>.bin per model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"
#include "models/content.h"
#include "models/dataset.h"
#include "models/recommender.h"
#include "serving/data_profile.h"

namespace vitrina {

struct SnapshotInfo {
  std::string id;  // "20261123T101500Z-1a2b3c"
  int64_t created_ms = 0;
  std::vector<std::string> models;
  uint64_t items = 0;
  uint64_t actors = 0;
  uint64_t interactions = 0;
  double train_seconds = 0;
  // Offline metrics measured on a holdout before the final training:
  // model -> "recall@10" etc. Empty when the data was too small to split.
  std::map<std::string, std::map<std::string, double>> metrics;
  std::string evaluation;  // how the metrics were measured, in words
  DataProfile profile;     // of the training data's last days: the reference for drift
  int64_t data_until_ms = 0;  // the latest interaction trained on (0: not recorded)
  // The quality guard's evidence: this snapshot and the one serving when it
  // was trained, scored on the same test shoppers (those of the holdout
  // with events after the serving snapshot's data ended, so neither saw
  // them), NDCG@10 per model.
  struct Guard {
    std::string serving;          // the serving snapshot's id; empty: none served
    uint64_t test_shoppers = 0;
    std::map<std::string, double> candidate, reference;
  } guard;
};

// The manifest's JSON object, also what GET /v1/models lists.
void WriteSnapshotInfoJson(const SnapshotInfo& info, JsonWriter* w);

class Snapshot {
 public:
  Snapshot(SnapshotInfo info, std::vector<ItemMeta> items, std::vector<std::unique_ptr<Recommender>> models);

  const SnapshotInfo& info() const { return info_; }
  size_t num_items() const { return items_.size(); }
  const ItemMeta& item(uint32_t index) const { return items_[index]; }
  // -1 when the item was not in the training data.
  int64_t FindItem(std::string_view id) const;
  // Null when the snapshot has no such model.
  const Recommender* model(std::string_view name) const;
  const ContentRecommender* content() const;

 private:
  SnapshotInfo info_;
  std::vector<ItemMeta> items_;
  std::unordered_map<std::string_view, uint32_t> index_;  // views into items_
  std::vector<std::unique_ptr<Recommender>> models_;
};

struct TrainOptions {
  std::vector<std::string> models = {"trending", "category_popular", "cooccurrence", "als", "content"};
  ModelOptions model_options;
  int threads = 0;               // 0: one per CPU core
  uint64_t seed = 42;
  int eval_days = 7;             // holdout for the snapshot's metrics: the last days...
  size_t max_eval_cases = 5000;  // ...at most this many test shoppers
  int profile_days = 7;          // the training data's last days profiled for drift
  // The guard compares with the serving snapshot only on at least this many
  // test shoppers after its data (fewer prove nothing).
  size_t guard_min_test_shoppers = 200;
};

// Measures each model on a holdout (temporal: the last eval_days, or leave
// one out when that leaves no test cases), then trains each on all of
// `data`. A model that fails to train (e.g. EASE on too large a catalog)
// fails the whole snapshot: the previous one stays in service.
// `progress(stage, fraction)` may be empty. With `serving` (the snapshot in
// service), fills SnapshotInfo::guard when the holdout has
// guard_min_test_shoppers with events after its data.
Result<std::shared_ptr<const Snapshot>> TrainSnapshot(
    const Dataset& data, const TrainOptions& options, int64_t now_ms,
    const std::function<void(std::string_view, double)>& progress, const Snapshot* serving = nullptr);

Status SaveSnapshot(const Snapshot& snapshot, const std::string& dir);
Result<std::shared_ptr<const Snapshot>> LoadSnapshot(const std::string& dir, const ModelOptions& options);
// Reads only the manifest.
Result<SnapshotInfo> ReadSnapshotInfo(const std::string& dir);

}  // namespace vitrina
