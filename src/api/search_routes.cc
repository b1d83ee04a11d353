// Handlers for /v1/search: product search, suggestions, and synonyms.
#include <algorithm>

#include "api/service.h"
#include "common/json_writer.h"
#include "common/strings.h"

namespace vitrina {
namespace {

constexpr size_t kMaxListValues = 50;  // brands or attribute values in one filter

// Comma-separated values, or the 400 to send.
std::optional<HttpResponse> ParseList(std::string_view name, std::string_view text, std::vector<std::string>* out) {
  for (std::string_view value : Split(text, ",")) {
    value = TrimWhitespace(value);
    if (!value.empty()) out->emplace_back(value);
  }
  if (out->size() > kMaxListValues) {
    return ErrorResponse(400, "invalid_request", std::string(name) + ": at most 50 values", name);
  }
  return std::nullopt;
}

std::optional<HttpResponse> ParseShopper(const HttpRequest& http, std::string* user_id, std::string* session_id) {
  if (const std::string* id = http.Query("user_id")) *user_id = *id;
  if (const std::string* id = http.Query("session_id")) *session_id = *id;
  for (auto [name, id] : {std::pair{"user_id", user_id}, std::pair{"session_id", session_id}}) {
    if (id->size() > 256 || HasControlChar(*id)) {
      return ErrorResponse(400, "invalid_request", std::string(name) + " is at most 256 bytes without control characters",
                           name);
    }
  }
  return std::nullopt;
}

std::optional<HttpResponse> ParseSearchQuery(const HttpRequest& http, size_t max_results, SearchRequest* request) {
  if (const std::string* q = http.Query("q")) request->query = *q;
  if (!IsValidUtf8(request->query) || HasControlChar(request->query)) {
    return ErrorResponse(400, "invalid_request", "q must be UTF-8 text without control characters", "q");
  }
  if (auto error = ParseShopper(http, &request->user_id, &request->session_id)) return error;
  if (const std::string* category = http.Query("category")) request->category = *category;
  for (const auto& [name, value] : http.query) {
    if (name == "brand") {
      if (auto error = ParseList("brand", value, &request->brands)) return error;
    } else if (name.starts_with("attributes.")) {
      AttributeFilter filter{.name = name.substr(std::string_view("attributes.").size())};
      if (filter.name.empty()) return ErrorResponse(400, "invalid_request", "attributes.NAME needs a name", name);
      if (auto error = ParseList(name, value, &filter.values)) return error;
      request->attributes.push_back(std::move(filter));
    }
  }
  if (auto error = ParsePriceQuery(http, "min_price", &request->min_price)) return error;
  if (auto error = ParsePriceQuery(http, "max_price", &request->max_price)) return error;
  if (request->min_price && request->max_price && *request->min_price > *request->max_price) {
    return ErrorResponse(400, "invalid_request", "min_price is above max_price", "min_price");
  }
  if (const std::string* sort = http.Query("sort")) {
    std::optional<SearchSort> parsed = ParseSearchSort(*sort);
    if (!parsed) {
      return ErrorResponse(400, "invalid_request", "sort must be relevance, price_asc, price_desc, newest or popular",
                           "sort");
    }
    request->sort = *parsed;
  }
  if (auto error = ParseCountQuery(http, "n", 1, max_results, &request->n)) return error;
  if (auto error = ParseCountQuery(http, "offset", 0, 10000, &request->offset)) return error;
  for (auto [name, target] : {std::pair{"in_stock", &request->in_stock}, std::pair{"personalize", &request->personalize},
                              std::pair{"typos", &request->typos}, std::pair{"facets", &request->facets},
                              std::pair{"fallback", &request->fallback}}) {
    if (auto error = ParseBoolQuery(http, name, target)) return error;
  }
  return std::nullopt;
}

// `admin`: the caller holds the admin key, and sees which business rules
// moved the item.
void WriteHit(const SearchHit& hit, bool admin, JsonWriter* w) {
  const Item& item = hit.item;
  w->BeginObject().Key("item_id").String(item.id).Key("title").String(item.title);
  WriteShopFieldsJson(item, w);
  w->Key("brand").String(item.brand).Key("category").BeginArray();
  for (const std::string& level : item.category) w->String(level);
  w->EndArray();
  w->Key("score").Double(hit.score).Key("match").String(hit.match).Key("reason").String(hit.reason);
  w->Key("lexical").Double(hit.lexical).Key("personal").Double(hit.personal);
  if (admin) {
    w->Key("rules").BeginArray();
    for (const AppliedRule& rule : hit.rules) {
      w->BeginObject().Key("id").String(rule.id).Key("name").String(rule.name).Key("effect").String(rule.effect).EndObject();
    }
    w->EndArray();
  }
  w->EndObject();
}

HttpResponse SynonymError400(const SynonymError& error) {
  const std::string message = error.field.empty() ? error.message : error.field + ": " + error.message;
  return ErrorResponse(400, "invalid_synonym", message, error.field);
}

std::string GroupJson(const SynonymGroup& group, int64_t version) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("version").Int(version).Key("synonym");
  WriteSynonymGroupJson(group, &w);
  w.EndObject();
  return body;
}

}  // namespace

