#include "rules/rule_book.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>

#include "common/json_fields.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace vitrina {
namespace {

constexpr std::string_view kSetKey = "rules/set";
constexpr std::string_view kAuditPrefix = "rules/audit/";

std::string AuditKey(int64_t sequence) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%020lld", static_cast<long long>(sequence));
  return std::string(kAuditPrefix) + buffer;
}

// A rule as stored: what ParseRule reads plus the server's own fields.
std::optional<Rule> ReadStoredRule(simdjson::dom::element element, const std::vector<std::string>& scopes,
                                   std::string* problem) {
  const std::string json = simdjson::minify(element);
  RuleError error;
  std::optional<Rule> rule = ParseRule(json, scopes, &error);
  if (!rule) {
    *problem = error.field + ": " + error.message;
    return std::nullopt;
  }
  int64_t revision = 0;
  std::string_view text;
  if (element["revision"].get(revision) == simdjson::SUCCESS) rule->revision = revision;
  if (element["updated_by"].get(text) == simdjson::SUCCESS) rule->updated_by = std::string(text);
  if (element["created_at"].get(text) == simdjson::SUCCESS) rule->created_ms = ParseTimestampMillis(text).value_or(0);
  if (element["updated_at"].get(text) == simdjson::SUCCESS) rule->updated_ms = ParseTimestampMillis(text).value_or(0);
  return rule;
}

std::string SetJson(int64_t version, int64_t next_sequence, const std::vector<Rule>& rules) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("version").Int(version).Key("next_sequence").Int(next_sequence).Key("rules").BeginArray();
  for (const Rule& rule : rules) WriteRuleJson(rule, &w);
  w.EndArray().EndObject();
  return out;
}

}  // namespace

void WriteRuleAuditJson(const RuleAuditEntry& entry, JsonWriter* w) {
  w->BeginObject().Key("sequence").Int(entry.sequence).Key("at").String(FormatTimestampMillis(entry.at_ms));
  w->Key("actor").String(entry.actor).Key("action").String(entry.action).Key("rule_id").String(entry.rule_id);
  w->Key("version").Int(entry.version);
  w->Key("before");
  if (entry.before) {
    WriteRuleJson(*entry.before, w);
  } else {
    w->Null();
  }
  w->Key("after");
  if (entry.after) {
    WriteRuleJson(*entry.after, w);
  } else {
    w->Null();
  }
  w->EndObject();
}

RuleBook::RuleBook(Store* store, const Clock* clock, std::vector<std::string> scopes)
    : store_(store), clock_(clock), scopes_(std::move(scopes)), current_(std::make_shared<const RuleSet>()) {}

