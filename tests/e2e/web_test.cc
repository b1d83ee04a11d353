// The engine's browser-facing parts over HTTP: the pages it serves (the
// dashboard, the demo store, the tracker), and the routes they read that
// the API gained with them: the public catalog, shopper profiles, the
// hourly timeline and rule previews (rules_test.cc).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <thread>

#include "harness.h"

namespace vitrina::e2e {
namespace {

TEST(WebPagesTest, PagesAreServedWithoutAKeyWithTheirSecurityHeadersAndRevalidation) {
  TempDir dir("web-pages");
  Server server(dir.path(), {"--training.interval_s", "0"});
  ASSERT_TRUE(server.Start()) << server.log();
  HttpResult page = server.Request("GET", "/dashboard", "", "");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(page.headers["content-security-policy"].find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(page.headers["x-content-type-options"], "nosniff");
  EXPECT_NE(page.body.find("/dashboard/app.js"), std::string::npos);

  HttpResult script = server.Request("GET", "/dashboard/app.js", "", "");
  ASSERT_EQ(script.status, 200);
  EXPECT_EQ(script.headers["content-type"], "text/javascript; charset=utf-8");
  const std::string etag = script.headers["etag"];
  ASSERT_FALSE(etag.empty());
  HttpResult again = server.Request("GET", "/dashboard/app.js", "", "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(server.Request("GET", "/dashboard/app.js", "", "", {{"If-None-Match", "\"other\""}}).status, 200);

  // Browsers that take gzip get it, under its own tag.
  HttpResult zipped = server.Request("GET", "/dashboard/app.js", "", "", {{"Accept-Encoding", "br, gzip, deflate"}});
  ASSERT_EQ(zipped.status, 200);
  EXPECT_EQ(zipped.headers["content-encoding"], "gzip");
  EXPECT_EQ(zipped.headers["vary"], "Accept-Encoding");
  ASSERT_GT(zipped.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(zipped.body[0]), 0x1f);
  EXPECT_LT(zipped.body.size() * 2, script.body.size());
  EXPECT_NE(zipped.headers["etag"], etag);
  EXPECT_EQ(server.Request("GET", "/dashboard/app.js", "", "",
                           {{"Accept-Encoding", "gzip"}, {"If-None-Match", zipped.headers["etag"]}}).status,
            304);
  HttpResult refused = server.Request("GET", "/dashboard/app.js", "", "", {{"Accept-Encoding", "gzip;q=0, br"}});
  EXPECT_EQ(refused.headers.count("content-encoding"), 0u);
  EXPECT_EQ(refused.body, script.body);

  EXPECT_EQ(server.Request("GET", "/demo", "", "").status, 200);
  HttpResult config = server.Request("GET", "/demo/config.js", "", "");
  ASSERT_EQ(config.status, 200);
  EXPECT_NE(config.body.find(std::string("\"key\":\"") + kPublicKey + "\""), std::string::npos) << config.body;
  EXPECT_EQ(config.body.find(kAdminKey), std::string::npos);
  HttpResult tracker = server.Request("GET", "/tracker/vitrina.js", "", "");
  ASSERT_EQ(tracker.status, 200);
  EXPECT_NE(tracker.body.find("Vitrina"), std::string::npos);
  EXPECT_EQ(server.Request("GET", "/dashboard/nothing.js", "", "").status, 404);
  EXPECT_EQ(server.Request("POST", "/dashboard", "", "").status, 405);
}

TEST(WebPagesTest, TheDemoAndTheDashboardCanBeSwitchedOff) {
  TempDir dir("web-off");
  Server server(dir.path(), {"--training.interval_s", "0", "--web.demo", "false", "--web.dashboard", "false"});
  ASSERT_TRUE(server.Start()) << server.log();
  for (const char* path : {"/demo", "/demo/config.js", "/demo/app.js", "/dashboard", "/dashboard/app.js"}) {
    EXPECT_EQ(server.Request("GET", path, "", "").status, 404) << path;
  }
  EXPECT_EQ(server.Request("GET", "/tracker/vitrina.js", "", "").status, 200);
}

class WebApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(dir_.path(), std::vector<std::string>{"--training.interval_s", "0"});
    ASSERT_TRUE(server_->Start()) << server_->log();
    HttpResult items = server_->Request("POST", "/v1/items", R"([
      {"id":"mug","title":"Red Mug","description":"A mug","category":["Home","Kitchen","Mugs"],"brand":"Acme",
       "price":12.5,"currency":"GBP","stock":0,"attributes":{"cost":4.1,"supplier":"secret"}},
      {"id":"tent","title":"Tent","category":["Outdoor","Tents"],"brand":"Camp","price":200},
      {"id":"old","title":"Old","category":["Home"],"price":1,"active":false}])");
    ASSERT_EQ(items.status, 200) << items.body;
  }

  simdjson::dom::element Json(const HttpResult& result) { return json_.Parse(result); }

  TempDir dir_{"web-api"};
  std::unique_ptr<Server> server_;
  JsonBodies json_;
};

TEST_F(WebApiTest, CatalogShowsWhatAShopPageMayShowToThePublicKey) {
  HttpResult mug = server_->Request("GET", "/v1/catalog/mug", "", kPublicKey);
  ASSERT_EQ(mug.status, 200) << mug.body;
  auto item = Json(mug);
  EXPECT_EQ(std::string_view(item["title"]), "Red Mug");
  EXPECT_EQ(std::string_view(item["category"].at(2)), "Mugs");
  EXPECT_EQ(double(item["price"]), 12.5);
  EXPECT_EQ(std::string_view(item["currency"]), "GBP");
  EXPECT_FALSE(bool(item["in_stock"]));
  // Never the attributes (costs, suppliers) or the stock count.
  EXPECT_EQ(mug.body.find("secret"), std::string::npos);
  EXPECT_EQ(mug.body.find("cost"), std::string::npos);
  EXPECT_EQ(mug.body.find("\"stock\""), std::string::npos);
  EXPECT_TRUE(bool(Json(server_->Request("GET", "/v1/catalog/tent", "", kPublicKey))["in_stock"]));

  HttpResult inactive = server_->Request("GET", "/v1/catalog/old", "", kPublicKey);
  EXPECT_EQ(inactive.status, 404);
  EXPECT_EQ(std::string_view(Json(inactive)["error"]["field"]), "id");
  EXPECT_EQ(server_->Request("GET", "/v1/catalog/none", "", kPublicKey).status, 404);
  EXPECT_EQ(server_->Request("GET", "/v1/catalog/" + std::string(300, 'x'), "", kPublicKey).status, 400);
  EXPECT_EQ(server_->Request("GET", "/v1/catalog/mug", "", "").status, 401);
  // A shop page may pass the public key in the address (as beacons do).
  EXPECT_EQ(server_->Request("GET", std::string("/v1/catalog/mug?key=") + kPublicKey, "", "").status, 200);
}

TEST_F(WebApiTest, ProfileSumsUpAShoppersLatestEvents) {
  // Two orders and some views this week, from a phone.
  HttpResult posted = server_->Request("POST", "/v1/events", R"([
    {"type":"view","user_id":"ann","item_id":"mug","context":{"device":"mobile"}},
    {"type":"view","user_id":"ann","item_id":"tent","context":{"device":"mobile"}},
    {"type":"add_to_cart","user_id":"ann","item_id":"mug","price":12.5},
    {"type":"purchase","user_id":"ann","lines":[{"item_id":"mug","quantity":2,"price":12.5}]},
    {"type":"purchase","user_id":"ann","lines":[{"item_id":"mug","quantity":1,"price":12.5},{"item_id":"tent","price":200}]},
    {"type":"view","user_id":"bob","item_id":"tent"}])");
  ASSERT_EQ(posted.status, 200) << posted.body;
  HttpResult result = server_->Request("GET", "/v1/users/ann/profile");
  ASSERT_EQ(result.status, 200) << result.body;
  auto profile = Json(result);
  EXPECT_EQ(uint64_t(profile["events_read"]), 5u);
  EXPECT_TRUE(bool(profile["complete"]));
  EXPECT_EQ(uint64_t(profile["orders"]), 2u);
  EXPECT_DOUBLE_EQ(double(profile["spend"]), 237.5);
  EXPECT_DOUBLE_EQ(double(profile["average_order_value"]), 118.75);
  EXPECT_EQ(std::string_view(profile["lifecycle"]), "active");
  EXPECT_EQ(uint64_t(profile["events"]["view"]), 2u);
  EXPECT_EQ(uint64_t(profile["events"]["purchase"]), 2u);
  // The mug: viewed, carted, bought twice.
  EXPECT_EQ(std::string_view(profile["top_categories"].at(0)["name"]), "Home > Kitchen > Mugs");
  EXPECT_EQ(std::string_view(profile["top_brands"].at(0)["name"]), "Acme");
  EXPECT_EQ(uint64_t(profile["devices"]["mobile"]), 2u);

  HttpResult bob = server_->Request("GET", "/v1/users/bob/profile");
  EXPECT_EQ(std::string_view(Json(bob)["lifecycle"]), "new");
  EXPECT_TRUE(Json(bob)["average_order_value"].is_null());
  HttpResult nobody = server_->Request("GET", "/v1/users/nobody/profile");
  ASSERT_EQ(nobody.status, 200);
  EXPECT_EQ(uint64_t(Json(nobody)["events_read"]), 0u);
  EXPECT_EQ(std::string_view(Json(nobody)["lifecycle"]), "unknown");
  EXPECT_EQ(server_->Request("GET", "/v1/users/ann/profile", "", kPublicKey).status, 403);
  HttpResult long_id = server_->Request("GET", "/v1/users/" + std::string(300, 'u') + "/profile");
  EXPECT_EQ(long_id.status, 400);
}

