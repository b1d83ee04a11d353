#include "api/openapi.h"

#include <algorithm>
#include <map>
#include <set>

#include "api/service.h"
#include "common/json_writer.h"
#include "common/strings.h"

namespace vitrina {
namespace {

// The schemas routes name (RouteSpec::body and ::response), as JSON Schema
// (2020-12, as OpenAPI 3.1 takes it). Server-kept fields are readOnly.
struct NamedSchema {
  std::string_view name;
  std::string_view json;
};

constexpr NamedSchema kSchemas[] = {
    {"Error", R"json({"type":"object","required":["error"],"properties":{"error":{"type":"object",
      "required":["code","message"],"properties":{
      "code":{"type":"string","description":"stable machine-readable code (docs/API.md lists them)"},
      "message":{"type":"string","description":"what is wrong, for people"},
      "field":{"type":["string","null"],"description":"the field or parameter at fault"},
      "index":{"type":["integer","null"],"description":"the record of a batch at fault"}}}}})json"},
    {"Attributes", R"json({"type":"object","description":"free attributes: text, numbers, true/false or lists of text",
      "additionalProperties":{"oneOf":[{"type":"string"},{"type":"number"},{"type":"boolean"},
      {"type":"array","items":{"type":"string"}},{"type":"null"}]}})json"},
    {"Item", R"json({"type":"object","required":["id"],"properties":{
      "id":{"type":"string","maxLength":256},
      "title":{"type":"string"},"description":{"type":"string"},
      "category":{"oneOf":[{"type":"array","items":{"type":"string"}},{"type":"string","description":"\"Home > Kitchen\""}],
        "description":"the path from the root"},
      "brand":{"type":"string"},
      "price":{"type":["number","null"],"minimum":0},
      "old_price":{"type":["number","null"],"minimum":0,"description":"the price before a discount, above price"},
      "currency":{"type":["string","null"],"pattern":"^[A-Z]{3}$","description":"ISO 4217"},
      "stock":{"type":["integer","null"],"minimum":0},
      "available":{"type":"boolean","description":"false: cannot be ordered now"},
      "image_url":{"type":["string","null"],"description":"an absolute http(s) URL or a path on the shop's site"},
      "images":{"type":"array","items":{"type":"string"},"maxItems":20},
      "url":{"type":["string","null"],"description":"the item's page: an absolute http(s) URL or a site path"},
      "group_id":{"type":["string","null"],"description":"variants of one product share it; a list shows one"},
      "attributes":{"$ref":"#/components/schemas/Attributes"},
      "active":{"type":"boolean"},
      "created_at":{"type":"string","format":"date-time"},
      "updated_at":{"type":"string","format":"date-time","readOnly":true}}})json"},
    {"ItemBatch", R"json({"oneOf":[{"$ref":"#/components/schemas/Item"},
      {"type":"array","items":{"$ref":"#/components/schemas/Item"},"maxItems":10000}]})json"},
    {"ShopFields", R"json({"type":"object","description":"what a shop page shows of an item","properties":{
      "price":{"type":["number","null"]},"old_price":{"type":["number","null"]},
      "currency":{"type":["string","null"]},"image_url":{"type":["string","null"]},
      "images":{"type":"array","items":{"type":"string"}},"url":{"type":["string","null"]},
      "group_id":{"type":["string","null"]},"available":{"type":"boolean"},"in_stock":{"type":"boolean"}}})json"},
    {"CatalogItem", R"json({"allOf":[{"$ref":"#/components/schemas/ShopFields"},{"type":"object","properties":{
      "id":{"type":"string"},"title":{"type":"string"},"description":{"type":"string"},"brand":{"type":"string"},
      "category":{"type":"array","items":{"type":"string"}}}}]})json"},
    {"User", R"json({"type":"object","required":["id"],"properties":{
      "id":{"type":"string","maxLength":256},
      "attributes":{"$ref":"#/components/schemas/Attributes"},
      "consent":{"type":"object","additionalProperties":{"type":"boolean"},
        "description":"marketing consent per channel: email, sms, push, ..."},
      "created_at":{"type":"string","format":"date-time"},
      "updated_at":{"type":"string","format":"date-time","readOnly":true}}})json"},
    {"UserBatch", R"json({"oneOf":[{"$ref":"#/components/schemas/User"},
      {"type":"array","items":{"$ref":"#/components/schemas/User"},"maxItems":10000}]})json"},
    {"Event", R"json({"type":"object","required":["type"],"properties":{
      "event_id":{"type":"string","description":"idempotency key: an id is stored once"},
      "type":{"enum":["view","click","add_to_cart","remove_from_cart","purchase","return","search","rating","impression"]},
      "user_id":{"type":"string"},"session_id":{"type":"string"},"item_id":{"type":"string"},
      "quantity":{"type":"number","exclusiveMinimum":0},"price":{"type":"number","minimum":0},
      "lines":{"type":"array","items":{"type":"object","required":["item_id"],"properties":{
        "item_id":{"type":"string"},"quantity":{"type":"number","exclusiveMinimum":0},"price":{"type":"number"}}}},
      "item_ids":{"type":"array","items":{"type":"string"}},
      "timestamp":{"oneOf":[{"type":"string","format":"date-time"},{"type":"number","description":"seconds since the epoch"}]},
      "context":{"type":"object","properties":{"device":{"type":"string"},"country":{"type":"string"},
        "page":{"type":"string"},"channel":{"type":"string"}}},
      "recommendation_id":{"type":"string","description":"the served list this event follows"},
      "query":{"type":"string"},"value":{"type":"number"},"currency":{"type":"string"},
      "received_at":{"type":"string","format":"date-time","readOnly":true}}})json"},
    {"EventBatch", R"json({"oneOf":[{"$ref":"#/components/schemas/Event"},
      {"type":"array","items":{"$ref":"#/components/schemas/Event"},"maxItems":10000}]})json"},
    {"BatchResult", R"json({"type":"object","description":"what happened to each record of a batch","properties":{
      "accepted":{"type":"integer"},"created":{"type":"integer"},"updated":{"type":"integer"},
      "duplicates":{"type":"integer"},"rejected":{"type":"integer"},
      "errors":{"type":"array","items":{"type":"object","properties":{"index":{"type":"integer"},
        "code":{"type":"string"},"field":{"type":["string","null"]},"message":{"type":"string"}}}},
      "duplicate_indices":{"type":"array","items":{"type":"integer"}}}})json"},
    {"Timeline", R"json({"type":"object","properties":{"user_id":{"type":"string"},"session_id":{"type":"string"},
      "events":{"type":"array","items":{"$ref":"#/components/schemas/Event"}}}})json"},
    {"RecommendedItem", R"json({"allOf":[{"$ref":"#/components/schemas/ShopFields"},{"type":"object","properties":{
      "item_id":{"type":"string"},"title":{"type":"string"},"score":{"type":"number"},
      "model":{"type":"string","description":"what proposed it"},
      "reason":{"type":"string","description":"why, in words that claim no more than the evidence"},
      "reason_item_id":{"type":["string","null"]},"explored":{"type":"boolean"},"propensity":{"type":"number"},
      "sources":{"type":"array","items":{"type":"string"}},
      "rules":{"type":"array","description":"admin key only: the business rules that moved it",
        "items":{"type":"object","properties":{"id":{"type":"string"},"name":{"type":"string"},"effect":{"type":"string"}}}},
      "explanation":{"type":"object"}}}]})json"},
    {"RecommendationList", R"json({"type":"object","properties":{
      "recommendation_id":{"type":"string","description":"send it back on the events that follow"},
      "scenario":{"type":"string"},"snapshot":{"type":["string","null"]},"ranked_by":{"enum":["pipeline","models"]},
      "rules_version":{"type":"integer"},
      "experiment":{"type":"object","properties":{"id":{"type":"string"},"variant":{"type":"string"}}},
      "items":{"type":"array","items":{"$ref":"#/components/schemas/RecommendedItem"}},
      "empty_reason":{"oneOf":[{"type":"null"},{"type":"object","required":["code","message"],"properties":{
        "code":{"enum":["unknown_item","inactive_item","no_price","no_history","no_candidates","filtered_out",
          "rules","out_of_band","excluded"]},
        "message":{"type":"string"},
        "rules":{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"},"name":{"type":"string"}}}}}}],
        "description":"why the list is empty; null when it is not"}}})json"},
    {"SearchResult", R"json({"type":"object","properties":{
      "search_id":{"type":"string"},"query":{"type":"string"},"total":{"type":"integer"},"offset":{"type":"integer"},
      "fallback":{"type":["string","null"]},"message":{"type":"string"},"layout_corrected":{"type":["string","null"]},
      "corrections":{"type":"array","items":{"type":"object"}},"personalized":{"type":"boolean"},
      "items":{"type":"array","items":{"allOf":[{"$ref":"#/components/schemas/ShopFields"},{"type":"object"}]}},
      "facets":{"type":"array","items":{"type":"object"}}}})json"},
    {"Health", R"json({"type":"object","required":["status"],"properties":{"status":{"const":"ok"},
      "version":{"type":"string","description":"admin key only"},"uptime_seconds":{"type":"integer"},
      "flags":{"type":"array","items":{"type":"string"}}}})json"},
    {"RouteList", R"json({"type":"object","properties":{"routes":{"type":"array","items":{"type":"object","properties":{
      "method":{"type":"string"},"path":{"type":"string"},"auth":{"enum":["open","public","admin"]},
      "summary":{"type":"string"}}}}}})json"},
    {"Rule", R"json({"type":"object","required":["kind"],"properties":{
      "id":{"type":"string"},"name":{"type":"string"},"enabled":{"type":"boolean"},
      "kind":{"enum":["filter","boost","bury","pin","block","diversity","repurchase"]},
      "expression":{"type":"string","description":"e.g. category == \"Tents\" and price < 200"},
      "weight":{"type":"number"},"items":{"type":"array","items":{"type":"string"}},"position":{"type":"integer"},
      "attribute":{"type":"string"},"max_items":{"type":"integer"},"window_days":{"type":"number"},
      "scenarios":{"type":"array","items":{"type":"string"}},
      "starts_at":{"type":"string","format":"date-time"},"ends_at":{"type":"string","format":"date-time"}}})json"},
    {"SynonymGroup", R"json({"type":"object","properties":{"id":{"type":"string"},
      "terms":{"type":"array","items":{"type":"string"}},"input":{"type":"string"}}})json"},
    {"Experiment", R"json({"type":"object","required":["id","variants"],"properties":{
      "id":{"type":"string"},"name":{"type":"string"},"description":{"type":"string"},
      "scenarios":{"type":"array","items":{"type":"string"}},"unit":{"enum":["user","session"]},
      "salt":{"type":"string"},"holdout":{"type":"number"},"start":{"type":"string","format":"date-time"},
      "stop":{"type":"string","format":"date-time"},"cuped_days":{"type":"number"},"min_units":{"type":"integer"},
      "variants":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},
        "share":{"type":"number"},"settings":{"type":"object"}}}}}})json"},
    {"Backup", R"json({"type":"object","required":["to"],"properties":{"to":{"type":"string",
      "description":"an absolute path that does not exist yet (or an empty directory)"}}})json"},
    {"Feed", R"json({"type":"object","required":["id","url","format"],"properties":{
      "id":{"type":"string"},"url":{"type":"string","description":"http(s) address of the feed"},
      "format":{"enum":["yml","google-merchant"]},"interval_s":{"type":"integer","minimum":60},
      "full":{"type":"boolean","description":"offers missing from a sync become inactive (default true)"}}})json"},
    {"SegmentBatch", R"json({"type":"object","required":["batch"],"properties":{
      "batch":{"type":"array","items":{"type":"object"}},"writeKey":{"type":"string"},
      "context":{"type":"object"}}})json"},
    {"SegmentMessage", R"json({"type":"object","properties":{"type":{"type":"string"},"event":{"type":"string"},
      "userId":{"type":"string"},"anonymousId":{"type":"string"},"messageId":{"type":"string"},
      "properties":{"type":"object"},"traits":{"type":"object"},"context":{"type":"object"},
      "timestamp":{"type":"string"},"writeKey":{"type":"string"}}})json"},
};

