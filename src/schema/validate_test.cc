#include "schema/validate.h"

#include <gtest/gtest.h>

namespace vitrina {
namespace {

constexpr int64_t kNow = 1700000000000;  // 2023-11-14

Event ViewEvent() {
  Event event;
  event.type = EventType::kView;
  event.user_id = "u1";
  event.item_id = "i1";
  event.timestamp_ms = kNow - 1000;
  return event;
}

RecordError Check(const Event& event) {
  RecordError error;
  EXPECT_FALSE(ValidateEvent(event, Limits{}, kNow, &error));
  return error;
}

TEST(ValidateTest, AcceptsAPlainView) {
  RecordError error;
  EXPECT_TRUE(ValidateEvent(ViewEvent(), Limits{}, kNow, &error)) << error.message;
}

TEST(ValidateTest, NeedsAnActor) {
  Event event = ViewEvent();
  event.user_id.clear();
  EXPECT_EQ(Check(event).code, "missing_field");
  event.session_id = "s1";
  RecordError error;
  EXPECT_TRUE(ValidateEvent(event, Limits{}, kNow, &error));
}

TEST(ValidateTest, TimestampsFarInTheFutureOrBefore2000AreRejected) {
  Event event = ViewEvent();
  event.timestamp_ms = kNow + 2 * 86'400'000;
  RecordError error = Check(event);
  EXPECT_EQ(error.code, "future_timestamp");
  EXPECT_EQ(error.field, "timestamp");
  event.timestamp_ms = kNow + 3'600'000;  // an hour of clock skew is fine
  EXPECT_TRUE(ValidateEvent(event, Limits{}, kNow, &error));
  event.timestamp_ms = 0;
  EXPECT_EQ(Check(event).code, "invalid_timestamp");
}

TEST(ValidateTest, QuantitiesMustBePositiveAndFinite) {
  Event event = ViewEvent();
  event.type = EventType::kReturn;
  event.item_id.clear();
  event.lines = {{"i1", 2, 1.5}, {"i2", -2, 1.5}};
  RecordError error = Check(event);
  EXPECT_EQ(error.code, "out_of_range");
  EXPECT_EQ(error.field, "lines[1].quantity");
  EXPECT_NE(error.message.find("positive"), std::string::npos) << error.message;
  event.lines[1].quantity = 0;
  EXPECT_EQ(Check(event).field, "lines[1].quantity");
  event.lines[1].quantity = 1;
  event.lines[1].price = -0.01;
  EXPECT_EQ(Check(event).field, "lines[1].price");
}

TEST(ValidateTest, FieldsMustMatchTheType) {
  Event search = ViewEvent();
  search.type = EventType::kSearch;
  search.item_id.clear();
  EXPECT_EQ(Check(search).field, "query");
  search.query = "  ";
  EXPECT_EQ(Check(search).field, "query");
  search.query = "mug";
  RecordError error;
  EXPECT_TRUE(ValidateEvent(search, Limits{}, kNow, &error));

  Event rating = ViewEvent();
  rating.type = EventType::kRating;
  EXPECT_EQ(Check(rating).field, "value");
  rating.value = 5;
  EXPECT_TRUE(ValidateEvent(rating, Limits{}, kNow, &error));

  Event view = ViewEvent();
  view.value = 5;
  EXPECT_EQ(Check(view).code, "field_not_allowed");

  Event impression = ViewEvent();
  impression.type = EventType::kImpression;
  EXPECT_EQ(Check(impression).field, "item_ids");
  impression.item_ids = {"a", ""};
  EXPECT_EQ(Check(impression).field, "item_ids[1]");
}

TEST(ValidateTest, ShorthandTurnsItemIdIntoALine) {
  Event event = ViewEvent();
  event.type = EventType::kAddToCart;
  RecordError error;
  ASSERT_TRUE(ApplyItemShorthand(&event, 3, 9.99, &error));
  ASSERT_EQ(event.lines.size(), 1u);
  EXPECT_EQ(event.lines[0], (EventLine{"i1", 3, 9.99}));
  EXPECT_TRUE(event.item_id.empty());

  Event view = ViewEvent();
  EXPECT_FALSE(ApplyItemShorthand(&view, 2, std::nullopt, &error));
  EXPECT_EQ(error.field, "quantity");
}

TEST(ValidateTest, IdsAreBoundedAndPrintable) {
  Event event = ViewEvent();
  event.item_id = std::string(257, 'x');
  EXPECT_EQ(Check(event).code, "too_long");
  event.item_id = "bad\nid";
  EXPECT_EQ(Check(event).code, "invalid_value");
}

TEST(ValidateTest, ItemChecks) {
  Item item;
  RecordError error;
  EXPECT_FALSE(ValidateItem(item, Limits{}, &error));
  EXPECT_EQ(error.field, "id");
  item.id = "sku-1";
  EXPECT_TRUE(ValidateItem(item, Limits{}, &error));
  item.price = -1;
  EXPECT_FALSE(ValidateItem(item, Limits{}, &error));
  EXPECT_EQ(error.field, "price");
  item.price = 1;
  item.currency = "gbp";
  EXPECT_FALSE(ValidateItem(item, Limits{}, &error));
  EXPECT_EQ(error.field, "currency");
  item.currency = "GBP";
  item.stock = -3;
  EXPECT_FALSE(ValidateItem(item, Limits{}, &error));
  EXPECT_EQ(error.field, "stock");
  item.stock = 0;
  item.category = {"Home", ""};
  EXPECT_FALSE(ValidateItem(item, Limits{}, &error));
  EXPECT_EQ(error.field, "category[1]");
}

TEST(ValidateTest, SecondsVersusMilliseconds) {
  int64_t millis;
  RecordError error;
  ASSERT_TRUE(SecondsToMillis(1700000000.25, "timestamp", &millis, &error));
  EXPECT_EQ(millis, 1700000000250);
  EXPECT_FALSE(SecondsToMillis(1700000000000.0, "timestamp", &millis, &error));
  EXPECT_NE(error.message.find("milliseconds"), std::string::npos);
}

}  // namespace
}  // namespace vitrina