TEST_F(WebApiTest, TimelineGivesDenseHourlyColumnsOfEventsAndScenarios) {
  ASSERT_EQ(server_->Request("POST", "/v1/events", R"([
    {"type":"view","user_id":"ann","item_id":"mug"},{"type":"view","user_id":"bob","item_id":"mug"},
    {"type":"view","user_id":"bob","item_id":"tent"},{"type":"purchase","user_id":"bob","item_id":"tent","price":200}])").status,
            200);
  TrainAndWait(*server_, "");
  HttpResult list = server_->Request("GET", "/v1/recommendations/trending?user_id=ann&n=2", "", kPublicKey);
  ASSERT_EQ(list.status, 200) << list.body;
  const std::string id(std::string_view(Json(list)["recommendation_id"]));
  const std::string first(std::string_view(Json(list)["items"].at(0)["item_id"]));
  ASSERT_EQ(server_->Request("POST", "/v1/events", R"({"type":"click","user_id":"ann","item_id":")" + first +
                                                       R"(","recommendation_id":")" + id + R"("})",
                             kPublicKey).status,
            200);
  HttpResult result = server_->Request("GET", "/v1/attribution/timeline?hours=3");
  ASSERT_EQ(result.status, 200) << result.body;
  auto timeline = Json(result);
  EXPECT_EQ(int64_t(timeline["step_seconds"]), 3600);
  ASSERT_EQ(timeline["hours"].get_array().size(), 3u);
  ASSERT_EQ(timeline["events"]["view"].get_array().size(), 3u);
  uint64_t views = 0, clicks = 0;
  for (auto v : timeline["events"]["view"].get_array()) views += uint64_t(v);
  for (auto v : timeline["events"]["click"].get_array()) clicks += uint64_t(v);
  EXPECT_EQ(views, 3u);
  EXPECT_EQ(clicks, 1u);
  // In the current hour's column (or the one before, if the hour just turned).
  auto recent = [&](const char* type) {
    auto column = timeline["events"][type].get_array();
    return uint64_t(column.at(2)) + uint64_t(column.at(1));
  };
  EXPECT_EQ(recent("view"), 3u);
  EXPECT_EQ(uint64_t(timeline["events"]["view"].at(0)), 0u);
  auto trending = timeline["scenarios"]["trending"];
  double lists = 0, credited = 0;
  for (auto v : trending["lists"].get_array()) lists += double(v);
  for (auto v : trending["clicks"].get_array()) credited += double(v);
  EXPECT_EQ(lists, 1);
  EXPECT_EQ(credited, 1);

  for (const char* bad : {"hours=0", "hours=100000", "hours=x"}) {
    HttpResult refused = server_->Request("GET", std::string("/v1/attribution/timeline?") + bad);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_EQ(std::string_view(Json(refused)["error"]["field"]), "hours") << bad;
  }
  EXPECT_EQ(server_->Request("GET", "/v1/attribution/timeline", "", kPublicKey).status, 403);
}

}  // namespace
}  // namespace vitrina::e2e
