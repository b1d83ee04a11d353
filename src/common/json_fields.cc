#include "common/json_fields.h"

#include <algorithm>
#include <cmath>

#include "common/strings.h"
#include "common/time_util.h"

namespace vitrina {

bool Fail(FieldError* error, std::string field, std::string message) {
  error->field = std::move(field);
  error->message = std::move(message);
  return false;
}

std::string JsonTypeName(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::ARRAY: return "a list";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::STRING: return "text";
    case simdjson::dom::element_type::BOOL: return "true or false";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
    default: return "a number";
  }
}

bool ReadText(simdjson::dom::element value, std::string_view field, std::string* out, FieldError* error) {
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS) {
    return Fail(error, std::string(field), "expected text, got " + JsonTypeName(value));
  }
  if (!IsValidUtf8(text) || HasControlChar(text)) {
    return Fail(error, std::string(field), "must be UTF-8 text without control characters");
  }
  *out = std::string(text);
  return true;
}

bool ReadNumber(simdjson::dom::element value, std::string_view field, double* out, FieldError* error) {
  if (value.get(*out) != simdjson::SUCCESS) {
    int64_t integer = 0;
    if (value.get(integer) != simdjson::SUCCESS) {
      return Fail(error, std::string(field), "expected a number, got " + JsonTypeName(value));
    }
    *out = static_cast<double>(integer);
  }
  if (!std::isfinite(*out)) return Fail(error, std::string(field), "must be a finite number");
  return true;
}

bool ReadBool(simdjson::dom::element value, std::string_view field, bool* out, FieldError* error) {
  if (value.get(*out) != simdjson::SUCCESS) {
    return Fail(error, std::string(field), "expected true or false, got " + JsonTypeName(value));
  }
  return true;
}

bool ReadTextList(simdjson::dom::element value, std::string_view field, size_t max_entries,
                  std::vector<std::string>* out, FieldError* error) {
  simdjson::dom::array array;
  if (value.get(array) != simdjson::SUCCESS) {
    return Fail(error, std::string(field), "expected a list of text, got " + JsonTypeName(value));
  }
  out->clear();
  size_t index = 0;
  for (simdjson::dom::element element : array) {
    std::string text;
    const std::string at = std::string(field) + "[" + std::to_string(index++) + "]";
    if (!ReadText(element, at, &text, error)) return false;
    if (text.empty()) return Fail(error, at, "must not be empty");
    out->push_back(std::move(text));
  }
  if (out->size() > max_entries) {
    return Fail(error, std::string(field), "at most " + std::to_string(max_entries) + " entries");
  }
  return true;
}

bool ReadTime(simdjson::dom::element value, std::string_view field, int64_t* out, FieldError* error) {
  std::string text;
  if (!ReadText(value, field, &text, error)) return false;
  std::optional<int64_t> millis = ParseTimestampMillis(text);
  if (!millis) {
    return Fail(error, std::string(field),
                "expected a time such as \"2026-12-01T00:00:00Z\", got \"" + PrintableAscii(text, 40) + "\"");
  }
  *out = *millis;
  return true;
}

bool CheckKnownFields(simdjson::dom::object object, std::span<const std::string_view> fields,
                      std::span<const std::string_view> ignored, std::string_view prefix, FieldError* error) {
  std::vector<std::string_view> seen;
  for (auto [key, value] : object) {
    // One rule everywhere: a field given twice is refused, never first- or last-wins.
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return Fail(error, std::string(prefix) + PrintableAscii(key, 40), "appears twice; give each field once");
    }
    seen.push_back(key);
    if (std::find(fields.begin(), fields.end(), key) != fields.end() ||
        std::find(ignored.begin(), ignored.end(), key) != ignored.end()) {
      continue;
    }
    std::string suggestion;
    size_t best = 3;
    for (std::string_view field : fields) {
      const size_t distance = LevenshteinDistance(key, field);
      if (distance < best) {
        best = distance;
        suggestion = "; did you mean '" + std::string(field) + "'?";
      }
    }
    return Fail(error, std::string(prefix) + PrintableAscii(key, 40), "unknown field" + suggestion);
  }
  return true;
}

bool ParseStoredJson(simdjson::dom::parser* parser, std::string_view value, std::string* storage,
                     simdjson::dom::element* root, bool* repaired) {
  *repaired = false;
  storage->assign(value);
  if (parser->parse(*storage).get(*root) == simdjson::SUCCESS) return true;
  if (IsValidUtf8(value)) return false;
  *storage = RepairUtf8(value);
  *repaired = parser->parse(*storage).get(*root) == simdjson::SUCCESS;
  return *repaired;
}

}  // namespace vitrina
