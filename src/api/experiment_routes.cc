// Handlers for /v1/experiments (A/B tests and their results) and
// /v1/attribution (what each scenario's recommendations earned).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <map>

#include "api/service.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"
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

void ApiService::AttributionTimeline(RouteRequest& request, Responder respond) {
  if (attribution_ == nullptr) return respond(ErrorResponse(503, "unavailable", "attribution is not enabled"));
  constexpr int64_t kHourMs = 3600000;
  const auto kept = static_cast<size_t>(std::max<int64_t>(1, attribution_->options().timeline_hours));
  size_t hours = std::min<size_t>(48, kept);
  if (auto error = ParseCountQuery(request.http, "hours", 1, kept, &hours)) return respond(std::move(*error));
  const int64_t last = clock_->NowMillis() / kHourMs * kHourMs;
  const int64_t first = last - static_cast<int64_t>(hours - 1) * kHourMs;
  const std::vector<TimelineHour> timeline = attribution_->Timeline(first);
  // Dense columns, an entry per hour (zero when nothing happened), for charts.
  auto slot = [&](int64_t start_ms) { return static_cast<size_t>((start_ms - first) / kHourMs); };
  std::vector<std::array<uint64_t, kEventTypeCount>> events(hours);
  std::map<std::string, std::vector<Funnel>> scenarios;
  for (const TimelineHour& hour : timeline) {
    if (hour.start_ms > last) continue;  // a clock step backwards
    events[slot(hour.start_ms)] = hour.events;
    for (const auto& [name, funnel] : hour.scenarios) {
      std::vector<Funnel>& column = scenarios[name];
      column.resize(hours);
      column[slot(hour.start_ms)] = funnel;
    }
  }
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("step_seconds").Int(3600).Key("hours").BeginArray();
  for (size_t h = 0; h < hours; ++h) w.String(FormatTimestampMillis(first + static_cast<int64_t>(h) * kHourMs));
  w.EndArray().Key("events").BeginObject();
  for (size_t type = 0; type < kEventTypeCount; ++type) {
    w.Key(EventTypeName(static_cast<EventType>(type))).BeginArray();
    for (size_t h = 0; h < hours; ++h) w.UInt(events[h][type]);
    w.EndArray();
  }
  w.EndObject().Key("scenarios").BeginObject();
  for (const auto& [name, column] : scenarios) {
    w.Key(name).BeginObject();
    auto write = [&](std::string_view key, auto value) {
      w.Key(key).BeginArray();
      for (const Funnel& funnel : column) w.Double(static_cast<double>(value(funnel)));
      w.EndArray();
    };
    write("lists", [](const Funnel& f) { return f.lists; });
    write("impressions", [](const Funnel& f) { return f.impressions; });
    write("clicks", [](const Funnel& f) { return f.clicks; });
    write("add_to_carts", [](const Funnel& f) { return f.carts; });
    write("purchases", [](const Funnel& f) { return f.purchases; });
    write("revenue", [](const Funnel& f) { return f.revenue; });
    w.EndObject();
  }
  w.EndObject().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

}  // namespace vitrina
