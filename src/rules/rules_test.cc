#include <gtest/gtest.h>

#include "rules/rule_book.h"
#include "rules/rules.h"

namespace vitrina {
namespace {

constexpr int64_t kDay = 86400000;
constexpr int64_t kNow = 1700000000000;
const std::vector<std::string> kScopes = {"for_you", "similar", "cart"};

Rule Parse(std::string_view json) {
  RuleError error;
  std::optional<Rule> rule = ParseRule(json, kScopes, &error);
  EXPECT_TRUE(rule.has_value()) << json << ": " << error.field << ": " << error.message;
  return rule.value_or(Rule{});
}

RuleError ErrorOf(std::string_view json) {
  RuleError error;
  EXPECT_FALSE(ParseRule(json, kScopes, &error).has_value()) << json;
  return error;
}

TEST(RuleParseTest, ReadsEachKind) {
  Rule boost = Parse(R"({"id":"summer","name":"Summer","kind":"boost","expression":"category == \"Garden\"",
                         "weight":1.5,"scenarios":["for_you"],"starts_at":"2026-06-01T00:00:00Z","ends_at":"2026-09-01T00:00:00Z"})");
  EXPECT_EQ(boost.kind, RuleKind::kBoost);
  EXPECT_EQ(boost.weight, 1.5);
  EXPECT_EQ(boost.scenarios, std::vector<std::string>{"for_you"});
  EXPECT_LT(boost.starts_ms, boost.ends_ms);
  Rule pin = Parse(R"({"kind":"pin","items":["a","b"],"position":2})");
  EXPECT_EQ(pin.position, 2);
  EXPECT_EQ(pin.items.size(), 2u);
  EXPECT_EQ(Parse(R"({"kind":"pin","items":["a"]})").position, 1);
  EXPECT_EQ(Parse(R"({"kind":"diversity","attribute":"attributes.color","max_items":2})").max_items, 2);
  EXPECT_EQ(Parse(R"({"kind":"repurchase","window_days":30,"expression":"category == \"Food\""})").window_days, 30);
  EXPECT_FALSE(Parse(R"({"kind":"block","items":["x"],"enabled":false})").enabled);

