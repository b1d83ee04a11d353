// Handlers for /v1/rules: business rules, their validation and audit log.
#include "api/service.h"
#include "common/json_writer.h"
#include "common/strings.h"

namespace vitrina {
namespace {

constexpr size_t kDefaultAuditEntries = 100;
constexpr size_t kMaxAuditEntries = 10000;

HttpResponse RuleStatusError(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument: {
      // Messages start with the field they are about: "id: ...".
      const std::string& message = status.message();
      const size_t colon = message.find(':');
      return ErrorResponse(400, "invalid_rule", message,
                           colon == std::string::npos ? std::string_view() : std::string_view(message).substr(0, colon));
    }
    case StatusCode::kNotFound: return ErrorResponse(404, "not_found", status.message(), "id");
    case StatusCode::kAlreadyExists: return ErrorResponse(409, "conflict", status.message(), "id");
    default: return ErrorResponse(500, "internal", status.message());
  }
}

HttpResponse RuleError400(const RuleError& error) {
  const std::string message = error.field.empty() ? error.message : error.field + ": " + error.message;
  return ErrorResponse(400, "invalid_rule", message, error.field);
}

std::string RuleJson(const Rule& rule, int64_t version) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("version").Int(version).Key("rule");
  WriteRuleJson(rule, &w);
  w.EndObject();
  return body;
}

}  // namespace

void ApiService::ListRules(RouteRequest& request, Responder respond) {
  if (rules_ == nullptr) return respond(ErrorResponse(503, "unavailable", "rules are not enabled"));
  std::shared_ptr<const RuleSet> set = rules_->current();
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("version").Int(set->version()).Key("rules").BeginArray();
  for (const CompiledRule& rule : set->rules()) WriteRuleJson(rule.rule, &w);
  w.EndArray().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::GetRule(RouteRequest& request, Responder respond) {
  if (rules_ == nullptr) return respond(ErrorResponse(503, "unavailable", "rules are not enabled"));
  std::shared_ptr<const RuleSet> set = rules_->current();
  const CompiledRule* rule = set->Find(request.params[0]);
  if (rule == nullptr) {
    return respond(ErrorResponse(404, "not_found", "no rule '" + PrintableAscii(request.params[0], 64) + "'", "id"));
  }
  respond(JsonResponse(200, RuleJson(rule->rule, set->version())));
}

void ApiService::CreateRule(RouteRequest& request, Responder respond) {
  if (rules_ == nullptr) return respond(ErrorResponse(503, "unavailable", "rules are not enabled"));
  std::string actor;
  if (auto error = ReadActor(request.http, &actor)) return respond(std::move(*error));
  RuleError error;
  std::optional<Rule> rule = rules_->Parse(request.http.body, &error);
  if (!rule) return respond(RuleError400(error));
  auto created = rules_->Create(std::move(*rule), actor);
  if (!created.ok()) return respond(RuleStatusError(created.status()));
  respond(JsonResponse(201, RuleJson(*created, rules_->current()->version())));
}

void ApiService::ReplaceRule(RouteRequest& request, Responder respond) {
  if (rules_ == nullptr) return respond(ErrorResponse(503, "unavailable", "rules are not enabled"));
  std::string actor;
  if (auto error = ReadActor(request.http, &actor)) return respond(std::move(*error));
  RuleError error;
  std::optional<Rule> rule = rules_->Parse(request.http.body, &error);
  if (!rule) return respond(RuleError400(error));
  auto replaced = rules_->Replace(request.params[0], std::move(*rule), actor);
  if (!replaced.ok()) return respond(RuleStatusError(replaced.status()));
  respond(JsonResponse(200, RuleJson(*replaced, rules_->current()->version())));
}

void ApiService::DeleteRule(RouteRequest& request, Responder respond) {
  if (rules_ == nullptr) return respond(ErrorResponse(503, "unavailable", "rules are not enabled"));
  std::string actor;
  if (auto error = ReadActor(request.http, &actor)) return respond(std::move(*error));
  Status deleted = rules_->Delete(request.params[0], actor);
  if (!deleted.ok()) return respond(RuleStatusError(deleted));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("deleted").String(request.params[0]).Key("version").Int(rules_->current()->version()).EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::ValidateRule(RouteRequest& request, Responder respond) {
  if (rules_ == nullptr) return respond(ErrorResponse(503, "unavailable", "rules are not enabled"));
  RuleError error;
  std::optional<Rule> rule = rules_->Parse(request.http.body, &error);
  if (!rule) return respond(RuleError400(error));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("valid").Bool(true).Key("rule");
  WriteRuleJson(*rule, &w);
  w.EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::RulesAudit(RouteRequest& request, Responder respond) {
  if (rules_ == nullptr) return respond(ErrorResponse(503, "unavailable", "rules are not enabled"));
  size_t limit = kDefaultAuditEntries;
  if (const std::string* text = request.http.Query("limit")) {
    auto value = ParseInt64(*text);
    if (!value || *value < 1 || *value > static_cast<int64_t>(kMaxAuditEntries)) {
      return respond(ErrorResponse(400, "invalid_request", "limit must be a whole number from 1 to 10000", "limit"));
    }
    limit = static_cast<size_t>(*value);
  }
  std::string rule_id;
  if (const std::string* id = request.http.Query("rule_id")) rule_id = *id;
  auto entries = rules_->Audit(rule_id, limit);
  if (!entries.ok()) return respond(RuleStatusError(entries.status()));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("entries").BeginArray();
  for (const RuleAuditEntry& entry : *entries) WriteRuleAuditJson(entry, &w);
  w.EndArray().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

}  // namespace vitrina
