// Experiments, attribution and monitoring end to end: an A/B test with a
// holdout created through the API, shoppers split and served by their
// group, clicks and purchases attributed (by recommendation_id and by the
// window), results per group, the same results after a restart, the
// Prometheus metrics, and bad definitions refused with the field named.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <map>
#include <sstream>

#include "harness.h"

namespace vitrina::e2e {
namespace {

constexpr std::string_view kExperiment = R"({"id":"pop","name":"models vs bestsellers","scenarios":["for_you"],
  "holdout":0.2,"variants":[{"name":"control","settings":{"for_you":{"model":"trending"}}},{"name":"models"}]})";

class ExperimentsTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }

  void StartServer() {
    server_ = std::make_unique<Server>(dir_.path(), std::vector<std::string>{"--training.interval_s", "0",
                                                                               "--exploration.share", "0"});
    ASSERT_TRUE(server_->Start()) << server_->log();
  }

  void Seed() {
    std::string items;
    for (int i = 0; i < 6; ++i) {
      for (auto [kind, category] : {std::pair{"m", "Mugs"}, std::pair{"t", "Tents"}}) {
        items += std::string(items.empty() ? "[" : ",") + R"({"id":")" + kind + std::to_string(i) +
                 R"(","title":"Thing","category":[")" + category + R"("],"price":)" + std::to_string(10 * (i + 1)) + "}";
      }
    }
    ASSERT_EQ(server_->Request("POST", "/v1/items", items + "]").status, 200);
    std::string events;
    for (int u = 0; u < 20; ++u) {
      const std::string kind = u % 2 == 0 ? "m" : "t", user = "u" + std::to_string(u);
      for (int step = 0; step < 3; ++step) {
        events += std::string(events.empty() ? "[" : ",") + R"({"type":"view","user_id":")" + user +
                  R"(","item_id":")" + kind + std::to_string(step) + R"(","timestamp":"2024-03-1)" +
                  std::to_string(step) + R"(T10:00:00Z"})";
      }
      events += R"(,{"type":"purchase","user_id":")" + user + R"(","lines":[{"item_id":")" + kind +
                R"(3","price":40}],"timestamp":"2024-03-14T10:00:00Z"})";
    }
    ASSERT_EQ(server_->Request("POST", "/v1/events", events + "]").status, 200);
    ASSERT_FALSE(TrainAndWait(*server_, "").empty());
  }

  simdjson::dom::element Json(const HttpResult& result) { return json_.Parse(result); }

  // Per group: users, clicks, purchases and revenue, as the results report them.
  std::map<std::string, std::tuple<uint64_t, uint64_t, uint64_t, double>> Groups() {
    HttpResult result = server_->Request("GET", "/v1/experiments/pop/results");
    EXPECT_EQ(result.status, 200) << result.body;
    std::map<std::string, std::tuple<uint64_t, uint64_t, uint64_t, double>> groups;
    if (result.status != 200) return groups;
    for (auto group : Json(result)["groups"].get_array()) {
      groups[std::string(std::string_view(group["name"]))] = {uint64_t(group["users"]), uint64_t(group["clicks"]),
                                                              uint64_t(group["purchases"]), double(group["revenue"])};
    }
    return groups;
  }

  TempDir dir_{"experiments"};
  std::unique_ptr<Server> server_;
  JsonBodies json_;
};

