#include "rules/rules.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>

#include "common/strings.h"
#include "common/time_util.h"

namespace vitrina {
namespace {

constexpr size_t kMaxItems = 1000;

constexpr std::pair<RuleKind, std::string_view> kKindNames[] = {
    {RuleKind::kFilter, "filter"}, {RuleKind::kBoost, "boost"},         {RuleKind::kBury, "bury"},
    {RuleKind::kPin, "pin"},       {RuleKind::kBlock, "block"},         {RuleKind::kDiversity, "diversity"},
    {RuleKind::kRepurchase, "repurchase"},
};

// Fields a client may send; the server's own are accepted and ignored so
// that a rule read back can be sent again.
constexpr std::string_view kClientFields[] = {"id",         "name",     "kind",     "enabled",   "scenarios",
                                              "starts_at",  "ends_at",  "expression", "weight",  "items",
                                              "position",   "attribute", "max_items", "window_days"};
constexpr std::string_view kServerFields[] = {"revision", "created_at", "updated_at", "updated_by"};

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// Which optional fields each kind uses (beyond id, name, kind, enabled,
// scenarios and the time window).
struct KindFields {
  bool expression, weight, items, position, attribute, max_items, window_days;
};
KindFields FieldsOf(RuleKind kind) {
  switch (kind) {
    case RuleKind::kFilter: return {true, false, false, false, false, false, false};
    case RuleKind::kBoost:
    case RuleKind::kBury: return {true, true, false, false, false, false, false};
    case RuleKind::kPin: return {false, false, true, true, false, false, false};
    case RuleKind::kBlock: return {true, false, true, false, false, false, false};
    case RuleKind::kDiversity: return {false, false, false, false, true, true, false};
    case RuleKind::kRepurchase: return {true, false, false, false, false, false, true};
  }
  return {};
}

bool IsDiversityAttribute(std::string_view attribute) {
  return attribute == "category" || attribute == "brand" ||
         (attribute.starts_with("attributes.") && attribute.size() > std::string_view("attributes.").size());
}

std::string FormatWeight(double weight) { return FormatDouble(std::round(weight * 100) / 100); }

}  // namespace

std::string_view RuleKindName(RuleKind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) return name;
  }
  return "";
}

