#include "serving/model_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "serving/served_log.h"

namespace vitrina {
namespace fs = std::filesystem;

namespace {

bool IsSnapshotId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
         });
}

}  // namespace

ModelManager::ModelManager(const Store* store, const Clock* clock, ModelManagerOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

ModelManager::~ModelManager() { Stop(); }

Status ModelManager::Open() {
  std::error_code error;
  fs::create_directories(options_.dir, error);
  if (error) return Status::IOError("cannot create " + options_.dir + ": " + error.message());
  std::ifstream in(options_.dir + "/CURRENT");
  std::string id;
  if (!in || !std::getline(in, id) || id.empty()) return Status::OK();  // never trained
  if (!IsSnapshotId(id)) return Status::Corruption(options_.dir + "/CURRENT names no snapshot");
  auto snapshot = LoadSnapshot(options_.dir + "/" + id, options_.train.model_options);
  if (!snapshot.ok()) return snapshot.status().WithPrefix("snapshot " + id + ": ");
  current_.store(std::move(snapshot).value());
  spdlog::info("serving model snapshot {}", id);
  return Status::OK();
}

void ModelManager::Schedule(Scheduler* scheduler) {
  std::lock_guard lock(mutex_);
  if (scheduler_ != nullptr) return;
  scheduler_ = scheduler;
  const bool untrained = current() == nullptr;
  if (untrained) status_.queued = true;
  // Training yields the cores to requests (nice): the OpenMP workers it
  // starts inherit its priority.
  job_ = scheduler->Add({.name = "training",
                         .interval_ms = options_.train_interval_s * 1000,
                         .first_run_ms = untrained ? clock_->NowMillis() : -1,
                         .nice = options_.training_nice},
                        [this] { ScheduledRun(); });
}

void ModelManager::Stop() {
  Scheduler* scheduler;
  Scheduler::JobId job;
  {
    std::lock_guard lock(mutex_);
    scheduler = scheduler_;
    job = job_;
    scheduler_ = nullptr;
  }
  if (scheduler != nullptr) scheduler->Remove(job);  // after the run in progress
}

bool ModelManager::RequestTraining() {
  std::lock_guard lock(mutex_);
  if (status_.queued || status_.running || scheduler_ == nullptr) return false;
  status_.queued = true;
  scheduler_->RunSoon(job_);
  return true;
}

TrainingStatus ModelManager::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void ModelManager::ScheduledRun() {
  auto trained = TrainNow(nullptr);
  if (trained.ok()) return;
  if (trained.status().code() == StatusCode::kFailedPrecondition) {
    spdlog::info("not training yet: {}", trained.status().message());
  } else {
    spdlog::error("training failed: {}", trained.status().message());
  }
  // Without any snapshot, recommendations are unavailable: retry soon.
  if (current() == nullptr) {
    std::lock_guard lock(mutex_);
    if (scheduler_ != nullptr) scheduler_->RunIn(job_, 60000);
  }
}

Result<SnapshotInfo> ModelManager::TrainNow(const std::function<void(std::string_view, double)>& progress) {
  std::lock_guard train_lock(train_mutex_);
  {
    std::lock_guard lock(mutex_);
    status_.queued = false;
    status_.running = true;
    status_.stage = "reading data";
    status_.fraction = 0;
  }
  auto finish = [&](const Status& status, const std::string& snapshot_id) {
    std::lock_guard lock(mutex_);
    status_.running = false;
    status_.stage.clear();
    status_.last_error = status.ok() ? "" : status.message();
    if (status.ok()) {
      status_.last_snapshot = snapshot_id;
      ++status_.succeeded;
    } else if (status.code() == StatusCode::kFailedPrecondition && snapshot_id.empty()) {
      ++status_.skipped;  // nothing to train on yet: not a failure
    } else if (snapshot_id.empty()) {
      ++status_.failed;
    }
    status_.last_finished_ms = clock_->NowMillis();
  };
  auto track = [&](std::string_view stage, double fraction) {
    {
      std::lock_guard lock(mutex_);
      status_.stage = std::string(stage);
      status_.fraction = fraction;
    }
    if (progress) progress(stage, fraction);
  };

  auto data = BuildDatasetFromStore(*store_, {}, [&](DatasetBuilder* builder) {
    return ReadServedLists(options_.served_log_dir, builder);
  });
  if (!data.ok()) {
    finish(data.status(), "");
    return data.status();
  }
  if (data->interactions.empty()) {
    Status status = Status::FailedPrecondition("no events to train on yet");
    finish(status, "");
    return status;
  }
  const std::shared_ptr<const Snapshot> serving = current();
  auto snapshot = TrainSnapshot(*data, options_.train, clock_->NowMillis(), track, serving.get());
  if (!snapshot.ok()) {
    finish(snapshot.status(), "");
    return snapshot.status();
  }
  const SnapshotInfo& info = (*snapshot)->info();
  {
    std::lock_guard lock(mutex_);
    status_.last_train_seconds = info.train_seconds;
  }
  Status saved = SaveSnapshot(**snapshot, options_.dir + "/" + info.id);
  if (!saved.ok()) {
    finish(saved, "");
    return saved;
  }
  std::string verdict;
  const Status guard = CheckQuality(info, &verdict);
  {
    std::lock_guard lock(mutex_);
    status_.last_guard = verdict;
  }
  if (!guard.ok()) {
    spdlog::warn("{}", guard.message());
    {
      std::lock_guard lock(mutex_);
      ++status_.rejected;
      status_.last_rejected = info.id;
      status_.last_rejected_reason = guard.message();
    }
    finish(guard, info.id);
    return guard;
  }
  if (!verdict.empty()) spdlog::info("{}", verdict);
  saved = SetCurrent(*snapshot);
  finish(saved, info.id);
  if (!saved.ok()) return saved;
  spdlog::info("trained model snapshot {} in {:.1f} s ({} items, {} interactions)", info.id, info.train_seconds,
               info.items, info.interactions);
  Prune();
  return info;
}

std::optional<QualityComparison> CompareQuality(const std::map<std::string, double>& candidate,
                                                const std::map<std::string, double>& serving) {
  auto metric = [](const std::map<std::string, double>& ndcg, const std::string& model) -> std::optional<double> {
    auto m = ndcg.find(model);
    if (m == ndcg.end()) return std::nullopt;
    return m->second;
  };
  if (auto a = metric(candidate, "pipeline"), b = metric(serving, "pipeline"); a && b) {
    return QualityComparison{.model = "pipeline", .serving_model = "pipeline", .candidate = *a, .serving = *b};
  }
  // Best against best: a model that fell behind another is no loss when the
  // snapshot's best still holds (the models' blend serves, not one model).
  std::optional<QualityComparison> best;
  for (const auto& [model, value] : candidate) {
    auto a = metric(candidate, model), b = metric(serving, model);
    if (!a || !b) continue;
    if (!best) best = QualityComparison{};
    if (best->model.empty() || *a > best->candidate) {
      best->model = model;
      best->candidate = *a;
    }
    if (best->serving_model.empty() || *b > best->serving) {
      best->serving_model = model;
      best->serving = *b;
    }
  }
  return best;
}

Status ModelManager::CheckQuality(const SnapshotInfo& info, std::string* verdict) const {
  verdict->clear();
  if (options_.max_quality_drop >= 1) return Status::OK();
  std::shared_ptr<const Snapshot> serving = current();
  if (serving == nullptr) return Status::OK();
  const size_t needed = options_.train.guard_min_test_shoppers;
  if (info.guard.serving != serving->info().id || info.guard.test_shoppers < needed) {
    *verdict = "quality guard: snapshot " + info.id + " serves without a comparison: " +
               std::to_string(info.guard.test_shoppers) + " test shopper" + (info.guard.test_shoppers == 1 ? "" : "s") +
               " had events after the data of " + serving->info().id + ", fewer than the " + std::to_string(needed) +
               " a comparison needs (training.guard_min_test_shoppers)";
    return Status::OK();
  }
  const std::optional<QualityComparison> quality = CompareQuality(info.guard.candidate, info.guard.reference);
  if (!quality) {
    *verdict = "quality guard: snapshot " + info.id + " serves without a comparison: it shares no model with " +
               serving->info().id;
    return Status::OK();
  }
  char text[64];
  const bool kept = quality->candidate >= (1 - options_.max_quality_drop) * quality->serving;
  std::snprintf(text, sizeof(text), "%.4f %s %.0f%% of %.4f", quality->candidate, kept ? ">=" : "<",
                100 * (1 - options_.max_quality_drop), quality->serving);
  const std::string models = quality->model == quality->serving_model
                                 ? quality->model
                                 : quality->model + " against " + quality->serving_model;
  const std::string measured = " on the same " + std::to_string(info.guard.test_shoppers) + " test shoppers";
  if (kept) {
    *verdict = "quality guard: snapshot " + info.id + " passes: its best NDCG@10 (" + models + ") is " + text +
               " (serving " + serving->info().id + ")" + measured;
    return Status::OK();
  }
  *verdict = "quality guard: snapshot " + info.id + " refused";
  return Status::FailedPrecondition("quality guard: snapshot " + info.id + " not put in service: its best NDCG@10 (" +
                                    models + ") is " + text + " (serving " + serving->info().id + ")" + measured +
                                    "; it stays on disk (POST /v1/models/" + info.id + "/restore to use it anyway)");
}

Status ModelManager::SetCurrent(std::shared_ptr<const Snapshot> snapshot) {
  std::string temp = options_.dir + "/CURRENT.tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << snapshot->info().id << "\n";
    if (!out.flush()) return Status::IOError("cannot write " + temp);
  }
  std::error_code error;
  fs::rename(temp, options_.dir + "/CURRENT", error);
  if (error) return Status::IOError("cannot write " + options_.dir + "/CURRENT: " + error.message());
  current_.store(std::move(snapshot));
  return Status::OK();
}