  // What the server writes back is accepted again (its own fields ignored).
  std::string json;
  JsonWriter w(&json);
  boost.revision = 3;
  WriteRuleJson(boost, &w);
  Rule again = Parse(json);
  EXPECT_EQ(again.expression, boost.expression);
  EXPECT_EQ(again.ends_ms, boost.ends_ms);
  EXPECT_EQ(again.revision, 0);
}

TEST(RuleParseTest, ErrorsNameTheField) {
  auto check = [](std::string_view json, std::string field, std::string message_start) {
    RuleError error = ErrorOf(json);
    EXPECT_EQ(error.field, field) << json;
    EXPECT_EQ(error.message.substr(0, message_start.size()), message_start) << json << " -> " << error.message;
  };
  check(R"({"kind":"boost","expression":"price <","weight":2})", "expression", "at column 8: expected a number");
  check(R"({"kind":"boost","expression":"price < 3"})", "weight", "required by a boost rule");
  check(R"({"kind":"boost","expression":"price < 3","weight":0.5})", "weight", "must be above 1");
  check(R"({"kind":"boost","expression":"price < 3","wieght":2})", "wieght", "unknown field; did you mean 'weight'?");
  check(R"({"kind":"boosts"})", "kind", "unknown kind \"boosts\"");
  check(R"({"expression":"true"})", "kind", "required");
  check(R"({"kind":"filter"})", "expression", "required by a filter rule");
  check(R"({"kind":"pin","position":1})", "items", "required by a pin rule");
  check(R"({"kind":"pin","items":["a"],"position":0})", "position", "a whole number from 1");
  check(R"({"kind":"pin","items":["a",""]})", "items[1]", "must not be empty");
  check(R"({"kind":"pin","items":["a"],"weight":2})", "weight", "not used by a pin rule");
  check(R"({"kind":"block"})", "items", "a block rule needs items, an expression, or both");
  check(R"({"kind":"diversity","attribute":"colour","max_items":1})", "attribute", "one of category, brand");
  check(R"({"kind":"diversity","attribute":"brand"})", "max_items", "required");
  check(R"({"kind":"repurchase"})", "window_days", "required");
  check(R"({"kind":"filter","expression":"true","scenarios":["home"]})", "scenarios[0]", "unknown scenario \"home\"");
  check(R"({"kind":"filter","expression":"true","starts_at":"tomorrow"})", "starts_at", "expected a time");
  check(R"({"kind":"filter","expression":"true","starts_at":"2026-02-01T00:00:00Z","ends_at":"2026-01-01T00:00:00Z"})",
        "ends_at", "must be after starts_at");
  check(R"({"kind":"filter","expression":"true","id":"a b"})", "id", "1-64 letters");
  check(R"({"kind":"filter","expression":5})", "expression", "expected text, got a number");
  check(R"([1])", "", "expected a JSON object");
  check(R"({"kind":)", "", "the body is not valid JSON");
}

Item MakeItem(std::string id, std::string category, std::string brand, double price) {
  return Item{.id = std::move(id), .category = {"Shop", std::move(category)}, .brand = std::move(brand), .price = price};
}

TEST(RuleScopeTest, AppliesEachKindInItsScopeAndWindow) {
  std::vector<Rule> rules = {
      Parse(R"({"id":"cheap","kind":"filter","expression":"price < 50"})"),
      Parse(R"({"id":"no-x","kind":"block","items":["x"],"expression":"brand == \"Shoddy\""})"),
      Parse(R"({"id":"acme","kind":"boost","expression":"brand == \"Acme\"","weight":2})"),
      Parse(R"({"id":"mugs","kind":"bury","expression":"category == \"Mugs\"","weight":4})"),
      Parse(R"({"id":"pins","kind":"pin","items":["p1","p2"],"position":3,"scenarios":["similar"]})"),
      Parse(R"({"id":"two","kind":"diversity","attribute":"category","max_items":2})"),
      Parse(R"({"id":"food","kind":"repurchase","expression":"category == \"Food\"","window_days":30})"),
      Parse(R"({"id":"off","kind":"filter","expression":"false","enabled":false})"),
      Parse(R"({"id":"later","kind":"filter","expression":"false","starts_at":"2030-01-01T00:00:00Z"})"),
  };
  RuleSet set(7, rules);
  EXPECT_EQ(set.version(), 7);
  EXPECT_NE(set.Find("acme"), nullptr);
  EXPECT_EQ(set.InEffect("for_you", kNow).size(), 6u);  // not the pins, the switched-off or the future filter
  EXPECT_EQ(set.InEffect("similar", kNow).size(), 7u);

  RuleScope scope(set.InEffect("for_you", kNow), kNow);
  EXPECT_TRUE(scope.reorders());
  EXPECT_TRUE(scope.Admits(MakeItem("a", "Tools", "Acme", 10)));
  EXPECT_FALSE(scope.Admits(MakeItem("a", "Tools", "Acme", 60)));     // filter
  EXPECT_FALSE(scope.Admits(MakeItem("x", "Tools", "Acme", 10)));     // blocked id
  EXPECT_FALSE(scope.Admits(MakeItem("b", "Tools", "Shoddy", 10)));   // blocked by expression
  std::vector<RuleEffect> effects;
  EXPECT_DOUBLE_EQ(scope.Boost(MakeItem("a", "Mugs", "Acme", 10), &effects), 0.5);  // x2, then /4
  ASSERT_EQ(effects.size(), 2u);
  EXPECT_EQ(effects[0].rule->id, "acme");
  EXPECT_EQ(effects[0].effect, "boost x2");
  EXPECT_EQ(effects[1].effect, "bury /4");
  EXPECT_DOUBLE_EQ(scope.Boost(MakeItem("a", "Tools", "Other", 10), nullptr), 1.0);
  ASSERT_EQ(scope.caps().size(), 1u);
  EXPECT_EQ(RuleScope::CapValues(scope.caps()[0], MakeItem("a", "Mugs", "Acme", 1)), std::vector<std::string>{"mugs"});
  EXPECT_TRUE(scope.pins().empty());
  // Food bought 10 days ago stays out; 40 days ago it may come back; other things are not covered.
  EXPECT_EQ(scope.RepurchaseExcludes(MakeItem("f", "Food", "", 1), kNow - 10 * kDay), std::optional<bool>(true));
  EXPECT_EQ(scope.RepurchaseExcludes(MakeItem("f", "Food", "", 1), kNow - 40 * kDay), std::optional<bool>(false));
  EXPECT_EQ(scope.RepurchaseExcludes(MakeItem("t", "Tools", "", 1), kNow - 40 * kDay), std::nullopt);

  RuleScope similar(set.InEffect("similar", kNow), kNow);
  ASSERT_EQ(similar.pins().size(), 2u);
  EXPECT_EQ(similar.pins()[0].item_id, "p1");
  EXPECT_EQ(similar.pins()[0].position, 2u);  // 0-based
  EXPECT_EQ(similar.pins()[1].position, 3u);
  EXPECT_FALSE(RuleScope(set.InEffect("cart", kNow - 0), kNow).empty());
  EXPECT_TRUE(RuleScope({}, kNow).empty());
}