std::optional<Rule> ParseRule(std::string_view json, const std::vector<std::string>& scopes, RuleError* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    Fail(error, "", "the body is not valid JSON");
    return std::nullopt;
  }
  simdjson::dom::object object;
  if (root.get(object) != simdjson::SUCCESS) {
    Fail(error, "", "expected a JSON object (one rule), got " + JsonTypeName(root));
    return std::nullopt;
  }
  // Unknown fields first: a misspelt field would otherwise be silently lost.
  if (!CheckKnownFields(object, kClientFields, kServerFields, "", error)) return std::nullopt;

  Rule rule;
  simdjson::dom::element value;
  auto has = [&](const char* field) { return object[field].get(value) == simdjson::SUCCESS; };
  if (!has("kind")) {
    Fail(error, "kind", "required: one of filter, boost, bury, pin, block, diversity, repurchase");
    return std::nullopt;
  }
  std::string kind;
  if (!ReadText(value, "kind", &kind, error)) return std::nullopt;
  bool kind_known = false;
  for (const auto& [candidate, name] : kKindNames) {
    if (name == kind) {
      rule.kind = candidate;
      kind_known = true;
    }
  }
  if (!kind_known) {
    Fail(error, "kind", "unknown kind \"" + PrintableAscii(kind, 40) +
                            "\" (one of filter, boost, bury, pin, block, diversity, repurchase)");
    return std::nullopt;
  }
  if (has("id")) {
    if (!ReadText(value, "id", &rule.id, error)) return std::nullopt;
    if (!ValidId(rule.id)) {
      Fail(error, "id", "1-64 letters, digits, '_', '-' or '.'");
      return std::nullopt;
    }
  }
  if (has("name")) {
    if (!ReadText(value, "name", &rule.name, error)) return std::nullopt;
    if (rule.name.size() > 200) {
      Fail(error, "name", "at most 200 bytes");
      return std::nullopt;
    }
  }
  if (has("enabled") && value.get(rule.enabled) != simdjson::SUCCESS) {
    Fail(error, "enabled", "expected true or false, got " + JsonTypeName(value));
    return std::nullopt;
  }
  if (has("scenarios")) {
    if (!ReadTextList(value, "scenarios", kMaxItems, &rule.scenarios, error)) return std::nullopt;
    for (size_t i = 0; i < rule.scenarios.size(); ++i) {
      if (std::find(scopes.begin(), scopes.end(), rule.scenarios[i]) == scopes.end()) {
        Fail(error, "scenarios[" + std::to_string(i) + "]",
             "unknown scenario \"" + PrintableAscii(rule.scenarios[i], 40) + "\" (one of " + Join(scopes, ", ") + ")");
        return std::nullopt;
      }
    }
  }
  if (has("starts_at") && !ReadTime(value, "starts_at", &rule.starts_ms, error)) return std::nullopt;
  if (has("ends_at") && !ReadTime(value, "ends_at", &rule.ends_ms, error)) return std::nullopt;
  if (rule.starts_ms != 0 && rule.ends_ms != 0 && rule.ends_ms <= rule.starts_ms) {
    Fail(error, "ends_at", "must be after starts_at");
    return std::nullopt;
  }

  // Kind-specific fields: required where the kind needs them, refused where it does not.
  const KindFields uses = FieldsOf(rule.kind);
  const std::string kind_name(RuleKindName(rule.kind));
  auto refuse_unused = [&](const char* field, bool used) {
    if (!used && has(field)) return Fail(error, field, "not used by a " + kind_name + " rule");
    return true;
  };
  if (!refuse_unused("expression", uses.expression) || !refuse_unused("weight", uses.weight) ||
      !refuse_unused("items", uses.items) || !refuse_unused("position", uses.position) ||
      !refuse_unused("attribute", uses.attribute) || !refuse_unused("max_items", uses.max_items) ||
      !refuse_unused("window_days", uses.window_days)) {
    return std::nullopt;
  }
  if (uses.expression && has("expression")) {
    if (!ReadText(value, "expression", &rule.expression, error)) return std::nullopt;
    auto parsed = Expression::Parse(rule.expression);
    if (!parsed.ok()) {
      Fail(error, "expression", parsed.status().message());
      return std::nullopt;
    }
  }
  const bool expression_required = rule.kind == RuleKind::kFilter || rule.kind == RuleKind::kBoost ||
                                   rule.kind == RuleKind::kBury;
  if (expression_required && rule.expression.empty()) {
    Fail(error, "expression", "required by a " + kind_name + " rule, e.g. \"category == \\\"Kitchen\\\" and price < 20\"");
    return std::nullopt;
  }
  if (uses.weight) {
    if (!has("weight")) {
      Fail(error, "weight", "required by a " + kind_name + " rule: a number above 1 (1.5 moves matching items " +
                                (rule.kind == RuleKind::kBoost ? "up" : "down") + " by half again)");
      return std::nullopt;
    }
    if (!ReadNumber(value, "weight", &rule.weight, error)) return std::nullopt;
    if (rule.weight <= 1 || rule.weight > 1000) {
      Fail(error, "weight", "must be above 1 and at most 1000, got " + FormatDouble(rule.weight));
      return std::nullopt;
    }
  }
  if (uses.items && has("items")) {
    if (!ReadTextList(value, "items", kMaxItems, &rule.items, error)) return std::nullopt;
  }
  if (rule.kind == RuleKind::kPin && rule.items.empty()) {
    Fail(error, "items", "required by a pin rule: the item ids to pin, in order");
    return std::nullopt;
  }
  if (rule.kind == RuleKind::kBlock && rule.items.empty() && rule.expression.empty()) {
    Fail(error, "items", "a block rule needs items, an expression, or both");
    return std::nullopt;
  }
  if (uses.position) {
    double position = 1;
    if (has("position") && !ReadNumber(value, "position", &position, error)) return std::nullopt;
    if (position < 1 || position > 1000 || position != std::floor(position)) {
      Fail(error, "position", "a whole number from 1 (the first place) to 1000, got " + FormatDouble(position));
      return std::nullopt;
    }
    rule.position = static_cast<int>(position);
  }
  if (uses.attribute) {
    if (!has("attribute")) {
      Fail(error, "attribute", "required by a diversity rule: category, brand or attributes.NAME");
      return std::nullopt;
    }
    if (!ReadText(value, "attribute", &rule.attribute, error)) return std::nullopt;
    if (!IsDiversityAttribute(rule.attribute)) {
      Fail(error, "attribute", "one of category, brand or attributes.NAME, got \"" + PrintableAscii(rule.attribute, 40) + "\"");
      return std::nullopt;
    }
    double max_items = 0;
    if (!has("max_items")) {
      Fail(error, "max_items", "required by a diversity rule: how many items may share a value");
      return std::nullopt;
    }
    if (!ReadNumber(value, "max_items", &max_items, error)) return std::nullopt;
    if (max_items < 1 || max_items > 1000 || max_items != std::floor(max_items)) {
      Fail(error, "max_items", "a whole number from 1 to 1000, got " + FormatDouble(max_items));
      return std::nullopt;
    }
    rule.max_items = static_cast<int>(max_items);
  }
  if (uses.window_days) {
    if (!has("window_days")) {
      Fail(error, "window_days", "required by a repurchase rule: days after a purchase during which the item is left out");
      return std::nullopt;
    }
    if (!ReadNumber(value, "window_days", &rule.window_days, error)) return std::nullopt;
    if (rule.window_days < 0 || rule.window_days > 3650) {
      Fail(error, "window_days", "from 0 to 3650 days, got " + FormatDouble(rule.window_days));
      return std::nullopt;
    }
  }
  return rule;
}

