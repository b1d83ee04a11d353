#include "api/service.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <future>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

#include "common/time_util.h"
#include "storage/forwarding_store.h"

namespace vitrina {
namespace {

constexpr char kAdmin[] = "admin-key-0123456789";
constexpr char kPublic[] = "public-key-0123456789";

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() {
    ApiOptions options;
    options.max_batch_records = 100;
    service_ = std::make_unique<ApiService>(store_.get(), &ingestor_, &clock_, options);
    service_->RegisterRoutes(&router_);
  }

  HttpResponse Call(HttpMethod method, const std::string& target, std::string body = "",
                    const std::string& key = kAdmin, const std::string& content_type = "application/json") {
    HttpRequest request;
    request.method = method;
    EXPECT_TRUE(ParseTarget(target, &request.path, &request.query));
    request.body = std::move(body);
    request.content_type = content_type;
    if (!key.empty()) request.authorization = "Bearer " + key;
    std::promise<HttpResponse> promise;
    router_.Dispatch(std::move(request), [&](HttpResponse response) { promise.set_value(std::move(response)); });
    return promise.get_future().get();
  }

  // Parses a response body for assertions.
  simdjson::dom::element Json(const HttpResponse& response) {
    bodies_.push_back(response.body);
    return parser_.parse(bodies_.back()).value();
  }

  ManualClock clock_{*ParseTimestampMillis("2024-03-01T12:00:00Z")};
  std::unique_ptr<Store> store_ = NewMemoryStore(&clock_);
  Ingestor ingestor_{store_.get(), IngestorOptions{}};
  Router router_{AuthKeys{kAdmin, kPublic}};
  std::unique_ptr<ApiService> service_;
  simdjson::dom::parser parser_;
  std::list<std::string> bodies_;
};

TEST_F(ServiceTest, EventsBatchStoresGoodRecordsAndReportsBadOnes) {
  HttpResponse response = Call(HttpMethod::kPost, "/v1/events", R"([
    {"event_id":"e1","type":"view","user_id":"u1","item_id":"a"},
    {"event_id":"e2","type":"view","user_id":"u1","item_id":"b","timestamp":"2030-01-01T00:00:00Z"},
    {"event_id":"e3","type":"unknown","user_id":"u1","item_id":"b"},
    {"event_id":"e1","type":"view","user_id":"u1","item_id":"a"},
    {"event_id":"e4","type":"add_to_cart","user_id":"u1","item_id":"c","quantity":-1}
  ])", kPublic);
  EXPECT_EQ(response.status, 207) << response.body;
  auto json = Json(response);
  EXPECT_EQ(uint64_t(json["accepted"]), 1u);
  EXPECT_EQ(uint64_t(json["duplicates"]), 1u);
  EXPECT_EQ(uint64_t(json["rejected"]), 3u);
  EXPECT_EQ(std::string_view(json["errors"].at(0)["code"]), "future_timestamp");
  EXPECT_EQ(uint64_t(json["errors"].at(0)["index"]), 1u);
  EXPECT_EQ(std::string_view(json["errors"].at(1)["code"]), "unknown_event_type");
  EXPECT_EQ(std::string_view(json["errors"].at(2)["field"]), "lines[0].quantity");
  EXPECT_EQ(uint64_t(json["duplicate_indices"].at(0)), 3u);
  EXPECT_EQ(store_->Counts().events, 1u);

  // Sending the good one again is idempotent: 200, reported as a duplicate.
  response = Call(HttpMethod::kPost, "/v1/events", R"({"event_id":"e1","type":"view","user_id":"u1","item_id":"a"})");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(uint64_t(Json(response)["duplicates"]), 1u);
  EXPECT_EQ(store_->Counts().events, 1u);
}

TEST_F(ServiceTest, AllRejectedIsA400NamingTheFirstProblem) {
  HttpResponse response = Call(HttpMethod::kPost, "/v1/events", R"([{"type":"view","user_id":"u"}])");
  EXPECT_EQ(response.status, 400);
  auto error = Json(response)["error"];
  EXPECT_EQ(std::string_view(error["code"]), "missing_field");
  EXPECT_EQ(std::string_view(error["field"]), "item_id");
  EXPECT_EQ(uint64_t(error["index"]), 0u);
}

