// Business rules end to end: create, list, update, delete through the
// API, each kind's effect on the next answer, bad rules refused with the
// field and column, the audit log, and changes while requests flow.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <list>
#include <thread>

#include "harness.h"

namespace vitrina::e2e {
namespace {

class RulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Exploration off: these tests check exact orders.
    server_ = std::make_unique<Server>(dir_.path(),
                                       std::vector<std::string>{"--training.interval_s", "0", "--exploration.share", "0"});
    ASSERT_TRUE(server_->Start()) << server_->log();
    // Mugs m0..m5 and tents t0..t5 priced 10..60; shoppers view and buy
    // so that lower numbers are more popular.
    std::string items;
    for (int i = 0; i < 6; ++i) {
      for (auto [kind, category] : {std::pair{"m", "Mugs"}, std::pair{"t", "Tents"}}) {
        items += std::string(items.empty() ? "[" : ",") + R"({"id":")" + kind + std::to_string(i) + R"(","title":")" +
                 (kind == std::string("m") ? "Mug " : "Tent ") + std::to_string(i) + R"(","category":["Shop",")" +
                 category + R"("],"brand":")" + (i % 2 == 0 ? "Acme" : "Globex") + R"(","price":)" +
                 std::to_string(10 * (i + 1)) + R"(,"stock":3})";
      }
    }
    ASSERT_EQ(server_->Request("POST", "/v1/items", items + "]").status, 200);
    std::string events;
    for (int u = 0; u < 20; ++u) {
      const std::string user = "u" + std::to_string(u);
      for (int i = 0; i < 6 - u % 6; ++i) {
        for (const char* kind : {"m", "t"}) {
          events += std::string(events.empty() ? "[" : ",") + R"({"type":"view","user_id":")" + user +
                    R"(","item_id":")" + kind + std::to_string(i) + R"(","timestamp":"2024-03-10T10:00:00Z"})";
        }
      }
    }
    events += R"(,{"type":"purchase","user_id":"buyer","lines":[{"item_id":"m0","price":10},{"item_id":"t1","price":20}],)"
              R"("timestamp":"2024-03-12T10:00:00Z"}])";
    HttpResult posted = server_->Request("POST", "/v1/events", events);
    ASSERT_EQ(posted.status, 200) << posted.body;
    ASSERT_EQ(server_->Request("POST", "/v1/models/train").status, 202);
    for (int attempt = 0; attempt < 300; ++attempt) {
      if (server_->Request("GET", "/v1/recommendations/trending", "", kPublicKey).status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "no snapshot: " << server_->Request("GET", "/v1/models").body;
  }

  simdjson::dom::element Json(const HttpResult& result) { return json_.Parse(result); }

  std::vector<std::string> Trending(const std::string& extra = "") {
    HttpResult result = server_->Request("GET", "/v1/recommendations/trending?n=12" + extra, "", kPublicKey);
    EXPECT_EQ(result.status, 200) << result.body;
    std::vector<std::string> ids;
    for (auto item : Json(result)["items"].get_array()) ids.emplace_back(std::string_view(item["item_id"]));
    return ids;
  }

  // Creates a rule; returns its id.
  std::string Create(const std::string& json, const std::string& actor = "alice") {
    HttpResult created = server_->Request("POST", "/v1/rules", json, kAdminKey, {{"X-Vitrina-Actor", actor}});
    EXPECT_EQ(created.status, 201) << created.body;
    return std::string(std::string_view(Json(created)["rule"]["id"]));
  }

  void Delete(const std::string& id) { EXPECT_EQ(server_->Request("DELETE", "/v1/rules/" + id).status, 200); }

  TempDir dir_{"rules"};
  std::unique_ptr<Server> server_;
  JsonBodies json_;
};