void WriteRuleJson(const Rule& rule, JsonWriter* w) {
  w->BeginObject().Key("id").String(rule.id).Key("name").String(rule.name);
  w->Key("kind").String(RuleKindName(rule.kind)).Key("enabled").Bool(rule.enabled);
  w->Key("scenarios").BeginArray();
  for (const std::string& scenario : rule.scenarios) w->String(scenario);
  w->EndArray();
  if (rule.starts_ms != 0) w->Key("starts_at").String(FormatTimestampMillis(rule.starts_ms));
  if (rule.ends_ms != 0) w->Key("ends_at").String(FormatTimestampMillis(rule.ends_ms));
  const KindFields uses = FieldsOf(rule.kind);
  if (uses.expression && !rule.expression.empty()) w->Key("expression").String(rule.expression);
  if (uses.weight) w->Key("weight").Double(rule.weight);
  if (uses.items && !rule.items.empty()) {
    w->Key("items").BeginArray();
    for (const std::string& item : rule.items) w->String(item);
    w->EndArray();
  }
  if (uses.position) w->Key("position").Int(rule.position);
  if (uses.attribute) w->Key("attribute").String(rule.attribute).Key("max_items").Int(rule.max_items);
  if (uses.window_days) w->Key("window_days").Double(rule.window_days);
  w->Key("revision").Int(rule.revision);
  if (rule.created_ms != 0) w->Key("created_at").String(FormatTimestampMillis(rule.created_ms));
  if (rule.updated_ms != 0) w->Key("updated_at").String(FormatTimestampMillis(rule.updated_ms));
  w->Key("updated_by").String(rule.updated_by);
  w->EndObject();
}

RuleSet::RuleSet(int64_t version, std::vector<Rule> rules) : version_(version) {
  rules_.reserve(rules.size());
  for (Rule& rule : rules) {
    CompiledRule compiled{.rule = std::move(rule)};
    if (!compiled.rule.expression.empty()) {
      auto parsed = Expression::Parse(compiled.rule.expression);
      if (parsed.ok()) compiled.expression.emplace(std::move(parsed).value());
    }
    rules_.push_back(std::move(compiled));
  }
}

const CompiledRule* RuleSet::Find(std::string_view id) const {
  for (const CompiledRule& rule : rules_) {
    if (rule.rule.id == id) return &rule;
  }
  return nullptr;
}

std::vector<const CompiledRule*> RuleSet::InEffect(std::string_view scope, int64_t now_ms) const {
  std::vector<const CompiledRule*> out;
  for (const CompiledRule& compiled : rules_) {
    const Rule& rule = compiled.rule;
    if (!rule.enabled) continue;
    if (rule.starts_ms != 0 && now_ms < rule.starts_ms) continue;
    if (rule.ends_ms != 0 && now_ms >= rule.ends_ms) continue;
    if (!rule.scenarios.empty() && std::find(rule.scenarios.begin(), rule.scenarios.end(), scope) == rule.scenarios.end()) {
      continue;
    }
    out.push_back(&compiled);
  }
  return out;
}