TEST(RuleBookTest, ChangesAreVersionedAuditedAndSurviveAReload) {
  ManualClock clock(kNow);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  RuleBook book(store.get(), &clock, kScopes);
  ASSERT_TRUE(book.Load().ok());
  EXPECT_EQ(book.current()->version(), 0);

  auto created = book.Create(Parse(R"({"kind":"boost","expression":"brand == \"Acme\"","weight":2})"), "alice");
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->id, "r1");
  EXPECT_EQ(created->revision, 1);
  EXPECT_EQ(book.current()->version(), 1);
  auto named = book.Create(Parse(R"({"id":"pins","kind":"pin","items":["a"]})"), "alice");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(book.Create(Parse(R"({"id":"pins","kind":"pin","items":["b"]})"), "bob").status().code(),
            StatusCode::kAlreadyExists);

  clock.Advance(60000);
  auto replaced = book.Replace("r1", Parse(R"({"kind":"boost","expression":"brand == \"Acme\"","weight":3})"), "bob");
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->revision, 2);
  EXPECT_EQ(replaced->created_ms, kNow);
  EXPECT_EQ(replaced->updated_ms, kNow + 60000);
  EXPECT_EQ(book.current()->Find("r1")->rule.weight, 3);
  EXPECT_EQ(book.Replace("nope", Parse(R"({"kind":"pin","items":["a"]})"), "bob").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(book.Replace("r1", Parse(R"({"id":"other","kind":"pin","items":["a"]})"), "bob").status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(book.Delete("pins", "carol").ok());
  EXPECT_EQ(book.Delete("pins", "carol").code(), StatusCode::kNotFound);
  EXPECT_EQ(book.current()->version(), 4);

  auto audit = book.Audit("", 10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 4u);
  EXPECT_EQ((*audit)[0].action, "delete");  // newest first
  EXPECT_EQ((*audit)[0].actor, "carol");
  EXPECT_FALSE((*audit)[0].after.has_value());
  EXPECT_EQ((*audit)[1].action, "update");
  EXPECT_EQ((*audit)[1].before->weight, 2);
  EXPECT_EQ((*audit)[1].after->weight, 3);
  EXPECT_EQ((*audit)[1].at_ms, kNow + 60000);
  EXPECT_EQ((*audit)[1].version, 3);
  EXPECT_EQ(book.Audit("r1", 10)->size(), 2u);
  EXPECT_EQ(book.Audit("", 1)->size(), 1u);

  // A new book over the same store sees the same rules, and goes on numbering.
  RuleBook reloaded(store.get(), &clock, kScopes);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.current()->version(), 4);
  ASSERT_EQ(reloaded.current()->rules().size(), 1u);
  const Rule& kept = reloaded.current()->rules()[0].rule;
  EXPECT_EQ(kept.weight, 3);
  EXPECT_EQ(kept.revision, 2);
  EXPECT_EQ(kept.updated_by, "bob");
  EXPECT_EQ(kept.created_ms, kNow);
  auto next = reloaded.Create(Parse(R"({"kind":"filter","expression":"true"})"), "dave");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->id, "r5");
  EXPECT_EQ(reloaded.Audit("", 100)->size(), 5u);
}