TEST_F(RulesTest, EachKindShapesTheNextAnswer) {
  const std::vector<std::string> plain = Trending();
  ASSERT_EQ(plain.size(), 12u);
  EXPECT_EQ(plain[0].substr(1), "0");  // the most viewed come first

  // filter: only what costs under 35.
  std::string id = Create(R"({"kind":"filter","expression":"price < 35","scenarios":["trending"]})");
  for (const std::string& item : Trending()) EXPECT_LT(item.substr(1), "3") << item;
  EXPECT_EQ(Trending().size(), 6u);
  Delete(id);

  // boost: tents first, and the answer says which rule moved them.
  id = Create(R"({"name":"Tent week","kind":"boost","expression":"category == \"Tents\"","weight":100})");
  // The admin key sees which rules moved an item; a shop page (the public
  // key) never sees rule ids or names.
  HttpResult boosted = server_->Request("GET", "/v1/recommendations/trending?n=12");
  HttpResult public_view = server_->Request("GET", "/v1/recommendations/trending?n=12", "", kPublicKey);
  EXPECT_EQ(public_view.body.find("Tent week"), std::string::npos) << public_view.body;
  EXPECT_EQ(public_view.body.find("\"rules\""), std::string::npos) << public_view.body;
  auto items = Json(boosted)["items"].get_array();
  for (size_t i = 0; i < 6; ++i) {
    auto item = items.at(i);
    EXPECT_EQ(std::string_view(item["item_id"]).substr(0, 1), "t");
    EXPECT_EQ(std::string_view(item["rules"].at(0)["id"]), id);
    EXPECT_EQ(std::string_view(item["rules"].at(0)["name"]), "Tent week");
    EXPECT_EQ(std::string_view(item["rules"].at(0)["effect"]), "boost x100");
  }
  EXPECT_TRUE(items.at(6)["rules"].get_array().size() == 0);
  Delete(id);

  // bury: Acme goes to the back.
  id = Create(R"({"kind":"bury","expression":"brand == \"Acme\"","weight":100})");
  std::vector<std::string> buried = Trending();
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ((buried[i][1] - '0') % 2, 1) << buried[i];  // Globex has odd numbers
  Delete(id);

  // pin: m5 first, t5 second, though least popular.
  id = Create(R"({"kind":"pin","items":["m5","t5"],"position":1})");
  HttpResult pinned = server_->Request("GET", "/v1/recommendations/trending?n=4");
  auto pinned_items = Json(pinned)["items"].get_array();
  EXPECT_EQ(std::string_view(pinned_items.at(0)["item_id"]), "m5");
  EXPECT_EQ(std::string_view(pinned_items.at(0)["rules"].at(0)["effect"]), "pinned at 1");
  EXPECT_EQ(std::string_view(pinned_items.at(1)["item_id"]), "t5");
  EXPECT_EQ(pinned_items.size(), 4u);

  // block, by id and by expression, wins over the pin.
  std::string block = Create(R"({"kind":"block","items":["m5"],"expression":"price > 45"})");
  std::vector<std::string> blocked = Trending();
  EXPECT_EQ(blocked.size(), 8u);  // m5, and t4, t5, m4 (50, 60, 50) gone
  EXPECT_TRUE(std::find(blocked.begin(), blocked.end(), "m5") == blocked.end());
  Delete(block);
  Delete(id);

  // diversity: at most two per category.
  id = Create(R"({"kind":"diversity","attribute":"category","max_items":2})");
  EXPECT_EQ(Trending().size(), 4u);
  Delete(id);

  // repurchase: what the buyer bought stays out (the default), unless a
  // rule says mugs may come back right away.
  std::vector<std::string> for_buyer = Trending("&user_id=buyer");
  EXPECT_TRUE(std::find(for_buyer.begin(), for_buyer.end(), "m0") == for_buyer.end());
  id = Create(R"({"kind":"repurchase","expression":"category == \"Mugs\"","window_days":0})");
  for_buyer = Trending("&user_id=buyer");
  EXPECT_TRUE(std::find(for_buyer.begin(), for_buyer.end(), "m0") != for_buyer.end());
  EXPECT_TRUE(std::find(for_buyer.begin(), for_buyer.end(), "t1") == for_buyer.end());  // not a mug
  Delete(id);

  // A rule switched off, or for another scenario, does nothing here.
  id = Create(R"({"kind":"filter","expression":"false","enabled":false})");
  EXPECT_EQ(Trending().size(), 12u);
  Delete(id);
  id = Create(R"({"kind":"filter","expression":"false","scenarios":["similar"]})");
  EXPECT_EQ(Trending().size(), 12u);
  HttpResult similar = server_->Request("GET", "/v1/recommendations/similar?item_id=m1", "", kPublicKey);
  EXPECT_EQ(Json(similar)["items"].get_array().size(), 0u);
}

