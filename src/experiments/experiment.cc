#include "experiments/experiment.h"

#include <algorithm>
#include <cmath>

#include "common/strings.h"
#include "common/time_util.h"

namespace vitrina {
namespace {

constexpr size_t kMaxVariants = 10;
constexpr std::string_view kFields[] = {"id",      "name",     "description", "scenarios", "unit", "salt", "holdout",
                                        "variants", "start",   "stop",        "cuped_days", "min_units"};
constexpr std::string_view kServerFields[] = {"created_at", "stopped_at", "status"};
constexpr std::string_view kVariantFields[] = {"name", "share", "settings"};
constexpr std::string_view kSettingFields[] = {"model", "ranker", "rules"};
constexpr std::string_view kNone[] = {""};

// splitmix64's finalizer: FNV-1a alone leaves the high bits of similar ids
// correlated; this spreads every input bit over the whole word.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The setting of `scenario` in a variant.
bool ParseSetting(simdjson::dom::element element, const std::string& at, std::string_view scenario,
                  const std::vector<std::string>* models, VariantSetting* out, FieldError* error) {
  simdjson::dom::object object;
  if (element.get(object) != simdjson::SUCCESS) {
    return Fail(error, at, "expected an object such as {\"model\": \"als\"}, got " + JsonTypeName(element));
  }
  if (!CheckKnownFields(object, kSettingFields, kNone, at + ".", error)) return false;
  simdjson::dom::element value;
  if (object["model"].get(value) == simdjson::SUCCESS) {
    if (!ReadText(value, at + ".model", &out->model, error)) return false;
    if (scenario != "for_you") return Fail(error, at + ".model", "only for_you takes a model");
    if (models != nullptr && !Contains(*models, out->model)) {
      return Fail(error, at + ".model",
                  "unknown model '" + PrintableAscii(out->model, 40) + "' (one of " + Join(*models, ", ") + ")");
    }
  }
  if (object["ranker"].get(value) == simdjson::SUCCESS) {
    bool ranker = true;
    if (!ReadBool(value, at + ".ranker", &ranker, error)) return false;
    if (scenario != "for_you") return Fail(error, at + ".ranker", "only for_you has the learned ranker");
    out->ranker = ranker;
    if (!ranker && out->model == "pipeline") {
      return Fail(error, at + ".ranker", "false contradicts model \"pipeline\" (the learned ranker)");
    }
  }
  if (object["rules"].get(value) == simdjson::SUCCESS) {
    bool rules = true;
    if (!ReadBool(value, at + ".rules", &rules, error)) return false;
    out->rules = rules;
  }
  return true;
}

bool ParseVariant(simdjson::dom::element element, const std::string& at, const Experiment& experiment,
                  const std::vector<std::string>* models, Variant* out, FieldError* error) {
  simdjson::dom::object object;
  if (element.get(object) != simdjson::SUCCESS) {
    return Fail(error, at, "expected an object with name, share and settings, got " + JsonTypeName(element));
  }
  if (!CheckKnownFields(object, kVariantFields, kNone, at + ".", error)) return false;
  simdjson::dom::element value;
  if (object["name"].get(value) != simdjson::SUCCESS) return Fail(error, at + ".name", "required");
  if (!ReadText(value, at + ".name", &out->name, error)) return false;
  if (!ValidId(out->name)) {
    return Fail(error, at + ".name", "1 to 64 letters, digits, '_', '-' or '.'");
  }
  if (out->name == kHoldoutGroup) return Fail(error, at + ".name", "'holdout' names the holdout group; pick another");
  out->share = 1;
  if (object["share"].get(value) == simdjson::SUCCESS) {
    if (!ReadNumber(value, at + ".share", &out->share, error)) return false;
    if (out->share <= 0 || out->share > 1e6) return Fail(error, at + ".share", "a weight above 0, at most 1000000");
  }
  if (object["settings"].get(value) == simdjson::SUCCESS) {
    simdjson::dom::object settings;
    if (value.get(settings) != simdjson::SUCCESS) {
      return Fail(error, at + ".settings",
                  "expected an object by scenario such as {\"for_you\": {\"model\": \"als\"}}, got " +
                      JsonTypeName(value));
    }
    for (auto [scenario, setting] : settings) {
      const std::string setting_at = at + ".settings." + PrintableAscii(scenario, 40);
      if (!Contains(experiment.scenarios, scenario)) {
        return Fail(error, setting_at, "not one of the experiment's scenarios (" + Join(experiment.scenarios, ", ") + ")");
      }
      VariantSetting parsed;
      if (!ParseSetting(setting, setting_at, scenario, models, &parsed, error)) return false;
      out->settings[std::string(scenario)] = std::move(parsed);
    }
  }
  return true;
}

// `scenarios` and `models` are null when reading a stored experiment: it
// was checked when created, and names may have changed since.
std::optional<Experiment> Parse(std::string_view json, const std::vector<std::string>* scenarios,
                                const std::vector<std::string>* models, int64_t now_ms, FieldError* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::object object;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    Fail(error, "", "the body is not valid JSON");
    return std::nullopt;
  }
  if (root.get(object) != simdjson::SUCCESS) {
    Fail(error, "", "expected a JSON object (one experiment), got " + JsonTypeName(root));
    return std::nullopt;
  }
  if (!CheckKnownFields(object, kFields, kServerFields, "", error)) return std::nullopt;
  Experiment experiment;
  simdjson::dom::element value;
  auto has = [&](const char* field) { return object[field].get(value) == simdjson::SUCCESS; };
  auto fail = [&](std::string field, std::string message) -> std::optional<Experiment> {
    Fail(error, std::move(field), std::move(message));
    return std::nullopt;
  };
  if (has("id")) {
    if (!ReadText(value, "id", &experiment.id, error)) return std::nullopt;
    if (!ValidId(experiment.id)) return fail("id", "1 to 64 letters, digits, '_', '-' or '.'");
  }
  if (!has("name")) return fail("name", "required: what the experiment tests, in words");
  if (!ReadText(value, "name", &experiment.name, error)) return std::nullopt;
  if (experiment.name.empty() || experiment.name.size() > 200) return fail("name", "1 to 200 characters");
  if (has("description") && !ReadText(value, "description", &experiment.description, error)) return std::nullopt;
  if (!has("scenarios")) return fail("scenarios", "required: the scenarios the experiment serves, e.g. [\"for_you\"]");
  if (!ReadTextList(value, "scenarios", 20, &experiment.scenarios, error)) return std::nullopt;
  if (experiment.scenarios.empty()) return fail("scenarios", "name at least one scenario");
  for (size_t i = 0; i < experiment.scenarios.size(); ++i) {
    const std::string at = "scenarios[" + std::to_string(i) + "]";
    if (scenarios != nullptr && !Contains(*scenarios, experiment.scenarios[i])) {
      return fail(at, "unknown scenario '" + PrintableAscii(experiment.scenarios[i], 40) + "' (one of " +
                          Join(*scenarios, ", ") + ")");
    }
    if (std::find(experiment.scenarios.begin(), experiment.scenarios.begin() + i, experiment.scenarios[i]) !=
        experiment.scenarios.begin() + i) {
      return fail(at, "named twice");
    }
  }
  if (has("unit")) {
    std::string unit;
    if (!ReadText(value, "unit", &unit, error)) return std::nullopt;
    if (unit == "user") {
      experiment.unit = ExperimentUnit::kUser;
    } else if (unit == "session") {
      experiment.unit = ExperimentUnit::kSession;
    } else {
      return fail("unit", "one of user (the user id, else the session id) or session");
    }
  }
  if (has("salt") && !ReadText(value, "salt", &experiment.salt, error)) return std::nullopt;
  if (has("holdout")) {
    if (!ReadNumber(value, "holdout", &experiment.holdout, error)) return std::nullopt;
    if (experiment.holdout < 0 || experiment.holdout >= 1) return fail("holdout", "a share from 0 up to (not including) 1");
  }
  if (!has("variants")) return fail("variants", "required: at least two variants, the first the control");
  simdjson::dom::array variants;
  if (value.get(variants) != simdjson::SUCCESS) return fail("variants", "expected a list, got " + JsonTypeName(value));
  size_t index = 0;
  for (simdjson::dom::element element : variants) {
    const std::string at = "variants[" + std::to_string(index++) + "]";
    Variant variant;
    if (!ParseVariant(element, at, experiment, models, &variant, error)) return std::nullopt;
    for (const Variant& earlier : experiment.variants) {
      if (earlier.name == variant.name) return fail(at + ".name", "'" + variant.name + "' is used twice");
    }
    experiment.variants.push_back(std::move(variant));
  }
  // One variant is allowed with a holdout: "personalization vs none".
  if (experiment.variants.size() < 2 && !(experiment.variants.size() == 1 && experiment.holdout > 0)) {
    return fail("variants", "at least two variants (or one with a holdout share)");
  }
  if (experiment.variants.size() > kMaxVariants) return fail("variants", "at most " + std::to_string(kMaxVariants));
  double total = 0;
  for (const Variant& variant : experiment.variants) total += variant.share;
  for (Variant& variant : experiment.variants) variant.share /= total;
  experiment.start_ms = now_ms;
  if (has("start") && !ReadTime(value, "start", &experiment.start_ms, error)) return std::nullopt;
  // Nobody was exposed before now: an earlier start would only shift the pre-period.
  if (scenarios != nullptr) experiment.start_ms = std::max(experiment.start_ms, now_ms);
  if (has("stop") && !ReadTime(value, "stop", &experiment.stop_ms, error)) return std::nullopt;
  if (experiment.stop_ms != 0 && experiment.stop_ms <= experiment.start_ms) return fail("stop", "must be after start");
  if (scenarios != nullptr && experiment.stop_ms != 0 && experiment.stop_ms <= now_ms) {
    return fail("stop", "must be in the future");
  }
  if (has("cuped_days")) {
    double days = 0;
    if (!ReadNumber(value, "cuped_days", &days, error)) return std::nullopt;
    if (days < 0 || days > 365 || days != std::floor(days)) return fail("cuped_days", "a whole number from 0 to 365");
    experiment.cuped_days = static_cast<int>(days);
  }
  if (has("min_units")) {
    double units = 0;
    if (!ReadNumber(value, "min_units", &units, error)) return std::nullopt;
    if (units < 2 || units > 1e9 || units != std::floor(units)) return fail("min_units", "a whole number from 2");
    experiment.min_units = static_cast<uint64_t>(units);
  }
  if (scenarios == nullptr) {  // stored: read the server's fields back
    std::string_view text;
    if (object["created_at"].get(text) == simdjson::SUCCESS) experiment.created_ms = ParseTimestampMillis(text).value_or(0);
    if (object["stopped_at"].get(text) == simdjson::SUCCESS) experiment.stopped_ms = ParseTimestampMillis(text).value_or(0);
  }
  return experiment;
}

}  // namespace

