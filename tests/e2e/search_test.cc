// Product search end to end: /v1/search and /v1/search/suggest over HTTP
// with the public key, facets and filters, the index following item
// changes at once, synonyms edited through the API (and kept over a
// restart), personal re-ranking from posted events, and bad requests
// refused with the field named.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <list>

#include "harness.h"

namespace vitrina::e2e {
namespace {

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(
        dir_.path(), std::vector<std::string>{"--training.interval_s", "0", "--search.public_attributes", "color"});
    ASSERT_TRUE(server_->Start()) << server_->log();
    const std::string items = R"([
      {"id":"sony1","title":"Наушники Sony WH-1000XM4","category":["Электроника","Наушники"],"brand":"Sony","price":300,"stock":2},
      {"id":"sony2","title":"Наушники Sony WF-C500","category":["Электроника","Наушники"],"brand":"Sony","price":80,"stock":0},
      {"id":"jbl1","title":"Наушники JBL Tune 510BT","category":["Электроника","Наушники"],"brand":"JBL","price":50},
      {"id":"jbl2","title":"Наушники JBL Live 660NC","category":["Электроника","Наушники"],"brand":"JBL","price":150},
      {"id":"mug","title":"Red ceramic mug","category":["Home","Mugs"],"brand":"Acme","price":12,
       "attributes":{"color":"red","margin_secret":"m5"}},
      {"id":"mug2","title":"Blue enamel mug","category":["Home","Mugs"],"brand":"Acme","price":9,
       "attributes":{"color":"blue","margin_secret":"m3"}}])";
    HttpResult posted = server_->Request("POST", "/v1/items", items);
    ASSERT_EQ(posted.status, 200) << posted.body;
  }

  simdjson::dom::element Json(const HttpResult& result) { return json_.Parse(result); }
  // The ids a public search returns.
  std::vector<std::string> Ids(const std::string& query) {
    HttpResult result = server_->Request("GET", "/v1/search?" + query, "", kPublicKey);
    EXPECT_EQ(result.status, 200) << result.body;
    std::vector<std::string> ids;
    if (result.status != 200) return ids;
    for (auto item : Json(result)["items"].get_array()) ids.emplace_back(std::string_view(item["item_id"]));
    return ids;
  }
  void ExpectError(const std::string& method, const std::string& target, const std::string& body, int status,
                   std::string_view field) {
    HttpResult result = server_->Request(method, target, body);
    EXPECT_EQ(result.status, status) << target << ": " << result.body;
    if (result.status != status) return;
    simdjson::dom::element named = Json(result)["error"]["field"];
    if (field.empty()) {
      EXPECT_TRUE(named.is_null()) << target << ": " << result.body;
    } else {
      EXPECT_EQ(std::string_view(named), field) << target << ": " << result.body;
    }
  }

  TempDir dir_{"search"};
  std::unique_ptr<Server> server_;
  JsonBodies json_;
};

TEST_F(SearchTest, SearchesWithFacetsFiltersAndCorrections) {
  HttpResult result = server_->Request("GET", "/v1/search?q=%D0%BD%D0%B0%D1%83%D1%88%D0%BD%D0%B8%D0%BA%D0%B8&n=2",
                                       "", kPublicKey);  // наушники
  ASSERT_EQ(result.status, 200) << result.body;
  simdjson::dom::element body = Json(result);
  EXPECT_EQ(uint64_t(body["total"]), 4u);
  EXPECT_EQ(body["items"].get_array().size(), 2u);
  bool brand_facet = false;
  for (auto facet : body["facets"].get_array()) {
    if (std::string_view(facet["name"]) != "brand") continue;
    brand_facet = true;
    for (auto value : facet["values"].get_array()) EXPECT_EQ(uint64_t(value["count"]), 2u);
  }
  EXPECT_TRUE(brand_facet) << result.body;
  EXPECT_EQ(uint64_t(body["in_stock"]), 3u);
  // Filters, sorting and paging.
  EXPECT_EQ(Ids("q=yfeiybrb&brand=jbl&sort=price_asc"), (std::vector<std::string>{"jbl1", "jbl2"}));
  EXPECT_EQ(Ids("q=yfeiybrb&in_stock=true&sort=price_desc&n=1&offset=1"), std::vector<std::string>{"jbl2"});
  EXPECT_EQ(Ids("q=mug&attributes.color=Blue"), std::vector<std::string>{"mug2"});
  EXPECT_EQ(Ids("category=mugs&sort=price_asc"), (std::vector<std::string>{"mug2", "mug"}));
  // A typo is corrected and said so.
  HttpResult typo = server_->Request("GET", "/v1/search?q=ceramik", "", kPublicKey);
  simdjson::dom::element corrected = Json(typo);
  EXPECT_EQ(std::string_view(corrected["corrections"].at(0)["corrected"]), "ceramic");
  EXPECT_EQ(std::string_view(corrected["items"].at(0)["item_id"]), "mug");
  // Nothing in common: the nearest titles, said so.
  HttpResult nearest = server_->Request("GET", "/v1/search?q=ceramicmugs", "", kPublicKey);
  EXPECT_EQ(std::string_view(Json(nearest)["fallback"]), "nearest") << nearest.body;
}

