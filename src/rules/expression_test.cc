#include "rules/expression.h"

#include <gtest/gtest.h>

namespace vitrina {
namespace {

constexpr int64_t kDay = 86400000;
constexpr int64_t kNow = 1700000000000;

Item Mug() {
  Item item{.id = "sku-1",
            .title = "Red enamel MUG",
            .description = "Holds 350 ml",
            .category = {"Home", "Kitchen", "Mugs"},
            .brand = "Acme",
            .price = 9.5,
            .currency = "EUR",
            .stock = 40,
            .attributes = {{"capacity_ml", 350.0}, {"color", std::string("red")}, {"featured", true},
                           {"tags", std::vector<std::string>{"gift", "Christmas"}}},
            .created_ms = kNow - 10 * kDay};
  return item;
}

bool Matches(std::string_view text, const Item& item = Mug()) {
  auto parsed = Expression::Parse(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
  return parsed.ok() && parsed->Matches(item, kNow);
}

std::string ErrorOf(std::string_view text) {
  auto parsed = Expression::Parse(text);
  EXPECT_FALSE(parsed.ok()) << text;
  return parsed.ok() ? "" : parsed.status().message();
}

TEST(ExpressionTest, ComparesEveryKindOfField) {
  EXPECT_TRUE(Matches("category == \"kitchen\""));  // any level, any case
  EXPECT_TRUE(Matches("\"Mugs\" in category"));
  EXPECT_FALSE(Matches("category == \"Garden\""));
  EXPECT_TRUE(Matches("category != \"Garden\""));
  EXPECT_TRUE(Matches("brand in [\"Globex\", \"ACME\"]"));
  EXPECT_TRUE(Matches("price < 10 and price >= 9.5"));
  EXPECT_FALSE(Matches("price > 9.5"));
  EXPECT_TRUE(Matches("stock > 0"));
  EXPECT_TRUE(Matches("title contains \"enamel mug\""));
  EXPECT_TRUE(Matches("description contains 'ML'"));
  EXPECT_TRUE(Matches("id = \"sku-1\""));
  EXPECT_TRUE(Matches("currency == \"eur\""));
  EXPECT_TRUE(Matches("active"));
  EXPECT_TRUE(Matches("active == true"));
  EXPECT_TRUE(Matches("age_days < 11 and age_days > 9"));
  EXPECT_TRUE(Matches("attributes.color == \"Red\""));
  EXPECT_TRUE(Matches("attributes.capacity_ml >= 300"));
  EXPECT_TRUE(Matches("attributes.featured"));
  EXPECT_TRUE(Matches("attributes.tags contains \"christ\""));
  EXPECT_TRUE(Matches("\"gift\" in attributes.tags"));
  EXPECT_TRUE(Matches("true"));
  EXPECT_FALSE(Matches("false"));
}

TEST(ExpressionTest, CombinesWithPrecedenceAndParentheses) {
  // and binds tighter than or.
  EXPECT_TRUE(Matches("brand == \"Globex\" and price > 100 or stock > 0"));
  EXPECT_FALSE(Matches("brand == \"Globex\" and (price > 100 or stock > 0)"));
  EXPECT_TRUE(Matches("not brand == \"Globex\""));
  EXPECT_TRUE(Matches("!(price > 100) && stock > 0 || false"));
  EXPECT_FALSE(Matches("not not false"));
}

TEST(ExpressionTest, UnknownValuesMatchNothing) {
  Item bare{.id = "x"};
  EXPECT_FALSE(Matches("price < 100", bare));
  EXPECT_FALSE(Matches("price != 5", bare));  // no price: neither equal nor unequal
  EXPECT_FALSE(Matches("stock > 0", bare));   // untracked stock
  EXPECT_FALSE(Matches("attributes.color == \"red\"", bare));
  EXPECT_FALSE(Matches("brand != \"Acme\"", bare));
  EXPECT_TRUE(Matches("not stock > 0", bare));
  EXPECT_FALSE(Matches("attributes.color > 3"));  // text compared as a number
}

TEST(ExpressionTest, ErrorsPointAtTheProblem) {
  EXPECT_EQ(ErrorOf("price <"), "at column 8: expected a number after '<', got the end of the expression");
  EXPECT_EQ(ErrorOf("price < \"cheap\""), "at column 9: expected a number after '<', got the text \"cheap\"");
  EXPECT_EQ(ErrorOf("colour == \"red\"").substr(0, 37), "at column 1: unknown field 'colour' (");
  EXPECT_EQ(ErrorOf("brand == \"Acme"), "at column 10: this text has no closing quote");
  EXPECT_EQ(ErrorOf("brand == 5"), "at column 10: this field holds text, not '5'");
  EXPECT_EQ(ErrorOf("brand > \"A\"").substr(0, 30), "at column 9: expected a number");
  EXPECT_EQ(ErrorOf("(price < 3"), "at column 11: expected ')', got the end of the expression");
  EXPECT_EQ(ErrorOf("price < 3 brand == \"A\""),
            "at column 11: expected 'and', 'or' or the end, got 'brand'");
  EXPECT_EQ(ErrorOf("brand in \"Acme\""), "at column 10: expected a list such as [\"a\", \"b\"] after 'in', got the text \"Acme\"");
  EXPECT_EQ(ErrorOf("brand in [\"a\" \"b\"]"), "at column 15: expected ',' or ']' in the list, got the text \"b\"");
  EXPECT_EQ(ErrorOf("price"), "at column 6: expected a comparison (==, !=, <, <=, >, >=, in, contains) after the field, got the end of the expression");
  EXPECT_EQ(ErrorOf("   "), "at column 1: the expression is empty");
  EXPECT_EQ(ErrorOf("price < 3 $"), "at column 11: unexpected character '$'");
  EXPECT_EQ(ErrorOf("price contains \"x\""), "at column 7: 'contains' needs a text field, and this one holds numbers");
  // Columns count characters, not bytes.
  EXPECT_EQ(ErrorOf("title == \"Кружка\" and price <"), "at column 30: expected a number after '<', got the end of the expression");
}

// 7,447 nested brackets once crashed the server (unbounded recursion): the
// depth is refused with the limit named, and the deepest allowed still works.
TEST(ExpressionTest, NestingIsBounded) {
  auto nested = [](size_t depth, std::string_view open) {
    std::string text;
    for (size_t i = 0; i < depth; ++i) text += open;
    text += "price < 10";
    if (open == "(") text += std::string(depth, ')');
    return text;
  };
  EXPECT_TRUE(Matches(nested(Expression::kMaxNesting, "(")));
  EXPECT_TRUE(Matches(nested(Expression::kMaxNesting / 2, "not not ")));
  EXPECT_EQ(ErrorOf(nested(Expression::kMaxNesting + 1, "(")),
            "at column 33: nested deeper than 32 levels of brackets and 'not'");
  EXPECT_EQ(ErrorOf(nested(7447, "(")), "at column 33: nested deeper than 32 levels of brackets and 'not'");
  EXPECT_EQ(ErrorOf(nested(100000, "not ")), "at column 129: nested deeper than 32 levels of brackets and 'not'");
  EXPECT_EQ(ErrorOf(nested(20, "(not ")).substr(0, 13), "at column 81:");
}

}  // namespace
}  // namespace vitrina