int64_t Experiment::end_ms() const {
  if (stop_ms == 0) return stopped_ms;
  if (stopped_ms == 0) return stop_ms;
  return std::min(stop_ms, stopped_ms);
}

std::string_view Experiment::StatusAt(int64_t now_ms) const {
  if (end_ms() != 0 && now_ms >= end_ms()) return "stopped";
  return now_ms < start_ms ? "scheduled" : "running";
}

bool Experiment::Covers(std::string_view scenario) const {
  return std::find(scenarios.begin(), scenarios.end(), scenario) != scenarios.end();
}

const VariantSetting* Assignment::setting(std::string_view scenario) const {
  if (variant == nullptr) return nullptr;
  auto it = variant->settings.find(std::string(scenario));
  return it == variant->settings.end() ? nullptr : &it->second;
}

void ListGroups(const Experiment& experiment, std::vector<std::string>* names, std::vector<double>* shares) {
  for (const Variant& variant : experiment.variants) {
    names->push_back(variant.name);
    shares->push_back(variant.share * (1 - experiment.holdout));
  }
  if (experiment.holdout > 0) {
    names->emplace_back(kHoldoutGroup);
    shares->push_back(experiment.holdout);
  }
}

std::string UnitId(ExperimentUnit unit, std::string_view user_id, std::string_view session_id) {
  if (unit == ExperimentUnit::kUser && !user_id.empty()) return "u:" + std::string(user_id);
  if (!session_id.empty()) return "s:" + std::string(session_id);
  return "";
}

