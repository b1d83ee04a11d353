// What a valid record is. Every ingest path (HTTP, JSONL, CSV, Online
// Retail) goes through these checks, so a record is accepted or rejected
// the same way whichever way it arrives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schema/types.h"

namespace vitrina {

// Size and range limits on records. Documented in docs/API.md#limits; only
// max_future_skew_ms is configurable (ingest.max_future_skew_s).
struct Limits {
  size_t max_id_bytes = 256;
  size_t max_title_bytes = 1024;
  size_t max_description_bytes = 65536;
  size_t max_brand_bytes = 256;
  size_t max_category_depth = 16;
  size_t max_category_level_bytes = 256;
  size_t max_attributes = 128;
  size_t max_attribute_key_bytes = 128;
  size_t max_attribute_value_bytes = 4096;
  size_t max_attribute_list_size = 256;
  size_t max_consent_channels = 32;
  size_t max_url_bytes = 2048;
  size_t max_images = 20;
  size_t max_lines = 10000;
  size_t max_item_ids = 1000;
  size_t max_query_bytes = 1024;
  size_t max_page_bytes = 4096;
  size_t max_context_value_bytes = 128;
  double max_price = 1e12;
  double max_quantity = 1e9;
  double max_abs_rating = 1e6;
  int64_t min_timestamp_ms = 946'684'800'000;  // 2000-01-01T00:00:00Z
  int64_t max_future_skew_ms = 86'400'000;     // 24 hours ahead of the server clock
};

// Why one record was rejected. `field` is a path such as "lines[2].quantity".
struct RecordError {
  std::string code;  // stable machine-readable code, e.g. "out_of_range"
  std::string field;
  std::string message;
};

// Error codes used in RecordError::code.
namespace error_code {
inline constexpr const char* kMissingField = "missing_field";
inline constexpr const char* kUnknownField = "unknown_field";
inline constexpr const char* kDuplicateField = "duplicate_field";
inline constexpr const char* kWrongType = "wrong_type";
inline constexpr const char* kInvalidValue = "invalid_value";
inline constexpr const char* kOutOfRange = "out_of_range";
inline constexpr const char* kTooLong = "too_long";
inline constexpr const char* kTooMany = "too_many";
inline constexpr const char* kUnknownEventType = "unknown_event_type";
inline constexpr const char* kInvalidTimestamp = "invalid_timestamp";
inline constexpr const char* kFutureTimestamp = "future_timestamp";
inline constexpr const char* kNotAllowed = "field_not_allowed";
}  // namespace error_code

// Each returns true when the record is valid, else fills *error with the
// first problem found. `now_ms` bounds event timestamps.
bool ValidateItem(const Item& item, const Limits& limits, RecordError* error);
bool ValidateUser(const User& user, const Limits& limits, RecordError* error);
bool ValidateEvent(const Event& event, const Limits& limits, int64_t now_ms, RecordError* error);

// Checks one id-like string (item, user, session, event or recommendation
// id): non-empty, at most max_id_bytes, no control characters.
bool ValidateId(const std::string& id, const std::string& field, const Limits& limits, RecordError* error);

// Events may name one product with top-level item_id, quantity and price.
// For cart changes, purchases and returns this becomes a single line; for
// other types quantity and price are an error. Call after the type is known.
bool ApplyItemShorthand(Event* event, std::optional<double> quantity, std::optional<double> price,
                        RecordError* error);

// Checks a timestamp given as seconds since the epoch (numbers in JSON and
// CSV) and converts it; explains the common milliseconds mistake.
bool SecondsToMillis(double seconds, const std::string& field, int64_t* millis, RecordError* error);

// Parses a timestamp field given as text: RFC 3339 (a time of day needs a
// zone: "Z" or an offset; a date alone is midnight UTC), or a number of
// seconds since the epoch.
bool ParseTimestampField(std::string_view text, const std::string& field, int64_t* millis, RecordError* error);

}  // namespace vitrina
