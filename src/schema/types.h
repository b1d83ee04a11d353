// The shop's data: catalog items, users and the event log.
//
// Times are milliseconds since the Unix epoch, UTC. Strings are UTF-8 and
// ids never contain control characters (see validate.h). Structs are plain
// values: copyable, comparable, no invariants beyond what Validate* checks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace vitrina {

// A string, number, boolean or list of strings. Lists keep their order.
using AttributeValue = std::variant<std::string, double, bool, std::vector<std::string>>;

// Sorted by key; keys are unique.
using Attributes = std::vector<std::pair<std::string, AttributeValue>>;

struct Item {
  std::string id;
  std::string title;
  std::string description;
  std::vector<std::string> category;  // path from the root: {"Home", "Kitchen", "Mugs"}
  std::string brand;
  std::optional<double> price;        // unit price in `currency`
  std::optional<double> old_price;    // the price before a discount (above `price`), shown struck through
  std::string currency;               // ISO 4217, e.g. "GBP"; empty when unknown
  std::optional<int64_t> stock;       // units available; nullopt when not tracked
  bool available = true;              // false: cannot be ordered now (sold out, on order)
  std::string image_url;              // the main picture: an absolute http(s) URL or a path on the shop's site
  std::vector<std::string> images;    // further pictures, the same kinds of address
  std::string url;                    // the item's page, the same kinds of address
  std::string group_id;               // variants of one product (sizes, colours) share it; empty: none
  Attributes attributes;
  bool active = true;                 // inactive items are never recommended
  int64_t created_ms = 0;             // kept from the first upsert unless given
  int64_t updated_ms = 0;             // set by the server on every upsert

  // Whether it can be ordered now: available, and stock untracked or above 0.
  bool InStock() const { return available && (!stock || *stock > 0); }

  bool operator==(const Item&) const = default;
};

struct User {
  std::string id;
  Attributes attributes;
  // Marketing consent per channel ("email", "sms", "push", ...), sorted by
  // channel. A channel that is absent has no recorded consent.
  std::vector<std::pair<std::string, bool>> consent;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;

  bool operator==(const User&) const = default;
};

enum class EventType : uint8_t {
  kView = 0,
  kClick,
  kAddToCart,
  kRemoveFromCart,
  kPurchase,
  kReturn,
  kSearch,
  kRating,
  kImpression,
};
inline constexpr size_t kEventTypeCount = 9;

// "view", "click", "add_to_cart", ...
std::string_view EventTypeName(EventType type);
std::optional<EventType> ParseEventType(std::string_view name);
// All types, in enum order.
const std::array<EventType, kEventTypeCount>& AllEventTypes();

// Event ids the server generates start with this; clients may not use it.
inline constexpr char kGeneratedEventIdPrefix = '~';

// One product line of a cart change, purchase or return.
struct EventLine {
  std::string item_id;
  double quantity = 1;           // > 0; returns carry the returned units, not negatives
  std::optional<double> price;   // unit price

  bool operator==(const EventLine&) const = default;
};

struct EventContext {
  std::string device;   // "mobile", "desktop", ...
  std::string country;
  std::string page;     // URL or page type
  std::string channel;  // "web", "app", "email", ...

  bool operator==(const EventContext&) const = default;
};

// One thing a shopper did. Which fields are required depends on the type:
//   view, click, rating:         item_id            (rating also: value)
//   add_to_cart, remove_from_cart,
//   purchase, return:            lines (one or more)
//   search:                      query              (item_id optional)
//   impression:                  item_ids (the items shown)
// Every event has a user_id, a session_id, or both.
struct Event {
  std::string event_id;           // idempotency key: a repeated id is stored once
  EventType type = EventType::kView;
  std::string user_id;
  std::string session_id;
  std::string item_id;
  std::vector<EventLine> lines;
  std::vector<std::string> item_ids;
  int64_t timestamp_ms = 0;       // when it happened
  int64_t received_ms = 0;        // when the server accepted it
  EventContext context;
  std::string recommendation_id;  // the recommendation this event follows
  std::string query;
  std::optional<double> value;    // rating value
  std::string currency;           // of the line prices

  bool operator==(const Event&) const = default;
};

}  // namespace vitrina
