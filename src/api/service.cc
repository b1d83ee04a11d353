#include "api/service.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <type_traits>

#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "schema/json.h"

namespace vitrina {
namespace {

// Bodies are JSON. Also accepted: no Content-Type, text/plain (what
// navigator.sendBeacon sends) and the form type curl -d sends by default.
bool AcceptableContentType(const std::string& content_type) {
  std::string type = AsciiLower(TrimWhitespace(content_type.substr(0, content_type.find(';'))));
  return type.empty() || type == "application/json" || type == "text/plain" ||
         type == "application/x-www-form-urlencoded" || type == "application/x-ndjson";
}

bool CheckBody(const HttpRequest& request, const Responder& respond) {
  if (!AcceptableContentType(request.content_type)) {
    respond(ErrorResponse(415, "unsupported_media_type",
                          "send JSON with 'Content-Type: application/json', not '" +
                              PrintableAscii(request.content_type, 100) + "'"));
    return false;
  }
  return true;
}

// A body that could not be parsed at all: nothing from it was stored.
HttpResponse BodyError(const Status& status, const JsonSyntaxError& syntax, std::string_view collection) {
  if (status.code() == StatusCode::kResourceExhausted) {
    return ErrorResponse(413, "batch_too_large", status.message(), collection);
  }
  std::optional<size_t> index;
  if (syntax.index >= 0) index = static_cast<size_t>(syntax.index);
  return ErrorResponse(400, syntax.message.empty() ? "invalid_body" : "invalid_json", status.message(), {}, index);
}

void WriteFieldOrNull(std::string_view field, JsonWriter* w) {
  if (field.empty()) {
    w->Null();
  } else {
    w->String(field);
  }
}

// What a write request will answer, prepared on the HTTP thread before the
// records go to the commit thread: the rejected records are rendered here,
// so the commit thread only adds the outcome counts.
struct PendingAnswer {
  bool events = false;
  size_t rejected = 0;
  std::string errors_json;  // [{"index":...}, ...]
  std::optional<RecordError> first_error;
  size_t first_error_index = 0;
  std::vector<size_t> indices;  // input index of each submitted record
};

template <typename T>
std::shared_ptr<PendingAnswer> Prepare(ParsedRecords<T>& parsed, bool events) {
  auto answer = std::make_shared<PendingAnswer>();
  answer->events = events;
  answer->rejected = parsed.rejected.size();
  answer->indices = std::move(parsed.indices);
  JsonWriter w(&answer->errors_json);
  w.BeginArray();
  for (const auto& rejected : parsed.rejected) {
    w.BeginObject().Key("index").UInt(rejected.index).Key("code").String(rejected.error.code).Key("field");
    WriteFieldOrNull(rejected.error.field, &w);
    w.Key("message").String(rejected.error.message).EndObject();
  }
  w.EndArray();
  if (!parsed.rejected.empty()) {
    answer->first_error = parsed.rejected.front().error;
    answer->first_error_index = parsed.rejected.front().index;
  }
  return answer;
}

// 200 when every record was taken (new, updated or duplicate), 207 when
// some were rejected, 400 when all were: then "error" is the first reason.
HttpResponse BatchResponse(const PendingAnswer& answer, const std::vector<WriteOutcome>& outcomes) {
  size_t created = 0, updated = 0, duplicates = 0;
  for (WriteOutcome outcome : outcomes) {
    if (outcome == WriteOutcome::kCreated) ++created;
    if (outcome == WriteOutcome::kUpdated) ++updated;
    if (outcome == WriteOutcome::kDuplicate) ++duplicates;
  }
  const size_t taken = created + updated + duplicates;
  HttpResponse response;
  response.status = answer.rejected == 0 ? 200 : taken > 0 ? 207 : 400;
  JsonWriter w(&response.body);
  w.BeginObject();
  if (response.status == 400) {
    const RecordError& first = *answer.first_error;
    w.Key("error").BeginObject().Key("code").String(first.code).Key("message").String(first.message).Key("field");
    WriteFieldOrNull(first.field, &w);
    w.Key("index").UInt(answer.first_error_index).EndObject();
  }
  w.Key("accepted").UInt(created + updated);
  if (answer.events) {
    w.Key("duplicates").UInt(duplicates);
  } else {
    w.Key("created").UInt(created);
    w.Key("updated").UInt(updated);
  }
  w.Key("rejected").UInt(answer.rejected);
  w.Key("errors").Raw(answer.errors_json);
  if (answer.events) {
    w.Key("duplicate_indices").BeginArray();
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (outcomes[i] == WriteOutcome::kDuplicate) w.UInt(answer.indices[i]);
    }
    w.EndArray();
  }
  w.EndObject();
  return response;
}

// Ids in the path follow the same rules as ids in bodies.
bool CheckIdParam(const std::string& id, const Limits& limits, const Responder& respond) {
  RecordError error;
  if (ValidateId(id, "id", limits, &error)) return true;
  respond(ErrorResponse(400, "invalid_parameter", "the id in the path: " + error.message, "id"));
  return false;
}

HttpResponse StoreError(const Status& status) {
  if (status.code() == StatusCode::kUnavailable) {
    HttpResponse response = ErrorResponse(503, "unavailable", status.message());
    response.headers.emplace_back("Retry-After", "1");
    return response;
  }
  return ErrorResponse(500, "internal", status.message());
}

RecordJsonParser& ThreadParser() {
  thread_local RecordJsonParser parser;
  return parser;
}

}  // namespace

