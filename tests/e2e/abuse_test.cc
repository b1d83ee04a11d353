// Regressions for what probing with bad input and abuse found: each once
// crashed the server, bricked it, leaked what a shop page must not see, or
// passed silently. (One client holding every connection is in
// connection_limits_test.cc.)
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>

#include "harness.h"

namespace vitrina::e2e {
namespace {

class AbuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(dir_.path() + "/data", std::vector<std::string>{"--training.interval_s", "0"});
    ASSERT_TRUE(server_->Start()) << server_->log();
  }

  simdjson::dom::element Json(const HttpResult& result) { return json_.Parse(result); }
  // The error's code and field, as "code field".
  std::string Error(const HttpResult& result) {
    auto error = Json(result)["error"];
    std::string field = error["field"].is_null() ? "-" : std::string(std::string_view(error["field"]));
    return std::string(std::string_view(error["code"])) + " " + field;
  }

  TempDir dir_{"abuse"};
  std::unique_ptr<Server> server_;
  JsonBodies json_;
};

// One admin request with X-Vitrina-Actor: \xff was stored into the rules'
// JSON, and the next start refused to run ("stored rules are not readable").
TEST_F(AbuseTest, AnActorNameOutsideUtf8IsRefusedAndTheServerRestarts) {
  const std::string rule = R"({"kind":"pin","items":["a"],"scenarios":["trending"]})";
  HttpResult refused = server_->Request("POST", "/v1/rules", rule, kAdminKey, {{"X-Vitrina-Actor", "\xff"}});
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_EQ(Error(refused), "invalid_request X-Vitrina-Actor");
  HttpResult control = server_->Request("POST", "/v1/rules", rule, kAdminKey, {{"X-Vitrina-Actor", "bob\tsmith"}});
  EXPECT_EQ(control.status, 400) << control.body;
  HttpResult saved = server_->Request("POST", "/v1/rules", rule, kAdminKey, {{"X-Vitrina-Actor", "Анна"}});
  ASSERT_EQ(saved.status, 201) << saved.body;
  ASSERT_EQ(server_->Stop(), 0);
  ASSERT_TRUE(server_->Start()) << server_->log();
  HttpResult audit = server_->Request("GET", "/v1/rules/audit");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(std::string_view(Json(audit)["entries"].at(0)["actor"]), "Анна");
}

// A rule expression of 7,447 nested brackets crashed the server.
TEST_F(AbuseTest, DeepExpressionsAreRefusedWithTheLimit) {
  const std::string deep = std::string(7447, '(') + "price < 3" + std::string(7447, ')');
  HttpResult result = server_->Request("POST", "/v1/rules/validate",
                                       R"({"kind":"filter","expression":")" + deep + R"("})");
  EXPECT_EQ(result.status, 400) << result.body.substr(0, 300);
  EXPECT_NE(result.body.find("nested deeper than 32 levels"), std::string::npos) << result.body.substr(0, 300);
  EXPECT_EQ(server_->Request("GET", "/health").status, 200);
}

// Bytes outside UTF-8 in a %-decoded path or query were echoed in 404s and
// written raw into the served-list log.
TEST_F(AbuseTest, PathsAndQueriesOutsideUtf8AreRefused) {
  HttpResult path = server_->Request("GET", "/v1/items/%FF%FE");
  EXPECT_EQ(path.status, 400) << path.body;
  EXPECT_EQ(Error(path), "bad_request -");
  HttpResult unknown = server_->Request("GET", "/v1/nothing%FF");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  HttpResult query = server_->Request("GET", "/v1/recommendations/trending?user_id=%C3%28", "", kPublicKey);
  EXPECT_EQ(query.status, 400) << query.body;
  EXPECT_EQ(Error(query), "bad_request user_id");
  // Whatever is answered is valid UTF-8 JSON.
  for (const HttpResult& result : {path, unknown, query}) {
    simdjson::dom::parser parser;
    EXPECT_EQ(parser.parse(result.body).error(), simdjson::SUCCESS) << result.body;
  }
}