bool KnownSchema(std::string_view name) {
  return std::any_of(std::begin(kSchemas), std::end(kSchemas), [&](const NamedSchema& s) { return s.name == name; });
}

std::string OperationId(const Route& route) {
  std::string id = AsciiLower(HttpMethodName(route.method));
  bool upper = true;
  for (char c : route.pattern) {
    if (c == '/' || c == '{' || c == '}' || c == '_' || c == '.' || c == '-') {
      upper = true;
      continue;
    }
    id.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return id;
}

void WriteSchemaRef(std::string_view name, JsonWriter* w) {
  if (name.empty() || !KnownSchema(name)) {
    w->BeginObject().Key("type").String("object").EndObject();
    return;
  }
  w->BeginObject().Key("$ref").String("#/components/schemas/" + std::string(name)).EndObject();
}

void WriteQueryParam(const QueryParam& param, JsonWriter* w) {
  w->BeginObject().Key("name").String(param.name).Key("in").String("query");
  w->Key("required").Bool(param.required).Key("description").String(param.description);
  w->Key("schema").BeginObject();
  if (param.type == "list") {
    w->Key("type").String("string").Key("description").String("comma-separated");
  } else {
    w->Key("type").String(param.type);
  }
  w->EndObject().EndObject();
}

void WriteOperation(const Route& route, JsonWriter* w) {
  w->BeginObject().Key("operationId").String(OperationId(route)).Key("summary").String(route.summary);
  std::string description = route.summary;
  w->Key("tags").BeginArray().String(route.spec.tag.empty() ? "other" : route.spec.tag).EndArray();
  w->Key("security").BeginArray();
  switch (route.scope) {
    case Scope::kOpen: break;  // no key
    case Scope::kPublic:
      w->BeginObject().Key("publicKey").BeginArray().EndArray().EndObject();
      w->BeginObject().Key("adminKey").BeginArray().EndArray().EndObject();
      break;
    case Scope::kAdmin: w->BeginObject().Key("adminKey").BeginArray().EndArray().EndObject(); break;
  }
  w->EndArray();
  w->Key("parameters").BeginArray();
  for (std::string_view part : Split(route.pattern, "/")) {
    if (part.size() < 3 || part.front() != '{' || part.back() != '}') continue;
    const std::string name(part.substr(1, part.size() - 2));
    w->BeginObject().Key("name").String(name).Key("in").String("path").Key("required").Bool(true);
    w->Key("schema").BeginObject().Key("type").String("string");
    if (name == "scenario") {
      w->Key("enum").BeginArray();
      for (const std::string& scenario : ScenarioNames()) w->String(scenario);
      w->EndArray();
    }
    w->EndObject().EndObject();
  }
  for (const QueryParam& param : route.spec.query) {
    if (param.name.ends_with(".*")) {
      description += ". Also " + param.name.substr(0, param.name.size() - 1) + "NAME: " + param.description;
      continue;  // a family of names has no OpenAPI parameter
    }
    WriteQueryParam(param, w);
  }
  if (route.scope == Scope::kPublic) {
    WriteQueryParam({.name = "key", .type = "string",
                     .description = "the public key, where a header cannot be sent (navigator.sendBeacon)"},
                    w);
  }
  w->EndArray();
  w->Key("description").String(description);
  if (!route.spec.body.empty()) {
    w->Key("requestBody").BeginObject().Key("required").Bool(true).Key("content").BeginObject();
    w->Key("application/json").BeginObject().Key("schema");
    WriteSchemaRef(route.spec.body, w);
    w->EndObject().EndObject().EndObject();
  }
  w->Key("responses").BeginObject().Key(std::to_string(route.spec.status)).BeginObject();
  w->Key("description").String("success").Key("content").BeginObject();
  if (route.spec.response == "text") {
    w->Key("text/plain").BeginObject().Key("schema").BeginObject().Key("type").String("string").EndObject().EndObject();
  } else {
    w->Key("application/json").BeginObject().Key("schema");
    WriteSchemaRef(route.spec.response, w);
    w->EndObject();
  }
  w->EndObject().EndObject();
  w->Key("4XX").BeginObject().Key("$ref").String("#/components/responses/Error").EndObject();
  w->Key("5XX").BeginObject().Key("$ref").String("#/components/responses/Error").EndObject();
  w->EndObject().EndObject();
}

}  // namespace

