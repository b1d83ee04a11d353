// The /v1 API: request handlers and the route table that binds them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "api/router.h"
#include "api/server_metrics.h"
#include "common/clock.h"
#include "common/scheduler.h"
#include "experiments/attribution.h"
#include "experiments/experiment_book.h"
#include "ingest/ingestor.h"
#include "schema/json.h"
#include "schema/validate.h"
#include "search/search_engine.h"
#include "search/synonyms.h"
#include "serving/model_manager.h"
#include "serving/recommend.h"
#include "storage/store.h"

namespace vitrina {

struct ApiOptions {
  size_t max_batch_records = 10000;  // per POST /v1/items, /v1/users, /v1/events
  size_t max_recent_events = 1000;   // the largest ?limit= on timelines
  Limits limits;
  // Item attributes the public key may filter and facet on in search.
  std::vector<std::string> public_attributes;
};

// The engine's parts the routes reach. Each may be null: its routes then
// answer 503. All must outlive the service.
struct ApiParts {
  ModelManager* models = nullptr;
  const RecommendationService* recommender = nullptr;
  RuleBook* rules = nullptr;
  const SearchEngine* search = nullptr;
  SynonymBook* synonyms = nullptr;
  ExperimentBook* experiments = nullptr;
  Attributor* attribution = nullptr;
  const ServerMetrics* metrics = nullptr;
  const DriftMonitor* drift = nullptr;
  Scheduler* scheduler = nullptr;  // background work (backups); null: it runs on the request's thread
};

// Handlers for every route. Reads go straight to the Store; writes go
// through the Ingestor, and the response is sent once they are durable.
class ApiService {
 public:
  // All pointers must outlive the service.
  ApiService(Store* store, Ingestor* ingestor, const Clock* clock, ApiOptions options, ApiParts parts = {});

  // The route table: every endpoint of the server, in one place.
  void RegisterRoutes(Router* router);

 private:
  void Index(const Router* router, RouteRequest& request, Responder respond);
  // openapi.cc
  void OpenApi(const Router* router, RouteRequest& request, Responder respond);
  void Health(RouteRequest& request, Responder respond);
  void Stats(RouteRequest& request, Responder respond);
  void Metrics(RouteRequest& request, Responder respond);
  void PostItems(RouteRequest& request, Responder respond);
  void GetItem(RouteRequest& request, Responder respond);
  void CatalogItem(RouteRequest& request, Responder respond);
  void DeleteItem(RouteRequest& request, Responder respond);
  void PostUsers(RouteRequest& request, Responder respond);
  void GetUser(RouteRequest& request, Responder respond);
  void UserProfile(RouteRequest& request, Responder respond);
  void PostEvents(RouteRequest& request, Responder respond);
  void ActorEvents(ActorKind kind, RouteRequest& request, Responder respond);
  // recommend_routes.cc
  void Recommendations(RouteRequest& request, Responder respond);
  void ListModels(RouteRequest& request, Responder respond);
  void TrainModels(RouteRequest& request, Responder respond);
  void RestoreModel(RouteRequest& request, Responder respond);
  void Exploration(RouteRequest& request, Responder respond);
  // rules_routes.cc
  void ListRules(RouteRequest& request, Responder respond);
  void GetRule(RouteRequest& request, Responder respond);
  void CreateRule(RouteRequest& request, Responder respond);
  void ReplaceRule(RouteRequest& request, Responder respond);
  void DeleteRule(RouteRequest& request, Responder respond);
  void ValidateRule(RouteRequest& request, Responder respond);
  void RulesAudit(RouteRequest& request, Responder respond);
  void PreviewRule(RouteRequest& request, Responder respond);
  // search_routes.cc
  void Search(RouteRequest& request, Responder respond);
  void Suggest(RouteRequest& request, Responder respond);
  void ListSynonyms(RouteRequest& request, Responder respond);
  void CreateSynonym(RouteRequest& request, Responder respond);
  void ReplaceSynonym(RouteRequest& request, Responder respond);
  void DeleteSynonym(RouteRequest& request, Responder respond);
  // experiment_routes.cc
  void ListExperiments(RouteRequest& request, Responder respond);
  void CreateExperiment(RouteRequest& request, Responder respond);
  void GetExperiment(RouteRequest& request, Responder respond);
  void StopExperiment(RouteRequest& request, Responder respond);
  void ExperimentResultsRoute(RouteRequest& request, Responder respond);
  void AttributionRoute(RouteRequest& request, Responder respond);
  void AttributionTimeline(RouteRequest& request, Responder respond);
  // admin_routes.cc
  void Backup(RouteRequest& request, Responder respond);
  // segment_routes.cc: POST /v1/segment/{call}, call being "batch",
  // "track", "identify" or "page".
  void PostSegment(std::string_view call, RouteRequest& request, Responder respond);
  HttpResponse BackupAnswer(const std::string& to);

  static constexpr size_t kMaxSearchResults = 100;

  template <typename T>
  void PostRecords(RouteRequest& request, Responder respond, std::string_view collection, bool events,
                   const std::function<Status(ParsedRecords<T>*, JsonSyntaxError*)>& parse,
                   void (WriteBatch::*add)(T));

  // Queues `batch`; answers 503 when the ingest queue is full.
  void SubmitWrite(WriteBatch batch, size_t approx_bytes, Ingestor::Done done, const Responder& respond);

  Store* store_;
  Ingestor* ingestor_;
  const Clock* clock_;
  const ApiOptions options_;
  ModelManager* models_;
  const RecommendationService* recommender_;
  RuleBook* rules_;
  const SearchEngine* search_;
  SynonymBook* synonyms_;
  ExperimentBook* experiments_;
  Attributor* attribution_;
  const ServerMetrics* metrics_;
  const DriftMonitor* drift_;
  Scheduler* scheduler_;
  const int64_t started_ms_;
};

}  // namespace vitrina
