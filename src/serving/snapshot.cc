#include "serving/snapshot.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "evaluation/evaluation.h"
#include "models/binary_io.h"
#include "ranking/pipeline.h"

namespace vitrina {
namespace {

constexpr uint32_t kItemsFormatVersion = 1;

std::string NewSnapshotId(int64_t now_ms) {
  std::string stamp = FormatTimestampMillis(now_ms);  // 2026-11-23T10:15:00.000Z
  std::string compact;
  for (char c : stamp.substr(0, 19)) {
    if (c != '-' && c != ':') compact.push_back(c);
  }
  std::random_device device;
  char suffix[8];
  std::snprintf(suffix, sizeof(suffix), "%06x", device() & 0xffffff);
  return compact + "Z-" + suffix;
}

Status SaveItems(const std::vector<ItemMeta>& items, const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(BinaryWriter writer, BinaryWriter::Create(path, "items", kItemsFormatVersion));
  writer.Put<uint64_t>(items.size());
  for (const ItemMeta& item : items) {
    writer.PutString(item.id);
    writer.PutString(item.title);
    writer.PutString(item.brand);
    writer.Put<uint32_t>(static_cast<uint32_t>(item.category.size()));
    for (const std::string& level : item.category) writer.PutString(level);
    writer.Put<uint32_t>(static_cast<uint32_t>(item.tags.size()));
    for (const std::string& tag : item.tags) writer.PutString(tag);
    writer.Put<uint8_t>(item.price.has_value());
    writer.Put<double>(item.price.value_or(0));
    writer.Put<uint8_t>(item.active);
  }
  return writer.Close();
}

Result<std::vector<ItemMeta>> LoadItems(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(BinaryReader reader, BinaryReader::Open(path, "items", kItemsFormatVersion));
  uint64_t count = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&count));
  std::vector<ItemMeta> items;
  for (uint64_t i = 0; i < count; ++i) {
    ItemMeta item;
    VITRINA_RETURN_IF_ERROR(reader.GetString(&item.id));
    VITRINA_RETURN_IF_ERROR(reader.GetString(&item.title));
    VITRINA_RETURN_IF_ERROR(reader.GetString(&item.brand));
    uint32_t levels = 0, tags = 0;
    VITRINA_RETURN_IF_ERROR(reader.Get(&levels));
    item.category.resize(std::min<uint32_t>(levels, 64));
    if (levels > 64) return Status::Corruption(path + ": bad category depth");
    for (std::string& level : item.category) VITRINA_RETURN_IF_ERROR(reader.GetString(&level));
    VITRINA_RETURN_IF_ERROR(reader.Get(&tags));
    if (tags > 100000) return Status::Corruption(path + ": bad tag count");
    item.tags.resize(tags);
    for (std::string& tag : item.tags) VITRINA_RETURN_IF_ERROR(reader.GetString(&tag));
    uint8_t has_price = 0, active = 1;
    double price = 0;
    VITRINA_RETURN_IF_ERROR(reader.Get(&has_price));
    VITRINA_RETURN_IF_ERROR(reader.Get(&price));
    VITRINA_RETURN_IF_ERROR(reader.Get(&active));
    if (has_price) item.price = price;
    item.active = active != 0;
    items.push_back(std::move(item));
  }
  VITRINA_RETURN_IF_ERROR(reader.ExpectEnd());
  return items;
}

// When a snapshot's data ended: recorded since the guard compares on it;
// older manifests have only the training time.
int64_t DataUntil(const SnapshotInfo& info) { return info.data_until_ms != 0 ? info.data_until_ms : info.created_ms; }

