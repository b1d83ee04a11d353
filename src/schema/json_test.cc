#include "schema/json.h"

#include <gtest/gtest.h>

#include "common/time_util.h"

namespace vitrina {
namespace {

constexpr int64_t kNow = 1700000000000;

class JsonTest : public ::testing::Test {
 protected:
  RecordError EventError(const std::string& json) {
    Event event;
    RecordError error;
    EXPECT_FALSE(parser_.ParseEvent(json, limits_, kNow, &event, &error)) << json;
    return error;
  }
  Event GoodEvent(const std::string& json) {
    Event event;
    RecordError error;
    EXPECT_TRUE(parser_.ParseEvent(json, limits_, kNow, &event, &error)) << json << ": " << error.message;
    return event;
  }

  RecordJsonParser parser_;
  Limits limits_;
};

TEST_F(JsonTest, ParsesAFullEvent) {
  Event event = GoodEvent(R"({"event_id":"e1","type":"purchase","user_id":"u1","session_id":"s1",
    "lines":[{"item_id":"a","quantity":2,"price":3.5},{"item_id":"b"}],
    "timestamp":"2023-11-14T10:00:00Z","context":{"device":"mobile","country":"DE","page":"/checkout","channel":"web"},
    "recommendation_id":"r1","currency":"EUR"})");
  EXPECT_EQ(event.type, EventType::kPurchase);
  ASSERT_EQ(event.lines.size(), 2u);
  EXPECT_EQ(event.lines[0], (EventLine{"a", 2, 3.5}));
  EXPECT_EQ(event.lines[1], (EventLine{"b", 1, std::nullopt}));
  EXPECT_EQ(event.timestamp_ms, *ParseTimestampMillis("2023-11-14T10:00:00Z"));
  EXPECT_EQ(event.received_ms, kNow);
  EXPECT_EQ(event.context.country, "DE");
}

TEST_F(JsonTest, DefaultsAndShorthands) {
  Event view = GoodEvent(R"({"type":"view","user_id":17850,"item_id":"x"})");
  EXPECT_EQ(view.user_id, "17850");  // numeric ids are accepted as text
  EXPECT_EQ(view.timestamp_ms, kNow);
  Event cart = GoodEvent(R"({"type":"add_to_cart","session_id":"s","item_id":"x","quantity":2,"price":1})");
  ASSERT_EQ(cart.lines.size(), 1u);
  EXPECT_EQ(cart.lines[0].quantity, 2);
  Event seconds = GoodEvent(R"({"type":"view","user_id":"u","item_id":"x","timestamp":1699999999.5})");
  EXPECT_EQ(seconds.timestamp_ms, 1699999999500);
  Event nulls = GoodEvent(R"({"type":"view","user_id":"u","item_id":"x","session_id":null,"context":null})");
  EXPECT_TRUE(nulls.session_id.empty());
}

TEST_F(JsonTest, WrongTypesNameTheField) {
  RecordError error = EventError(R"({"type":"view","user_id":"u","item_id":["x"]})");
  EXPECT_EQ(error.code, "wrong_type");
  EXPECT_EQ(error.field, "item_id");
  error = EventError(R"({"type":"purchase","user_id":"u","lines":[{"item_id":"a","quantity":"2"}]})");
  EXPECT_EQ(error.code, "wrong_type");
  EXPECT_EQ(error.field, "lines[0].quantity");
  EXPECT_EQ(error.message, "lines[0].quantity must be a number, got a string");
  error = EventError(R"({"type":"view","user_id":"u","item_id":"x","timestamp":true})");
  EXPECT_EQ(error.field, "timestamp");
  error = EventError(R"(["not","an","object"])");
  EXPECT_EQ(error.code, "wrong_type");
}

TEST_F(JsonTest, UnknownEventTypeListsTheValidOnes) {
  RecordError error = EventError(R"({"type":"wishlist","user_id":"u","item_id":"x"})");
  EXPECT_EQ(error.code, "unknown_event_type");
  EXPECT_EQ(error.field, "type");
  EXPECT_NE(error.message.find("add_to_cart"), std::string::npos);
  EXPECT_EQ(EventError(R"({"user_id":"u","item_id":"x"})").field, "type");
}

TEST_F(JsonTest, UnknownAndDuplicateFields) {
  RecordError error = EventError(R"({"type":"view","usre_id":"u","item_id":"x"})");
  EXPECT_EQ(error.code, "unknown_field");
  EXPECT_EQ(error.field, "usre_id");
  EXPECT_NE(error.message.find("did you mean 'user_id'"), std::string::npos) << error.message;
  error = EventError(R"({"type":"view","user_id":"u","item_id":"x","context":{"devise":"m"}})");
  EXPECT_EQ(error.field, "context.devise");
  error = EventError(R"({"type":"view","user_id":"u","user_id":"v","item_id":"x"})");
  EXPECT_EQ(error.code, "duplicate_field");
}

TEST_F(JsonTest, NegativeQuantityAndFutureTimestamp) {
  RecordError error = EventError(R"({"type":"return","user_id":"u","item_id":"x","quantity":-2})");
  EXPECT_EQ(error.code, "out_of_range");
  EXPECT_EQ(error.field, "lines[0].quantity");
  error = EventError(R"({"type":"view","user_id":"u","item_id":"x","timestamp":"2099-01-01T00:00:00Z"})");
  EXPECT_EQ(error.code, "future_timestamp");
  error = EventError(R"({"type":"view","user_id":"u","item_id":"x","timestamp":1700000000000})");
  EXPECT_NE(error.message.find("milliseconds"), std::string::npos);
  error = EventError(R"({"type":"view","user_id":"u","item_id":"x","timestamp":"yesterday"})");
  EXPECT_EQ(error.code, "invalid_timestamp");
}

TEST_F(JsonTest, MalformedSingleRecord) {
  RecordError error = EventError(R"({"type":"view",})");
  EXPECT_EQ(error.code, "invalid_json");
  EXPECT_NE(error.message.find("column"), std::string::npos) << error.message;
}

TEST_F(JsonTest, BatchSeparatesGoodFromBad) {
  ParsedRecords<Event> parsed;
  JsonSyntaxError syntax;
  std::string body = R"([
    {"type":"view","user_id":"u","item_id":"a"},
    {"type":"view","user_id":"u"},
    {"type":"click","session_id":"s","item_id":"b"},
    42
  ])";
  ASSERT_TRUE(parser_.ParseEvents(body, limits_, kNow, 100, &parsed, &syntax).ok());
  EXPECT_EQ(parsed.total, 4u);
  ASSERT_EQ(parsed.records.size(), 2u);
  EXPECT_EQ(parsed.indices, (std::vector<size_t>{0, 2}));
  ASSERT_EQ(parsed.rejected.size(), 2u);
  EXPECT_EQ(parsed.rejected[0].index, 1u);
  EXPECT_EQ(parsed.rejected[0].error.field, "item_id");
  EXPECT_EQ(parsed.rejected[1].index, 3u);
}