TEST_F(ExperimentsTest, SplitsServesAttributesReportsAndSurvivesARestart) {
  Seed();
  HttpResult created = server_->Request("POST", "/v1/experiments", std::string(kExperiment));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(std::string_view(Json(created)["status"]), "running");
  EXPECT_EQ(server_->Request("POST", "/v1/experiments", std::string(kExperiment)).status, 409);

  // 60 new shoppers each get a list; half click its first item (tagged),
  // a third of those buy it (tagged), one in ten clicks the second item untagged.
  std::map<std::string, std::tuple<uint64_t, uint64_t, uint64_t, double>> expected;
  std::string events;
  for (int i = 0; i < 60; ++i) {
    const std::string user = "x" + std::to_string(i);
    HttpResult served = server_->Request("GET", "/v1/recommendations/for_you?n=4&user_id=" + user, "", kPublicKey);
    ASSERT_EQ(served.status, 200) << served.body;
    simdjson::dom::element body = Json(served);
    const std::string variant{std::string_view(body["experiment"]["variant"])};
    const std::string id{std::string_view(body["recommendation_id"])};
    std::vector<std::string> items;
    std::vector<std::string> models;
    for (auto item : body["items"].get_array()) {
      items.emplace_back(std::string_view(item["item_id"]));
      models.emplace_back(std::string_view(item["model"]));
    }
    ASSERT_GE(items.size(), 2u);
    if (variant != "models") {  // the control asks for bestsellers; the holdout gets nothing else
      for (const std::string& model : models) EXPECT_EQ(model, "trending") << variant << " " << served.body;
    }
    // The same shopper stays in the same group.
    HttpResult again = server_->Request("GET", "/v1/recommendations/for_you?user_id=" + user, "", kPublicKey);
    EXPECT_EQ(std::string_view(Json(again)["experiment"]["variant"]), variant);
    auto& [users, clicks, purchases, revenue] = expected[variant];
    ++users;
    if (i % 2 == 0) {
      events += std::string(events.empty() ? "[" : ",") + R"({"event_id":"c)" + std::to_string(i) +
                R"(","type":"click","user_id":")" + user + R"(","item_id":")" + items[0] +
                R"(","recommendation_id":")" + id + R"("})";
      ++clicks;
    }
    if (i % 6 == 0) {
      events += R"(,{"event_id":"p)" + std::to_string(i) + R"(","type":"purchase","user_id":")" + user +
                R"(","lines":[{"item_id":")" + items[0] + R"(","quantity":2,"price":7.5}],"recommendation_id":")" + id +
                R"("})";
      ++purchases;
      revenue += 15;
    }
    if (i % 10 == 0) {
      events += R"(,{"event_id":"w)" + std::to_string(i) + R"(","type":"click","user_id":")" + user +
                R"(","item_id":")" + items[1] + R"("})";
      ++clicks;
    }
  }
  HttpResult posted = server_->Request("POST", "/v1/events", events + "]");
  ASSERT_EQ(posted.status, 200) << posted.body;
  // Sent again: duplicates by event_id, credited once.
  ASSERT_EQ(server_->Request("POST", "/v1/events", events + "]").status, 200);
  ASSERT_EQ(expected.size(), 3u) << "60 shoppers reach all three groups";

  const auto groups = Groups();
  EXPECT_EQ(groups, expected);
  HttpResult results = server_->Request("GET", "/v1/experiments/pop/results");
  simdjson::dom::element body = Json(results);
  EXPECT_EQ(std::string_view(body["state"]), "not_enough_data") << results.body;
  EXPECT_EQ(std::string_view(body["groups"].at(0)["role"]), "control");
  EXPECT_TRUE(body["groups"].at(1)["metrics"]["ctr"]["vs_control"]["p_value"].is_double()) << results.body;

  HttpResult attribution = server_->Request("GET", "/v1/attribution");
  ASSERT_EQ(attribution.status, 200) << attribution.body;
  EXPECT_GE(uint64_t(Json(attribution)["credited_by_recommendation_id"]), 40u) << attribution.body;

  HttpResult metrics = server_->Request("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  EXPECT_NE(metrics.body.find("# TYPE vitrina_http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(metrics.body.find(R"(vitrina_http_requests_total{method="GET",route="/v1/recommendations/{scenario}",code="200"} 120)"),
            std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find(R"(vitrina_recommendation_duration_seconds_count{scenario="for_you"} 120)"),
            std::string::npos);
  EXPECT_NE(metrics.body.find(R"(vitrina_attributed_clicks_total{scenario="for_you",experiment="pop",variant="control"} )" +
                              std::to_string(std::get<1>(expected["control"]))),
            std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find(R"(vitrina_ingested_records_total{kind="event",outcome="duplicate"})"), std::string::npos);
  EXPECT_NE(metrics.body.find("vitrina_model_offline_metric{model="), std::string::npos);
  EXPECT_NE(metrics.body.find("vitrina_drift_alert 0"), std::string::npos);
  EXPECT_EQ(server_->Request("GET", "/metrics", "", kPublicKey).status, 403);

  // A restart rebuilds the same results from the served log and the store.
  ASSERT_EQ(server_->Stop(), 0);
  StartServer();
  EXPECT_EQ(Groups(), expected);

  HttpResult stopped = server_->Request("POST", "/v1/experiments/pop/stop");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(std::string_view(Json(stopped)["status"]), "stopped");
  EXPECT_EQ(server_->Request("POST", "/v1/experiments/pop/stop").status, 409);
  HttpResult after = server_->Request("GET", "/v1/recommendations/for_you?user_id=x1", "", kPublicKey);
  EXPECT_EQ(after.body.find("\"experiment\""), std::string::npos) << after.body;
  HttpResult listed = server_->Request("GET", "/v1/experiments");
  EXPECT_EQ(std::string_view(Json(listed)["experiments"].at(0)["status"]), "stopped");
}