void ApiService::Search(RouteRequest& request, Responder respond) {
  if (search_ == nullptr) return respond(ErrorResponse(503, "unavailable", "search is not enabled"));
  SearchRequest search;
  if (auto error = ParseSearchQuery(request.http, kMaxSearchResults, &search)) return respond(std::move(*error));
  if (request.caller != Scope::kAdmin) {
    // A shop page filters and facets on the attributes the shop made public
    // only: the others (margins, costs) never reach it, not even as counts.
    const std::vector<std::string>& visible = options_.public_attributes;
    for (const AttributeFilter& filter : search.attributes) {
      if (std::find(visible.begin(), visible.end(), filter.name) == visible.end()) {
        return respond(ErrorResponse(400, "invalid_request",
                                     "attributes." + filter.name +
                                         ": not a public attribute; the shop lists those in search.public_attributes",
                                     "attributes." + filter.name));
      }
    }
    search.facet_attributes = &visible;
  }
  auto result = search_->Search(search);
  if (!result.ok()) return respond(StatusError(result.status()));
  const SearchResponse& r = *result;
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("search_id").String(r.search_id).Key("query").String(search.query);
  w.Key("total").UInt(r.total).Key("offset").UInt(search.offset);
  w.Key("fallback");
  if (r.fallback.empty()) {
    w.Null();
  } else {
    w.String(r.fallback);
  }
  w.Key("message").String(r.message);
  w.Key("layout_corrected");
  if (r.layout_corrected.empty()) {
    w.Null();
  } else {
    w.String(r.layout_corrected);
  }
  w.Key("corrections").BeginArray();
  for (const Correction& c : r.corrections) {
    w.BeginObject().Key("word").String(c.word).Key("corrected").String(c.corrected).EndObject();
  }
  w.EndArray();
  w.Key("personalized").Bool(r.personalized).Key("rules_version").Int(r.rules_version);
  w.Key("synonyms_version").Int(r.synonyms_version);
  w.Key("items").BeginArray();
  for (const SearchHit& hit : r.hits) WriteHit(hit, request.caller == Scope::kAdmin, &w);
  w.EndArray();
  if (search.facets) {
    w.Key("facets").BeginArray();
    for (const Facet& facet : r.facets) {
      w.BeginObject().Key("name").String(facet.name).Key("values").BeginArray();
      for (const FacetValue& value : facet.values) {
        w.BeginObject().Key("value").String(value.value).Key("count").UInt(value.count);
        w.Key("selected").Bool(value.selected).EndObject();
      }
      w.EndArray().EndObject();
    }
    w.EndArray();
    w.Key("price").BeginObject().Key("min");
    if (r.price_min) {
      w.Double(*r.price_min);
    } else {
      w.Null();
    }
    w.Key("max");
    if (r.price_max) {
      w.Double(*r.price_max);
    } else {
      w.Null();
    }
    w.Key("ranges").BeginArray();
    for (const PriceRange& range : r.price_ranges) {
      w.BeginObject().Key("from").Double(range.from).Key("to").Double(range.to).Key("count").UInt(range.count).EndObject();
    }
    w.EndArray().EndObject();
    w.Key("in_stock").UInt(r.in_stock_count);
  }
  w.EndObject();
  HttpResponse response = JsonResponse(200, std::move(body));
  response.headers.emplace_back("Cache-Control", "no-store");
  respond(std::move(response));
}