TEST_F(JsonTest, BatchLimitAndMalformedBodies) {
  ParsedRecords<Event> parsed;
  JsonSyntaxError syntax;
  std::string body = "[";
  for (int i = 0; i < 11; ++i) body += std::string(i ? "," : "") + R"({"type":"view","user_id":"u","item_id":"a"})";
  body += "]";
  EXPECT_EQ(parser_.ParseEvents(body, limits_, kNow, 10, &parsed, &syntax).code(), StatusCode::kResourceExhausted);

  Status status = parser_.ParseEvents("[{\"type\":\"view\"},\n {\"type\": view}]", limits_, kNow, 10, &parsed, &syntax);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(syntax.line, 2u);
  EXPECT_EQ(syntax.index, 1);
  EXPECT_NE(status.message().find("line 2"), std::string::npos) << status.message();

  EXPECT_EQ(parser_.ParseEvents("\"just a string\"", limits_, kNow, 10, &parsed, &syntax).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(parser_.ParseEvents("", limits_, kNow, 10, &parsed, &syntax).code(), StatusCode::kInvalidArgument);
}

TEST_F(JsonTest, NumbersOutOfRangeAreLocated) {
  ParsedRecords<Event> parsed;
  JsonSyntaxError syntax;
  Status status = parser_.ParseEvents(
      R"([{"type":"view","user_id":"u","item_id":"a"},{"type":"rating","user_id":"u","item_id":"a","value":1e400}])",
      limits_, kNow, 10, &parsed, &syntax);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(syntax.index, 1);
  EXPECT_NE(status.message().find("out of range"), std::string::npos) << status.message();
  status = parser_.ParseEvents(R"({"type":"view","user_id":123456789012345678901234,"item_id":"a"})", limits_, kNow,
                               10, &parsed, &syntax);
  EXPECT_NE(status.message().find("64-bit range"), std::string::npos) << status.message();
}

TEST_F(JsonTest, TimesOfDayNeedAZone) {
  RecordError error = EventError(R"({"type":"view","user_id":"u","item_id":"a","timestamp":"2023-11-14T10:00:00"})");
  EXPECT_EQ(error.code, "invalid_timestamp");
  EXPECT_NE(error.message.find("no time zone"), std::string::npos) << error.message;
  EXPECT_EQ(GoodEvent(R"({"type":"view","user_id":"u","item_id":"a","timestamp":"2023-11-14"})").timestamp_ms,
            *ParseTimestampMillis("2023-11-14T00:00:00Z"));
}

TEST_F(JsonTest, OutputOnlyFieldsAndWholeNumberIds) {
  Event event = GoodEvent(R"({"type":"view","user_id":17850.0,"item_id":"a","received_at":"2023-01-01T00:00:00Z"})");
  EXPECT_EQ(event.user_id, "17850");
  EXPECT_EQ(event.received_ms, kNow);  // the server's, not the client's
  EXPECT_EQ(EventError(R"({"type":"view","user_id":17850.5,"item_id":"a"})").field, "user_id");
  Item item;
  RecordError error;
  EXPECT_TRUE(parser_.ParseItem(R"({"id":"a","updated_at":"2020-01-01T00:00:00Z"})", limits_, &item, &error))
      << error.message;
  EXPECT_EQ(item.updated_ms, 0);
}

TEST_F(JsonTest, ItemsAndUsers) {
  ParsedRecords<Item> items;
  JsonSyntaxError syntax;
  ASSERT_TRUE(parser_.ParseItems(R"({"id":"sku1","title":"Mug","category":"Home > Kitchen","price":4,
      "currency":"GBP","stock":3,"attributes":{"color":"red","tags":["a","b"],"size":null},"active":true})",
                                 limits_, 10, &items, &syntax).ok());
  ASSERT_EQ(items.records.size(), 1u);
  const Item& item = items.records[0];
  EXPECT_EQ(item.category, (std::vector<std::string>{"Home", "Kitchen"}));
  EXPECT_EQ(item.attributes.size(), 2u);
  EXPECT_EQ(item.attributes[0].first, "color");

  ASSERT_TRUE(parser_.ParseItems(R"([{"id":"a","stock":-1},{"id":"b","price":"cheap"},{"title":"no id"},
      {"id":"c","attributes":{"x":{"nested":1}}}])", limits_, 10, &items, &syntax).ok());
  ASSERT_EQ(items.rejected.size(), 4u);
  EXPECT_EQ(items.rejected[0].error.field, "stock");
  EXPECT_EQ(items.rejected[1].error.field, "price");
  EXPECT_EQ(items.rejected[2].error.field, "id");
  EXPECT_EQ(items.rejected[3].error.field, "attributes.x");

  ParsedRecords<User> users;
  ASSERT_TRUE(parser_.ParseUsers(R"({"id":"u1","consent":{"email":true,"sms":false},"attributes":{"tier":"gold"}})",
                                 limits_, 10, &users, &syntax).ok());
  ASSERT_EQ(users.records.size(), 1u);
  EXPECT_EQ(users.records[0].consent.size(), 2u);
  ASSERT_TRUE(parser_.ParseUsers(R"({"id":"u1","consent":{"email":"yes"}})", limits_, 10, &users, &syntax).ok());
  ASSERT_EQ(users.rejected.size(), 1u);
  EXPECT_EQ(users.rejected[0].error.field, "consent.email");
}