Result<std::vector<SnapshotInfo>> ModelManager::List() const {
  std::vector<SnapshotInfo> infos;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(options_.dir, error)) {
    if (!entry.is_directory() || !IsSnapshotId(entry.path().filename().string())) continue;
    auto info = ReadSnapshotInfo(entry.path().string());
    if (info.ok()) infos.push_back(std::move(info).value());  // unfinished saves have no manifest
  }
  if (error) return Status::IOError("cannot list " + options_.dir + ": " + error.message());
  std::sort(infos.begin(), infos.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return a.created_ms != b.created_ms ? a.created_ms > b.created_ms : a.id > b.id;
  });
  return infos;
}

Status ModelManager::Restore(std::string_view id) {
  if (!IsSnapshotId(id) || !fs::exists(options_.dir + "/" + std::string(id) + "/manifest.json")) {
    return Status::NotFound("no snapshot '" + std::string(id) + "'");
  }
  std::lock_guard train_lock(train_mutex_);
  VITRINA_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snapshot,
                           LoadSnapshot(options_.dir + "/" + std::string(id), options_.train.model_options));
  return SetCurrent(std::move(snapshot));
}

void ModelManager::Prune() {
  auto infos = List();
  if (!infos.ok()) return;
  std::shared_ptr<const Snapshot> serving = current();
  for (size_t i = options_.keep_snapshots; i < infos->size(); ++i) {
    const std::string& id = (*infos)[i].id;
    if (serving != nullptr && serving->info().id == id) continue;
    std::error_code error;
    fs::remove_all(options_.dir + "/" + id, error);
  }
}

}  // namespace vitrina