// Item attributes reach a shop page (the public key) only when the shop
// made them public (search.public_attributes): no facet of them, no filter
// on them, not even counts. The admin key sees them all.
TEST_F(SearchTest, ThePublicKeySeesOnlyPublicAttributes) {
  HttpResult secret = server_->Request("GET", "/v1/search?q=&category=Home&attributes.margin_secret=m5", "", kPublicKey);
  EXPECT_EQ(secret.status, 400) << secret.body;
  EXPECT_EQ(std::string_view(Json(secret)["error"]["field"]), "attributes.margin_secret");
  HttpResult browse = server_->Request("GET", "/v1/search?q=&category=Home", "", kPublicKey);
  ASSERT_EQ(browse.status, 200) << browse.body;
  EXPECT_EQ(browse.body.find("margin_secret"), std::string::npos) << browse.body;
  EXPECT_EQ(browse.body.find("m5"), std::string::npos) << browse.body;
  EXPECT_NE(browse.body.find("attributes.color"), std::string::npos) << browse.body;
  HttpResult admin = server_->Request("GET", "/v1/search?q=&category=Home&attributes.margin_secret=m5");
  ASSERT_EQ(admin.status, 200) << admin.body;
  EXPECT_NE(admin.body.find("attributes.margin_secret"), std::string::npos) << admin.body;
  EXPECT_EQ(Json(admin)["items"].get_array().size(), 1u);
  // /health without a key says only that the server is up.
  HttpResult health = server_->Request("GET", "/health", "", "");
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_NE(server_->Request("GET", "/health").body.find("uptime_seconds"), std::string::npos);
}

TEST_F(SearchTest, TheIndexFollowsChangesAtOnce) {
  EXPECT_EQ(Ids("q=lamp&fallback=false"), std::vector<std::string>{});
  ASSERT_EQ(server_->Request("POST", "/v1/items", R"({"id":"lamp","title":"Desk lamp","price":20})").status, 200);
  EXPECT_EQ(Ids("q=lamp"), std::vector<std::string>{"lamp"});
  ASSERT_EQ(server_->Request("POST", "/v1/items", R"({"id":"lamp","title":"Floor light","price":20})").status, 200);
  EXPECT_EQ(Ids("q=lamp&fallback=false"), std::vector<std::string>{});
  EXPECT_EQ(Ids("q=light"), std::vector<std::string>{"lamp"});
  ASSERT_EQ(server_->Request("DELETE", "/v1/items/lamp").status, 200);
  EXPECT_EQ(Ids("q=light&fallback=false"), std::vector<std::string>{});
  simdjson::dom::element stats = Json(server_->Request("GET", "/v1/stats"));
  EXPECT_EQ(uint64_t(stats["search"]["items"]), 6u);
  EXPECT_GT(double(stats["search"]["index_mb"]), 0.0);
  // A restart builds the index from the store.
  ASSERT_EQ(server_->Request("POST", "/v1/items", R"({"id":"lamp2","title":"Desk lamp","price":20})").status, 200);
  ASSERT_EQ(server_->Stop(), 0);
  ASSERT_TRUE(server_->Start()) << server_->log();
  EXPECT_EQ(Ids("q=lamp"), std::vector<std::string>{"lamp2"});
}

