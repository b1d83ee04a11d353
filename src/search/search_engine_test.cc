#include "search/search_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <unistd.h>

namespace vitrina {
namespace {

constexpr int64_t kNow = 1'780'000'000'000;

class SearchEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = NewMemoryStore(&clock_);
    WriteBatch batch;
    auto add = [&](Item item) { batch.UpsertItem(std::move(item)); };
    add({.id = "sony1", .title = "Наушники Sony WH-1000XM4", .category = {"Электроника", "Наушники"}, .brand = "Sony",
         .price = 300, .stock = 3, .attributes = {{"color", std::string("черный")}}});
    add({.id = "sony2", .title = "Наушники Sony WF-C500", .category = {"Электроника", "Наушники"}, .brand = "Sony",
         .price = 80, .stock = 0, .attributes = {{"color", std::string("белый")}}});
    add({.id = "jbl1", .title = "Наушники JBL Tune 510BT", .category = {"Электроника", "Наушники"}, .brand = "JBL",
         .price = 50, .attributes = {{"color", std::string("черный")}}});
    add({.id = "jbl2", .title = "Наушники JBL Live 660NC", .category = {"Электроника", "Наушники"}, .brand = "JBL",
         .price = 150, .stock = 7, .attributes = {{"color", std::string("синий")}}});
    add({.id = "case", .title = "Чехол для наушников", .category = {"Электроника", "Аксессуары"}, .brand = "Generic",
         .price = 10});
    add({.id = "mug", .title = "Red ceramic mug", .category = {"Home", "Mugs"}, .brand = "Acme", .price = 12});
    add({.id = "mug2", .title = "Blue enamel mug", .category = {"Home", "Mugs"}, .brand = "Acme", .price = 9});
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(store_->Write(&batch, &outcomes).ok());
    rules_ = std::make_unique<RuleBook>(store_.get(), &clock_, std::vector<std::string>{"search", "for_you"});
    synonyms_ = std::make_unique<SynonymBook>(store_.get(), &clock_);
    engine_ = std::make_unique<SearchEngine>(store_.get(), nullptr, rules_.get(), synonyms_.get(), &clock_);
    ASSERT_TRUE(engine_->Build().ok());
  }

