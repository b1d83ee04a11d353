// An A/B test: shoppers split by a salted hash of their id into variants,
// each serving some scenarios its own way (a model, the learned ranker on
// or off, merchandising rules on or off), plus an optional holdout that
// gets no personalization at all (the bestsellers).
//
// Assignment is a pure function of (salt, unit id): the same shopper lands
// in the same group on every request, every replica and after a restart,
// and the shares hold for any large set of ids.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_fields.h"
#include "common/json_writer.h"

namespace vitrina {

// How one variant serves one scenario. Unset fields keep the default.
struct VariantSetting {
  std::string model;           // for_you: only this candidate source ("pipeline", "als", "trending", ...)
  std::optional<bool> ranker;  // for_you: false orders by the models' blend instead of the learned ranker
  std::optional<bool> rules;   // false: no boost, bury, pin or diversity rules (filters and blocks still hold)

  bool operator==(const VariantSetting&) const = default;
};

struct Variant {
  std::string name;
  double share = 0;  // of the traffic outside the holdout; shares are normalized to sum to 1
  std::map<std::string, VariantSetting> settings;  // by scenario

  bool operator==(const Variant&) const = default;
};

enum class ExperimentUnit { kUser, kSession };

struct Experiment {
  std::string id;
  std::string name;
  std::string description;
  std::vector<std::string> scenarios;  // served by the experiment
  ExperimentUnit unit = ExperimentUnit::kUser;
  std::string salt;                    // empty: the id
  double holdout = 0;                  // share of units that get no personalization
  std::vector<Variant> variants;       // the first is the control
  int64_t start_ms = 0;
  int64_t stop_ms = 0;                 // 0: runs until stopped
  int cuped_days = 14;                 // pre-period for the CUPED covariate
  uint64_t min_units = 100;            // per group, before significance is reported
  // Server-kept.
  int64_t created_ms = 0;
  int64_t stopped_ms = 0;              // when POST .../stop was called; 0: not stopped

  bool operator==(const Experiment&) const = default;

  // Effective end: the earlier of stop_ms and stopped_ms (0: none).
  int64_t end_ms() const;
  bool RunningAt(int64_t now_ms) const { return now_ms >= start_ms && (end_ms() == 0 || now_ms < end_ms()); }
  // "scheduled", "running" or "stopped".
  std::string_view StatusAt(int64_t now_ms) const;
  bool Covers(std::string_view scenario) const;
};

inline constexpr std::string_view kHoldoutGroup = "holdout";

// A shopper's group in one experiment.
struct Assignment {
  const Experiment* experiment = nullptr;
  int group = 0;                          // index into variants; variants.size() for the holdout
  const Variant* variant = nullptr;       // null for the holdout
  std::string_view group_name() const { return variant != nullptr ? std::string_view(variant->name) : kHoldoutGroup; }
  bool holdout() const { return variant == nullptr; }
  // The variant's setting for `scenario`; null when it has none.
  const VariantSetting* setting(std::string_view scenario) const;
};

// The groups results are reported by: the variants, then the holdout when
// it has a share; and each one's expected share of all units.
void ListGroups(const Experiment& experiment, std::vector<std::string>* names, std::vector<double>* shares);

// The unit id an event or request counts for under `unit`: the user id
// ("u:" prefixed), else the session id ("s:"). Empty when it has neither.
std::string UnitId(ExperimentUnit unit, std::string_view user_id, std::string_view session_id);

// A number in [0, 1) that depends only on (salt, unit id), uniform over ids.
double AssignmentPoint(std::string_view salt, std::string_view unit_id);
// The group of `unit_id` (as UnitId gives it).
Assignment Assign(const Experiment& experiment, std::string_view unit_id);

// Parses an experiment as the API takes it and checks it completely:
// scenario names against `scenarios`, model names against `models`,
// shares, times (a start before `now_ms` becomes `now_ms`). Server-kept
// fields are ignored.
std::optional<Experiment> ParseExperiment(std::string_view json, const std::vector<std::string>& scenarios,
                                          const std::vector<std::string>& models, int64_t now_ms,
                                          FieldError* error);
// The definition as stored and listed (with server-kept fields).
void WriteExperimentJson(const Experiment& experiment, JsonWriter* w);
// Reads back what WriteExperimentJson wrote (server-kept fields too).
std::optional<Experiment> ReadStoredExperiment(std::string_view json, FieldError* error);

}  // namespace vitrina