TEST_F(ServiceTest, MalformedJsonStoresNothingAndSaysWhere) {
  HttpResponse response = Call(HttpMethod::kPost, "/v1/events",
                               "[{\"type\":\"view\",\"user_id\":\"u\",\"item_id\":\"a\"},\n {\"type\":\"view\",}]");
  EXPECT_EQ(response.status, 400);
  auto error = Json(response)["error"];
  EXPECT_EQ(std::string_view(error["code"]), "invalid_json");
  EXPECT_EQ(uint64_t(error["index"]), 1u);
  EXPECT_NE(std::string_view(error["message"]).find("line 2"), std::string_view::npos);
  EXPECT_EQ(store_->Counts().events, 0u);
}

TEST_F(ServiceTest, LimitsAndMediaTypes) {
  std::string big = "[";
  for (int i = 0; i < 101; ++i) big += std::string(i ? "," : "") + R"({"type":"view","user_id":"u","item_id":"a"})";
  big += "]";
  HttpResponse response = Call(HttpMethod::kPost, "/v1/events", big);
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(std::string_view(Json(response)["error"]["code"]), "batch_too_large");
  response = Call(HttpMethod::kPost, "/v1/items", "<item/>", kAdmin, "application/xml");
  EXPECT_EQ(response.status, 415);
  response = Call(HttpMethod::kPost, "/v1/events", R"({"type":"view","user_id":"u","item_id":"a"})", kPublic,
                  "text/plain;charset=UTF-8");  // what sendBeacon sends
  EXPECT_EQ(response.status, 200);
  response = Call(HttpMethod::kPost, "/v1/events", R"("a string")");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(std::string_view(Json(response)["error"]["code"]), "invalid_body");
}

TEST_F(ServiceTest, ItemsUpsertGetDelete) {
  HttpResponse response = Call(HttpMethod::kPost, "/v1/items",
                               R"([{"id":"sku-1","title":"Mug","price":4.5,"currency":"GBP","category":["Home","Kitchen"]},
                                   {"id":"sku-2","price":-1}])");
  EXPECT_EQ(response.status, 207);
  auto json = Json(response);
  EXPECT_EQ(uint64_t(json["created"]), 1u);
  EXPECT_EQ(std::string_view(json["errors"].at(0)["field"]), "price");

  response = Call(HttpMethod::kGet, "/v1/items/sku-1");
  ASSERT_EQ(response.status, 200);
  auto item = Json(response);
  EXPECT_EQ(std::string_view(item["title"]), "Mug");
  EXPECT_EQ(std::string_view(item["created_at"]), "2024-03-01T12:00:00Z");
  EXPECT_EQ(std::string_view(item["category"].at(1)), "Kitchen");

  response = Call(HttpMethod::kPost, "/v1/items", R"({"id":"sku-1","title":"Big mug"})");
  EXPECT_EQ(uint64_t(Json(response)["updated"]), 1u);
  EXPECT_EQ(Call(HttpMethod::kDelete, "/v1/items/sku-1").status, 200);
  EXPECT_EQ(Call(HttpMethod::kDelete, "/v1/items/sku-1").status, 404);
  response = Call(HttpMethod::kGet, "/v1/items/sku-1");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(std::string_view(Json(response)["error"]["field"]), "id");
}

TEST_F(ServiceTest, UsersAndTimelines) {
  EXPECT_EQ(Call(HttpMethod::kPost, "/v1/users", R"({"id":"u1","consent":{"email":true}})").status, 200);
  EXPECT_EQ(std::string_view(Json(Call(HttpMethod::kGet, "/v1/users/u1"))["id"]), "u1");
  EXPECT_EQ(Call(HttpMethod::kGet, "/v1/users/u2").status, 404);
  Call(HttpMethod::kPost, "/v1/events", R"([
    {"type":"view","user_id":"u1","session_id":"s1","item_id":"a","timestamp":"2024-03-01T10:00:00Z"},
    {"type":"view","user_id":"u1","item_id":"b","timestamp":"2024-03-01T11:00:00Z"},
    {"type":"search","session_id":"s1","query":"mug","timestamp":"2024-03-01T09:00:00Z"}])");
  auto events = Json(Call(HttpMethod::kGet, "/v1/users/u1/events?limit=1"))["events"];
  ASSERT_EQ(simdjson::dom::array(events).size(), 1u);
  EXPECT_EQ(std::string_view(events.at(0)["item_id"]), "b");
  auto session = Json(Call(HttpMethod::kGet, "/v1/sessions/s1/events"))["events"];
  EXPECT_EQ(simdjson::dom::array(session).size(), 2u);
  HttpResponse bad = Call(HttpMethod::kGet, "/v1/users/u1/events?limit=0");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(std::string_view(Json(bad)["error"]["field"]), "limit");
}