  SearchResponse Search(SearchRequest request) {
    auto response = engine_->Search(request);
    EXPECT_TRUE(response.ok()) << response.status().message();
    return response.ok() ? *response : SearchResponse{};
  }
  static std::vector<std::string> Ids(const SearchResponse& response) {
    std::vector<std::string> ids;
    for (const SearchHit& hit : response.hits) ids.push_back(hit.item.id);
    return ids;
  }
  static std::vector<std::string> Sorted(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  static const Facet* FacetOf(const SearchResponse& response, std::string_view name) {
    for (const Facet& facet : response.facets) {
      if (facet.name == name) return &facet;
    }
    return nullptr;
  }
  static uint32_t CountOf(const Facet* facet, std::string_view value) {
    if (facet == nullptr) return 0;
    for (const FacetValue& v : facet->values) {
      if (v.value == value) return v.count;
    }
    return 0;
  }
  // Stores the writes and hands them to the engine, as the ingestor does.
  void Write(WriteBatch batch) {
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(store_->Write(&batch, &outcomes).ok());
    engine_->Apply(batch, outcomes);
  }
  void AddRule(std::string_view json) {
    RuleError error;
    std::optional<Rule> rule = rules_->Parse(json, &error);
    ASSERT_TRUE(rule) << error.field << ": " << error.message;
    ASSERT_TRUE(rules_->Create(*rule, "test").ok());
  }

  ManualClock clock_{kNow};
  std::unique_ptr<Store> store_;
  std::unique_ptr<RuleBook> rules_;
  std::unique_ptr<SynonymBook> synonyms_;
  std::unique_ptr<SearchEngine> engine_;
};

TEST_F(SearchEngineTest, FacetsCountEachValueAsIfItsOwnFilterWereOff) {
  SearchResponse all = Search({.query = "наушники"});
  EXPECT_EQ(all.total, 5u);  // four headphones and the case ("наушников")
  const Facet* brand = FacetOf(all, "brand");
  EXPECT_EQ(CountOf(brand, "Sony"), 2u);
  EXPECT_EQ(CountOf(brand, "JBL"), 2u);
  EXPECT_EQ(CountOf(brand, "Generic"), 1u);
  EXPECT_EQ(CountOf(FacetOf(all, "category"), "Наушники"), 4u);
  EXPECT_EQ(CountOf(FacetOf(all, "attributes.color"), "черный"), 2u);
  EXPECT_EQ(all.in_stock_count, 4u);  // sony2 has none; untracked stock counts as in stock
  ASSERT_TRUE(all.price_min && all.price_max);
  EXPECT_EQ(*all.price_min, 10);
  EXPECT_EQ(*all.price_max, 300);
  uint32_t in_ranges = 0;
  for (const PriceRange& range : all.price_ranges) in_ranges += range.count;
  EXPECT_EQ(in_ranges, 5u);

  // Filtering by brand keeps the other brands' counts (to switch to them)
  // and narrows every other facet.
  SearchResponse sony = Search({.query = "наушники", .brands = {"sony"}});
  EXPECT_EQ(Sorted(Ids(sony)), (std::vector<std::string>{"sony1", "sony2"}));
  brand = FacetOf(sony, "brand");
  EXPECT_EQ(CountOf(brand, "JBL"), 2u);
  ASSERT_FALSE(brand->values.empty());
  EXPECT_TRUE(std::any_of(brand->values.begin(), brand->values.end(),
                          [](const FacetValue& v) { return v.value == "Sony" && v.selected; }));
  EXPECT_EQ(CountOf(FacetOf(sony, "attributes.color"), "белый"), 1u);
  EXPECT_EQ(CountOf(FacetOf(sony, "attributes.color"), "синий"), 0u);
  EXPECT_EQ(sony.in_stock_count, 1u);
}

TEST_F(SearchEngineTest, FiltersSortingAndPages) {
  EXPECT_EQ(Ids(Search({.query = "наушники", .in_stock = true, .sort = SearchSort::kPriceAsc})),
            (std::vector<std::string>{"case", "jbl1", "jbl2", "sony1"}));
  EXPECT_EQ(Ids(Search({.query = "наушники", .min_price = 60, .max_price = 200, .sort = SearchSort::kPriceDesc})),
            (std::vector<std::string>{"jbl2", "sony2"}));
  EXPECT_EQ(Sorted(Ids(Search({.query = "наушники", .attributes = {{"color", {"Черный", "синий"}}}}))),
            (std::vector<std::string>{"jbl1", "jbl2", "sony1"}));
  EXPECT_EQ(Ids(Search({.query = "наушники", .category = "аксессуары"})), std::vector<std::string>{"case"});
  // An item with more attribute values than its packed facts hold.
  WriteBatch shoes;
  shoes.UpsertItem({.id = "shoes", .title = "Кроссовки Nike", .brand = "Nike",
                    .attributes = {{"size", std::vector<std::string>{"40", "41", "42", "43", "44", "45"}},
                                   {"color", std::string("белый")}}});
  Write(std::move(shoes));
  SearchResponse sized = Search({.query = "кроссовки", .attributes = {{"size", {"45"}}, {"color", {"БЕЛЫЙ"}}}});
  EXPECT_EQ(Ids(sized), std::vector<std::string>{"shoes"});
  const Facet* sizes = FacetOf(sized, "attributes.size");
  ASSERT_NE(sizes, nullptr);
  EXPECT_EQ(sizes->values.size(), 6u);
  EXPECT_TRUE(Search({.query = "кроссовки", .attributes = {{"size", {"39"}}}}).hits.empty());
  // Pages of two, in price order.
  SearchRequest page{.query = "наушники", .sort = SearchSort::kPriceAsc, .n = 2, .offset = 2};
  SearchResponse second = Search(page);
  EXPECT_EQ(Ids(second), (std::vector<std::string>{"sony2", "jbl2"}));
  EXPECT_EQ(second.total, 5u);
  page.offset = 4;
  EXPECT_EQ(Ids(Search(page)), std::vector<std::string>{"sony1"});
  // No query: browsing a category, with its facets.
  SearchResponse browse = Search({.category = "Mugs", .sort = SearchSort::kPriceAsc});
  EXPECT_EQ(Ids(browse), (std::vector<std::string>{"mug2", "mug"}));
  EXPECT_EQ(browse.hits[0].match, "browse");
  // Bad requests name their field.
  EXPECT_EQ(engine_->Search({}).status().message().substr(0, 2), "q:");
  EXPECT_EQ(engine_->Search({.query = "mug", .n = 0}).status().message().substr(0, 2), "n:");
  EXPECT_EQ(engine_->Search({.query = "mug", .offset = 20000}).status().message().substr(0, 7), "offset:");
}

TEST_F(SearchEngineTest, NothingMatchingFallsBackAndSaysSo) {
  // Two words, no item has both: the items with one, relaxed.
  SearchResponse relaxed = Search({.query = "ceramic enamel"});
  EXPECT_EQ(relaxed.fallback, "relaxed");
  EXPECT_EQ(Sorted(Ids(relaxed)), (std::vector<std::string>{"mug", "mug2"}));
  EXPECT_NE(relaxed.message.find("1 of 2"), std::string::npos);
  // No word in common, even with typos: the nearest titles by embedding.
  SearchResponse nearest = Search({.query = "ceramicmugs"});
  EXPECT_EQ(nearest.fallback, "nearest");
  ASSERT_FALSE(nearest.hits.empty());
  EXPECT_EQ(nearest.hits[0].item.id, "mug");
  EXPECT_EQ(nearest.hits[0].match, "nearest");
  // Without the fallbacks there is nothing.
  EXPECT_TRUE(Search({.query = "ceramicmugs", .fallback = false}).hits.empty());
  EXPECT_TRUE(Search({.query = "ceramic enamel", .fallback = false}).hits.empty());
  // Typos and the keyboard layout are corrected, and said.
  SearchResponse typo = Search({.query = "наушнеки jbl"});
  EXPECT_EQ(Sorted(Ids(typo)), (std::vector<std::string>{"jbl1", "jbl2"}));
  ASSERT_EQ(typo.corrections.size(), 1u);
  EXPECT_EQ(typo.corrections[0].corrected, "наушники");
  EXPECT_TRUE(Search({.query = "наушнеки jbl", .typos = false, .fallback = false}).hits.empty());
  EXPECT_EQ(Search({.query = "наушнеки jbl", .typos = false}).fallback, "relaxed");
  SearchResponse layout = Search({.query = "yfeiybrb jbl"});
  EXPECT_EQ(layout.layout_corrected, "наушники jbl");
  EXPECT_EQ(Sorted(Ids(layout)), (std::vector<std::string>{"jbl1", "jbl2"}));
}

TEST_F(SearchEngineTest, APreferredBrandMovesUp) {
  SearchResponse anonymous = Search({.query = "наушники", .in_stock = true});
  ASSERT_EQ(anonymous.hits.size(), 4u);
  auto rank_of = [](const SearchResponse& r, const std::string& id) {
    const auto ids = Ids(r);
    return std::find(ids.begin(), ids.end(), id) - ids.begin();
  };
  // The shopper has looked at Sony and JBL headphones, mostly JBL, in this session.
  WriteBatch history;
  history.AppendEvent({.type = EventType::kView, .user_id = "u1", .session_id = "s1", .item_id = "jbl1",
                       .timestamp_ms = kNow - 2000});
  history.AppendEvent({.type = EventType::kAddToCart, .user_id = "u1", .session_id = "s1",
                       .lines = {{.item_id = "jbl2", .quantity = 1}}, .timestamp_ms = kNow - 1000});
  Write(std::move(history));
  SearchResponse personal = Search({.query = "наушники", .user_id = "u1", .session_id = "s1", .in_stock = true});
  EXPECT_TRUE(personal.personalized);
  EXPECT_LT(rank_of(personal, "jbl2"), rank_of(personal, "sony1"));
  EXPECT_LT(rank_of(personal, "jbl1"), rank_of(personal, "case"));
  EXPECT_EQ(personal.hits[0].reason, "you often choose JBL");
  EXPECT_GT(personal.hits[0].personal, 1.0);
  // The same shopper, personalization off: the anonymous order.
  EXPECT_EQ(Ids(Search({.query = "наушники", .user_id = "u1", .session_id = "s1", .in_stock = true,
                        .personalize = false})),
            Ids(anonymous));
}

TEST_F(SearchEngineTest, BusinessRulesApplyToSearch) {
  AddRule(R"({"kind": "block", "items": ["jbl1"], "scenarios": ["search"]})");
  AddRule(R"({"kind": "boost", "expression": "brand == 'Generic'", "weight": 50, "scenarios": ["search"]})");
  AddRule(R"({"kind": "pin", "items": ["sony2", "mug"], "position": 1, "scenarios": ["search"]})");
  AddRule(R"({"kind": "block", "items": ["sony1"], "scenarios": ["for_you"]})");
  SearchResponse response = Search({.query = "наушники"});
  const std::vector<std::string> ids = Ids(response);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "jbl1"), 0);   // blocked, and not in the facets
  EXPECT_EQ(CountOf(FacetOf(response, "brand"), "JBL"), 1u);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[0], "sony2");  // pinned; the pinned mug does not match, so it is not shown
  EXPECT_EQ(ids[1], "case");   // boosted
  EXPECT_EQ(response.hits[0].rules.size(), 1u);
  EXPECT_EQ(response.hits[0].rules[0].effect, "pinned at 1");
  EXPECT_EQ(response.rules_version, 4);
}