// Pictures, links, old prices, availability and variant groups: what a shop
// widget needs to show an item, checked so nothing unsafe reaches a page.
TEST_F(JsonTest, RichItemsCarryPicturesLinksOldPricesAndGroups) {
  ParsedRecords<Item> items;
  JsonSyntaxError syntax;
  ASSERT_TRUE(parser_.ParseItems(R"({"id":"img-1","title":"x","price":1,"old_price":1.5,"currency":"RUB",
      "image_url":"https://a/b.jpg","images":["/img/2.jpg","http://cdn.example/3.png"],"url":"/p/img-1",
      "group_id":"hoodie","available":false})", limits_, 10, &items, &syntax).ok());
  ASSERT_EQ(items.records.size(), 1u) << items.rejected[0].error.message;
  const Item item = items.records[0];
  EXPECT_EQ(item.image_url, "https://a/b.jpg");
  EXPECT_EQ(item.images.size(), 2u);
  EXPECT_EQ(item.url, "/p/img-1");
  EXPECT_EQ(item.old_price, 1.5);
  EXPECT_EQ(item.group_id, "hoodie");
  EXPECT_FALSE(item.available);
  EXPECT_FALSE(item.InStock());
  // What the API returns can be posted back as it is.
  std::string json;
  JsonWriter writer(&json);
  WriteItemJson(item, &writer);
  Item again;
  RecordError error;
  ASSERT_TRUE(parser_.ParseItem(json, limits_, &again, &error)) << error.message;
  again.created_ms = item.created_ms;
  EXPECT_EQ(again, item);

  ASSERT_TRUE(parser_.ParseItems(R"json([{"id":"a","image_url":"javascript:alert(1)"},{"id":"b","url":"//evil.example/x"},
      {"id":"c","images":["/ok.jpg","data:image/png;base64,AAAA"]},{"id":"d","price":5,"old_price":4},
      {"id":"e","old_price":4},{"id":"f","image_url":"https://"},{"id":"g","url":"/p/a b"},
      {"id":"h","url":"mug.html"}])json", limits_, 10, &items, &syntax).ok());
  ASSERT_EQ(items.rejected.size(), 8u);
  const std::vector<std::string> fields = {"image_url", "url", "images[1]", "old_price", "price", "image_url", "url", "url"};
  for (size_t i = 0; i < fields.size(); ++i) {
    EXPECT_EQ(items.rejected[i].error.field, fields[i]) << i << ": " << items.rejected[i].error.message;
  }
  EXPECT_NE(items.rejected[0].error.message.find("http://"), std::string::npos);
}

