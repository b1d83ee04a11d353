// GET /metrics: the engine's Prometheus metrics. Requests and latencies
// per route (and per scenario for recommendations) are counted as they
// are answered, stored records as they commit; the rest is read from the
// engine's parts when scraped: store counts, the serving snapshot (its
// age, training time, offline metrics), training outcomes, attributed
// online funnels per scenario and experiment group, search, and drift.
#pragma once

#include <string>
#include <vector>

#include "api/router.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "experiments/attribution.h"
#include "ingest/ingestor.h"
#include "search/search_engine.h"
#include "serving/drift_monitor.h"
#include "serving/model_manager.h"
#include "storage/store.h"

namespace vitrina {

// The parts read at scrape time; any may be null (its metrics are left out).
struct MetricsSources {
  const Clock* clock = nullptr;
  const Store* store = nullptr;
  const ModelManager* models = nullptr;
  const Attributor* attribution = nullptr;
  const SearchEngine* search = nullptr;
  const DriftMonitor* drift = nullptr;
};

// Thread-safe.
class ServerMetrics {
 public:
  // The sources must outlive this object.
  explicit ServerMetrics(MetricsSources sources);

  // For Router::SetObserver.
  void ObserveRequest(const RequestRecord& record);
  // The ingestor's commit hook.
  void ObserveCommitted(const WriteBatch& batch, const std::vector<WriteOutcome>& outcomes);

  // The exposition text (content type kMetricsContentType).
  std::string Render() const { return registry_.Render(); }

 private:
  void Collect(MetricsWriter& w) const;

  const MetricsSources sources_;
  const int64_t started_ms_;
  MetricsRegistry registry_;
  CounterFamily& requests_;
  HistogramFamily& latency_;
  HistogramFamily& recommend_latency_;
  CounterFamily& records_;
  CounterFamily& events_;
};

}  // namespace vitrina