// The cases of `cases` (each actor's history before `cut`; INT64_MIN: all
// but the last interaction) with their targets cut to the items met after
// `after_ms`; cases left without a target are dropped.
std::vector<TestCase> CasesAfter(const Dataset& data, const std::vector<TestCase>& cases, int64_t cut, int64_t after_ms) {
  std::vector<TestCase> out;
  for (const TestCase& test : cases) {
    const auto interactions = data.ActorInteractions(test.actor);
    const size_t before = cut == INT64_MIN ? interactions.size() - 1 : CountBefore(interactions, cut);
    TestCase kept{.actor = test.actor, .history = test.history};
    for (const Interaction& interaction : interactions.subspan(before)) {
      if (interaction.time_ms <= after_ms) continue;
      if (std::find(test.targets.begin(), test.targets.end(), interaction.item) == test.targets.end()) continue;
      if (std::find(kept.targets.begin(), kept.targets.end(), interaction.item) == kept.targets.end()) {
        kept.targets.push_back(interaction.item);
      }
    }
    if (!kept.targets.empty()) out.push_back(std::move(kept));
  }
  return out;
}

// `cases` (indexed as `data`'s items) in `snapshot`'s item index: history
// items it does not know are dropped, targets it does not know become
// items it can never rank.
std::vector<TestCase> InSnapshotIndex(const Dataset& data, const std::vector<TestCase>& cases, const Snapshot& snapshot) {
  std::vector<TestCase> out;
  for (const TestCase& test : cases) {
    TestCase mapped{.actor = test.actor};
    for (HistoryEntry entry : test.history) {
      const int64_t index = snapshot.FindItem(data.items[entry.item].id);
      if (index < 0) continue;
      entry.item = static_cast<uint32_t>(index);
      mapped.history.push_back(entry);
    }
    uint32_t unknown = static_cast<uint32_t>(snapshot.num_items());
    for (uint32_t target : test.targets) {
      const int64_t index = snapshot.FindItem(data.items[target].id);
      mapped.targets.push_back(index >= 0 ? static_cast<uint32_t>(index) : unknown++);
    }
    out.push_back(std::move(mapped));
  }
  return out;
}

// Gives the pipeline the models it names from those already in the
// snapshot (trained or loaded before it).
Status AttachPipelineSources(const std::vector<std::unique_ptr<Recommender>>& models, PipelineRecommender* pipeline) {
  std::vector<const Recommender*> sources;
  for (const std::string& name : pipeline->source_names()) {
    auto it = std::find_if(models.begin(), models.end(), [&](const auto& model) { return model->name() == name; });
    if (it == models.end()) return Status::InvalidArgument("pipeline: its source " + name + " is not in the snapshot");
    sources.push_back(it->get());
  }
  return pipeline->UseSources(sources);
}

}  // namespace

void WriteSnapshotInfoJson(const SnapshotInfo& info, JsonWriter* w) {
  w->BeginObject().Key("id").String(info.id).Key("created").String(FormatTimestampMillis(info.created_ms));
  w->Key("created_ms").Int(info.created_ms);
  w->Key("models").BeginArray();
  for (const std::string& model : info.models) w->String(model);
  w->EndArray();
  w->Key("items").UInt(info.items).Key("actors").UInt(info.actors).Key("interactions").UInt(info.interactions);
  w->Key("train_seconds").Double(info.train_seconds).Key("evaluation").String(info.evaluation);
  w->Key("metrics").BeginObject();
  for (const auto& [model, metrics] : info.metrics) {
    w->Key(model).BeginObject();
    for (const auto& [name, value] : metrics) w->Key(name).Double(value);
    w->EndObject();
  }
  w->EndObject();
  if (!info.profile.empty()) {
    w->Key("profile");
    WriteDataProfileJson(info.profile, w);
  }
  if (info.data_until_ms != 0) w->Key("data_until").String(FormatTimestampMillis(info.data_until_ms));
  w->Key("data_until_ms").Int(info.data_until_ms);
  if (!info.guard.serving.empty()) {
    w->Key("guard").BeginObject().Key("serving").String(info.guard.serving);
    w->Key("test_shoppers").UInt(info.guard.test_shoppers);
    for (const auto& [key, values] : {std::pair{"ndcg@10", &info.guard.candidate},
                                      std::pair{"serving_ndcg@10", &info.guard.reference}}) {
      w->Key(key).BeginObject();
      for (const auto& [model, value] : *values) w->Key(model).Double(value);
      w->EndObject();
    }
    w->EndObject();
  }
  w->EndObject();
}