ApiService::ApiService(Store* store, Ingestor* ingestor, const Clock* clock, ApiOptions options, ApiParts parts)
    : store_(store),
      ingestor_(ingestor),
      clock_(clock),
      options_(std::move(options)),
      models_(parts.models),
      recommender_(parts.recommender),
      rules_(parts.rules),
      search_(parts.search),
      synonyms_(parts.synonyms),
      experiments_(parts.experiments),
      attribution_(parts.attribution),
      metrics_(parts.metrics),
      drift_(parts.drift),
      scheduler_(parts.scheduler),
      started_ms_(clock->NowMillis()) {}

void ApiService::Index(const Router* router, RouteRequest&, Responder respond) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("routes").BeginArray();
  for (const Route& route : router->routes()) {
    w.BeginObject()
        .Key("method").String(HttpMethodName(route.method))
        .Key("path").String(route.pattern)
        .Key("auth").String(ScopeName(route.scope))
        .Key("summary").String(route.summary)
        .EndObject();
  }
  w.EndArray().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::Health(RouteRequest& request, Responder respond) {
  std::string body;
  JsonWriter w(&body);
  if (request.caller != Scope::kAdmin) {
    // Load balancers and probes learn that it is up; the version, uptime and
    // flags are for the admin key.
    w.BeginObject().Key("status").String("ok").EndObject();
    return respond(JsonResponse(200, std::move(body)));
  }
  w.BeginObject()
      .Key("status").String("ok")
      .Key("version").String(VITRINA_VERSION)
      .Key("uptime_seconds").Int((clock_->NowMillis() - started_ms_) / 1000);
  // Flags: the server answers, but something needs a person's eye.
  w.Key("flags").BeginArray();
  std::optional<DriftReport> drift;
  if (drift_ != nullptr) drift = drift_->Report();
  if (drift && drift->alert) w.String("data_drift");
  w.EndArray();
  if (drift) {
    w.Key("drift").BeginObject().Key("alert").Bool(drift->alert).Key("judged").Bool(drift->judged);
    w.Key("reference_snapshot").String(drift->snapshot).Key("interactions_last_day").UInt(drift->interactions);
    w.Key("psi").BeginObject();
    for (const DriftFeature& feature : drift->features) w.Key(feature.name).Double(feature.psi);
    w.EndObject().EndObject();
  }
  w.EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::Metrics(RouteRequest&, Responder respond) {
  if (metrics_ == nullptr) return respond(ErrorResponse(503, "unavailable", "metrics are not enabled"));
  HttpResponse response;
  response.body = metrics_->Render();
  response.content_type = std::string(kMetricsContentType);
  respond(std::move(response));
}

void ApiService::Stats(RouteRequest&, Responder respond) {
  const StoreCounts counts = store_->Counts();
  const IngestorStats ingest = ingestor_->stats();
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("items").UInt(counts.items);
  w.Key("users").UInt(counts.users);
  w.Key("events").UInt(counts.events);
  w.Key("events_by_type").BeginObject();
  for (EventType type : AllEventTypes()) w.Key(EventTypeName(type)).UInt(counts.events_by_type[static_cast<size_t>(type)]);
  w.EndObject();
  w.Key("ingest").BeginObject()
      .Key("writes").UInt(ingest.groups)
      .Key("requests").UInt(ingest.batches)
      .Key("records").UInt(ingest.records)
      .EndObject();
  if (search_ != nullptr) {
    const SearchEngine::Stats search = search_->stats();
    w.Key("search").BeginObject()
        .Key("items").UInt(search.items)
        .Key("index_mb").Double(static_cast<double>(search.index_bytes) / (1 << 20))
        .Key("catalog_mb").Double(static_cast<double>(search.catalog_bytes) / (1 << 20))
        .Key("popular_queries").UInt(search.popular_queries)
        .EndObject();
  }
  if (const ActivityMemoryStats memory = store_->ActivityMemory(); memory.enabled) {
    w.Key("recent_events_in_memory").BeginObject()
        .Key("loaded").Bool(memory.loaded)
        .Key("complete").Bool(memory.complete)
        .Key("actors").UInt(memory.actors)
        .Key("lines").UInt(memory.lines)
        .Key("mb").Double(static_cast<double>(memory.bytes) / (1 << 20))
        .EndObject();
  }
  w.EndObject();
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::SubmitWrite(WriteBatch batch, size_t approx_bytes, Ingestor::Done done, const Responder& respond) {
  Status status = ingestor_->Submit(std::move(batch), approx_bytes, std::move(done));
  if (!status.ok()) respond(StoreError(status));
}

// Parses a batch on this thread, submits the good records, and answers once
// they are durable (or at once when none are good).
template <typename T>
void ApiService::PostRecords(RouteRequest& request, Responder respond, std::string_view collection, bool events,
                             const std::function<Status(ParsedRecords<T>*, JsonSyntaxError*)>& parse,
                             void (WriteBatch::*add)(T)) {
  if (!CheckBody(request.http, respond)) return;
  ParsedRecords<T> parsed;
  JsonSyntaxError syntax;
  Status status = parse(&parsed, &syntax);
  if (!status.ok()) return respond(BodyError(status, syntax, collection));
  // Clicks, carts and purchases that follow a recommendation reward its
  // sources once stored (duplicates do not count twice).
  auto feedback = std::make_shared<std::vector<std::pair<size_t, Event>>>();
  if constexpr (std::is_same_v<T, Event>) {
    for (size_t i = 0; i < parsed.records.size(); ++i) {
      const Event& event = parsed.records[i];
      const bool rewarding = event.type == EventType::kClick || event.type == EventType::kAddToCart ||
                             event.type == EventType::kPurchase;
      if (recommender_ != nullptr && rewarding && !event.recommendation_id.empty()) feedback->emplace_back(i, event);
    }
  }
  WriteBatch batch;
  for (T& record : parsed.records) (batch.*add)(std::move(record));
  parsed.records.clear();
  auto answer = Prepare(parsed, events);
  if (batch.empty()) return respond(BatchResponse(*answer, {}));
  SubmitWrite(std::move(batch), request.http.body.size(),
              [this, answer, respond, feedback](const Status& write_status, std::vector<WriteOutcome> outcomes) {
                if (write_status.ok() && !feedback->empty()) {
                  std::vector<Event> stored;
                  for (auto& [index, event] : *feedback) {
                    if (outcomes[index] == WriteOutcome::kCreated) stored.push_back(std::move(event));
                  }
                  recommender_->Observe(stored);
                }
                respond(write_status.ok() ? BatchResponse(*answer, outcomes) : StoreError(write_status));
              },
              respond);
}

void ApiService::PostItems(RouteRequest& request, Responder respond) {
  PostRecords<Item>(request, std::move(respond), "items", false,
                    [&](ParsedRecords<Item>* out, JsonSyntaxError* syntax) {
                      return ThreadParser().ParseItems(request.http.body, options_.limits,
                                                       options_.max_batch_records, out, syntax);
                    },
                    &WriteBatch::UpsertItem);
}

void ApiService::PostUsers(RouteRequest& request, Responder respond) {
  PostRecords<User>(request, std::move(respond), "users", false,
                    [&](ParsedRecords<User>* out, JsonSyntaxError* syntax) {
                      return ThreadParser().ParseUsers(request.http.body, options_.limits,
                                                       options_.max_batch_records, out, syntax);
                    },
                    &WriteBatch::UpsertUser);
}

void ApiService::PostEvents(RouteRequest& request, Responder respond) {
  PostRecords<Event>(request, std::move(respond), "events", true,
                     [&](ParsedRecords<Event>* out, JsonSyntaxError* syntax) {
                       return ThreadParser().ParseEvents(request.http.body, options_.limits, clock_->NowMillis(),
                                                         options_.max_batch_records, out, syntax);
                     },
                     &WriteBatch::AppendEvent);
}

void ApiService::GetItem(RouteRequest& request, Responder respond) {
  if (!CheckIdParam(request.params[0], options_.limits, respond)) return;
  auto item = store_->GetItem(request.params[0]);
  if (!item.ok()) {
    return respond(item.status().IsNotFound() ? ErrorResponse(404, "not_found", item.status().message(), "id")
                                              : StoreError(item.status()));
  }
  std::string body;
  JsonWriter w(&body);
  WriteItemJson(*item, &w);
  respond(JsonResponse(200, std::move(body)));
}

// What a shop page may show of an item (the public key may read it):
// never its attributes (margins, costs), its stock count or inactive items.
void ApiService::CatalogItem(RouteRequest& request, Responder respond) {
  if (!CheckIdParam(request.params[0], options_.limits, respond)) return;
  auto item = store_->GetItem(request.params[0]);
  if (!item.ok() && !item.status().IsNotFound()) return respond(StoreError(item.status()));
  if (!item.ok() || !item->active) {
    return respond(ErrorResponse(404, "not_found", "no item '" + PrintableAscii(request.params[0], 64) + "' for sale",
                                 "id"));
  }
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("id").String(item->id).Key("title").String(item->title);
  w.Key("description").String(item->description).Key("brand").String(item->brand);
  w.Key("category").BeginArray();
  for (const std::string& level : item->category) w.String(level);
  w.EndArray();
  WriteShopFieldsJson(*item, &w);
  w.EndObject();
  HttpResponse response = JsonResponse(200, std::move(body));
  response.headers.emplace_back("Cache-Control", "max-age=60");
  respond(std::move(response));
}

void ApiService::DeleteItem(RouteRequest& request, Responder respond) {
  if (!CheckIdParam(request.params[0], options_.limits, respond)) return;
  WriteBatch batch;
  batch.DeleteItem(request.params[0]);
  SubmitWrite(std::move(batch), request.params[0].size(),
              [id = request.params[0], respond](const Status& status, std::vector<WriteOutcome> outcomes) {
                if (!status.ok()) return respond(StoreError(status));
                if (outcomes[0] == WriteOutcome::kNotFound) {
                  return respond(ErrorResponse(404, "not_found", "item '" + id + "' does not exist", "id"));
                }
                std::string body;
                JsonWriter(&body).BeginObject().Key("id").String(id).Key("deleted").Bool(true).EndObject();
                respond(JsonResponse(200, std::move(body)));
              },
              respond);
}

void ApiService::GetUser(RouteRequest& request, Responder respond) {
  if (!CheckIdParam(request.params[0], options_.limits, respond)) return;
  auto user = store_->GetUser(request.params[0]);
  if (!user.ok()) {
    return respond(user.status().IsNotFound() ? ErrorResponse(404, "not_found", user.status().message(), "id")
                                              : StoreError(user.status()));
  }
  std::string body;
  JsonWriter w(&body);
  WriteUserJson(*user, &w);
  respond(JsonResponse(200, std::move(body)));
}

void ApiService::ActorEvents(ActorKind kind, RouteRequest& request, Responder respond) {
  if (!CheckIdParam(request.params[0], options_.limits, respond)) return;
  size_t limit = 50;
  if (const std::string* text = request.http.Query("limit")) {
    auto parsed = ParseInt64(*text);
    if (!parsed || *parsed < 1 || static_cast<size_t>(*parsed) > options_.max_recent_events) {
      return respond(ErrorResponse(400, "invalid_parameter",
                                   "limit must be a whole number from 1 to " +
                                       std::to_string(options_.max_recent_events) + ", got '" +
                                       std::string(TruncateUtf8(*text, 32)) + "'",
                                   "limit"));
    }
    limit = static_cast<size_t>(*parsed);
  }
  std::vector<Event> events;
  Status status = store_->GetRecentEvents(kind, request.params[0], limit, &events);
  if (!status.ok()) return respond(StoreError(status));
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key(kind == ActorKind::kUser ? "user_id" : "session_id").String(request.params[0]);
  w.Key("events").BeginArray();
  for (const Event& event : events) WriteEventJson(event, &w);
  w.EndArray().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

// Facts about one shopper from their latest events (at most
// max_recent_events): what they did, bought and like, and how recently.
void ApiService::UserProfile(RouteRequest& request, Responder respond) {
  if (!CheckIdParam(request.params[0], options_.limits, respond)) return;
  std::vector<Event> events;
  Status status = store_->GetRecentEvents(ActorKind::kUser, request.params[0], options_.max_recent_events, &events);
  if (!status.ok()) return respond(StoreError(status));
  const int64_t now = clock_->NowMillis();
  std::array<uint64_t, kEventTypeCount> by_type{};
  uint64_t orders = 0;
  double spend = 0;
  int64_t first = 0, last = 0, last_order = 0;
  std::map<std::string, double> item_weight;  // views 1, carts 3, purchases 5
  std::map<std::string, uint64_t> devices;
  std::vector<double> prices;                 // unit prices of bought lines
  for (const Event& event : events) {
    ++by_type[static_cast<size_t>(event.type)];
    // By when they happened (imports may store them in another order).
    first = first == 0 ? event.timestamp_ms : std::min(first, event.timestamp_ms);
    last = std::max(last, event.timestamp_ms);
    if (!event.context.device.empty()) ++devices[event.context.device];
    double weight = 1;
    if (event.type == EventType::kAddToCart) weight = 3;
    if (event.type == EventType::kPurchase) {
      weight = 5;
      ++orders;
      last_order = std::max(last_order, event.timestamp_ms);
      for (const EventLine& line : event.lines) {
        if (!line.price) continue;
        spend += line.quantity * *line.price;
        prices.push_back(*line.price);
      }
    }
    if (event.type == EventType::kView || event.type == EventType::kClick || event.type == EventType::kAddToCart ||
        event.type == EventType::kPurchase) {
      if (!event.item_id.empty()) item_weight[event.item_id] += weight;
      for (const EventLine& line : event.lines) item_weight[line.item_id] += weight;
    }
  }
  // Categories and brands by the weight of the items behind them; the
  // heaviest 200 items are looked up.
  std::vector<std::pair<double, std::string>> heaviest;
  for (auto& [id, weight] : item_weight) heaviest.emplace_back(weight, id);
  std::sort(heaviest.begin(), heaviest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  if (heaviest.size() > 200) heaviest.resize(200);
  std::map<std::string, double> categories, brands;
  for (const auto& [weight, id] : heaviest) {
    auto item = store_->GetItem(id);
    if (!item.ok()) continue;
    if (!item->category.empty()) categories[Join(item->category, " > ")] += weight;
    if (!item->brand.empty()) brands[item->brand] += weight;
  }
  auto top = [](const std::map<std::string, double>& weights, size_t n) {
    std::vector<std::pair<std::string, double>> out(weights.begin(), weights.end());
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (out.size() > n) out.resize(n);
    return out;
  };
  std::sort(prices.begin(), prices.end());
  const double days_since = last == 0 ? NAN : double(now - last) / 86400000.0;
  // Lifecycle by recency, as a marketer's segment would put it.
  std::string_view lifecycle = "unknown";
  if (last != 0) {
    if (orders <= 1 && now - first < 30LL * 86400000) {
      lifecycle = "new";
    } else if (days_since <= 30) {
      lifecycle = "active";
    } else if (days_since <= 90) {
      lifecycle = "lapsing";
    } else {
      lifecycle = "lapsed";
    }
  }
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("user_id").String(request.params[0]).Key("events_read").UInt(events.size());
  w.Key("complete").Bool(events.size() < options_.max_recent_events);
  w.Key("first_seen");
  first == 0 ? w.Null() : w.String(FormatTimestampMillis(first));
  w.Key("last_seen");
  last == 0 ? w.Null() : w.String(FormatTimestampMillis(last));
  w.Key("days_since_last_seen").Double(days_since);
  w.Key("last_order");
  last_order == 0 ? w.Null() : w.String(FormatTimestampMillis(last_order));
  w.Key("lifecycle").String(lifecycle);
  w.Key("orders").UInt(orders).Key("spend").Double(spend);
  w.Key("average_order_value").Double(orders == 0 ? NAN : spend / double(orders));
  w.Key("median_unit_price").Double(prices.empty() ? NAN : prices[prices.size() / 2]);
  w.Key("events").BeginObject();
  for (size_t type = 0; type < kEventTypeCount; ++type) {
    if (by_type[type] > 0) w.Key(EventTypeName(static_cast<EventType>(type))).UInt(by_type[type]);
  }
  w.EndObject();
  for (const auto& [key, weights] : {std::pair{"top_categories", &categories}, std::pair{"top_brands", &brands}}) {
    w.Key(key).BeginArray();
    for (const auto& [name, weight] : top(*weights, 5)) {
      w.BeginObject().Key("name").String(name).Key("weight").Double(weight).EndObject();
    }
    w.EndArray();
  }
  w.Key("devices").BeginObject();
  for (const auto& [device, count] : devices) w.Key(device).UInt(count);
  w.EndObject().EndObject();
  respond(JsonResponse(200, std::move(body)));
}

}  // namespace vitrina
