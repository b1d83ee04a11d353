// Streaming JSON text writer. Appends to a caller-owned string; no DOM.
//
//   std::string body;
//   JsonWriter w(&body);
//   w.BeginObject().Key("accepted").Int(3).Key("errors").BeginArray().EndArray().EndObject();
//
// The caller keeps the structure balanced; commas are placed automatically.
// Inputs are validated at the edges; a string that still holds a byte
// outside well-formed UTF-8 is written with U+FFFD in its place, so the
// output is always valid JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vitrina {

// Appends `text` as a quoted, escaped JSON string (invalid UTF-8 bytes
// become U+FFFD).
void AppendJsonString(std::string* out, std::string_view text);

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) { first_.reserve(8); }

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& UInt(uint64_t value);
  // Non-finite values are written as null (JSON has no NaN).
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Appends an already-rendered JSON value verbatim.
  JsonWriter& Raw(std::string_view json);

 private:
  void BeforeValue();

  std::string* out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace vitrina
