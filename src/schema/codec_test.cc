#include "schema/codec.h"

#include <gtest/gtest.h>

namespace vitrina {
namespace {

Item FullItem() {
  Item item;
  item.id = "84029G";
  item.title = "KNITTED UNION FLAG HOT WATER BOTTLE";
  item.description = "Warm.\nSoft.";
  item.category = {"Home", "Bedroom"};
  item.brand = "Acme";
  item.price = 3.39;
  item.old_price = 4.5;
  item.currency = "GBP";
  item.stock = 12;
  item.available = false;
  item.image_url = "https://cdn.example/84029G.jpg";
  item.images = {"/img/84029G-2.jpg", "/img/84029G-3.jpg"};
  item.url = "/p/84029G";
  item.group_id = "84029";
  item.attributes = {{"color", std::string("red")},
                     {"size", std::vector<std::string>{"S", "M"}},
                     {"vegan", true},
                     {"weight", 0.25}};
  item.active = false;
  item.created_ms = 1291192000000;
  item.updated_ms = 1291192000123;
  return item;
}

Event FullEvent() {
  Event event;
  event.event_id = "or-536365";
  event.type = EventType::kPurchase;
  event.user_id = "17850";
  event.session_id = "s-1";
  event.lines = {{"85123A", 6, 2.55}, {"71053", 6, std::nullopt}};
  event.timestamp_ms = -5;  // negative values must survive zigzag
  event.received_ms = 1700000000000;
  event.context = {"mobile", "United Kingdom", "/cart", "web"};
  event.recommendation_id = "r-9";
  event.currency = "GBP";
  return event;
}

TEST(CodecTest, ItemRoundTrips) {
  std::string bytes;
  EncodeItem(FullItem(), &bytes);
  Item decoded;
  ASSERT_TRUE(DecodeItem(bytes, &decoded).ok());
  EXPECT_EQ(decoded, FullItem());

  Item minimal;
  minimal.id = "x";
  bytes.clear();
  EncodeItem(minimal, &bytes);
  ASSERT_TRUE(DecodeItem(bytes, &decoded).ok());
  EXPECT_EQ(decoded, minimal);
}

// Items stored before pictures, links and variant groups (format version 1)
// still decode, with those fields empty.
TEST(CodecTest, VersionOneItemsStillDecode) {
  // Written by the version 1 encoder: version, created, updated, id, title,
  // description, category, brand, price, currency, stock, attributes, active.
  std::string bytes;
  bytes += '\x01';
  bytes += '\x02';             // created_ms 1 (zigzag)
  bytes += '\x04';             // updated_ms 2
  bytes += std::string("\x01" "a", 2);
  bytes += std::string("\x03" "Mug", 4);
  bytes += '\x00';             // description
  bytes += std::string("\x01\x04" "Home", 6);
  bytes += '\x00';             // brand
  bytes += '\x01';
  const double price = 9.5;
  bytes.append(reinterpret_cast<const char*>(&price), 8);
  bytes += std::string("\x03" "EUR", 4);
  bytes += std::string("\x01\x0a", 2);  // stock 5
  bytes += '\x00';             // no attributes
  bytes += '\x01';             // active
  Item decoded;
  ASSERT_TRUE(DecodeItem(bytes, &decoded).ok());
  EXPECT_EQ(decoded.id, "a");
  EXPECT_EQ(decoded.category, std::vector<std::string>{"Home"});
  EXPECT_EQ(decoded.price, 9.5);
  EXPECT_EQ(decoded.stock, 5);
  EXPECT_TRUE(decoded.available);
  EXPECT_TRUE(decoded.image_url.empty());
  EXPECT_FALSE(decoded.old_price.has_value());
  int64_t created = 0;
  ASSERT_TRUE(PeekCreatedMillis(bytes, &created).ok());
  EXPECT_EQ(created, 1);
}

TEST(CodecTest, UserRoundTrips) {
  User user;
  user.id = "17850";
  user.attributes = {{"country", std::string("United Kingdom")}};
  user.consent = {{"email", true}, {"sms", false}};
  user.created_ms = 1;
  user.updated_ms = 2;
  std::string bytes;
  EncodeUser(user, &bytes);
  User decoded;
  ASSERT_TRUE(DecodeUser(bytes, &decoded).ok());
  EXPECT_EQ(decoded, user);
}

TEST(CodecTest, EventRoundTripsEveryType) {
  for (EventType type : AllEventTypes()) {
    Event event = FullEvent();
    event.type = type;
    event.item_ids = {"a", "b"};
    event.query = "red mug";
    event.value = 4.5;
    std::string bytes;
    EncodeEvent(event, &bytes);
    Event decoded;
    ASSERT_TRUE(DecodeEvent(bytes, &decoded).ok());
    EXPECT_EQ(decoded, event);
  }
}

TEST(CodecTest, TruncationAndTrailingBytesAreCorruption) {
  std::string bytes;
  EncodeEvent(FullEvent(), &bytes);
  Event decoded;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(DecodeEvent(std::string_view(bytes).substr(0, cut), &decoded).code(), StatusCode::kCorruption)
        << "cut at " << cut;
  }
  EXPECT_EQ(DecodeEvent(bytes + "x", &decoded).code(), StatusCode::kCorruption);
  std::string wrong_version = bytes;
  wrong_version[0] = 99;
  EXPECT_EQ(DecodeEvent(wrong_version, &decoded).code(), StatusCode::kCorruption);
}

TEST(CodecTest, OverlongVarintIsCorruption) {
  // created_ms encoded with eleven varint bytes (more than 64 bits).
  std::string bytes = "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f";
  int64_t created = 0;
  EXPECT_EQ(PeekCreatedMillis(bytes, &created).code(), StatusCode::kCorruption);
  std::string item_bytes;
  Item item;
  item.id = "x";
  item.created_ms = 1234;
  EncodeItem(item, &item_bytes);
  ASSERT_TRUE(PeekCreatedMillis(item_bytes, &created).ok());
  EXPECT_EQ(created, 1234);
}

TEST(CodecTest, RandomBytesNeverCrashTheDecoders) {
  std::string bytes;
  EncodeEvent(FullEvent(), &bytes);
  uint64_t state = 42;
  for (int round = 0; round < 2000; ++round) {
    std::string mutated = bytes;
    for (int k = 0; k < 3; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      mutated[(state >> 33) % mutated.size()] = static_cast<char>(state >> 56);
    }
    Event event;
    Item item;
    User user;
    (void)DecodeEvent(mutated, &event);  // must not crash or over-allocate
    (void)DecodeItem(mutated, &item);
    (void)DecodeUser(mutated, &user);
  }
}

TEST(CodecTest, HugeCountsDoNotAllocate) {
  // Version, then a string length of 2^62: must fail without allocating.
  std::string bytes = "\x01\xff\xff\xff\xff\xff\xff\xff\xff\x3f";
  Item item;
  EXPECT_EQ(DecodeItem(bytes, &item).code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace vitrina