double AssignmentPoint(std::string_view salt, std::string_view unit_id) {
  std::string key;
  key.reserve(salt.size() + 1 + unit_id.size());
  key.append(salt).push_back('\x1f');
  key.append(unit_id);
  return static_cast<double>(Mix(Fnv1a64(key)) >> 11) * 0x1.0p-53;
}

Assignment Assign(const Experiment& experiment, std::string_view unit_id) {
  Assignment assignment{.experiment = &experiment};
  double point = AssignmentPoint(experiment.salt.empty() ? experiment.id : experiment.salt, unit_id);
  if (point < experiment.holdout) {
    assignment.group = static_cast<int>(experiment.variants.size());
    return assignment;
  }
  point = (point - experiment.holdout) / (1 - experiment.holdout);
  double cumulative = 0;
  for (size_t v = 0; v < experiment.variants.size(); ++v) {
    cumulative += experiment.variants[v].share;
    if (point < cumulative || v + 1 == experiment.variants.size()) {
      assignment.group = static_cast<int>(v);
      assignment.variant = &experiment.variants[v];
      break;
    }
  }
  return assignment;
}

std::optional<Experiment> ParseExperiment(std::string_view json, const std::vector<std::string>& scenarios,
                                          const std::vector<std::string>& models, int64_t now_ms,
                                          FieldError* error) {
  return Parse(json, &scenarios, &models, now_ms, error);
}