TEST_F(RulesTest, CrudVersionsAndAuditLog) {
  HttpResult empty = server_->Request("GET", "/v1/rules");
  ASSERT_EQ(empty.status, 200);
  EXPECT_EQ(int64_t(Json(empty)["version"]), 0);
  EXPECT_EQ(server_->Request("GET", "/v1/rules", "", kPublicKey).status, 403);  // admin only

  const std::string id = Create(R"({"id":"acme-up","kind":"boost","expression":"brand == \"Acme\"","weight":2})", "alice");
  EXPECT_EQ(id, "acme-up");
  HttpResult again = server_->Request("POST", "/v1/rules", R"({"id":"acme-up","kind":"pin","items":["m1"]})");
  EXPECT_EQ(again.status, 409) << again.body;
  HttpResult replaced = server_->Request("PUT", "/v1/rules/acme-up",
                                         R"({"kind":"boost","expression":"brand == \"Acme\"","weight":3})", kAdminKey,
                                         {{"X-Vitrina-Actor", "bob"}});
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(int64_t(Json(replaced)["rule"]["revision"]), 2);
  EXPECT_EQ(int64_t(Json(replaced)["version"]), 2);
  HttpResult one = server_->Request("GET", "/v1/rules/acme-up");
  EXPECT_EQ(double(Json(one)["rule"]["weight"]), 3.0);
  EXPECT_EQ(std::string_view(Json(one)["rule"]["updated_by"]), "bob");
  EXPECT_EQ(server_->Request("GET", "/v1/rules/nope").status, 404);
  EXPECT_EQ(server_->Request("PUT", "/v1/rules/nope", R"({"kind":"pin","items":["m1"]})").status, 404);
  EXPECT_EQ(server_->Request("DELETE", "/v1/rules/nope").status, 404);

  HttpResult listed = server_->Request("GET", "/v1/rules");
  EXPECT_EQ(Json(listed)["rules"].get_array().size(), 1u);
  EXPECT_EQ(server_->Request("DELETE", "/v1/rules/acme-up", "", kAdminKey, {{"X-Vitrina-Actor", "carol"}}).status, 200);

  HttpResult audit = server_->Request("GET", "/v1/rules/audit?rule_id=acme-up");
  ASSERT_EQ(audit.status, 200) << audit.body;
  auto entries = Json(audit)["entries"].get_array();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(std::string_view(entries.at(0)["action"]), "delete");
  EXPECT_EQ(std::string_view(entries.at(0)["actor"]), "carol");
  EXPECT_EQ(std::string_view(entries.at(1)["actor"]), "bob");
  EXPECT_EQ(double(entries.at(1)["before"]["weight"]), 2.0);
  EXPECT_EQ(double(entries.at(1)["after"]["weight"]), 3.0);
  EXPECT_EQ(std::string_view(entries.at(2)["action"]), "create");
  EXPECT_EQ(server_->Request("GET", "/v1/rules/audit?limit=0").status, 400);

  // Rules and their history survive a restart.
  Create(R"({"id":"kept","kind":"filter","expression":"stock > 0"})");
  ASSERT_EQ(server_->Stop(), 0);
  ASSERT_TRUE(server_->Start()) << server_->log();
  HttpResult after = server_->Request("GET", "/v1/rules/kept");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(int64_t(Json(after)["version"]), 4);
  EXPECT_EQ(Json(server_->Request("GET", "/v1/rules/audit"))["entries"].get_array().size(), 4u);
}

TEST_F(RulesTest, BadRulesAreRefusedWithTheFieldAndColumn) {
  HttpResult bad = server_->Request("POST", "/v1/rules", R"({"kind":"boost","expression":"price < \"cheap\"","weight":2})");
  ASSERT_EQ(bad.status, 400);
  auto error = Json(bad)["error"];
  EXPECT_EQ(std::string_view(error["code"]), "invalid_rule");
  EXPECT_EQ(std::string_view(error["field"]), "expression");
  EXPECT_EQ(std::string_view(error["message"]),
            "expression: at column 9: expected a number after '<', got the text \"cheap\"");
  HttpResult typo = server_->Request("POST", "/v1/rules", R"({"kind":"boost","expression":"true","wieght":2})");
  EXPECT_EQ(std::string_view(Json(typo)["error"]["message"]), "wieght: unknown field; did you mean 'weight'?");
  HttpResult scenario = server_->Request("POST", "/v1/rules/validate",
                                         R"({"kind":"filter","expression":"true","scenarios":["home"]})");
  EXPECT_EQ(scenario.status, 400);
  EXPECT_EQ(std::string_view(Json(scenario)["error"]["field"]), "scenarios[0]");
  HttpResult valid = server_->Request("POST", "/v1/rules/validate", R"({"kind":"filter","expression":"stock > 0"})");
  EXPECT_EQ(valid.status, 200) << valid.body;
  EXPECT_EQ(server_->Request("POST", "/v1/rules", "not json").status, 400);
  // Nothing was stored by any of these.
  EXPECT_EQ(int64_t(Json(server_->Request("GET", "/v1/rules"))["version"]), 0);
}

