// Readers for the fields of a JSON object the API takes (a rule, an
// experiment, ...): each names the field at fault and says what was
// expected, so a client can fix its request without reading our code.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vitrina {

// Why a record was refused: the JSON field at fault ("variants[1].share")
// and what is wrong with it.
struct FieldError {
  std::string field;
  std::string message;
};

// Sets `error` and returns false, so a reader can `return Fail(...)`.
bool Fail(FieldError* error, std::string field, std::string message);

// "text", "a number", "a list", ... for messages.
std::string JsonTypeName(simdjson::dom::element value);

// UTF-8 text without control characters.
bool ReadText(simdjson::dom::element value, std::string_view field, std::string* out, FieldError* error);
// A finite number (integers too).
bool ReadNumber(simdjson::dom::element value, std::string_view field, double* out, FieldError* error);
bool ReadBool(simdjson::dom::element value, std::string_view field, bool* out, FieldError* error);
// A list of non-empty texts, at most `max_entries`; an entry at fault is named "field[i]".
bool ReadTextList(simdjson::dom::element value, std::string_view field, size_t max_entries,
                  std::vector<std::string>* out, FieldError* error);
// An ISO 8601 time such as "2026-12-01T00:00:00Z", in milliseconds.
bool ReadTime(simdjson::dom::element value, std::string_view field, int64_t* out, FieldError* error);

// Parses a document the server stored itself. One holding bytes outside
// UTF-8 (written before every text was checked) is parsed again with those
// bytes replaced by U+FFFD (*repaired is then true), so one bad byte does
// not make the whole document unreadable. `storage` keeps the repaired
// text alive for as long as *root is used.
bool ParseStoredJson(simdjson::dom::parser* parser, std::string_view value, std::string* storage,
                     simdjson::dom::element* root, bool* repaired);

// Refuses a field of `object` that is neither in `fields` nor in
// `ignored` (server-kept fields a client may echo back), suggesting the
// closest known name: a misspelt field would otherwise be silently lost.
// A field given twice is refused too (never first- or last-wins).
// `prefix` is put before the field's name ("variants[0].").
bool CheckKnownFields(simdjson::dom::object object, std::span<const std::string_view> fields,
                      std::span<const std::string_view> ignored, std::string_view prefix, FieldError* error);

}  // namespace vitrina
