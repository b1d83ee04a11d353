#include "experiments/experiment_book.h"

#include <algorithm>

#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace vitrina {
namespace {

constexpr std::string_view kPrefix = "experiments/";

// Half-open [start, end) with end 0 meaning open.
bool Overlap(const Experiment& a, const Experiment& b) {
  const bool a_before_b = a.end_ms() != 0 && a.end_ms() <= b.start_ms;
  const bool b_before_a = b.end_ms() != 0 && b.end_ms() <= a.start_ms;
  return !a_before_b && !b_before_a;
}

}  // namespace

const Experiment* ExperimentSet::Find(std::string_view id) const {
  for (const Experiment& experiment : experiments_) {
    if (experiment.id == id) return &experiment;
  }
  return nullptr;
}

const Experiment* ExperimentSet::Serving(std::string_view scenario, int64_t now_ms) const {
  for (const Experiment& experiment : experiments_) {
    if (experiment.RunningAt(now_ms) && experiment.Covers(scenario)) return &experiment;
  }
  return nullptr;
}

Status ExperimentBook::Load(std::vector<std::string>* problems) {
  std::lock_guard lock(mutex_);
  std::vector<Experiment> experiments;
  std::vector<std::pair<std::string, std::string>> unreadable;  // key, value
  std::vector<std::string> why;
  VITRINA_RETURN_IF_ERROR(store_->ScanDocuments(kPrefix, [&](std::string_view key, std::string_view value) {
    FieldError error;
    std::optional<Experiment> experiment = ReadStoredExperiment(value, &error);
    if (!experiment && !IsValidUtf8(value)) experiment = ReadStoredExperiment(RepairUtf8(value), &error);
    if (!experiment) {
      unreadable.emplace_back(key, value);
      why.push_back(error.field + ": " + error.message);
      return true;
    }
    experiments.push_back(std::move(*experiment));
    return true;
  }));
  // One unreadable experiment is moved aside (nothing is lost); the others
  // keep running.
  for (size_t i = 0; i < unreadable.size(); ++i) {
    const auto& [key, value] = unreadable[i];
    VITRINA_ASSIGN_OR_RETURN(std::string aside, SetAsideDocument(store_, key, value, clock_->NowMillis()));
    VITRINA_RETURN_IF_ERROR(store_->PutDocuments({{key, ""}}));
    if (problems != nullptr) {
      problems->push_back("experiments: stored experiment " + key + " is not readable (" + why[i] +
                          "); left out and kept as " + aside);
    }
  }
  std::stable_sort(experiments.begin(), experiments.end(),
            [](const Experiment& a, const Experiment& b) { return a.created_ms < b.created_ms; });
  current_.store(std::make_shared<const ExperimentSet>(std::move(experiments)));
  return Status::OK();
}

Status ExperimentBook::Put(const Experiment& experiment) {
  std::string json;
  JsonWriter w(&json);
  WriteExperimentJson(experiment, &w);
  return store_->PutDocuments({{std::string(kPrefix) + experiment.id, json}});
}

Result<Experiment> ExperimentBook::Create(Experiment experiment) {
  std::lock_guard lock(mutex_);
  const std::shared_ptr<const ExperimentSet> set = current_.load();
  const int64_t now = clock_->NowMillis();
  const auto open = std::count_if(set->experiments().begin(), set->experiments().end(),
                                  [&](const Experiment& e) { return e.end_ms() == 0 || e.end_ms() > now; });
  if (static_cast<size_t>(open) >= kMaxExperiments) {
    return Status::ResourceExhausted("at most " + std::to_string(kMaxExperiments) +
                                     " experiments may be running or scheduled; stop some first");
  }
  if (experiment.id.empty()) {
    for (size_t n = set->experiments().size() + 1;; ++n) {
      experiment.id = "exp" + std::to_string(n);
      if (set->Find(experiment.id) == nullptr) break;
    }
  } else if (set->Find(experiment.id) != nullptr) {
    return Status::AlreadyExists("id: an experiment '" + experiment.id + "' exists already");
  }
  for (const Experiment& other : set->experiments()) {
    if (!Overlap(experiment, other)) continue;
    for (const std::string& scenario : experiment.scenarios) {
      if (other.Covers(scenario)) {
        return Status::FailedPrecondition("scenarios: experiment '" + other.id + "' already serves " + scenario +
                                          " then; stop it first (POST /v1/experiments/" + other.id + "/stop)");
      }
    }
  }
  experiment.created_ms = now;
  experiment.stopped_ms = 0;
  VITRINA_RETURN_IF_ERROR(Put(experiment));
  std::vector<Experiment> experiments = set->experiments();
  experiments.push_back(experiment);
  current_.store(std::make_shared<const ExperimentSet>(std::move(experiments)));
  return experiment;
}

Result<Experiment> ExperimentBook::Stop(std::string_view id) {
  std::lock_guard lock(mutex_);
  const std::shared_ptr<const ExperimentSet> set = current_.load();
  const Experiment* found = set->Find(id);
  if (found == nullptr) return Status::NotFound("id: no experiment '" + PrintableAscii(id, 64) + "'");
  const int64_t now = clock_->NowMillis();
  if (found->end_ms() != 0 && found->end_ms() <= now) {
    return Status::FailedPrecondition("id: experiment '" + found->id + "' ended at " +
                                      FormatTimestampMillis(found->end_ms()));
  }
  Experiment stopped = *found;
  stopped.stopped_ms = now;  // before the start: it never runs
  VITRINA_RETURN_IF_ERROR(Put(stopped));
  std::vector<Experiment> experiments = set->experiments();
  for (Experiment& experiment : experiments) {
    if (experiment.id == id) experiment = stopped;
  }
  current_.store(std::make_shared<const ExperimentSet>(std::move(experiments)));
  return stopped;
}

std::optional<ActiveAssignment> ExperimentBook::Assign(std::string_view scenario, std::string_view user_id,
                                                       std::string_view session_id, int64_t now_ms) const {
  std::shared_ptr<const ExperimentSet> set = current_.load();
  const Experiment* experiment = set->Serving(scenario, now_ms);
  if (experiment == nullptr) return std::nullopt;
  std::string unit = UnitId(experiment->unit, user_id, session_id);
  if (unit.empty()) return std::nullopt;
  Assignment assignment = vitrina::Assign(*experiment, unit);
  return ActiveAssignment{.set = std::move(set), .assignment = assignment, .unit_id = std::move(unit)};
}

}  // namespace vitrina