TEST_F(SearchEngineTest, TheIndexFollowsItemChangesDeletesAndSynonyms) {
  WriteBatch changes;
  changes.UpsertItem({.id = "mug2", .title = "Blue enamel bowl", .category = {"Home", "Bowls"}, .brand = "Acme"});
  changes.UpsertItem({.id = "lamp", .title = "Desk lamp Ikea", .category = {"Home", "Lamps"}, .brand = "Ikea"});
  changes.DeleteItem("mug");
  changes.UpsertItem({.id = "jbl1", .title = "Наушники JBL Tune 510BT", .active = false});
  Write(std::move(changes));
  EXPECT_TRUE(Search({.query = "mug", .fallback = false}).hits.empty());
  EXPECT_EQ(Ids(Search({.query = "bowl"})), std::vector<std::string>{"mug2"});
  EXPECT_EQ(Ids(Search({.query = "lampp"})), std::vector<std::string>{"lamp"});  // new words are in the typo index
  EXPECT_EQ(Ids(Search({.query = "jbl"})), std::vector<std::string>{"jbl2"});
  EXPECT_EQ(engine_->stats().items, 6u);
  // A synonym added through the book is used by the next search.
  EXPECT_TRUE(Search({.query = "светильник", .fallback = false}).hits.empty());
  SynonymError error;
  auto group = ParseSynonymGroup(R"({"terms": ["светильник", "lamp", "лампа"]})", &error);
  ASSERT_TRUE(group) << error.message;
  ASSERT_TRUE(synonyms_->Create(*group).ok());
  EXPECT_EQ(Ids(Search({.query = "светильники"})), std::vector<std::string>{"lamp"});  // any form of it
  // A one-way synonym expands only its input.
  ASSERT_TRUE(synonyms_->Create(*ParseSynonymGroup(R"({"input": "миска", "terms": ["bowl"]})", &error)).ok());
  EXPECT_EQ(Ids(Search({.query = "миска"})), std::vector<std::string>{"mug2"});
  // The synonyms survive a restart.
  SynonymBook reloaded(store_.get(), &clock_);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.current()->groups().size(), 2u);
  EXPECT_EQ(reloaded.current()->groups()[0].id, "s1");
}

