// Locates the first syntax error in a JSON text, for error messages. The
// fast path (simdjson) only says "invalid"; this says where.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include "common/strings.h"
#include "schema/json.h"

namespace vitrina {
namespace {

class SyntaxScanner {
 public:
  explicit SyntaxScanner(std::string_view text) : text_(text) {}

  std::optional<JsonSyntaxError> Run() {
    SkipWhitespace();
    if (pos_ == text_.size()) return Error("the body is empty; expected a JSON value");
    if (!Value(0)) return error_;
    SkipWhitespace();
    if (pos_ != text_.size()) {
      top_index_ = -1;
      return Error("unexpected text after the JSON value");
    }
    return std::nullopt;
  }

 private:
  static constexpr int kMaxDepth = 1000;

  std::optional<JsonSyntaxError> Error(std::string message) {
    JsonSyntaxError error;
    error.offset = pos_;
    error.index = top_index_;
    error.message = std::move(message);
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++error.line;
        error.column = 1;
      } else {
        ++error.column;
      }
    }
    error_ = error;
    return error_;
  }

  bool Fail(std::string message) {
    Error(std::move(message));
    return false;
  }

  void SkipWhitespace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Value(int depth) {
    if (depth > kMaxDepth) return Fail("JSON nested more than 1000 levels deep");
    SkipWhitespace();
    if (pos_ == text_.size()) return Fail("unexpected end of input; expected a value");
    char c = text_[pos_];
    switch (c) {
      case '{': return Object(depth);
      case '[': return Array(depth);
      case '"': return String();
      case 't': return Literal("true");
      case 'f': return Literal("false");
      case 'n': return Literal("null");
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return Number();
        if (c == '\'') return Fail("strings must use double quotes");
        return Fail(std::string("unexpected character '") + c + "'; expected a value");
    }
  }

  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return Fail("invalid literal; expected " + std::string(word));
    pos_ += word.size();
    return true;
  }

  bool Digits() {
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool Number() {
    const size_t start = pos_;
    bool integer = true;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
      if (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        return Fail("numbers must not have leading zeros");
      }
    } else if (!Digits()) {
      return Fail("invalid number");
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      integer = false;
      ++pos_;
      if (!Digits()) return Fail("invalid number: digits expected after '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integer = false;
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!Digits()) return Fail("invalid number: digits expected in the exponent");
    }
    // Well-formed but beyond what a parser can hold: the fast parser
    // refuses these too.
    const std::string number(text_.substr(start, pos_ - start));
    if (integer) {
      errno = 0;
      if (number[0] == '-') {
        std::strtoll(number.c_str(), nullptr, 10);
      } else {
        std::strtoull(number.c_str(), nullptr, 10);
      }
      if (errno == ERANGE) {
        pos_ = start;
        return Fail("integer " + number.substr(0, 40) + " is out of the 64-bit range");
      }
    } else if (std::isinf(std::strtod(number.c_str(), nullptr))) {
      pos_ = start;
      return Fail("number " + number.substr(0, 40) + " is out of range");
    }
    return true;
  }

  bool String() {
    ++pos_;  // opening quote
    size_t run_start = pos_;
    while (pos_ < text_.size()) {
      auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        if (!IsValidUtf8(text_.substr(run_start, pos_ - run_start))) {
          pos_ = run_start;
          return Fail("string is not valid UTF-8");
        }
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("control character in a string; escape it (\\n, \\t, \\u0001)");
      if (c == '\\') {
        if (!IsValidUtf8(text_.substr(run_start, pos_ - run_start))) {
          pos_ = run_start;
          return Fail("string is not valid UTF-8");
        }
        ++pos_;
        if (pos_ == text_.size()) break;
        char e = text_[pos_];
        if (e == 'u') {
          for (int i = 1; i <= 4; ++i) {
            char h = pos_ + i < text_.size() ? text_[pos_ + i] : '\0';
            bool hex = (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
            if (!hex) return Fail("invalid \\u escape; expected four hex digits");
          }
          pos_ += 5;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
          ++pos_;
        } else {
          return Fail(std::string("invalid escape '\\") + e + "'");
        }
        run_start = pos_;
        continue;
      }
      ++pos_;
    }
    return Fail("unterminated string");
  }

  bool Object(int depth) {
    ++pos_;  // '{'
    SkipWhitespace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipWhitespace();
      if (pos_ == text_.size()) return Fail("unexpected end of input inside an object");
      if (text_[pos_] != '"') {
        return Fail(text_[pos_] == '}' ? "trailing comma before '}'" : "expected a quoted member name");
      }
      if (!String()) return false;
      SkipWhitespace();
      if (pos_ == text_.size() || text_[pos_] != ':') return Fail("expected ':' after a member name");
      ++pos_;
      if (!Value(depth + 1)) return false;
      SkipWhitespace();
      if (pos_ == text_.size()) return Fail("unexpected end of input inside an object; expected ',' or '}'");
      if (text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (text_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or '}' after an object member");
    }
  }

  bool Array(int depth) {
    const bool top = depth == 0;
    ++pos_;  // '['
    SkipWhitespace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return true;
    }
    int64_t index = 0;
    while (true) {
      if (top) top_index_ = index;
      SkipWhitespace();
      if (pos_ < text_.size() && text_[pos_] == ']') return Fail("trailing comma before ']'");
      if (!Value(depth + 1)) return false;
      SkipWhitespace();
      if (pos_ == text_.size()) return Fail("unexpected end of input inside an array; expected ',' or ']'");
      if (text_[pos_] == ',') {
        ++pos_;
        ++index;
        continue;
      }
      if (text_[pos_] == ']') {
        ++pos_;
        if (top) top_index_ = -1;
        return true;
      }
      return Fail("expected ',' or ']' after an array element");
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  int64_t top_index_ = -1;
  std::optional<JsonSyntaxError> error_;
};

}  // namespace

std::optional<JsonSyntaxError> FindJsonSyntaxError(std::string_view text) { return SyntaxScanner(text).Run(); }

}  // namespace vitrina
