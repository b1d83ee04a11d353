#include "api/server_metrics.h"

#include <map>

#include "serving/recommend.h"

namespace vitrina {
namespace {

std::string_view OutcomeName(WriteOutcome outcome) {
  switch (outcome) {
    case WriteOutcome::kCreated: return "created";
    case WriteOutcome::kUpdated: return "updated";
    case WriteOutcome::kDuplicate: return "duplicate";
    case WriteOutcome::kDeleted: return "deleted";
    case WriteOutcome::kNotFound: return "not_found";
  }
  return "other";
}

std::string_view KindName(WriteBatch::Kind kind) {
  switch (kind) {
    case WriteBatch::Kind::kUpsertItem:
    case WriteBatch::Kind::kDeleteItem: return "item";
    case WriteBatch::Kind::kUpsertUser: return "user";
    case WriteBatch::Kind::kAppendEvent: return "event";
  }
  return "other";
}

}  // namespace

ServerMetrics::ServerMetrics(MetricsSources sources)
    : sources_(sources),
      started_ms_(sources.clock != nullptr ? sources.clock->NowMillis() : 0),
      requests_(registry_.AddCounter("vitrina_http_requests_total", "HTTP requests answered, by route and status code.",
                                     {"method", "route", "code"})),
      latency_(registry_.AddHistogram("vitrina_http_request_duration_seconds",
                                      "Time from dispatch to answer, by route.", {"method", "route"},
                                      DefaultLatencyBuckets())),
      recommend_latency_(registry_.AddHistogram("vitrina_recommendation_duration_seconds",
                                                "Time to answer GET /v1/recommendations, by scenario.", {"scenario"},
                                                DefaultLatencyBuckets())),
      records_(registry_.AddCounter("vitrina_ingested_records_total",
                                    "Items, users and events written, by outcome (duplicates: events sent again).",
                                    {"kind", "outcome"})),
      events_(registry_.AddCounter("vitrina_ingested_events_total", "New events stored, by type.", {"type"})) {
  registry_.AddCollector([this](MetricsWriter& w) { Collect(w); });
}

void ServerMetrics::ObserveRequest(const RequestRecord& record) {
  const std::string_view method = HttpMethodName(record.method);
  const std::string code = std::to_string(record.status);
  requests_.With({method, record.route, code}).Inc();
  latency_.With({method, record.route}).Observe(record.seconds);
  // Only real scenario names become labels: a typo in a URL must not grow the series.
  if (!record.scenario.empty() && record.status < 400 && ParseScenario(record.scenario)) {
    recommend_latency_.With({record.scenario}).Observe(record.seconds);
  }
}

void ServerMetrics::ObserveCommitted(const WriteBatch& batch, const std::vector<WriteOutcome>& outcomes) {
  for (size_t i = 0; i < batch.ops().size() && i < outcomes.size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    records_.With({KindName(op.kind), OutcomeName(outcomes[i])}).Inc();
    if (op.kind == WriteBatch::Kind::kAppendEvent && outcomes[i] == WriteOutcome::kCreated) {
      events_.With({EventTypeName(batch.events()[op.index].type)}).Inc();
    }
  }
}

void ServerMetrics::Collect(MetricsWriter& w) const {
  const int64_t now = sources_.clock != nullptr ? sources_.clock->NowMillis() : 0;
  w.BeginFamily("vitrina_uptime_seconds", "gauge", "Seconds since the server started.");
  w.Sample({}, static_cast<double>(now - started_ms_) / 1000);

  if (sources_.store != nullptr) {
    const StoreCounts counts = sources_.store->Counts();
    w.BeginFamily("vitrina_store_records", "gauge", "Items, users and events held.");
    w.Sample({{"kind", "item"}}, static_cast<double>(counts.items));
    w.Sample({{"kind", "user"}}, static_cast<double>(counts.users));
    w.Sample({{"kind", "event"}}, static_cast<double>(counts.events));
  }

  if (sources_.models != nullptr) {
    const TrainingStatus training = sources_.models->status();
    w.BeginFamily("vitrina_model_trainings_total", "counter",
                  "Training runs since start: succeeded, failed, skipped (nothing to train on yet), or rejected by "
                  "the quality guard.");
    w.Sample({{"outcome", "succeeded"}}, static_cast<double>(training.succeeded));
    w.Sample({{"outcome", "failed"}}, static_cast<double>(training.failed));
    w.Sample({{"outcome", "skipped"}}, static_cast<double>(training.skipped));
    w.Sample({{"outcome", "rejected"}}, static_cast<double>(training.rejected));
    w.BeginFamily("vitrina_model_training_running", "gauge", "1 while a training run is in progress.");
    w.Sample({}, training.running ? 1 : 0);
    if (std::shared_ptr<const Snapshot> snapshot = sources_.models->current()) {
      const SnapshotInfo& info = snapshot->info();
      w.BeginFamily("vitrina_model_snapshot_info", "gauge", "The snapshot in service (value 1).");
      w.Sample({{"snapshot", info.id}}, 1);
      w.BeginFamily("vitrina_model_snapshot_age_seconds", "gauge", "Age of the snapshot in service.");
      w.Sample({}, static_cast<double>(now - info.created_ms) / 1000);
      w.BeginFamily("vitrina_model_training_duration_seconds", "gauge", "How long the serving snapshot took to train.");
      w.Sample({}, info.train_seconds);
      w.BeginFamily("vitrina_model_snapshot_interactions", "gauge", "Interactions the serving snapshot learned from.");
      w.Sample({}, static_cast<double>(info.interactions));
      w.BeginFamily("vitrina_model_offline_metric", "gauge",
                    "The serving snapshot's offline metrics on its holdout, by model and metric.");
      for (const auto& [model, metrics] : info.metrics) {
        for (const auto& [metric, value] : metrics) w.Sample({{"model", model}, {"metric", metric}}, value);
      }
    }
  }

  if (sources_.attribution != nullptr) {
    // Summed over snapshots: a label per snapshot would grow without end.
    std::map<std::tuple<std::string, std::string, std::string>, Funnel> funnels;
    for (const auto& [key, funnel] : sources_.attribution->Funnels()) {
      funnels[{key.scenario, key.experiment, key.group}] += funnel;
    }
    auto family = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
      w.BeginFamily(name, type, help);
      for (const auto& [key, funnel] : funnels) {
        const double v = value(funnel);
        if (std::isnan(v)) continue;
        w.Sample({{"scenario", std::get<0>(key)}, {"experiment", std::get<1>(key)}, {"variant", std::get<2>(key)}}, v);
      }
    };
    family("vitrina_recommendation_lists_total", "counter", "Recommendation lists served.",
           [](const Funnel& f) { return double(f.lists); });
    family("vitrina_recommendation_impressions_total", "counter", "Items shown in recommendation lists.",
           [](const Funnel& f) { return double(f.impressions); });
    family("vitrina_attributed_clicks_total", "counter", "Clicks attributed to a recommendation.",
           [](const Funnel& f) { return double(f.clicks); });
    family("vitrina_attributed_add_to_carts_total", "counter", "Add-to-carts attributed to a recommendation.",
           [](const Funnel& f) { return double(f.carts); });
    family("vitrina_attributed_purchases_total", "counter", "Purchase lines attributed to a recommendation.",
           [](const Funnel& f) { return double(f.purchases); });
    family("vitrina_attributed_revenue_total", "counter", "Revenue of the attributed purchase lines.",
           [](const Funnel& f) { return f.revenue; });
    family("vitrina_online_ctr", "gauge", "Attributed clicks per item shown.",
           [](const Funnel& f) { return f.impressions == 0 ? NAN : double(f.clicks) / double(f.impressions); });
    family("vitrina_online_conversion", "gauge", "Attributed purchase lines per item shown.",
           [](const Funnel& f) { return f.impressions == 0 ? NAN : double(f.purchases) / double(f.impressions); });
  }

  if (sources_.search != nullptr) {
    const SearchEngine::Stats search = sources_.search->stats();
    w.BeginFamily("vitrina_search_items", "gauge", "Items in the search index.");
    w.Sample({}, static_cast<double>(search.items));
    w.BeginFamily("vitrina_search_index_bytes", "gauge", "Memory of the search index and its catalog copy.");
    w.Sample({}, static_cast<double>(search.index_bytes + search.catalog_bytes));
  }

  if (sources_.drift != nullptr) {
    const DriftReport drift = sources_.drift->Report();
    w.BeginFamily("vitrina_drift_alert", "gauge",
                  "1 when a watched distribution of the last day drifted from the training data (PSI over the threshold).");
    w.Sample({}, drift.alert ? 1 : 0);
    w.BeginFamily("vitrina_drift_window_interactions", "gauge", "Interactions in the drift window (the last day).");
    w.Sample({}, static_cast<double>(drift.interactions));
    w.BeginFamily("vitrina_drift_psi", "gauge", "Population stability index against the training data, by distribution.");
    for (const DriftFeature& feature : drift.features) w.Sample({{"feature", feature.name}}, feature.psi);
  }
}

}  // namespace vitrina