// Duplicate keys: items and events refused them, rules and experiments kept
// the first value, synonyms the last. One rule everywhere: 400.
TEST_F(AbuseTest, ADuplicateKeyIsRefusedEverywhere) {
  EXPECT_EQ(Error(server_->Request("POST", "/v1/rules", R"({"kind":"pin","kind":"block","items":["a"]})")),
            "invalid_rule kind");
  EXPECT_EQ(Error(server_->Request("POST", "/v1/search/synonyms", R"({"terms":["a","b"],"terms":["c","d"]})")),
            "invalid_synonym terms");
  HttpResult experiment = server_->Request(
      "POST", "/v1/experiments",
      R"({"id":"x","id":"y","scenarios":["trending"],"variants":[{"name":"a","share":0.5},{"name":"b","share":0.5}]})");
  EXPECT_EQ(experiment.status, 400) << experiment.body;
  EXPECT_NE(experiment.body.find("twice"), std::string::npos) << experiment.body;
  EXPECT_EQ(Error(server_->Request("POST", "/v1/items", R"({"id":"a","price":1,"price":2})")), "duplicate_field price");
  EXPECT_EQ(Error(server_->Request("POST", "/v1/events", R"({"type":"view","type":"click","user_id":"u","item_id":"a"})",
                                   kPublicKey)),
            "duplicate_field type");
  // Nothing was stored by the refused requests.
  EXPECT_EQ(Json(server_->Request("GET", "/v1/rules"))["rules"].get_array().size(), 0u);
  EXPECT_EQ(Json(server_->Request("GET", "/v1/experiments"))["experiments"].get_array().size(), 0u);
}

// Query-string mistakes passed silently: a misspelt parameter was ignored,
// a contradictory range answered an empty list.
TEST_F(AbuseTest, QueryMistakesAreNamedWithADidYouMean) {
  HttpResult misspelt = server_->Request("GET", "/v1/recommendations/trending?usr_id=nu-1", "", kPublicKey);
  EXPECT_EQ(misspelt.status, 400) << misspelt.body;
  EXPECT_EQ(Error(misspelt), "unknown_parameter usr_id");
  EXPECT_NE(misspelt.body.find("did you mean 'user_id'"), std::string::npos) << misspelt.body;
  HttpResult search = server_->Request("GET", "/v1/search?q=mug&maxprice=1", "", kPublicKey);
  EXPECT_EQ(Error(search), "unknown_parameter maxprice");
  EXPECT_NE(search.body.find("did you mean 'max_price'"), std::string::npos) << search.body;
  HttpResult range = server_->Request("GET", "/v1/recommendations/trending?min_price=10&max_price=1", "", kPublicKey);
  EXPECT_EQ(Error(range), "invalid_request min_price");
  HttpResult none = server_->Request("GET", "/v1/stats?verbose=1");
  EXPECT_EQ(Error(none), "unknown_parameter verbose");
  EXPECT_NE(none.body.find("which takes none"), std::string::npos) << none.body;
  // The public key may still come as ?key= where headers cannot be sent.
  EXPECT_EQ(server_->Request("POST", "/v1/events?key=" + std::string(kPublicKey),
                             R"({"type":"view","user_id":"u","item_id":"a"})", "")
                .status,
            200);
}

// An empty store's "no events to train on yet" counted as a failed run.
TEST_F(AbuseTest, TrainingAnEmptyStoreIsSkippedNotFailed) {
  ASSERT_EQ(server_->Request("POST", "/v1/models/train").status, 202);
  uint64_t skipped = 0;
  for (int i = 0; i < 100 && skipped == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    skipped = uint64_t(Json(server_->Request("GET", "/v1/models"))["training"]["runs"]["skipped"]);
  }
  auto runs = Json(server_->Request("GET", "/v1/models"))["training"]["runs"];
  EXPECT_GE(uint64_t(runs["skipped"]), 1u);
  EXPECT_EQ(uint64_t(runs["failed"]), 0u);
}

// The served-list log's unreadable lines were dropped at restart without a
// word.
TEST_F(AbuseTest, UnreadableServedLogLinesAreReportedAtStart) {
  ASSERT_EQ(server_->Stop(), 0);
  const std::string logs = dir_.path() + "/data/logs";
  std::filesystem::create_directories(logs);
  std::ofstream(logs + "/served-2026-01-01.jsonl") << "{\"recommendation_id\":\"r1\",\"cut short\n"
                                                      "not json at all\n";
  ASSERT_TRUE(server_->Start()) << server_->log();
  EXPECT_NE(server_->log().find("2 unreadable lines left out"), std::string::npos) << server_->log();
}

}  // namespace
}  // namespace vitrina::e2e
