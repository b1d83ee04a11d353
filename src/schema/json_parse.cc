// JSON -> records, on simdjson's DOM parser (the whole body is validated
// before any record is used, so a syntax error never half-applies a batch).
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "common/strings.h"
#include "schema/json.h"

namespace vitrina {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

bool Fail(RecordError* error, const char* code, std::string_view field, std::string message) {
  error->code = code;
  error->field = std::string(field);
  error->message = std::move(message);
  return false;
}

template <size_t N>
int FieldIndex(const std::array<std::string_view, N>& fields, std::string_view key) {
  for (size_t i = 0; i < N; ++i) {
    if (fields[i] == key) return static_cast<int>(i);
  }
  return -1;
}

template <size_t N>
bool UnknownField(const std::array<std::string_view, N>& fields, std::string_view key, std::string_view prefix,
                  RecordError* error) {
  const std::string name(TruncateUtf8(key, 64));
  std::string message = "unknown field '" + std::string(prefix) + name + "'";
  size_t best = 3;
  std::string_view suggestion;
  for (auto field : fields) {
    size_t d = LevenshteinDistance(key, field);
    if (d < best) {
      best = d;
      suggestion = field;
    }
  }
  if (!suggestion.empty()) message += "; did you mean '" + std::string(prefix) + std::string(suggestion) + "'?";
  return Fail(error, error_code::kUnknownField, std::string(prefix) + name, std::move(message));
}

// Tracks which fields an object has set, to reject duplicates.
class SeenFields {
 public:
  bool Mark(int index) {
    uint64_t bit = uint64_t{1} << index;
    if (seen_ & bit) return false;
    seen_ |= bit;
    return true;
  }