TEST_F(ExperimentsTest, BadDefinitionsAndRequestsNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[]", ""},
      {R"({"name":"x","scenarios":["nope"],"variants":[{"name":"a"},{"name":"b"}]})", "scenarios[0]"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"}]})", "variants"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b","settings":{"for_you":{"model":"gpt"}}}]})",
       "variants[1].settings.for_you.model"},
      {R"({"name":"x","scenarios":["for_you"],"holdout":2,"variants":[{"name":"a"},{"name":"b"}]})", "holdout"},
      {R"({"name":"x","scenarios":["for_you"],"varients":[]})", "varients"},
  };
  for (const auto& [body, field] : cases) {
    HttpResult result = server_->Request("POST", "/v1/experiments", body);
    EXPECT_EQ(result.status, 400) << body << ": " << result.body;
    if (result.status != 400) continue;
    simdjson::dom::element named = Json(result)["error"]["field"];
    if (field.empty()) {
      EXPECT_TRUE(named.is_null()) << result.body;
    } else {
      EXPECT_EQ(std::string_view(named), field) << result.body;
    }
  }
  EXPECT_EQ(Json(server_->Request("GET", "/v1/experiments"))["experiments"].get_array().size(), 0u)
      << "nothing refused was stored";
  EXPECT_EQ(server_->Request("GET", "/v1/experiments/nope/results").status, 404);
  EXPECT_EQ(server_->Request("POST", "/v1/experiments/nope/stop").status, 404);
  EXPECT_EQ(server_->Request("POST", "/v1/experiments", std::string(kExperiment), kPublicKey).status, 403);
}

}  // namespace
}  // namespace vitrina::e2e

namespace vitrina::e2e {
namespace {

// `vitrina simulate` on the bundled sample: the replay serves, attributes
// and reports an A/B result in the server's JSON.
TEST(SimulateTest, ReplaysTheDemoSampleIntoAnAbResult) {
  TempDir dir("simulate");
  const std::string output = dir.path() + "/results.json";
  CommandResult result = RunVitrina({"simulate", "--dataset", std::string(VITRINA_SOURCE_DIR) +
                                     "/demo/online_retail_sample.csv.zst", "--format", "online-retail",
                                     "--test-days", "30", "--holdout", "0.2", "--output", output});
  ASSERT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find("0 requests failed"), std::string::npos) << result.out;
  std::ifstream in(output);
  std::stringstream text;
  text << in.rdbuf();
  simdjson::dom::parser parser;
  simdjson::dom::element body;
  ASSERT_EQ(parser.parse(text.str()).get(body), simdjson::SUCCESS) << text.str();
  EXPECT_EQ(std::string_view(body["experiment"]), "simulated");
  uint64_t users = 0, clicks = 0, purchases = 0;
  std::vector<std::string> names;
  for (auto group : body["groups"].get_array()) {
    names.emplace_back(std::string_view(group["name"]));
    users += uint64_t(group["users"]);
    clicks += uint64_t(group["clicks"]);
    purchases += uint64_t(group["purchases"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"control", "treatment", "holdout"}));
  EXPECT_GT(users, 150u);
  EXPECT_GT(clicks, 20u);
  // Every simulated click buys its item (tagged); real orders add lines
  // that a list showed within the window.
  EXPECT_GE(purchases, clicks);

  CommandResult missing = RunVitrina({"simulate", "--dataset", dir.path() + "/nope.csv"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("nope.csv"), std::string::npos) << missing.out;
  CommandResult bad = RunVitrina({"simulate", "--dataset", output, "--format", "s3rec"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  CommandResult model = RunVitrina({"simulate", "--dataset", std::string(VITRINA_SOURCE_DIR) +
                                    "/demo/online_retail_sample.csv.zst", "--treatment", "gpt"});
  EXPECT_EQ(model.exit_code, 2) << model.out;
  EXPECT_NE(model.out.find("variants[1].settings.for_you.model"), std::string::npos) << model.out;
}

}  // namespace
}  // namespace vitrina::e2e
