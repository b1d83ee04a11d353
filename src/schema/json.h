// JSON in and out for records. Parsing validates (validate.h) as it goes,
// so a record that parses is a record that may be stored.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"
#include "schema/types.h"
#include "schema/validate.h"

namespace vitrina {

// A request body or file that is not JSON at all: where and why.
struct JsonSyntaxError {
  size_t offset = 0;  // byte offset of the problem
  size_t line = 1;    // 1-based
  size_t column = 1;  // 1-based, in bytes
  // Index of the top-level array element holding the problem, or -1 when
  // the body is not an array or the problem is outside its elements.
  int64_t index = -1;
  std::string message;  // "expected ',' or '}' after an object member"
};

// Finds the first syntax error in `text`; nullopt when `text` is valid JSON.
// Slow path only: call it after a fast parser has already failed.
std::optional<JsonSyntaxError> FindJsonSyntaxError(std::string_view text);

// Records parsed from one body, in input order. `index` is the record's
// position in the input array (0 for a single object).
template <typename T>
struct ParsedRecords {
  struct Rejected {
    size_t index;
    RecordError error;
  };
  std::vector<T> records;
  std::vector<size_t> indices;  // input index of each record
  std::vector<Rejected> rejected;
  size_t total = 0;             // records in the input
};

// Parses JSON records and checks them. Not thread-safe: use one per thread.
class RecordJsonParser {
 public:
  RecordJsonParser();
  ~RecordJsonParser();
  RecordJsonParser(const RecordJsonParser&) = delete;
  RecordJsonParser& operator=(const RecordJsonParser&) = delete;

  // A body holding one object or an array of objects. Returns
  // InvalidArgument when the body is not JSON or not objects (nothing is
  // parsed then; *syntax says where when it is not JSON, and has an empty
  // message when it is JSON of the wrong shape), and
  // ResourceExhausted when the array has more than `max_records` elements.
  // Otherwise every element lands in out->records or out->rejected.
  Status ParseItems(std::string_view body, const Limits& limits, size_t max_records, ParsedRecords<Item>* out,
                    JsonSyntaxError* syntax);
  Status ParseUsers(std::string_view body, const Limits& limits, size_t max_records, ParsedRecords<User>* out,
                    JsonSyntaxError* syntax);
  // `now_ms` bounds timestamps and fills received_ms (and timestamp_ms when
  // an event has none).
  Status ParseEvents(std::string_view body, const Limits& limits, int64_t now_ms, size_t max_records,
                     ParsedRecords<Event>* out, JsonSyntaxError* syntax);

  // One object per call (a JSONL line). Malformed JSON is reported as a
  // RecordError with code "invalid_json".
  bool ParseItem(std::string_view json, const Limits& limits, Item* item, RecordError* error);
  bool ParseUser(std::string_view json, const Limits& limits, User* user, RecordError* error);
  bool ParseEvent(std::string_view json, const Limits& limits, int64_t now_ms, Event* event, RecordError* error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// JSON object for each record, as the API returns it.
void WriteItemJson(const Item& item, JsonWriter* writer);
// The members of an item a shop page shows, into an object the caller has
// opened: price, old_price, currency, image_url, images, url, group_id,
// available and in_stock (never attributes or stock counts: the public key
// reads these). Absent values are null (images: []), so every response has
// the same shape.
void WriteShopFieldsJson(const Item& item, JsonWriter* writer);
void WriteUserJson(const User& user, JsonWriter* writer);
void WriteEventJson(const Event& event, JsonWriter* writer);
void WriteAttributesJson(const Attributes& attributes, JsonWriter* writer);

}  // namespace vitrina