 private:
  uint64_t seen_ = 0;
};

bool DuplicateField(std::string_view field, RecordError* error) {
  return Fail(error, error_code::kDuplicateField, field, "field '" + std::string(field) + "' appears twice");
}

const char* TypeName(element value) {
  switch (value.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

bool WrongType(element value, std::string_view field, const char* expected, RecordError* error) {
  return Fail(error, error_code::kWrongType, field,
              std::string(field) + " must be " + expected + ", got " + TypeName(value));
}

bool NotAnObject(element value, const char* kind, RecordError* error) {
  return Fail(error, error_code::kWrongType, "",
              std::string("each ") + kind + " must be a JSON object, got " + TypeName(value));
}

bool GetString(element value, std::string_view field, std::string* out, RecordError* error) {
  std::string_view text;
  if (value.get_string().get(text)) return WrongType(value, field, "a string", error);
  out->assign(text);
  return true;
}

// Ids may arrive as numbers from systems with numeric keys: 17850 and
// 17850.0 both become "17850".
bool GetId(element value, std::string_view field, std::string* out, RecordError* error) {
  switch (value.type()) {
    case element_type::STRING: return GetString(value, field, out, error);
    case element_type::INT64: *out = std::to_string(value.get_int64().value_unsafe()); return true;
    case element_type::UINT64: *out = std::to_string(value.get_uint64().value_unsafe()); return true;
    case element_type::DOUBLE: {
      const double d = value.get_double().value_unsafe();
      if (std::floor(d) == d && std::fabs(d) < 9e15) {
        *out = std::to_string(static_cast<int64_t>(d));
        return true;
      }
      return WrongType(value, field, "a string (or a whole number)", error);
    }
    default: return WrongType(value, field, "a string", error);
  }
}

bool GetNumber(element value, std::string_view field, double* out, RecordError* error) {
  if (value.get_double().get(*out)) return WrongType(value, field, "a number", error);
  return true;
}

bool GetInteger(element value, std::string_view field, int64_t* out, RecordError* error) {
  switch (value.type()) {
    case element_type::INT64: *out = value.get_int64().value_unsafe(); return true;
    case element_type::UINT64:
      return Fail(error, error_code::kOutOfRange, field, std::string(field) + " is too large");
    case element_type::DOUBLE: {
      double d = value.get_double().value_unsafe();
      if (std::floor(d) == d && std::fabs(d) < 9e15) {
        *out = static_cast<int64_t>(d);
        return true;
      }
      return Fail(error, error_code::kWrongType, field, std::string(field) + " must be a whole number");
    }
    default: return WrongType(value, field, "a whole number", error);
  }
}

bool GetBool(element value, std::string_view field, bool* out, RecordError* error) {
  if (value.get_bool().get(*out)) return WrongType(value, field, "true or false", error);
  return true;
}

bool GetTimestamp(element value, std::string_view field, int64_t* millis, RecordError* error) {
  if (value.type() == element_type::STRING) {
    return ParseTimestampField(value.get_string().value_unsafe(), std::string(field), millis, error);
  }
  double seconds;
  if (value.get_double().get(seconds)) {
    return WrongType(value, field, "an RFC 3339 string or a number of seconds since the epoch", error);
  }
  return SecondsToMillis(seconds, std::string(field), millis, error);
}

bool GetStringList(element value, std::string_view field, size_t max, std::vector<std::string>* out,
                   RecordError* error) {
  array list;
  if (value.get_array().get(list)) return WrongType(value, field, "an array of strings", error);
  size_t i = 0;
  for (element entry : list) {
    if (i >= max) {
      return Fail(error, error_code::kTooMany, field,
                  std::string(field) + " has more than " + std::to_string(max) + " entries");
    }
    out->emplace_back();
    if (!GetId(entry, field, &out->back(), error)) {
      error->field = std::string(field) + "[" + std::to_string(i) + "]";
      return false;
    }
    ++i;
  }
  return true;
}

// "Home > Kitchen > Mugs" or ["Home", "Kitchen", "Mugs"].
bool GetCategory(element value, const Limits& limits, std::vector<std::string>* out, RecordError* error) {
  if (value.type() == element_type::STRING) {
    std::string_view text = value.get_string().value_unsafe();
    if (TrimWhitespace(text).empty()) return true;
    for (std::string_view part : Split(text, ">")) out->emplace_back(TrimWhitespace(part));
    return true;
  }
  return GetStringList(value, "category", limits.max_category_depth + 1, out, error);
}

bool GetAttributes(element value, std::string_view field, Attributes* out, RecordError* error) {
  object fields;
  if (value.get_object().get(fields)) return WrongType(value, field, "an object", error);
  for (auto [key_view, entry] : fields) {
    std::string key(key_view);
    switch (entry.type()) {
      case element_type::NULL_VALUE: continue;
      case element_type::STRING: out->emplace_back(std::move(key), std::string(entry.get_string().value_unsafe())); break;
      case element_type::BOOL: out->emplace_back(std::move(key), entry.get_bool().value_unsafe()); break;
      case element_type::INT64:
      case element_type::UINT64:
      case element_type::DOUBLE: out->emplace_back(std::move(key), entry.get_double().value_unsafe()); break;
      case element_type::ARRAY: {
        const std::string path = std::string(field) + "." + key;
        std::vector<std::string> list;
        if (!GetStringList(entry, path, 100000, &list, error)) {
          if (error->code == error_code::kWrongType) {
            error->message = path + " must be a string, number, boolean or array of strings";
          }
          return false;
        }
        out->emplace_back(std::move(key), std::move(list));
        break;
      }
      case element_type::OBJECT: {
        const std::string path = std::string(field) + "." + key;
        return Fail(error, error_code::kWrongType, path,
                    path + " must be a string, number, boolean or array of strings, got an object");
      }
    }
  }
  std::stable_sort(out->begin(), out->end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return true;
}

bool GetConsent(element value, std::vector<std::pair<std::string, bool>>* out, RecordError* error) {
  object channels;
  if (value.get_object().get(channels)) {
    return WrongType(value, "consent", "an object such as {\"email\": true}", error);
  }
  for (auto [key, entry] : channels) {
    bool granted = false;
    if (entry.get_bool().get(granted)) {
      return WrongType(entry, "consent." + std::string(TruncateUtf8(key, 64)), "true or false", error);
    }
    out->emplace_back(std::string(key), granted);
  }
  std::stable_sort(out->begin(), out->end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return true;
}

// The last field of each list is output-only (set by the server): accepted
// and ignored, so records read from the API can be posted back.
constexpr std::array<std::string_view, 18> kItemFields = {
    "id",     "title",     "description", "category", "brand", "price",    "currency",  "stock",     "attributes",
    "active", "created_at", "old_price",  "image_url", "images", "url",    "group_id",  "available", "updated_at"};

bool ParseItemElement(element root, const Limits& limits, Item* item, RecordError* error) {
  *item = Item{};
  object fields;
  if (root.get_object().get(fields)) return NotAnObject(root, "item", error);
  SeenFields seen;
  for (auto [key, value] : fields) {
    const int f = FieldIndex(kItemFields, key);
    if (f < 0) return UnknownField(kItemFields, key, "", error);
    if (!seen.Mark(f)) return DuplicateField(key, error);
    if (value.is_null()) continue;
    const std::string_view field = key;
    bool ok = true;
    switch (f) {
      case 0: ok = GetId(value, field, &item->id, error); break;
      case 1: ok = GetString(value, field, &item->title, error); break;
      case 2: ok = GetString(value, field, &item->description, error); break;
      case 3: ok = GetCategory(value, limits, &item->category, error); break;
      case 4: ok = GetString(value, field, &item->brand, error); break;
      case 5:
      case 11: {
        double price = 0;
        ok = GetNumber(value, field, &price, error);
        (f == 5 ? item->price : item->old_price) = price;
        break;
      }
      case 6: ok = GetString(value, field, &item->currency, error); break;
      case 7: {
        int64_t stock = 0;
        ok = GetInteger(value, field, &stock, error);
        item->stock = stock;
        break;
      }
      case 8: ok = GetAttributes(value, field, &item->attributes, error); break;
      case 9: ok = GetBool(value, field, &item->active, error); break;
      case 10: ok = GetTimestamp(value, field, &item->created_ms, error); break;
      case 12: ok = GetString(value, field, &item->image_url, error); break;
      case 13: ok = GetStringList(value, field, limits.max_images, &item->images, error); break;
      case 14: ok = GetString(value, field, &item->url, error); break;
      case 15: ok = GetId(value, field, &item->group_id, error); break;
      case 16: ok = GetBool(value, field, &item->available, error); break;
      case 17: break;  // updated_at: set by the server
    }
    if (!ok) return false;
  }
  return ValidateItem(*item, limits, error);
}

constexpr std::array<std::string_view, 5> kUserFields = {"id", "attributes", "consent", "created_at", "updated_at"};

bool ParseUserElement(element root, const Limits& limits, User* user, RecordError* error) {
  *user = User{};
  object fields;
  if (root.get_object().get(fields)) return NotAnObject(root, "user", error);
  SeenFields seen;
  for (auto [key, value] : fields) {
    const int f = FieldIndex(kUserFields, key);
    if (f < 0) return UnknownField(kUserFields, key, "", error);
    if (!seen.Mark(f)) return DuplicateField(key, error);
    if (value.is_null()) continue;
    const std::string_view field = key;
    bool ok = true;
    switch (f) {
      case 0: ok = GetId(value, field, &user->id, error); break;
      case 1: ok = GetAttributes(value, field, &user->attributes, error); break;
      case 2: ok = GetConsent(value, &user->consent, error); break;
      case 3: ok = GetTimestamp(value, field, &user->created_ms, error); break;
      case 4: break;  // updated_at: set by the server
    }
    if (!ok) return false;
  }
  return ValidateUser(*user, limits, error);
}

constexpr std::array<std::string_view, 3> kLineFields = {"item_id", "quantity", "price"};

bool ParseLines(element value, const Limits& limits, std::vector<EventLine>* lines, RecordError* error) {
  array list;
  if (value.get_array().get(list)) return WrongType(value, "lines", "an array of objects", error);
  size_t i = 0;
  for (element entry : list) {
    const std::string prefix = "lines[" + std::to_string(i) + "]";
    if (i >= limits.max_lines) {
      return Fail(error, error_code::kTooMany, "lines", "more than " + std::to_string(limits.max_lines) + " lines");
    }
    object fields;
    if (entry.get_object().get(fields)) return WrongType(entry, prefix, "an object", error);
    EventLine line;
    SeenFields seen;
    for (auto [key, field_value] : fields) {
      const int f = FieldIndex(kLineFields, key);
      if (f < 0) return UnknownField(kLineFields, key, prefix + ".", error);
      const std::string field = prefix + "." + std::string(key);
      if (!seen.Mark(f)) return DuplicateField(field, error);
      if (field_value.is_null()) continue;
      bool ok = true;
      switch (f) {
        case 0: ok = GetId(field_value, field, &line.item_id, error); break;
        case 1: ok = GetNumber(field_value, field, &line.quantity, error); break;
        case 2: {
          double price = 0;
          ok = GetNumber(field_value, field, &price, error);
          line.price = price;
          break;
        }
      }
      if (!ok) return false;
    }
    lines->push_back(std::move(line));
    ++i;
  }
  return true;
}

constexpr std::array<std::string_view, 4> kContextFields = {"device", "country", "page", "channel"};

bool ParseContext(element value, EventContext* context, RecordError* error) {
  object fields;
  if (value.get_object().get(fields)) return WrongType(value, "context", "an object", error);
  SeenFields seen;
  for (auto [key, field_value] : fields) {
    const int f = FieldIndex(kContextFields, key);
    if (f < 0) return UnknownField(kContextFields, key, "context.", error);
    const std::string field = "context." + std::string(key);
    if (!seen.Mark(f)) return DuplicateField(field, error);
    if (field_value.is_null()) continue;
    std::string* target = f == 0 ? &context->device : f == 1 ? &context->country : f == 2 ? &context->page
                                                                                        : &context->channel;
    if (!GetString(field_value, field, target, error)) return false;
  }
  return true;
}

constexpr std::array<std::string_view, 16> kEventFields = {
    "event_id", "type",     "user_id",   "session_id", "item_id",           "quantity", "price",   "lines",
    "item_ids", "timestamp", "context", "recommendation_id", "query",      "value",    "currency", "received_at"};

std::string EventTypeList() {
  std::string list;
  for (EventType type : AllEventTypes()) {
    if (!list.empty()) list += ", ";
    list += EventTypeName(type);
  }
  return list;
}

bool ParseEventElement(element root, const Limits& limits, int64_t now_ms, Event* event, RecordError* error) {
  *event = Event{};
  object fields;
  if (root.get_object().get(fields)) return NotAnObject(root, "event", error);
  SeenFields seen;
  bool has_type = false;
  bool has_timestamp = false;
  std::optional<double> quantity;
  std::optional<double> price;
  for (auto [key, value] : fields) {
    const int f = FieldIndex(kEventFields, key);
    if (f < 0) return UnknownField(kEventFields, key, "", error);
    if (!seen.Mark(f)) return DuplicateField(key, error);
    if (value.is_null()) continue;
    const std::string_view field = key;
    bool ok = true;
    switch (f) {
      case 0: ok = GetId(value, field, &event->event_id, error); break;
      case 1: {
        std::string name;
        ok = GetString(value, field, &name, error);
        if (!ok) break;
        auto type = ParseEventType(name);
        if (!type) {
          return Fail(error, error_code::kUnknownEventType, "type",
                      "unknown event type \"" + std::string(TruncateUtf8(name, 64)) + "\"; expected one of: " + EventTypeList());
        }
        event->type = *type;
        has_type = true;
        break;
      }
      case 2: ok = GetId(value, field, &event->user_id, error); break;
      case 3: ok = GetId(value, field, &event->session_id, error); break;
      case 4: ok = GetId(value, field, &event->item_id, error); break;
      case 5: {
        double q = 0;
        ok = GetNumber(value, field, &q, error);
        quantity = q;
        break;
      }
      case 6: {
        double p = 0;
        ok = GetNumber(value, field, &p, error);
        price = p;
        break;
      }
      case 7: ok = ParseLines(value, limits, &event->lines, error); break;
      case 8: ok = GetStringList(value, field, limits.max_item_ids, &event->item_ids, error); break;
      case 9:
        ok = GetTimestamp(value, field, &event->timestamp_ms, error);
        has_timestamp = true;
        break;
      case 10: ok = ParseContext(value, &event->context, error); break;
      case 11: ok = GetId(value, field, &event->recommendation_id, error); break;
      case 12: ok = GetString(value, field, &event->query, error); break;
      case 13: {
        double v = 0;
        ok = GetNumber(value, field, &v, error);
        event->value = v;
        break;
      }
      case 14: ok = GetString(value, field, &event->currency, error); break;
      case 15: break;  // received_at: set by the server
    }
    if (!ok) return false;
  }
  if (!has_type) {
    return Fail(error, error_code::kMissingField, "type", "every event needs a type: one of " + EventTypeList());
  }
  if (!has_timestamp) event->timestamp_ms = now_ms;
  event->received_ms = now_ms;
  if (!ApplyItemShorthand(event, quantity, price, error)) return false;
  return ValidateEvent(*event, limits, now_ms, error);
}

}  // namespace

struct RecordJsonParser::Impl {
  simdjson::dom::parser parser;
  std::string padded;  // reused copy of the input with simdjson's padding

  // Parses `text` into `root`; on failure returns the simdjson error.
  simdjson::error_code Parse(std::string_view text, element* root) {
    const size_t needed = text.size() + simdjson::SIMDJSON_PADDING;
    if (padded.size() < needed) padded.resize(needed);
    std::memcpy(padded.data(), text.data(), text.size());
    std::memset(padded.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    return parser.parse(padded.data(), text.size(), false).get(*root);
  }

  template <typename T, typename ParseOne>
  Status ParseBatch(std::string_view body, size_t max_records, ParsedRecords<T>* out, JsonSyntaxError* syntax,
                    ParseOne parse_one) {
    *out = ParsedRecords<T>{};
    *syntax = JsonSyntaxError{};
    element root;
    if (auto code = Parse(body, &root)) {
      if (auto located = FindJsonSyntaxError(body)) {
        *syntax = *located;
      } else {
        syntax->message = simdjson::error_message(code);
      }
      return Status::InvalidArgument("malformed JSON at line " + std::to_string(syntax->line) + ", column " +
                                     std::to_string(syntax->column) + ": " + syntax->message);
    }
    auto handle = [&](element value, size_t index) {
      T record;
      RecordError error;
      if (parse_one(value, &record, &error)) {
        out->records.push_back(std::move(record));
        out->indices.push_back(index);
      } else {
        out->rejected.push_back({index, std::move(error)});
      }
    };
    if (root.type() == element_type::OBJECT) {
      out->total = 1;
      handle(root, 0);
      return Status::OK();
    }
    if (root.type() != element_type::ARRAY) {
      return Status::InvalidArgument("the body must be a JSON object or an array of objects");
    }
    array list = root.get_array().value_unsafe();
    const size_t count = list.size();  // saturates at 0xFFFFFF, still over any limit
    if (count > max_records) {
      return Status::ResourceExhausted("the batch has " + std::to_string(count) + " records; the limit is " +
                                       std::to_string(max_records));
    }
    out->total = count;
    out->records.reserve(count);
    out->indices.reserve(count);
    size_t index = 0;
    for (element value : list) handle(value, index++);
    return Status::OK();
  }

  template <typename T, typename ParseOne>
  bool ParseOneRecord(std::string_view json, RecordError* error, ParseOne parse_one) {
    element root;
    if (auto code = Parse(json, &root)) {
      std::string where;
      std::string why = simdjson::error_message(code);
      if (auto located = FindJsonSyntaxError(json)) {
        where = " at column " + std::to_string(located->column);
        why = located->message;
      }
      return Fail(error, "invalid_json", "", "malformed JSON" + where + ": " + why);
    }
    return parse_one(root, error);
  }
};

RecordJsonParser::RecordJsonParser() : impl_(std::make_unique<Impl>()) {}
RecordJsonParser::~RecordJsonParser() = default;

Status RecordJsonParser::ParseItems(std::string_view body, const Limits& limits, size_t max_records,
                                    ParsedRecords<Item>* out, JsonSyntaxError* syntax) {
  return impl_->ParseBatch(body, max_records, out, syntax, [&](element value, Item* item, RecordError* error) {
    return ParseItemElement(value, limits, item, error);
  });
}

Status RecordJsonParser::ParseUsers(std::string_view body, const Limits& limits, size_t max_records,
                                    ParsedRecords<User>* out, JsonSyntaxError* syntax) {
  return impl_->ParseBatch(body, max_records, out, syntax, [&](element value, User* user, RecordError* error) {
    return ParseUserElement(value, limits, user, error);
  });
}

Status RecordJsonParser::ParseEvents(std::string_view body, const Limits& limits, int64_t now_ms,
                                     size_t max_records, ParsedRecords<Event>* out, JsonSyntaxError* syntax) {
  return impl_->ParseBatch(body, max_records, out, syntax, [&](element value, Event* event, RecordError* error) {
    return ParseEventElement(value, limits, now_ms, event, error);
  });
}

bool RecordJsonParser::ParseItem(std::string_view json, const Limits& limits, Item* item, RecordError* error) {
  return impl_->ParseOneRecord<Item>(
      json, error, [&](element root, RecordError* e) { return ParseItemElement(root, limits, item, e); });
}

bool RecordJsonParser::ParseUser(std::string_view json, const Limits& limits, User* user, RecordError* error) {
  return impl_->ParseOneRecord<User>(
      json, error, [&](element root, RecordError* e) { return ParseUserElement(root, limits, user, e); });
}

bool RecordJsonParser::ParseEvent(std::string_view json, const Limits& limits, int64_t now_ms, Event* event,
                                  RecordError* error) {
  return impl_->ParseOneRecord<Event>(json, error, [&](element root, RecordError* e) {
    return ParseEventElement(root, limits, now_ms, event, e);
  });
}

}  // namespace vitrina
