// Handlers for /v1/recommendations and /v1/models.
#include <algorithm>
#include <cmath>

#include "api/experimentation.h"
#include "api/service.h"
#include "common/json_writer.h"
#include "common/strings.h"

namespace vitrina {
namespace {

constexpr size_t kMaxResults = 100;
constexpr size_t kMaxCartItems = 100;

// Reads the query into a request; on a bad value returns the 400 to send.
std::optional<HttpResponse> ParseRecommendQuery(const HttpRequest& http, RecommendRequest* request) {
  auto text = [&](std::string_view name, std::string* out) {
    if (const std::string* value = http.Query(name)) *out = *value;
  };
  text("user_id", &request->user_id);
  text("session_id", &request->session_id);
  text("item_id", &request->item_id);
  text("category", &request->category);
  text("model", &request->model);
  text("device", &request->device);
  text("page", &request->page);
  text("country", &request->country);
  if (auto error = ParseCountQuery(http, "n", 1, kMaxResults, &request->n)) return error;
  if (const std::string* items = http.Query("items")) {
    for (std::string_view id : Split(*items, ",")) {
      if (!id.empty()) request->cart_items.emplace_back(id);
    }
    if (request->cart_items.size() > kMaxCartItems) {
      return ErrorResponse(400, "invalid_request", "items: at most 100 cart items", "items");
    }
  }
  if (auto error = ParsePriceQuery(http, "min_price", &request->min_price)) return error;
  if (auto error = ParsePriceQuery(http, "max_price", &request->max_price)) return error;
  if (request->min_price && request->max_price && *request->min_price > *request->max_price) {
    return ErrorResponse(400, "invalid_request",
                         "min_price (" + FormatDouble(*request->min_price) + ") is above max_price (" +
                             FormatDouble(*request->max_price) + "): no item could match",
                         "min_price");
  }
  for (auto [name, target] :
       {std::pair{"in_stock", &request->in_stock}, std::pair{"exclude_purchased", &request->exclude_purchased},
        std::pair{"explain", &request->explain}}) {
    if (auto error = ParseBoolQuery(http, name, target)) return error;
  }
  for (const std::string* id : {&request->user_id, &request->session_id, &request->item_id}) {
    if (id->size() > 256 || HasControlChar(*id)) {
      return ErrorResponse(400, "invalid_request", "ids are at most 256 bytes without control characters");
    }
  }
  for (auto [name, value] : {std::pair{"device", &request->device}, std::pair{"page", &request->page},
                             std::pair{"country", &request->country}}) {
    if (value->size() > 2048 || HasControlChar(*value)) {
      return ErrorResponse(400, "invalid_request", std::string(name) + " is at most 2048 bytes without control characters",
                           name);
    }
  }
  return std::nullopt;
}

// `admin`: the caller holds the admin key, and sees which business rules
// moved the item (a shop page, with the public key, does not).
void WriteRecommendedItem(const RecommendedItem& item, bool explain, bool admin, JsonWriter* w) {
  w->BeginObject().Key("item_id").String(item.item_id).Key("title").String(item.title);
  WriteShopFieldsJson(item.item, w);
  w->Key("score").Double(item.score).Key("model").String(item.model).Key("reason").String(item.reason);
  w->Key("reason_item_id");
  if (item.reason_item_id.empty()) {
    w->Null();
  } else {
    w->String(item.reason_item_id);
  }
  w->Key("explored").Bool(item.explored).Key("propensity").Double(item.propensity);
  w->Key("sources").BeginArray();
  for (const std::string& source : item.sources) w->String(source);
  w->EndArray();
  if (admin) {
    w->Key("rules").BeginArray();
    for (const AppliedRule& rule : item.rules) {
      w->BeginObject().Key("id").String(rule.id).Key("name").String(rule.name).Key("effect").String(rule.effect).EndObject();
    }
    w->EndArray();
  }
  if (explain && !item.features.empty()) {
    // Each ranker input with its value (null: missing) and its share of the score.
    w->Key("explanation").BeginObject().Key("bias").Double(item.ranker_bias).Key("features").BeginArray();
    for (const FeatureContribution& feature : item.features) {
      w->BeginObject().Key("name").String(feature.name).Key("value");
      if (std::isnan(feature.value)) {
        w->Null();
      } else {
        w->Double(feature.value);
      }
      w->Key("contribution").Double(feature.contribution).EndObject();
    }
    w->EndArray().EndObject();
  }
  w->EndObject();
}

// "empty_reason": null for a list with items; else its code and message,
// and for the admin key the rules that filtered everything out.
void WriteEmptyReason(const std::optional<EmptyReason>& reason, bool admin, JsonWriter* w) {
  w->Key("empty_reason");
  if (!reason) {
    w->Null();
    return;
  }
  w->BeginObject().Key("code").String(reason->code).Key("message").String(reason->message);
  if (admin && !reason->rules.empty()) {
    w->Key("rules").BeginArray();
    for (const Rule* rule : reason->rules) w->BeginObject().Key("id").String(rule->id).Key("name").String(rule->name).EndObject();
    w->EndArray();
  }
  w->EndObject();
}

}  // namespace

void ApiService::Recommendations(RouteRequest& request, Responder respond) {
  if (recommender_ == nullptr) return respond(ErrorResponse(503, "unavailable", "recommendations are not enabled"));
  RecommendRequest query;
  std::optional<Scenario> scenario = ParseScenario(request.params[0]);
  if (!scenario) {
    return respond(ErrorResponse(404, "unknown_scenario",
                                 "no scenario '" + PrintableAscii(request.params[0], 40) +
                                     "' (for_you, similar, bought_together, cart, upsell, trending, recently_viewed)",
                                 "scenario"));
  }
  query.scenario = *scenario;
  if (auto error = ParseRecommendQuery(request.http, &query)) return respond(std::move(*error));
  auto result = RecommendUnderExperiments(*recommender_, experiments_, attribution_, clock_->NowMillis(), query);
  if (!result.ok()) return respond(StatusError(result.status()));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("recommendation_id").String(result->recommendation_id);
  w.Key("scenario").String(ScenarioName(query.scenario));
  w.Key("snapshot");
  if (result->snapshot_id.empty()) {
    w.Null();
  } else {
    w.String(result->snapshot_id);
  }
  w.Key("ranked_by").String(result->ranked ? "pipeline" : "models").Key("rules_version").Int(result->rules_version);
  if (!result->experiment.empty()) {
    w.Key("experiment").BeginObject().Key("id").String(result->experiment).Key("variant").String(result->variant).EndObject();
  }
  w.Key("items").BeginArray();
  for (const RecommendedItem& item : result->items) {
    WriteRecommendedItem(item, query.explain, request.caller == Scope::kAdmin, &w);
  }
  w.EndArray();
  WriteEmptyReason(result->empty_reason, request.caller == Scope::kAdmin, &w);
  w.EndObject();
  HttpResponse response = JsonResponse(200, std::move(body));
  response.headers.emplace_back("Cache-Control", "no-store");
  respond(std::move(response));
}

// The rule in the body against the rules in force, for one shopper: the list
// they get now, and the list they would get with the rule saved (replacing
// the rule of the same id, or added). Nothing is saved, logged or explored.
void ApiService::PreviewRule(RouteRequest& request, Responder respond) {
  if (recommender_ == nullptr || rules_ == nullptr) {
    return respond(ErrorResponse(503, "unavailable", "recommendations and rules must be enabled"));
  }
  RecommendRequest query;
  const std::string* scenario_name = request.http.Query("scenario");
  std::optional<Scenario> scenario = ParseScenario(scenario_name != nullptr ? *scenario_name : "for_you");
  if (!scenario) {
    return respond(ErrorResponse(400, "invalid_request",
                                 "scenario: no scenario '" + PrintableAscii(*scenario_name, 40) +
                                     "' (for_you, similar, bought_together, cart, upsell, trending, recently_viewed)",
                                 "scenario"));
  }
  query.scenario = *scenario;
  if (auto error = ParseRecommendQuery(request.http, &query)) return respond(std::move(*error));
  RuleError rule_error;
  std::optional<Rule> rule = rules_->Parse(request.http.body, &rule_error);
  if (!rule) {
    const std::string message =
        rule_error.field.empty() ? rule_error.message : rule_error.field + ": " + rule_error.message;
    return respond(ErrorResponse(400, "invalid_rule", message, rule_error.field));
  }
  const std::shared_ptr<const RuleSet> current = rules_->current();
  std::vector<Rule> rules;
  bool replaced = false;
  for (const CompiledRule& compiled : current->rules()) {
    if (!rule->id.empty() && compiled.rule.id == rule->id) {
      rules.push_back(*rule);
      replaced = true;
    } else {
      rules.push_back(compiled.rule);
    }
  }
  if (!replaced) {
    if (rule->id.empty()) rule->id = "(new rule)";
    rules.push_back(*rule);
  }
  // The shopper's list as they would get it, under their experiment group too.
  ApplyExperiment(experiments_, clock_->NowMillis(), &query);
  query.dry_run = true;
  query.rules = current;
  auto before = recommender_->Recommend(query);
  if (!before.ok()) return respond(StatusError(before.status()));
  query.rules = std::make_shared<const RuleSet>(current->version() + 1, std::move(rules));
  auto after = recommender_->Recommend(query);
  if (!after.ok()) return respond(StatusError(after.status()));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("scenario").String(ScenarioName(query.scenario)).Key("rule");
  WriteRuleJson(*rule, &w);
  w.Key("replaces").Bool(replaced);
  if (!query.experiment.empty()) {
    w.Key("experiment").BeginObject().Key("id").String(query.experiment).Key("variant").String(query.variant).EndObject();
  }
  for (const auto& [name, list] : {std::pair{"before", &*before}, std::pair{"after", &*after}}) {
    w.Key(name).BeginArray();
    for (const RecommendedItem& item : list->items) WriteRecommendedItem(item, false, true, &w);
    w.EndArray();
  }
  w.EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::Exploration(RouteRequest& request, Responder respond) {
  if (recommender_ == nullptr || recommender_->explorer() == nullptr) {
    return respond(ErrorResponse(503, "unavailable", "exploration is not enabled"));
  }
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("arms").BeginArray();
  for (const Explorer::ArmStats& arm : recommender_->explorer()->Stats(clock_->NowMillis())) {
    w.BeginObject().Key("scenario").String(arm.scenario).Key("source").String(arm.arm);
    w.Key("impressions").Double(arm.impressions).Key("clicks").Double(arm.clicks);
    w.Key("share").Double(recommender_->explorer()->ShareFor(arm.scenario)).EndObject();
  }
  w.EndArray();
  if (const ServedLog* served = recommender_->served()) {
    const ServedLogStats stats = served->stats();
    w.Key("served_log").BeginObject().Key("recorded").UInt(stats.recorded).Key("written").UInt(stats.written);
    w.Key("dropped").UInt(stats.dropped).EndObject();
  }
  w.EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::ListModels(RouteRequest& request, Responder respond) {
  if (models_ == nullptr) return respond(ErrorResponse(503, "unavailable", "models are not enabled"));
  auto list = models_->List();
  if (!list.ok()) return respond(StatusError(list.status()));
  std::shared_ptr<const Snapshot> current = models_->current();
  TrainingStatus training = models_->status();
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("current");
  if (current == nullptr) {
    w.Null();
  } else {
    w.String(current->info().id);
  }
  w.Key("training").BeginObject().Key("running").Bool(training.running).Key("queued").Bool(training.queued);
  w.Key("stage").String(training.stage).Key("fraction").Double(training.fraction);
  w.Key("last_error").String(training.last_error).Key("last_snapshot").String(training.last_snapshot);
  w.Key("runs").BeginObject().Key("succeeded").UInt(training.succeeded).Key("failed").UInt(training.failed);
  w.Key("skipped").UInt(training.skipped).Key("rejected_by_quality_guard").UInt(training.rejected).EndObject();
  w.Key("last_guard").String(training.last_guard);
  w.Key("last_rejected");
  if (training.last_rejected.empty()) {
    w.Null();
  } else {
    w.BeginObject().Key("snapshot").String(training.last_rejected).Key("reason").String(training.last_rejected_reason).EndObject();
  }
  w.EndObject();
  w.Key("snapshots").BeginArray();
  for (const SnapshotInfo& info : *list) WriteSnapshotInfoJson(info, &w);
  w.EndArray().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::TrainModels(RouteRequest& request, Responder respond) {
  if (models_ == nullptr) return respond(ErrorResponse(503, "unavailable", "models are not enabled"));
  bool queued = models_->RequestTraining();
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("queued").Bool(queued);
  w.Key("message").String(queued ? "training started; GET /v1/models shows progress"
                                 : "a training run is already queued or running");
  w.EndObject();
  respond(JsonResponse(202, std::move(body)));
}

void ApiService::RestoreModel(RouteRequest& request, Responder respond) {
  if (models_ == nullptr) return respond(ErrorResponse(503, "unavailable", "models are not enabled"));
  Status restored = models_->Restore(request.params[0]);
  if (!restored.ok()) return respond(StatusError(restored, "id"));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("current").String(request.params[0]).EndObject();
  respond(JsonResponse(200, std::move(body)));
}

}  // namespace vitrina