std::string OpenApiDocument(const Router& router, std::string_view version) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("openapi").String("3.1.0");
  w.Key("info").BeginObject().Key("title").String("Vitrina API").Key("version").String(version);
  w.Key("description").String(
      "Vitrina, a self-hosted personalization engine: catalog, users and events in; recommendations with reasons, "
      "search, business rules, experiments out. Keys go in 'Authorization: Bearer KEY'. Errors are "
      "{\"error\":{\"code\",\"message\",\"field\",\"index\"}}; unknown query parameters are refused.");
  w.Key("license").BeginObject().Key("name").String("proprietary").EndObject().EndObject();
  // Paths in table order, each path's methods together.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Route*>> by_path;
  std::set<std::string> tags;
  for (const Route& route : router.routes()) {
    if (route.spec.tag == "pages") continue;
    if (!by_path.contains(route.pattern)) order.push_back(route.pattern);
    by_path[route.pattern].push_back(&route);
    tags.insert(route.spec.tag.empty() ? "other" : route.spec.tag);
  }
  w.Key("tags").BeginArray();
  for (const std::string& tag : tags) w.BeginObject().Key("name").String(tag).EndObject();
  w.EndArray();
  w.Key("paths").BeginObject();
  for (const std::string& path : order) {
    w.Key(path).BeginObject();
    for (const Route* route : by_path[path]) {
      w.Key(AsciiLower(HttpMethodName(route->method)));
      WriteOperation(*route, &w);
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("components").BeginObject();
  w.Key("securitySchemes").BeginObject();
  w.Key("adminKey").BeginObject().Key("type").String("http").Key("scheme").String("bearer");
  w.Key("description").String("the admin key (auth.admin_key): every route").EndObject();
  w.Key("publicKey").BeginObject().Key("type").String("http").Key("scheme").String("bearer");
  w.Key("description").String("the public key (auth.public_key), safe to embed in shop pages").EndObject();
  w.EndObject();
  w.Key("responses").BeginObject().Key("Error").BeginObject().Key("description").String("the request was refused");
  w.Key("content").BeginObject().Key("application/json").BeginObject().Key("schema");
  WriteSchemaRef("Error", &w);
  w.EndObject().EndObject().EndObject().EndObject();
  w.Key("schemas").BeginObject();
  for (const NamedSchema& schema : kSchemas) w.Key(schema.name).Raw(schema.json);
  w.EndObject().EndObject().EndObject();
  return out;
}

void ApiService::OpenApi(const Router* router, RouteRequest&, Responder respond) {
  HttpResponse response = JsonResponse(200, OpenApiDocument(*router, VITRINA_VERSION));
  response.headers.emplace_back("Cache-Control", "no-cache");
  respond(std::move(response));
}

}  // namespace vitrina