TEST_F(SearchEngineTest, SynonymGroupsAreChecked) {
  SynonymError error;
  EXPECT_FALSE(ParseSynonymGroup(R"({"terms": ["t shirt", "tee"]})", &error));
  EXPECT_EQ(error.field, "terms[0]");
  EXPECT_FALSE(ParseSynonymGroup(R"({"terms": ["tee"]})", &error));
  EXPECT_EQ(error.field, "terms");
  EXPECT_FALSE(ParseSynonymGroup(R"({"terms": ["tee", 5]})", &error));
  EXPECT_EQ(error.field, "terms[1]");
  EXPECT_FALSE(ParseSynonymGroup(R"({"terms": ["tee", "shirt"], "inputs": "x"})", &error));
  EXPECT_EQ(error.field, "inputs");
  EXPECT_FALSE(ParseSynonymGroup("[1]", &error));
  EXPECT_FALSE(synonyms_->Replace("s9", *ParseSynonymGroup(R"({"terms": ["a1", "b1"]})", &error)).ok());
  EXPECT_TRUE(synonyms_->Delete("s9").IsNotFound());
}

TEST_F(SearchEngineTest, SuggestionsCompleteWordsAndPopularQueries) {
  WriteBatch searches;
  for (int i = 0; i < 3; ++i) {
    searches.AppendEvent({.type = EventType::kSearch, .session_id = "s" + std::to_string(i),
                          .timestamp_ms = kNow - 100 + i, .query = "Наушники Sony"});
  }
  searches.AppendEvent({.type = EventType::kSearch, .session_id = "s9", .timestamp_ms = kNow, .query = "наушники jbl"});
  Write(std::move(searches));
  auto suggest = engine_->Suggest("НАУ", "", "", 5);
  ASSERT_TRUE(suggest.ok());
  ASSERT_GE(suggest->queries.size(), 3u);
  EXPECT_EQ(suggest->queries[0], (std::pair<std::string, std::string>{"наушники sony", "popular"}));
  EXPECT_EQ(suggest->queries[1], (std::pair<std::string, std::string>{"наушники jbl", "popular"}));
  EXPECT_EQ(suggest->queries[2], (std::pair<std::string, std::string>{"наушники", "catalog"}));
  ASSERT_FALSE(suggest->items.empty());
  ASSERT_FALSE(suggest->categories.empty());
  EXPECT_EQ(suggest->categories[0].first, "Наушники");
  // Completion keeps the words already typed.
  auto second = engine_->Suggest("red cer", "", "", 5);
  ASSERT_TRUE(second.ok());
  ASSERT_FALSE(second->queries.empty());
  EXPECT_EQ(second->queries[0].first, "red ceramic");
  EXPECT_EQ(second->items[0].item.id, "mug");
}