TEST_F(JsonTest, WriteThenParseGivesTheSameEvent) {
  Event event = GoodEvent(R"({"event_id":"e1","type":"impression","session_id":"s","item_ids":["a","b"],
      "recommendation_id":"r","timestamp":"2023-11-14T09:00:00.250Z","context":{"page":"/"}})");
  std::string json;
  JsonWriter writer(&json);
  WriteEventJson(event, &writer);
  Event again = GoodEvent(json.substr(0, json.find(",\"received_at\"")) + "}");
  again.received_ms = event.received_ms;
  // received_at is output-only; everything else survives the round trip.
  EXPECT_EQ(again.item_ids, event.item_ids);
  EXPECT_EQ(again.timestamp_ms, event.timestamp_ms);
}

TEST(JsonSyntaxTest, LocatesCommonMistakes) {
  struct Case {
    const char* text;
    size_t line, column;
    const char* message;
  } cases[] = {
      {"{\"a\":1,}", 1, 8, "trailing comma before '}'"},
      {"[1,2,]", 1, 6, "trailing comma before ']'"},
      {"{'a':1}", 1, 2, "expected a quoted member name"},
      {"{\"a\" 1}", 1, 6, "expected ':' after a member name"},
      {"{\"a\":1\n\"b\":2}", 2, 1, "expected ',' or '}' after an object member"},
      {"[\"abc", 1, 6, "unterminated string"},
      {"01", 1, 2, "numbers must not have leading zeros"},
      {"{} {}", 1, 4, "unexpected text after the JSON value"},
  };
  for (const Case& c : cases) {
    auto error = FindJsonSyntaxError(c.text);
    ASSERT_TRUE(error.has_value()) << c.text;
    EXPECT_EQ(error->line, c.line) << c.text;
    EXPECT_EQ(error->column, c.column) << c.text;
    EXPECT_EQ(error->message, c.message) << c.text;
  }
  EXPECT_FALSE(FindJsonSyntaxError(R"({"a":[1,-2.5e3,true,null,"\u00e9\n"]})").has_value());
  EXPECT_TRUE(FindJsonSyntaxError("\"\xFF\"").has_value());
}

}  // namespace
}  // namespace vitrina