TEST_F(RulesTest, PreviewShowsTheListBeforeAndAfterWithoutSavingOrLogging) {
  auto recorded = [&] { return uint64_t(Json(server_->Request("GET", "/v1/exploration"))["served_log"]["recorded"]); };
  const std::vector<std::string> shown = Trending("&user_id=u3");
  const uint64_t recorded_before = recorded();
  auto ids = [&](simdjson::dom::element list) {
    std::vector<std::string> out;
    for (auto item : list.get_array()) out.emplace_back(std::string_view(item["item_id"]));
    return out;
  };
  // A new pin: tent 5 first for this shopper, only in the preview.
  HttpResult preview = server_->Request("POST", "/v1/rules/preview?scenario=trending&user_id=u3&n=6",
                                        R"({"kind":"pin","items":["t5"],"position":1})");
  ASSERT_EQ(preview.status, 200) << preview.body;
  auto body = Json(preview);
  EXPECT_FALSE(bool(body["replaces"]));
  const std::vector<std::string> before = ids(body["before"]), after = ids(body["after"]);
  ASSERT_EQ(before.size(), 6u);
  EXPECT_EQ(before, std::vector<std::string>(shown.begin(), shown.begin() + 6));
  EXPECT_EQ(after[0], "t5");
  EXPECT_EQ(std::string_view(body["after"].at(0)["rules"].at(0)["effect"]), "pinned at 1");
  EXPECT_EQ(std::vector<std::string>(after.begin() + 1, after.end()),
            std::vector<std::string>(before.begin(), before.end() - 1));
  EXPECT_EQ(recorded(), recorded_before);  // previews are not logged as served
  // Nothing was saved.
  EXPECT_EQ(Json(server_->Request("GET", "/v1/rules"))["rules"].get_array().size(), 0u);
  EXPECT_EQ(Trending()[0], before[0]);

  // Editing a saved rule previews the edit in its place: a filter to tents
  // becomes a filter to mugs.
  const std::string id = Create(R"({"kind":"filter","expression":"category == \"Tents\"","scenarios":["trending"]})");
  preview = server_->Request("POST", "/v1/rules/preview?scenario=trending&n=6",
                             R"({"id":")" + id + R"(","kind":"filter","expression":"category == \"Mugs\""})");
  ASSERT_EQ(preview.status, 200) << preview.body;
  body = Json(preview);
  EXPECT_TRUE(bool(body["replaces"]));
  for (const std::string& item : ids(body["before"])) EXPECT_EQ(item[0], 't') << item;
  for (const std::string& item : ids(body["after"])) EXPECT_EQ(item[0], 'm') << item;
  EXPECT_EQ(Trending()[0][0], 't');  // the saved rule still holds

  // Bad input names the field; nothing is served or logged by previews.
  preview = server_->Request("POST", "/v1/rules/preview?scenario=trending", R"({"kind":"boost","expression":"price <","weight":2})");
  EXPECT_EQ(preview.status, 400);
  EXPECT_EQ(std::string_view(Json(preview)["error"]["field"]), "expression");
  preview = server_->Request("POST", "/v1/rules/preview?scenario=trending", R"({"kind":"pin","items":)");
  EXPECT_EQ(preview.status, 400);
  EXPECT_EQ(std::string_view(Json(preview)["error"]["code"]), "invalid_rule");
  EXPECT_EQ(server_->Request("POST", "/v1/rules/preview?scenario=trending", "").status, 400);
  preview = server_->Request("POST", "/v1/rules/preview?scenario=trending&n=0", R"({"kind":"pin","items":["t5"]})");
  EXPECT_EQ(preview.status, 400);
  EXPECT_EQ(std::string_view(Json(preview)["error"]["field"]), "n");
  preview = server_->Request("POST", "/v1/rules/preview?scenario=nope", R"({"kind":"pin","items":["t5"]})");
  EXPECT_EQ(preview.status, 400);
  EXPECT_EQ(std::string_view(Json(preview)["error"]["field"]), "scenario");
  preview = server_->Request("POST", "/v1/rules/preview?scenario=for_you", R"({"kind":"pin","items":["t5"]})");
  EXPECT_EQ(preview.status, 400) << preview.body;  // for_you needs a shopper
  EXPECT_EQ(server_->Request("POST", "/v1/rules/preview", R"({"kind":"pin","items":["t5"]})", kPublicKey).status, 403);
}

TEST_F(RulesTest, ChangesUnderLoadFailNoRequestAndTakeEffectAtOnce) {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&] {
      while (!stop) {
        HttpResult result = server_->Request("GET", "/v1/recommendations/trending?n=6", "", kPublicKey);
        (result.status == 200 ? ok : failed)++;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  for (int round = 0; round < 20; ++round) {
    const std::string id = Create(R"({"kind":"boost","expression":"category == \"Tents\"","weight":100})");
    // Effective for the very next request.
    EXPECT_EQ(Trending()[0].substr(0, 1), "t");
    Delete(id);
    EXPECT_EQ(Trending()[0], "m0");
  }
  stop = true;
  for (std::thread& client : clients) client.join();
  EXPECT_GT(ok.load(), 20);
  EXPECT_EQ(failed.load(), 0);
}

}  // namespace
}  // namespace vitrina::e2e
