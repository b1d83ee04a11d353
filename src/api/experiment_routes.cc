// Handlers for /v1/experiments (A/B tests and their results) and
// /v1/attribution (what each scenario's recommendations earned).
#include <spdlog/spdlog.h>

#include "api/service.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "experiments/results.h"

namespace vitrina {
namespace {

std::string ExperimentJson(const Experiment& experiment, int64_t now_ms, std::string_view warning = {}) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("status").String(experiment.StatusAt(now_ms)).Key("experiment");
  WriteExperimentJson(experiment, &w);
  if (!warning.empty()) w.Key("warning").String(warning);
  w.EndObject();
  return body;
}

void WriteFunnel(const Funnel& funnel, JsonWriter* w) {
  w->Key("lists").UInt(funnel.lists).Key("impressions").UInt(funnel.impressions);
  w->Key("clicks").UInt(funnel.clicks).Key("add_to_carts").UInt(funnel.carts).Key("purchases").UInt(funnel.purchases);
  w->Key("revenue").Double(funnel.revenue);
  w->Key("ctr").Double(funnel.impressions == 0 ? NAN : double(funnel.clicks) / double(funnel.impressions));
}

}  // namespace

void ApiService::ListExperiments(RouteRequest&, Responder respond) {
  if (experiments_ == nullptr) return respond(ErrorResponse(503, "unavailable", "experiments are not enabled"));
  const int64_t now = clock_->NowMillis();
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("experiments").BeginArray();
  const std::shared_ptr<const ExperimentSet> set = experiments_->current();
  for (const Experiment& experiment : set->experiments()) {
    w.BeginObject().Key("status").String(experiment.StatusAt(now)).Key("experiment");
    WriteExperimentJson(experiment, &w);
    w.EndObject();
  }
  w.EndArray().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::CreateExperiment(RouteRequest& request, Responder respond) {
  if (experiments_ == nullptr || recommender_ == nullptr) {
    return respond(ErrorResponse(503, "unavailable", "experiments are not enabled"));
  }
  const int64_t now = clock_->NowMillis();
  FieldError error;
  std::optional<Experiment> experiment =
      ParseExperiment(request.http.body, ScenarioNames(), recommender_->ForYouModelNames(), now, &error);
  if (!experiment) {
    const std::string message = error.field.empty() ? error.message : error.field + ": " + error.message;
    return respond(ErrorResponse(400, "invalid_experiment", message, error.field));
  }
  auto created = experiments_->Create(std::move(*experiment));
  if (!created.ok()) return respond(StatusError(created.status()));
  std::string warning;
  if (attribution_ != nullptr) {
    // The CUPED covariate: what each shopper bought before the start. The
    // experiment runs either way; without it CUPED adjusts nothing.
    if (Status status = attribution_->AddExperiment(*store_, *created, now); !status.ok()) {
      warning = "the pre-period purchases could not be read (" + status.message() + "): CUPED will adjust nothing";
      spdlog::warn("experiment {}: {}", created->id, warning);
    }
  }
  respond(JsonResponse(201, ExperimentJson(*created, now, warning)));
}

void ApiService::GetExperiment(RouteRequest& request, Responder respond) {
  if (experiments_ == nullptr) return respond(ErrorResponse(503, "unavailable", "experiments are not enabled"));
  std::shared_ptr<const ExperimentSet> set = experiments_->current();
  const Experiment* experiment = set->Find(request.params[0]);
  if (experiment == nullptr) {
    return respond(
        ErrorResponse(404, "not_found", "no experiment '" + PrintableAscii(request.params[0], 64) + "'", "id"));
  }
  respond(JsonResponse(200, ExperimentJson(*experiment, clock_->NowMillis())));
}

void ApiService::StopExperiment(RouteRequest& request, Responder respond) {
  if (experiments_ == nullptr) return respond(ErrorResponse(503, "unavailable", "experiments are not enabled"));
  auto stopped = experiments_->Stop(request.params[0]);
  if (!stopped.ok()) return respond(StatusError(stopped.status()));
  respond(JsonResponse(200, ExperimentJson(*stopped, clock_->NowMillis())));
}

void ApiService::ExperimentResultsRoute(RouteRequest& request, Responder respond) {
  if (experiments_ == nullptr || attribution_ == nullptr) {
    return respond(ErrorResponse(503, "unavailable", "experiments are not enabled"));
  }
  std::shared_ptr<const ExperimentSet> set = experiments_->current();
  const Experiment* experiment = set->Find(request.params[0]);
  if (experiment == nullptr) {
    return respond(
        ErrorResponse(404, "not_found", "no experiment '" + PrintableAscii(request.params[0], 64) + "'", "id"));
  }
  const ExperimentResults results = ComputeResults(*experiment, attribution_->Data(*experiment));
  std::string body;
  JsonWriter w(&body);
  WriteResultsJson(*experiment, results, clock_->NowMillis(), &w);
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::AttributionRoute(RouteRequest&, Responder respond) {
  if (attribution_ == nullptr) return respond(ErrorResponse(503, "unavailable", "attribution is not enabled"));
  const AttributionStats stats = attribution_->stats();
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("window_hours").Double(double(attribution_->options().window_ms) / 3600000.0);
  w.Key("lists_in_memory").UInt(stats.lists_in_memory).Key("credited").UInt(stats.credited);
  w.Key("credited_by_recommendation_id").UInt(stats.by_id).Key("duplicates_ignored").UInt(stats.duplicates);
  w.Key("scenarios").BeginArray();
  for (const auto& [key, funnel] : attribution_->Funnels()) {
    w.BeginObject().Key("scenario").String(key.scenario).Key("snapshot").String(key.snapshot);
    if (!key.experiment.empty()) w.Key("experiment").String(key.experiment).Key("variant").String(key.group);
    WriteFunnel(funnel, &w);
    w.EndObject();
  }
  w.EndArray().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

}  // namespace vitrina