void ApiService::Suggest(RouteRequest& request, Responder respond) {
  if (search_ == nullptr) return respond(ErrorResponse(503, "unavailable", "search is not enabled"));
  const std::string* q = request.http.Query("q");
  if (q == nullptr) return respond(ErrorResponse(400, "invalid_request", "q is required", "q"));
  if (!IsValidUtf8(*q) || HasControlChar(*q)) {
    return respond(ErrorResponse(400, "invalid_request", "q must be UTF-8 text without control characters", "q"));
  }
  std::string user_id, session_id;
  if (auto error = ParseShopper(request.http, &user_id, &session_id)) return respond(std::move(*error));
  size_t n = 8;
  if (auto error = ParseCountQuery(request.http, "n", 1, 20, &n)) return respond(std::move(*error));
  auto result = search_->Suggest(*q, user_id, session_id, n);
  if (!result.ok()) return respond(StatusError(result.status()));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("query").String(*q).Key("suggestions").BeginArray();
  for (const auto& [text, source] : result->queries) {
    w.BeginObject().Key("text").String(text).Key("source").String(source).EndObject();
  }
  w.EndArray().Key("items").BeginArray();
  for (const SearchHit& hit : result->items) WriteHit(hit, request.caller == Scope::kAdmin, &w);
  w.EndArray().Key("categories").BeginArray();
  for (const auto& [name, count] : result->categories) {
    w.BeginObject().Key("value").String(name).Key("count").UInt(count).EndObject();
  }
  w.EndArray().EndObject();
  HttpResponse response = JsonResponse(200, std::move(body));
  response.headers.emplace_back("Cache-Control", "no-store");
  respond(std::move(response));
}

void ApiService::ListSynonyms(RouteRequest& request, Responder respond) {
  if (synonyms_ == nullptr) return respond(ErrorResponse(503, "unavailable", "search is not enabled"));
  const std::shared_ptr<const SynonymSet> set = synonyms_->current();
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("version").Int(set->version()).Key("synonyms").BeginArray();
  for (const SynonymGroup& group : set->groups()) WriteSynonymGroupJson(group, &w);
  w.EndArray().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::CreateSynonym(RouteRequest& request, Responder respond) {
  if (synonyms_ == nullptr) return respond(ErrorResponse(503, "unavailable", "search is not enabled"));
  SynonymError error;
  std::optional<SynonymGroup> group = ParseSynonymGroup(request.http.body, &error);
  if (!group) return respond(SynonymError400(error));
  auto created = synonyms_->Create(std::move(*group));
  if (!created.ok()) return respond(StatusError(created.status(), "id"));
  respond(JsonResponse(201, GroupJson(*created, synonyms_->current()->version())));
}

void ApiService::ReplaceSynonym(RouteRequest& request, Responder respond) {
  if (synonyms_ == nullptr) return respond(ErrorResponse(503, "unavailable", "search is not enabled"));
  SynonymError error;
  std::optional<SynonymGroup> group = ParseSynonymGroup(request.http.body, &error);
  if (!group) return respond(SynonymError400(error));
  auto replaced = synonyms_->Replace(request.params[0], std::move(*group));
  if (!replaced.ok()) return respond(StatusError(replaced.status(), "id"));
  respond(JsonResponse(200, GroupJson(*replaced, synonyms_->current()->version())));
}

void ApiService::DeleteSynonym(RouteRequest& request, Responder respond) {
  if (synonyms_ == nullptr) return respond(ErrorResponse(503, "unavailable", "search is not enabled"));
  Status deleted = synonyms_->Delete(request.params[0]);
  if (!deleted.ok()) return respond(StatusError(deleted, "id"));
  std::string body;
  JsonWriter(&body).BeginObject().Key("id").String(request.params[0]).Key("deleted").Bool(true).EndObject();
  respond(JsonResponse(200, std::move(body)));
}

}  // namespace vitrina