// With a trained snapshot: popularity among equal matches, related items
// when few match, and the shopper's taste from the collaborative model.
TEST(SearchEngineModelsTest, SnapshotSignalsShapeTheList) {
  ManualClock clock(kNow);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  WriteBatch batch;
  // Lamps l0..l5 (l4 the most viewed) and shades s0..s5 viewed with lamps.
  for (int i = 0; i < 6; ++i) {
    batch.UpsertItem({.id = "l" + std::to_string(i), .title = "Table lamp " + std::to_string(i), .price = 20.0});
    batch.UpsertItem({.id = "s" + std::to_string(i), .title = "Linen shade " + std::to_string(i), .price = 8.0});
  }
  for (int u = 0; u < 40; ++u) {
    const std::string user = "u" + std::to_string(u);
    const int lamp = u % 2 == 0 ? 4 : u % 6;
    batch.AppendEvent({.type = EventType::kView, .user_id = user, .item_id = "l" + std::to_string(lamp),
                       .timestamp_ms = kNow - 86'400'000 + u * 10});
    batch.AppendEvent({.type = EventType::kView, .user_id = user, .item_id = "s" + std::to_string(lamp),
                       .timestamp_ms = kNow - 86'400'000 + u * 10 + 1});
  }
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE(store->Write(&batch, &outcomes).ok());
  const std::string dir = (std::filesystem::temp_directory_path() / ("vitrina-search-models-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  ModelManagerOptions options;
  options.dir = dir;
  options.train.models = {"trending", "als"};
  options.train.model_options.als.factors = 8;
  ModelManager models(store.get(), &clock, options);
  ASSERT_TRUE(models.Open().ok());
  ASSERT_TRUE(models.TrainNow(nullptr).ok());
  SearchEngine engine(store.get(), &models, nullptr, nullptr, &clock);
  ASSERT_TRUE(engine.Build().ok());
  // All six lamps match "lamp" alike: the most viewed comes first.
  auto lamps = engine.Search({.query = "lamp", .n = 6});
  ASSERT_TRUE(lamps.ok());
  ASSERT_EQ(lamps->hits.size(), 6u);
  EXPECT_EQ(lamps->hits[0].item.id, "l4");
  // One match: the items the collaborative model finds like it follow, said so.
  auto one = engine.Search({.query = "lamp 3"});
  ASSERT_TRUE(one.ok());
  ASSERT_GT(one->hits.size(), 1u);
  EXPECT_EQ(one->hits[0].item.id, "l3");
  EXPECT_EQ(one->hits[1].match, "related");
  EXPECT_EQ(one->hits[1].reason, "often chosen with Table lamp 3");
  EXPECT_FALSE(engine.Search({.query = "lamp 3", .fallback = false})->hits.size() > 1);
  // An item added after the snapshot is found, with no snapshot signals.
  WriteBatch added;
  added.UpsertItem({.id = "l9", .title = "Table lamp 9", .price = 20.0});
  ASSERT_TRUE(store->Write(&added, &outcomes).ok());
  engine.Apply(added, outcomes);
  auto nine = engine.Search({.query = "lamp 9", .fallback = false});
  ASSERT_TRUE(nine.ok());
  ASSERT_EQ(nine->hits.size(), 1u);
  EXPECT_EQ(nine->hits[0].item.id, "l9");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vitrina