TEST_F(SearchTest, SynonymsAreEditedThroughTheApiAndKept) {
  EXPECT_EQ(Ids("q=cup&fallback=false"), std::vector<std::string>{});
  HttpResult created = server_->Request("POST", "/v1/search/synonyms", R"({"terms":["mug","cup","кружка"]})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id(std::string_view(Json(created)["synonym"]["id"]));
  EXPECT_EQ(Ids("q=cups&sort=price_asc"), (std::vector<std::string>{"mug2", "mug"}));
  ASSERT_EQ(server_->Request("PUT", "/v1/search/synonyms/" + id, R"({"terms":["mug","beaker"]})").status, 200);
  EXPECT_EQ(Ids("q=cup&fallback=false"), std::vector<std::string>{});
  EXPECT_EQ(Ids("q=beaker&sort=price_asc").size(), 2u);
  ASSERT_EQ(server_->Stop(), 0);
  ASSERT_TRUE(server_->Start()) << server_->log();
  EXPECT_EQ(Ids("q=beaker&sort=price_asc").size(), 2u);
  HttpResult listed = server_->Request("GET", "/v1/search/synonyms");
  EXPECT_EQ(Json(listed)["synonyms"].get_array().size(), 1u);
  ASSERT_EQ(server_->Request("DELETE", "/v1/search/synonyms/" + id).status, 200);
  EXPECT_EQ(Ids("q=beaker&fallback=false"), std::vector<std::string>{});
  // Synonyms are the admin's: the public key may not change them.
  EXPECT_EQ(server_->Request("POST", "/v1/search/synonyms", R"({"terms":["a1","b1"]})", kPublicKey).status, 403);
}

TEST_F(SearchTest, BadRequestsNameTheirField) {
  ExpectError("GET", "/v1/search", "", 400, "q");
  ExpectError("GET", "/v1/search?q=mug&n=0", "", 400, "n");
  ExpectError("GET", "/v1/search?q=mug&n=101", "", 400, "n");
  ExpectError("GET", "/v1/search?q=mug&sort=cheapest", "", 400, "sort");
  ExpectError("GET", "/v1/search?q=mug&min_price=20&max_price=10", "", 400, "min_price");
  ExpectError("GET", "/v1/search?q=mug&in_stock=maybe", "", 400, "in_stock");
  ExpectError("GET", "/v1/search?q=mug&offset=-1", "", 400, "offset");
  ExpectError("GET", "/v1/search?q=%FF%FE", "", 400, "q");  // not UTF-8: it would be echoed
  ExpectError("GET", "/v1/search/suggest", "", 400, "q");
  ExpectError("GET", "/v1/search/suggest?q=%C3", "", 400, "q");
  ExpectError("POST", "/v1/search/synonyms", R"({"terms":["t shirt","tee"]})", 400, "terms[0]");
  ExpectError("POST", "/v1/search/synonyms", R"({"terms":["tee"]})", 400, "terms");
  ExpectError("POST", "/v1/search/synonyms", R"({"term":["tee","shirt"]})", 400, "term");
  ExpectError("POST", "/v1/search/synonyms", "not json", 400, "");
  ExpectError("PUT", "/v1/search/synonyms/s404", R"({"terms":["tee","shirt"]})", 404, "id");
  ExpectError("DELETE", "/v1/search/synonyms/s404", "", 404, "id");
  ASSERT_EQ(server_->Request("POST", "/v1/search/synonyms", R"({"id":"tees","terms":["tee","shirt"]})").status, 201);
  ExpectError("POST", "/v1/search/synonyms", R"({"id":"tees","terms":["tee","top"]})", 409, "id");
  // Nothing accepted before was lost.
  EXPECT_EQ(Json(server_->Request("GET", "/v1/search/synonyms"))["synonyms"].get_array().size(), 1u);
  EXPECT_EQ(Ids("q=mug").size(), 2u);
}

TEST_F(SearchTest, ShoppersHistoryAndQueriesShapeTheAnswers) {
  // This session looked at JBL: JBL comes first for it, and the reason says why.
  const std::string events = R"([
    {"type":"view","session_id":"s1","item_id":"jbl1","timestamp":"2026-11-29T10:00:00Z"},
    {"type":"add_to_cart","session_id":"s1","item_id":"jbl2","timestamp":"2026-11-29T10:01:00Z"},
    {"type":"search","session_id":"s2","query":"наушники sony","timestamp":"2026-11-29T10:02:00Z"},
    {"type":"search","session_id":"s3","query":"Наушники Sony","timestamp":"2026-11-29T10:03:00Z"}])";
  HttpResult posted = server_->Request("POST", "/v1/events", events, kPublicKey);
  ASSERT_EQ(posted.status, 200) << posted.body;
  const std::vector<std::string> personal = Ids("q=yfeiybrb&session_id=s1&in_stock=true");
  ASSERT_EQ(personal.size(), 3u);
  EXPECT_EQ(personal[0].substr(0, 3), "jbl");
  EXPECT_EQ(personal[1].substr(0, 3), "jbl");
  HttpResult explained = server_->Request("GET", "/v1/search?q=yfeiybrb&session_id=s1", "", kPublicKey);
  simdjson::dom::element body = Json(explained);
  EXPECT_TRUE(bool(body["personalized"]));
  EXPECT_EQ(std::string_view(body["items"].at(0)["reason"]), "you often choose JBL");
  // Posted search queries become suggestions.
  HttpResult suggest = server_->Request("GET", "/v1/search/suggest?q=%D0%BD%D0%B0%D1%83", "", kPublicKey);  // нау
  ASSERT_EQ(suggest.status, 200) << suggest.body;
  simdjson::dom::element suggestions = Json(suggest);
  EXPECT_EQ(std::string_view(suggestions["suggestions"].at(0)["text"]), "наушники sony");
  EXPECT_EQ(std::string_view(suggestions["suggestions"].at(0)["source"]), "popular");
  EXPECT_GE(suggestions["items"].get_array().size(), 1u);
}

}  // namespace
}  // namespace vitrina::e2e