// A rule set written by an older version with a byte that is not UTF-8 (an
// unchecked actor name) once kept the server from starting. Now the bytes
// are repaired, the original is kept aside, and the rules serve.
TEST(RuleBookTest, AStoredSetWithBytesOutsideUtf8IsRepairedAndKeptAside) {
  ManualClock clock(kNow);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  {
    RuleBook book(store.get(), &clock, kScopes);
    ASSERT_TRUE(book.Load().ok());
    ASSERT_TRUE(book.Create(Parse(R"({"kind":"boost","expression":"brand == \"Acme\"","weight":2})"), "alice").ok());
  }
  std::string stored = *store->GetDocument("rules/set");
  const size_t alice = stored.find("alice");
  ASSERT_NE(alice, std::string::npos);
  stored.replace(alice, 5, "\xff");
  ASSERT_TRUE(store->PutDocuments({{"rules/set", stored}}).ok());

  RuleBook book(store.get(), &clock, kScopes);
  std::vector<std::string> problems;
  ASSERT_TRUE(book.Load(&problems).ok());
  ASSERT_EQ(book.current()->rules().size(), 1u);
  EXPECT_EQ(book.current()->rules()[0].rule.updated_by, "\xEF\xBF\xBD");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("became U+FFFD"), std::string::npos) << problems[0];
  EXPECT_TRUE(store->GetDocument("unreadable/rules/set@" + std::to_string(kNow)).ok());
  // The repaired set is what is stored now: the next start is clean.
  std::vector<std::string> again;
  ASSERT_TRUE(RuleBook(store.get(), &clock, kScopes).Load(&again).ok());
  EXPECT_TRUE(again.empty());
}

TEST(RuleBookTest, AnUnreadableStoredSetIsKeptAsideAndTheServerStartsWithout) {
  ManualClock clock(kNow);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  ASSERT_TRUE(store->PutDocuments({{"rules/set", "{\"version\":3,\"rules\":[tru"}}).ok());
  RuleBook book(store.get(), &clock, kScopes);
  std::vector<std::string> problems;
  ASSERT_TRUE(book.Load(&problems).ok());
  EXPECT_TRUE(book.current()->rules().empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("not readable"), std::string::npos) << problems[0];
  EXPECT_EQ(*store->GetDocument("unreadable/rules/set@" + std::to_string(kNow)), "{\"version\":3,\"rules\":[tru");
  // New rules can be made again.
  EXPECT_TRUE(book.Create(Parse(R"({"kind":"pin","items":["a"]})"), "bob").ok());
}

// One stored rule that no longer parses (a 7,000-deep expression saved by
// an older version) is left out; the others serve.
TEST(RuleBookTest, AStoredRuleThatNoLongerParsesIsLeftOut) {
  ManualClock clock(kNow);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  std::string deep = std::string(7000, '(') + "price < 3" + std::string(7000, ')');
  std::string set = R"({"version":2,"next_sequence":3,"rules":[{"id":"r1","kind":"filter","expression":")" + deep +
                    R"("},{"id":"r2","kind":"pin","items":["a"]}]})";
  ASSERT_TRUE(store->PutDocuments({{"rules/set", set}}).ok());
  RuleBook book(store.get(), &clock, kScopes);
  std::vector<std::string> problems;
  ASSERT_TRUE(book.Load(&problems).ok());
  ASSERT_EQ(book.current()->rules().size(), 1u);
  EXPECT_EQ(book.current()->rules()[0].rule.id, "r2");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("rule 0"), std::string::npos) << problems[0];
}

}  // namespace
}  // namespace vitrina