Snapshot::Snapshot(SnapshotInfo info, std::vector<ItemMeta> items, std::vector<std::unique_ptr<Recommender>> models)
    : info_(std::move(info)), items_(std::move(items)), models_(std::move(models)) {
  index_.reserve(items_.size());
  for (uint32_t i = 0; i < items_.size(); ++i) index_.emplace(items_[i].id, i);
}

int64_t Snapshot::FindItem(std::string_view id) const {
  auto it = index_.find(id);
  return it == index_.end() ? -1 : static_cast<int64_t>(it->second);
}

const Recommender* Snapshot::model(std::string_view name) const {
  for (const auto& model : models_) {
    if (model->name() == name) return model.get();
  }
  return nullptr;
}

const ContentRecommender* Snapshot::content() const {
  return static_cast<const ContentRecommender*>(model("content"));
}

Result<std::shared_ptr<const Snapshot>> TrainSnapshot(
    const Dataset& data, const TrainOptions& requested, int64_t now_ms,
    const std::function<void(std::string_view, double)>& progress, const Snapshot* serving) {
  TrainOptions options = requested;
  if (options.threads <= 0) options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto start = std::chrono::steady_clock::now();
  SnapshotInfo info;
  info.id = NewSnapshotId(now_ms);
  info.created_ms = now_ms;
  info.items = data.num_items();
  info.actors = data.num_actors();
  info.interactions = data.interactions.size();
  info.data_until_ms = data.MaxTime();
  info.profile = ProfileDataset(data, options.profile_days);

  // The pipeline ranks the candidates of the snapshot's other models that
  // it lists, so it is trained after them, on them.
  std::vector<std::string> names = options.models;
  const auto pipeline_at = std::find(names.begin(), names.end(), "pipeline");
  if (pipeline_at != names.end()) {
    names.erase(pipeline_at);
    names.push_back("pipeline");
    std::vector<std::string> sources;
    for (std::string_view source : Split(options.model_options.pipeline.sources, ",")) {
      source = TrimWhitespace(source);
      if (std::find(names.begin(), names.end(), source) != names.end() && source != "pipeline") {
        sources.emplace_back(source);
      }
    }
    if (sources.empty()) {
      return Status::InvalidArgument("pipeline: none of its sources (models.pipeline.sources = \"" +
                                     options.model_options.pipeline.sources + "\") is in training.models");
    }
    options.model_options.pipeline.sources = Join(sources, ",");
  }
  info.models = names;

  // Offline metrics on a holdout.
  if (progress) progress("evaluating", 0);
  SplitOptions split_options{.protocol = Protocol::kTemporal, .test_days = options.eval_days};
  DataSplit split = SplitDataset(data, split_options);
  std::string protocol = "temporal, last " + std::to_string(options.eval_days) + " days";
  if (split.cases.empty()) {
    split = SplitDataset(data, {.protocol = Protocol::kLeaveOneOut});
    protocol = "leave-one-out";
  }
  if (split.cases.size() > options.max_eval_cases) {
    std::vector<TestCase> sampled;
    double stride = static_cast<double>(split.cases.size()) / static_cast<double>(options.max_eval_cases);
    for (size_t i = 0; i < options.max_eval_cases; ++i) {
      sampled.push_back(std::move(split.cases[static_cast<size_t>(static_cast<double>(i) * stride)]));
    }
    split.cases = std::move(sampled);
  }
  if (!split.cases.empty()) {
    EvaluateOptions evaluate{.ks = {10}, .exclude_seen = true, .threads = options.threads, .seed = options.seed,
                             .models = options.model_options};
    // The guard's comparison: the holdout shoppers with events after the
    // serving snapshot's data, scored by both snapshots' models.
    std::vector<TestCase> guard_cases;
    if (serving != nullptr) {
      info.guard.serving = serving->info().id;
      const int64_t cut = protocol == "leave-one-out" ? INT64_MIN : data.MaxTime() - options.eval_days * kMillisPerDay;
      guard_cases = CasesAfter(data, split.cases, cut, DataUntil(serving->info()));
      info.guard.test_shoppers = guard_cases.size();
    }
    const bool compare = !guard_cases.empty() && guard_cases.size() >= options.guard_min_test_shoppers;
    auto on_trained = [&](const Recommender& model) {
      if (!compare) return;
      info.guard.candidate[std::string(model.name())] =
          EvaluateTrainedModel(model, guard_cases, data.num_items(), evaluate).at("ndcg@10");
    };
    for (const ModelResult& result : EvaluateModels(split, names, evaluate, false, on_trained)) {
      if (result.error.empty()) info.metrics[result.model] = result.metrics;
    }
    if (compare) {
      const std::vector<TestCase> theirs = InSnapshotIndex(data, guard_cases, *serving);
      for (const std::string& name : serving->info().models) {
        info.guard.reference[name] =
            EvaluateTrainedModel(*serving->model(name), theirs, serving->num_items(), evaluate).at("ndcg@10");
      }
    }
    info.evaluation = protocol + ", " + std::to_string(split.cases.size()) +
                      " test shoppers, full ranking, history items excluded";
  } else {
    info.evaluation = "not measured: too little data to hold any out";
  }

  std::vector<std::unique_ptr<Recommender>> models;
  for (size_t m = 0; m < names.size(); ++m) {
    const std::string& name = names[m];
    VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateModel(name, options.model_options));
    if (name == "pipeline") {
      VITRINA_RETURN_IF_ERROR(AttachPipelineSources(models, static_cast<PipelineRecommender*>(model.get())));
    }
    FitOptions fit{.threads = options.threads, .seed = options.seed};
    if (progress) {
      fit.progress = [&, m](double fraction) {
        progress(name, (static_cast<double>(m) + fraction) / static_cast<double>(names.size()));
      };
      progress(name, static_cast<double>(m) / static_cast<double>(names.size()));
    }
    Status fitted = model->Fit(data, fit);
    if (name == "pipeline" && fitted.code() == StatusCode::kFailedPrecondition) {
      // Too little data for a ranker yet: the snapshot serves without it
      // (for_you fuses its sources) rather than not at all.
      spdlog::warn("training without the learned ranker: {}", fitted.message());
      info.models.erase(std::find(info.models.begin(), info.models.end(), name));
      info.metrics.erase(name);
      continue;
    }
    if (!fitted.ok()) return fitted.WithPrefix(name + ": ");
    models.push_back(std::move(model));
  }
  info.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (progress) progress("done", 1);
  return std::shared_ptr<const Snapshot>(std::make_shared<Snapshot>(std::move(info), data.items, std::move(models)));
}