Status RuleBook::Load(std::vector<std::string>* problems) {
  std::vector<std::string> unreported;
  if (problems == nullptr) problems = &unreported;
  std::lock_guard lock(mutex_);
  auto stored = store_->GetDocument(kSetKey);
  if (stored.status().IsNotFound()) return Status::OK();
  VITRINA_RETURN_IF_ERROR(stored.status());
  // A set that cannot be read is kept aside, and the rules that can be
  // read serve: the server starts whatever one document holds.
  auto set_aside = [&](const std::string& why) -> Status {
    VITRINA_ASSIGN_OR_RETURN(std::string aside, SetAsideDocument(store_, kSetKey, *stored, clock_->NowMillis()));
    problems->push_back("business rules: " + why + "; the stored set is kept as " + aside);
    return store_->PutDocuments({{std::string(kSetKey), ""}});
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array array;
  std::string text;
  bool repaired = false;
  int64_t version = 0, next_sequence = 0;
  if (!ParseStoredJson(&parser, *stored, &text, &root, &repaired) || root["version"].get(version) != simdjson::SUCCESS ||
      root["next_sequence"].get(next_sequence) != simdjson::SUCCESS || root["rules"].get(array) != simdjson::SUCCESS) {
    return set_aside("the stored rules are not readable; starting without them");
  }
  std::vector<Rule> rules;
  std::vector<std::string> skipped;
  size_t position = 0;
  for (simdjson::dom::element element : array) {
    std::string problem;
    std::optional<Rule> rule = ReadStoredRule(element, scopes_, &problem);
    if (rule) {
      rules.push_back(std::move(*rule));
    } else {
      skipped.push_back("rule " + std::to_string(position) + " (" + problem + ")");
    }
    ++position;
  }
  if (repaired || !skipped.empty()) {
    VITRINA_RETURN_IF_ERROR(set_aside(repaired ? "bytes that were not UTF-8 in the stored rules became U+FFFD"
                                               : "left out unreadable " + Join(skipped, ", ")));
    // What was read becomes the stored set, so the next start is clean.
    VITRINA_RETURN_IF_ERROR(store_->PutDocuments({{std::string(kSetKey), SetJson(version, next_sequence, rules)}}));
  }
  next_sequence_ = next_sequence;
  current_.store(std::make_shared<const RuleSet>(version, std::move(rules)));
  return Status::OK();
}

Status RuleBook::Commit(std::vector<Rule> rules, RuleAuditEntry entry) {
  const int64_t version = current_.load()->version() + 1;
  entry.sequence = next_sequence_;
  entry.version = version;
  std::string audit;
  JsonWriter w(&audit);
  WriteRuleAuditJson(entry, &w);
  VITRINA_RETURN_IF_ERROR(store_->PutDocuments(
      {{std::string(kSetKey), SetJson(version, next_sequence_ + 1, rules)}, {AuditKey(entry.sequence), audit}}));
  ++next_sequence_;
  current_.store(std::make_shared<const RuleSet>(version, std::move(rules)));
  return Status::OK();
}

Result<Rule> RuleBook::Create(Rule rule, std::string_view actor) {
  std::lock_guard lock(mutex_);
  const std::shared_ptr<const RuleSet> set = current_.load();
  std::vector<Rule> rules;
  for (const CompiledRule& compiled : set->rules()) rules.push_back(compiled.rule);
  if (rule.id.empty()) {
    for (int64_t n = next_sequence_;; ++n) {
      rule.id = "r" + std::to_string(n);
      if (set->Find(rule.id) == nullptr) break;
    }
  } else if (set->Find(rule.id) != nullptr) {
    return Status::AlreadyExists("id: a rule '" + rule.id + "' exists already (PUT /v1/rules/" + rule.id + " replaces it)");
  }
  const int64_t now = clock_->NowMillis();
  rule.revision = 1;
  rule.created_ms = rule.updated_ms = now;
  rule.updated_by = std::string(actor);
  rules.push_back(rule);
  VITRINA_RETURN_IF_ERROR(
      Commit(std::move(rules), {.at_ms = now, .actor = std::string(actor), .action = "create", .rule_id = rule.id,
                                .after = rule}));
  return rule;
}

Result<Rule> RuleBook::Replace(std::string_view id, Rule rule, std::string_view actor) {
  std::lock_guard lock(mutex_);
  if (!rule.id.empty() && rule.id != id) {
    return Status::InvalidArgument("id: the body names rule '" + rule.id + "' but the path names '" + std::string(id) + "'");
  }
  std::vector<Rule> rules;
  std::optional<Rule> before;
  for (const CompiledRule& compiled : current_.load()->rules()) {
    rules.push_back(compiled.rule);
    if (compiled.rule.id == id) before = compiled.rule;
  }
  if (!before) return Status::NotFound("no rule '" + std::string(id) + "'");
  const int64_t now = clock_->NowMillis();
  rule.id = std::string(id);
  rule.revision = before->revision + 1;
  rule.created_ms = before->created_ms;
  rule.updated_ms = now;
  rule.updated_by = std::string(actor);
  std::replace_if(rules.begin(), rules.end(), [&](const Rule& r) { return r.id == id; }, rule);
  VITRINA_RETURN_IF_ERROR(Commit(std::move(rules), {.at_ms = now, .actor = std::string(actor), .action = "update",
                                                    .rule_id = rule.id, .before = before, .after = rule}));
  return rule;
}

Status RuleBook::Delete(std::string_view id, std::string_view actor) {
  std::lock_guard lock(mutex_);
  std::vector<Rule> rules;
  std::optional<Rule> before;
  for (const CompiledRule& compiled : current_.load()->rules()) {
    if (compiled.rule.id == id) {
      before = compiled.rule;
    } else {
      rules.push_back(compiled.rule);
    }
  }
  if (!before) return Status::NotFound("no rule '" + std::string(id) + "'");
  return Commit(std::move(rules), {.at_ms = clock_->NowMillis(), .actor = std::string(actor), .action = "delete",
                                   .rule_id = std::string(id), .before = before});
}

Result<std::vector<RuleAuditEntry>> RuleBook::Audit(std::string_view rule_id, size_t limit) const {
  std::vector<RuleAuditEntry> entries;
  simdjson::dom::parser parser;
  std::string storage;
  VITRINA_RETURN_IF_ERROR(store_->ScanDocuments(kAuditPrefix, [&](std::string_view key, std::string_view value) {
    simdjson::dom::element root;
    RuleAuditEntry entry;
    std::string_view text;
    bool repaired = false;
    if (!ParseStoredJson(&parser, value, &storage, &root, &repaired) ||
        root["sequence"].get(entry.sequence) != simdjson::SUCCESS || root["rule_id"].get(text) != simdjson::SUCCESS) {
      return true;  // history only: an unreadable entry is left out, never the whole log
    }
    entry.rule_id = std::string(text);
    if (!rule_id.empty() && entry.rule_id != rule_id) return true;
    if (root["at"].get(text) == simdjson::SUCCESS) entry.at_ms = ParseTimestampMillis(text).value_or(0);
    if (root["actor"].get(text) == simdjson::SUCCESS) entry.actor = std::string(text);
    if (root["action"].get(text) == simdjson::SUCCESS) entry.action = std::string(text);
    if (root["version"].get(entry.version) != simdjson::SUCCESS) entry.version = 0;
    for (auto [field, target] : {std::pair{"before", &entry.before}, std::pair{"after", &entry.after}}) {
      simdjson::dom::element rule;
      if (root[field].get(rule) != simdjson::SUCCESS || rule.is_null()) continue;
      std::string unused;
      *target = ReadStoredRule(rule, scopes_, &unused);
    }
    entries.push_back(std::move(entry));
    return true;
  }));
  std::reverse(entries.begin(), entries.end());
  if (entries.size() > limit) entries.resize(limit);
  return entries;
}

}  // namespace vitrina
