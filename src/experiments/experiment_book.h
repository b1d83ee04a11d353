// The shop's experiments, stored beside its data (documents
// "experiments/<id>"), and which one serves a request.
//
// At most one experiment serves a scenario at any time: creating one whose
// scenarios and time overlap another's is refused, so a shopper's list is
// never shaped by two experiments at once and results stay attributable.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "experiments/experiment.h"
#include "storage/store.h"

namespace vitrina {

// Immutable; share freely between threads.
class ExperimentSet {
 public:
  ExperimentSet() = default;
  explicit ExperimentSet(std::vector<Experiment> experiments) : experiments_(std::move(experiments)) {}

  const std::vector<Experiment>& experiments() const { return experiments_; }  // by creation, oldest first
  const Experiment* Find(std::string_view id) const;
  // The experiment serving `scenario` at `now_ms`, if any.
  const Experiment* Serving(std::string_view scenario, int64_t now_ms) const;

 private:
  std::vector<Experiment> experiments_;
};

// A request's group, with the set that holds its experiment alive.
struct ActiveAssignment {
  std::shared_ptr<const ExperimentSet> set;
  Assignment assignment;
  std::string unit_id;
};

// Thread-safe.
class ExperimentBook {
 public:
  static constexpr size_t kMaxExperiments = 1000;

  // `store` and `clock` must outlive the book.
  ExperimentBook(Store* store, const Clock* clock) : store_(store), clock_(clock), current_(std::make_shared<const ExperimentSet>()) {}

  // Reads the stored experiments. One that cannot be read is moved aside
  // (SetAsideDocument) and left out, and the problem added to *problems
  // for the log. Errors are the store's own.
  Status Load(std::vector<std::string>* problems = nullptr);
  std::shared_ptr<const ExperimentSet> current() const { return current_.load(); }

  // Stores a new experiment (id generated when empty). AlreadyExists when
  // the id is taken; FailedPrecondition when it overlaps another in a
  // scenario and time; ResourceExhausted beyond kMaxExperiments running
  // or scheduled ones.
  Result<Experiment> Create(Experiment experiment);
  // Ends the experiment now. NotFound; FailedPrecondition when it has ended.
  Result<Experiment> Stop(std::string_view id);

  // The group of the shopper in the experiment serving `scenario` now;
  // nullopt when none serves it or the request has no id to assign by.
  std::optional<ActiveAssignment> Assign(std::string_view scenario, std::string_view user_id,
                                         std::string_view session_id, int64_t now_ms) const;

 private:
  Status Put(const Experiment& experiment);  // REQUIRES: mutex_ held

  Store* store_;
  const Clock* clock_;
  std::atomic<std::shared_ptr<const ExperimentSet>> current_;
  std::mutex mutex_;  // one change at a time
};

}  // namespace vitrina