RuleScope::RuleScope(std::vector<const CompiledRule*> rules, int64_t now_ms) : rules_(std::move(rules)), now_ms_(now_ms) {
  for (const CompiledRule* compiled : rules_) {
    const Rule& rule = compiled->rule;
    switch (rule.kind) {
      case RuleKind::kBoost:
      case RuleKind::kBury:
        reorders_ = true;
        break;
      case RuleKind::kDiversity:
        reorders_ = true;
        caps_.push_back({compiled, rule.max_items});
        break;
      case RuleKind::kRepurchase:
        has_repurchase_ = true;
        break;
      case RuleKind::kPin:
        for (size_t i = 0; i < rule.items.size(); ++i) {
          pins_.push_back({compiled, rule.items[i], static_cast<size_t>(rule.position - 1) + i});
        }
        break;
      default:
        break;
    }
  }
  std::stable_sort(pins_.begin(), pins_.end(), [](const Pin& a, const Pin& b) { return a.position < b.position; });
}

const Rule* RuleScope::Refuses(const Item& item) const {
  if (const Rule* blocker = Blocker(item)) return blocker;
  for (const CompiledRule* compiled : rules_) {
    if (compiled->rule.kind != RuleKind::kFilter) continue;
    if (!compiled->expression || !compiled->expression->Matches(item, now_ms_)) return &compiled->rule;
  }
  return nullptr;
}

const Rule* RuleScope::Blocker(const Item& item) const {
  for (const CompiledRule* compiled : rules_) {
    const Rule& rule = compiled->rule;
    if (rule.kind != RuleKind::kBlock) continue;
    if (std::find(rule.items.begin(), rule.items.end(), item.id) != rule.items.end()) return &rule;
    if (compiled->expression && compiled->expression->Matches(item, now_ms_)) return &rule;
  }
  return nullptr;
}

std::optional<bool> RuleScope::RepurchaseExcludes(const Item& item, int64_t bought_ms) const {
  std::optional<bool> excluded;
  for (const CompiledRule* compiled : rules_) {
    if (compiled->rule.kind != RuleKind::kRepurchase) continue;
    if (compiled->expression && !compiled->expression->Matches(item, now_ms_)) continue;
    const bool within = static_cast<double>(now_ms_ - bought_ms) < compiled->rule.window_days * static_cast<double>(kMillisPerDay);
    excluded = excluded.value_or(false) || within;
  }
  return excluded;
}

double RuleScope::Boost(const Item& item, std::vector<RuleEffect>* effects) const {
  double factor = 1;
  for (const CompiledRule* compiled : rules_) {
    const Rule& rule = compiled->rule;
    if (rule.kind != RuleKind::kBoost && rule.kind != RuleKind::kBury) continue;
    if (!compiled->expression || !compiled->expression->Matches(item, now_ms_)) continue;
    const bool up = rule.kind == RuleKind::kBoost;
    factor *= up ? rule.weight : 1 / rule.weight;
    if (effects != nullptr) {
      effects->push_back({&rule, std::string(up ? "boost x" : "bury /") + FormatWeight(rule.weight)});
    }
  }
  return factor;
}

std::vector<std::string> RuleScope::CapValues(const Cap& cap, const Item& item) {
  const std::string& attribute = cap.rule->rule.attribute;
  if (attribute == "category") {
    return item.category.empty() ? std::vector<std::string>{} : std::vector<std::string>{AsciiLower(item.category.back())};
  }
  if (attribute == "brand") return item.brand.empty() ? std::vector<std::string>{} : std::vector<std::string>{AsciiLower(item.brand)};
  const std::string key = attribute.substr(std::string_view("attributes.").size());
  std::vector<std::string> values;
  for (const auto& [name, value] : item.attributes) {
    if (name != key) continue;
    if (const auto* text = std::get_if<std::string>(&value)) values.push_back(AsciiLower(*text));
    if (const auto* number = std::get_if<double>(&value)) values.push_back(FormatDouble(*number));
    if (const auto* flag = std::get_if<bool>(&value)) values.push_back(*flag ? "true" : "false");
    if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      for (const std::string& entry : *list) values.push_back(AsciiLower(entry));
    }
  }
  return values;
}

}  // namespace vitrina