TEST_F(ServiceTest, StatsAndHealth) {
  Call(HttpMethod::kPost, "/v1/events", R"([{"type":"view","user_id":"u","item_id":"a"},
                                            {"type":"purchase","user_id":"u","item_id":"a","price":3}])");
  auto stats = Json(Call(HttpMethod::kGet, "/v1/stats"));
  EXPECT_EQ(uint64_t(stats["events"]), 2u);
  EXPECT_EQ(uint64_t(stats["events_by_type"]["purchase"]), 1u);
  EXPECT_EQ(Call(HttpMethod::kGet, "/v1/stats", "", kPublic).status, 403);
  EXPECT_EQ(Call(HttpMethod::kGet, "/v1/stats", "", "").status, 401);
  EXPECT_EQ(std::string_view(Json(Call(HttpMethod::kGet, "/health", "", ""))["status"]), "ok");
  auto routes = Json(Call(HttpMethod::kGet, "/v1", "", ""))["routes"];
  EXPECT_GE(simdjson::dom::array(routes).size(), 10u);
}

TEST_F(ServiceTest, PathIdsFollowTheIdRules) {
  HttpResponse response = Call(HttpMethod::kGet, "/v1/users/ann%00x/events");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(std::string_view(Json(response)["error"]["field"]), "id");
  EXPECT_EQ(Call(HttpMethod::kGet, "/v1/items/" + std::string(300, 'x')).status, 400);
}

TEST_F(ServiceTest, NullFieldWhenAnErrorHasNone) {
  HttpResponse response = Call(HttpMethod::kPost, "/v1/events", R"([{"type":"view","user_id":"u","item_id":"a"},7])");
  EXPECT_EQ(response.status, 207);
  EXPECT_TRUE(Json(response)["errors"].at(0)["field"].is_null()) << response.body;
}

// A store whose writes wait until released, to fill the ingest queue.
class GatedStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Status Write(WriteBatch* batch, std::vector<WriteOutcome>* outcomes) override {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return open_; });
    return ForwardingStore::Write(batch, outcomes);
  }
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(ServiceBackPressureTest, FullQueueAnswers503WithRetryAfter) {
  ManualClock clock(*ParseTimestampMillis("2024-03-01T12:00:00Z"));
  GatedStore store(NewMemoryStore(&clock));
  IngestorOptions ingest;
  ingest.max_queued_records = 1;
  Ingestor ingestor(&store, ingest);
  Router router(AuthKeys{kAdmin, kPublic});
  ApiService service(&store, &ingestor, &clock, ApiOptions{});
  service.RegisterRoutes(&router);
  auto post = [&](int n, std::function<void(HttpResponse)> done) {
    HttpRequest request;
    request.method = HttpMethod::kPost;
    request.path = "/v1/events";
    request.authorization = std::string("Bearer ") + kPublic;
    request.body = R"({"type":"view","user_id":"u","item_id":"a","event_id":"q)" + std::to_string(n) + R"("})";
    router.Dispatch(std::move(request), std::move(done));
  };
  std::vector<std::promise<HttpResponse>> answers(3);
  // The first is taken by the commit thread and blocks in Write; the second
  // waits in the queue; the third finds the queue full.
  post(0, [&](HttpResponse r) { answers[0].set_value(std::move(r)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  post(1, [&](HttpResponse r) { answers[1].set_value(std::move(r)); });
  post(2, [&](HttpResponse r) { answers[2].set_value(std::move(r)); });
  HttpResponse refused = answers[2].get_future().get();
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("\"code\":\"unavailable\""), std::string::npos);
  ASSERT_EQ(refused.headers.size(), 1u);
  EXPECT_EQ(refused.headers[0].first, "Retry-After");
  store.Open();
  EXPECT_EQ(answers[0].get_future().get().status, 200);
  EXPECT_EQ(answers[1].get_future().get().status, 200);
  ingestor.Close();
  std::promise<HttpResponse> after_close;
  post(3, [&](HttpResponse r) { after_close.set_value(std::move(r)); });
  EXPECT_EQ(after_close.get_future().get().status, 503);  // shutting down
}

}  // namespace
}  // namespace vitrina