Status SaveSnapshot(const Snapshot& snapshot, const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::IOError("cannot create " + dir + ": " + error.message());
  std::vector<ItemMeta> items;
  items.reserve(snapshot.num_items());
  for (uint32_t i = 0; i < snapshot.num_items(); ++i) items.push_back(snapshot.item(i));
  VITRINA_RETURN_IF_ERROR(SaveItems(items, dir + "/items.bin"));
  for (const std::string& name : snapshot.info().models) {
    VITRINA_RETURN_IF_ERROR(snapshot.model(name)->Save(dir + "/" + name + ".bin"));
  }
  // The manifest goes last: a directory without one is an unfinished save.
  std::string temp = dir + "/manifest.json.tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    std::string manifest;
    JsonWriter writer(&manifest);
    WriteSnapshotInfoJson(snapshot.info(), &writer);
    out << manifest << "\n";
    if (!out.flush()) return Status::IOError("cannot write " + temp);
  }
  std::filesystem::rename(temp, dir + "/manifest.json", error);
  if (error) return Status::IOError("cannot write " + dir + "/manifest.json: " + error.message());
  return Status::OK();
}

Result<SnapshotInfo> ReadSnapshotInfo(const std::string& dir) {
  std::string path = dir + "/manifest.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("no snapshot manifest at " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string json = text.str();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return Status::Corruption(path + " is not valid JSON");
  SnapshotInfo info;
  std::string_view id;
  simdjson::dom::array models;
  if (root["id"].get(id) != simdjson::SUCCESS || root["created_ms"].get(info.created_ms) != simdjson::SUCCESS ||
      root["models"].get(models) != simdjson::SUCCESS || root["items"].get(info.items) != simdjson::SUCCESS ||
      root["actors"].get(info.actors) != simdjson::SUCCESS ||
      root["interactions"].get(info.interactions) != simdjson::SUCCESS ||
      root["train_seconds"].get(info.train_seconds) != simdjson::SUCCESS) {
    return Status::Corruption(path + " lacks a required field");
  }
  info.id = std::string(id);
  for (auto model : models) {
    std::string_view name;
    if (model.get(name) != simdjson::SUCCESS) return Status::Corruption(path + ": models must be strings");
    info.models.emplace_back(name);
  }
  std::string_view evaluation;
  if (root["evaluation"].get(evaluation) == simdjson::SUCCESS) info.evaluation = std::string(evaluation);
  simdjson::dom::object metrics;
  if (root["metrics"].get(metrics) == simdjson::SUCCESS) {
    for (auto [model, values] : metrics) {
      simdjson::dom::object object;
      if (values.get(object) != simdjson::SUCCESS) continue;
      for (auto [name, value] : object) {
        double number = 0;
        if (value.get(number) == simdjson::SUCCESS) info.metrics[std::string(model)][std::string(name)] = number;
      }
    }
  }
  int64_t data_until_ms = 0;
  if (root["data_until_ms"].get(data_until_ms) == simdjson::SUCCESS) info.data_until_ms = data_until_ms;
  simdjson::dom::object guard;
  if (root["guard"].get(guard) == simdjson::SUCCESS) {
    std::string_view serving;
    if (guard["serving"].get(serving) == simdjson::SUCCESS) info.guard.serving = std::string(serving);
    uint64_t shoppers = 0;
    if (guard["test_shoppers"].get(shoppers) == simdjson::SUCCESS) info.guard.test_shoppers = shoppers;
    for (const auto& [key, values] : {std::pair{"ndcg@10", &info.guard.candidate},
                                      std::pair{"serving_ndcg@10", &info.guard.reference}}) {
      simdjson::dom::object object;
      if (guard[key].get(object) != simdjson::SUCCESS) continue;
      for (auto [model, value] : object) {
        double number = 0;
        if (value.get(number) == simdjson::SUCCESS) (*values)[std::string(model)] = number;
      }
    }
  }
  simdjson::dom::element profile;
  if (root["profile"].get(profile) == simdjson::SUCCESS) {
    if (std::optional<DataProfile> read = ReadDataProfile(profile)) info.profile = std::move(*read);
  }
  return info;
}

Result<std::shared_ptr<const Snapshot>> LoadSnapshot(const std::string& dir, const ModelOptions& options) {
  VITRINA_ASSIGN_OR_RETURN(SnapshotInfo info, ReadSnapshotInfo(dir));
  VITRINA_ASSIGN_OR_RETURN(std::vector<ItemMeta> items, LoadItems(dir + "/items.bin"));
  std::vector<std::unique_ptr<Recommender>> models;
  for (const std::string& name : info.models) {
    VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateModel(name, options));
    VITRINA_RETURN_IF_ERROR(model->Load(dir + "/" + name + ".bin"));
    if (name == "pipeline") {
      Status attached = AttachPipelineSources(models, static_cast<PipelineRecommender*>(model.get()));
      if (!attached.ok()) return Status::Corruption(dir + ": " + attached.message());
    }
    if (model->num_items() != items.size()) {
      return Status::Corruption(dir + "/" + name + ".bin scores " + std::to_string(model->num_items()) +
                                " items, the snapshot has " + std::to_string(items.size()));
    }
    models.push_back(std::move(model));
  }
  return std::shared_ptr<const Snapshot>(std::make_shared<Snapshot>(std::move(info), std::move(items), std::move(models)));
}

}  // namespace vitrina
