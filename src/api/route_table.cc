// The route table: every endpoint of the API in one place, with what each
// takes (query parameters, body) and answers. Requests are checked against
// it and GET /v1/openapi.json is generated from it.
#include "api/service.h"

namespace vitrina {
namespace {

using Params = std::vector<QueryParam>;

QueryParam Text(std::string name, std::string description, bool required = false) {
  return {std::move(name), "string", std::move(description), required};
}
QueryParam Whole(std::string name, std::string description) { return {std::move(name), "integer", std::move(description)}; }
QueryParam Number(std::string name, std::string description) { return {std::move(name), "number", std::move(description)}; }
QueryParam Flag(std::string name, std::string description) { return {std::move(name), "boolean", std::move(description)}; }
QueryParam List(std::string name, std::string description) { return {std::move(name), "list", std::move(description)}; }

// Who the shopper is, and the list's filters: what every recommendation
// request (and a rule preview) takes.
Params RecommendationParams() {
  return {Text("user_id", "the shopper's user id"),
          Text("session_id", "the shopper's session id (anonymous shoppers)"),
          Text("item_id", "similar, bought_together, upsell: the item; for_you: the product page the shopper is on"),
          List("items", "cart: the cart's item ids, comma-separated (at most 100)"),
          Whole("n", "how many items, 1-100 (default 10)"),
          Text("category", "only items with this category at any level of their path"),
          Number("min_price", "only items priced at least this"),
          Number("max_price", "only items priced at most this"),
          Flag("in_stock", "only items that can be ordered now"),
          Flag("exclude_purchased", "leave out what the shopper bought (default true)"),
          Text("model", "for_you: only this candidate source, e.g. als or pipeline"),
          Text("device", "the request's context for the learned ranker: mobile, desktop, ..."),
          Text("page", "the request's context: page type or URL"),
          Text("country", "the request's context: where the shopper is"),
          Flag("explain", "add the learned ranker's features and their contributions")};
}

Params SearchParams() {
  return {Text("q", "the query (empty: browse the filters)", true),
          Text("user_id", "the shopper's user id, for personal order"),
          Text("session_id", "the shopper's session id"),
          Text("category", "only items with this category at any level"),
          List("brand", "only these brands, comma-separated"),
          List("attributes.*", "only items whose attribute has one of these values (comma-separated); the public "
                               "key may filter on search.public_attributes only"),
          Number("min_price", "only items priced at least this"),
          Number("max_price", "only items priced at most this"),
          Flag("in_stock", "only items that can be ordered now"),
          Text("sort", "relevance (default), price_asc, price_desc, newest or popular"),
          Whole("n", "results per page, 1-100 (default 20)"),
          Whole("offset", "results to skip, 0-10000"),
          Flag("personalize", "order by the shopper's taste (default true)"),
          Flag("typos", "forgive typos (default true)"),
          Flag("facets", "count facets (default true)"),
          Flag("fallback", "relaxed words, nearest titles and related items when nothing matches (default true)")};
}

}  // namespace

void ApiService::RegisterRoutes(Router* router) {
  using M = HttpMethod;
  auto bind = [this](void (ApiService::*handler)(RouteRequest&, Responder)) {
    return [this, handler](RouteRequest& request, Responder respond) { (this->*handler)(request, std::move(respond)); };
  };
  const Params limit = {Whole("limit", "how many, newest first, 1-1000 (default 50)")};
  // clang-format off
  router->Add(M::kGet,    "/health",                 Scope::kOpen,   "liveness; with the admin key also the version, uptime and flags", bind(&ApiService::Health),
              {.response = "Health", .tag = "server"});
  router->Add(M::kGet,    "/v1",                     Scope::kOpen,   "this list of routes",
              [this, router](RouteRequest& r, Responder respond) { Index(router, r, std::move(respond)); },
              {.response = "RouteList", .tag = "server"});
  router->Add(M::kGet,    "/v1/openapi.json",        Scope::kOpen,   "this API as an OpenAPI 3.1 document",
              [this, router](RouteRequest& r, Responder respond) { OpenApi(router, r, std::move(respond)); },
              {.tag = "server"});
  router->Add(M::kGet,    "/v1/stats",               Scope::kAdmin,  "counts of items, users and events", bind(&ApiService::Stats),
              {.tag = "server"});
  router->Add(M::kGet,    "/metrics",                Scope::kAdmin,  "Prometheus metrics: requests, latencies, ingest, models, online CTR and conversion, drift", bind(&ApiService::Metrics),
              {.response = "text", .tag = "server"});
  router->Add(M::kPost,   "/v1/items",               Scope::kAdmin,  "upsert items (one or a batch of up to 10,000)", bind(&ApiService::PostItems),
              {.body = "ItemBatch", .response = "BatchResult", .tag = "catalog"});
  router->Add(M::kGet,    "/v1/items/{id}",          Scope::kAdmin,  "get an item", bind(&ApiService::GetItem),
              {.response = "Item", .tag = "catalog"});
  router->Add(M::kGet,    "/v1/catalog/{id}",        Scope::kPublic, "what a shop page shows of an item: title, description, category, brand, prices, pictures, link, availability (never attributes or stock counts)", bind(&ApiService::CatalogItem),
              {.response = "CatalogItem", .tag = "catalog"});
  router->Add(M::kDelete, "/v1/items/{id}",          Scope::kAdmin,  "delete an item", bind(&ApiService::DeleteItem),
              {.tag = "catalog"});
  router->Add(M::kPost,   "/v1/users",               Scope::kAdmin,  "upsert users (one or a batch of up to 10,000)", bind(&ApiService::PostUsers),
              {.body = "UserBatch", .response = "BatchResult", .tag = "users"});
  router->Add(M::kGet,    "/v1/users/{id}",          Scope::kAdmin,  "get a user", bind(&ApiService::GetUser),
              {.response = "User", .tag = "users"});
  router->Add(M::kGet,    "/v1/users/{id}/profile",  Scope::kAdmin,  "facts about a shopper from their latest events: orders, spend, lifecycle, favourite categories and brands", bind(&ApiService::UserProfile),
              {.tag = "users"});
  router->Add(M::kGet,    "/v1/users/{id}/events",   Scope::kAdmin,  "a user's recent events, newest first",
              [this](RouteRequest& r, Responder respond) { ActorEvents(ActorKind::kUser, r, std::move(respond)); },
              {.query = limit, .response = "Timeline", .tag = "events"});
  router->Add(M::kGet,    "/v1/sessions/{id}/events", Scope::kAdmin, "a session's recent events, newest first",
              [this](RouteRequest& r, Responder respond) { ActorEvents(ActorKind::kSession, r, std::move(respond)); },
              {.query = limit, .response = "Timeline", .tag = "events"});
  router->Add(M::kPost,   "/v1/events",              Scope::kPublic, "record events (one or a batch of up to 10,000)", bind(&ApiService::PostEvents),
              {.body = "EventBatch", .response = "BatchResult", .tag = "events"});
  router->Add(M::kGet,    "/v1/recommendations/{scenario}", Scope::kPublic,
              "recommendations: for_you, similar, bought_together, cart, upsell, trending, recently_viewed",
              bind(&ApiService::Recommendations),
              {.query = RecommendationParams(), .response = "RecommendationList", .tag = "recommendations"});
  router->Add(M::kGet,    "/v1/models",              Scope::kAdmin,  "model snapshots with offline metrics, and training status", bind(&ApiService::ListModels),
              {.tag = "models"});
  router->Add(M::kPost,   "/v1/models/train",        Scope::kAdmin,  "train a new snapshot in the background", bind(&ApiService::TrainModels),
              {.status = 202, .tag = "models"});
  router->Add(M::kPost,   "/v1/models/{id}/restore", Scope::kAdmin,  "put an earlier snapshot back in service", bind(&ApiService::RestoreModel),
              {.tag = "models"});
  router->Add(M::kGet,    "/v1/exploration",         Scope::kAdmin,  "exploration: impressions and clicks per scenario and source, served-log counts", bind(&ApiService::Exploration),
              {.tag = "models"});
  router->Add(M::kGet,    "/v1/rules",               Scope::kAdmin,  "business rules in force, with the rule set's version", bind(&ApiService::ListRules),
              {.tag = "rules"});
  router->Add(M::kPost,   "/v1/rules",               Scope::kAdmin,  "create a business rule", bind(&ApiService::CreateRule),
              {.body = "Rule", .status = 201, .tag = "rules"});
  router->Add(M::kPost,   "/v1/rules/validate",      Scope::kAdmin,  "check a rule without saving it", bind(&ApiService::ValidateRule),
              {.body = "Rule", .tag = "rules"});
  Params preview = RecommendationParams();
  preview.push_back(Text("scenario", "the scenario to preview (default for_you)"));
  router->Add(M::kPost,   "/v1/rules/preview",       Scope::kAdmin,  "a shopper's recommendations now and with the rule in the body saved (nothing is saved)", bind(&ApiService::PreviewRule),
              {.query = preview, .body = "Rule", .tag = "rules"});
  router->Add(M::kGet,    "/v1/rules/audit",         Scope::kAdmin,  "who changed which rule when, newest first", bind(&ApiService::RulesAudit),
              {.query = {Text("rule_id", "only this rule's changes"), Whole("limit", "how many, 1-10000 (default 100)")}, .tag = "rules"});
  router->Add(M::kGet,    "/v1/rules/{id}",          Scope::kAdmin,  "get a business rule", bind(&ApiService::GetRule),
              {.tag = "rules"});
  router->Add(M::kPut,    "/v1/rules/{id}",          Scope::kAdmin,  "replace a business rule", bind(&ApiService::ReplaceRule),
              {.body = "Rule", .tag = "rules"});
  router->Add(M::kDelete, "/v1/rules/{id}",          Scope::kAdmin,  "delete a business rule", bind(&ApiService::DeleteRule),
              {.tag = "rules"});
  router->Add(M::kGet,    "/v1/search",              Scope::kPublic, "search products: typo-tolerant, faceted, personal", bind(&ApiService::Search),
              {.query = SearchParams(), .response = "SearchResult", .tag = "search"});
  router->Add(M::kGet,    "/v1/search/suggest",      Scope::kPublic, "suggestions as the shopper types: queries, items, categories", bind(&ApiService::Suggest),
              {.query = {Text("q", "what the shopper typed so far", true), Text("user_id", "the shopper's user id"),
                         Text("session_id", "the shopper's session id"), Whole("n", "suggestions, 1-20 (default 8)")},
               .tag = "search"});
  router->Add(M::kGet,    "/v1/search/synonyms",     Scope::kAdmin,  "the shop's search synonyms", bind(&ApiService::ListSynonyms),
              {.tag = "search"});
  router->Add(M::kPost,   "/v1/search/synonyms",     Scope::kAdmin,  "add a synonym group", bind(&ApiService::CreateSynonym),
              {.body = "SynonymGroup", .status = 201, .tag = "search"});
  router->Add(M::kPut,    "/v1/search/synonyms/{id}", Scope::kAdmin, "replace a synonym group", bind(&ApiService::ReplaceSynonym),
              {.body = "SynonymGroup", .tag = "search"});
  router->Add(M::kDelete, "/v1/search/synonyms/{id}", Scope::kAdmin, "delete a synonym group", bind(&ApiService::DeleteSynonym),
              {.tag = "search"});
  router->Add(M::kGet,    "/v1/experiments",         Scope::kAdmin,  "A/B tests with their status", bind(&ApiService::ListExperiments),
              {.tag = "experiments"});
  router->Add(M::kPost,   "/v1/experiments",         Scope::kAdmin,  "start an A/B test: variants per scenario, shares, holdout", bind(&ApiService::CreateExperiment),
              {.body = "Experiment", .status = 201, .tag = "experiments"});
  router->Add(M::kGet,    "/v1/experiments/{id}",    Scope::kAdmin,  "an A/B test's definition", bind(&ApiService::GetExperiment),
              {.tag = "experiments"});
  router->Add(M::kPost,   "/v1/experiments/{id}/stop", Scope::kAdmin, "end an A/B test now", bind(&ApiService::StopExperiment),
              {.tag = "experiments"});
  router->Add(M::kGet,    "/v1/experiments/{id}/results", Scope::kAdmin, "per group: CTR, conversion, revenue per user, AOV with 95% intervals, p-values, CUPED, sample ratio check", bind(&ApiService::ExperimentResultsRoute),
              {.tag = "experiments"});
  router->Add(M::kGet,    "/v1/attribution",         Scope::kAdmin,  "attributed clicks, carts, purchases and revenue per scenario and experiment group", bind(&ApiService::AttributionRoute),
              {.tag = "experiments"});
  router->Add(M::kGet,    "/v1/attribution/timeline", Scope::kAdmin, "per hour: events by type, and each scenario's lists, impressions and attributed clicks, carts, purchases and revenue", bind(&ApiService::AttributionTimeline),
              {.query = {Whole("hours", "hours back from now, 1-336 (default 48)")}, .tag = "experiments"});
  router->Add(M::kPost,   "/v1/admin/backup",        Scope::kAdmin,  "copy the whole data directory (store, model snapshots, served-list logs) into a new directory while serving", bind(&ApiService::Backup),
              {.body = "Backup", .tag = "admin"});
  // clang-format on
}

}  // namespace vitrina