std::optional<Experiment> ReadStoredExperiment(std::string_view json, FieldError* error) {
  return Parse(json, nullptr, nullptr, 0, error);
}

void WriteExperimentJson(const Experiment& experiment, JsonWriter* w) {
  w->BeginObject().Key("id").String(experiment.id).Key("name").String(experiment.name);
  if (!experiment.description.empty()) w->Key("description").String(experiment.description);
  w->Key("scenarios").BeginArray();
  for (const std::string& scenario : experiment.scenarios) w->String(scenario);
  w->EndArray();
  w->Key("unit").String(experiment.unit == ExperimentUnit::kUser ? "user" : "session");
  if (!experiment.salt.empty()) w->Key("salt").String(experiment.salt);
  w->Key("holdout").Double(experiment.holdout);
  w->Key("variants").BeginArray();
  for (const Variant& variant : experiment.variants) {
    w->BeginObject().Key("name").String(variant.name).Key("share").Double(variant.share).Key("settings").BeginObject();
    for (const auto& [scenario, setting] : variant.settings) {
      w->Key(scenario).BeginObject();
      if (!setting.model.empty()) w->Key("model").String(setting.model);
      if (setting.ranker) w->Key("ranker").Bool(*setting.ranker);
      if (setting.rules) w->Key("rules").Bool(*setting.rules);
      w->EndObject();
    }
    w->EndObject().EndObject();
  }
  w->EndArray();
  w->Key("start").String(FormatTimestampMillis(experiment.start_ms));
  if (experiment.stop_ms != 0) w->Key("stop").String(FormatTimestampMillis(experiment.stop_ms));
  w->Key("cuped_days").Int(experiment.cuped_days).Key("min_units").UInt(experiment.min_units);
  w->Key("created_at").String(FormatTimestampMillis(experiment.created_ms));
  if (experiment.stopped_ms != 0) w->Key("stopped_at").String(FormatTimestampMillis(experiment.stopped_ms));
  w->EndObject();
}

}  // namespace vitrina
