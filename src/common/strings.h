// Small string helpers shared by every module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vitrina {

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view text);

// The length of the well-formed UTF-8 character starting at byte `i` of
// `text` (1 for ASCII), or 0 when the bytes there are not one.
size_t Utf8SequenceLength(std::string_view text, size_t i);

// U+FFFD, what RepairUtf8 puts for each byte that is not part of a
// well-formed character.
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// `text` with every byte outside a well-formed UTF-8 character replaced by
// U+FFFD: for data written before it was checked, never for input (which is
// refused instead).
std::string RepairUtf8(std::string_view text);

// True when `text` contains an ASCII control character (0x00-0x1F, 0x7F).
bool HasControlChar(std::string_view text);

std::string_view TrimWhitespace(std::string_view text);

// Splits on every occurrence of `separator` (which must not be empty).
std::vector<std::string_view> Split(std::string_view text, std::string_view separator);
// The parts with `separator` between them.
std::string Join(const std::vector<std::string>& parts, std::string_view separator);

std::string AsciiLower(std::string_view text);
std::string AsciiUpper(std::string_view text);
// Equal but for the case of ASCII letters (no copies).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Compares in time that depends only on the lengths, for secrets.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Whole-string numeric parsing; nullopt on any trailing garbage or overflow.
std::optional<int64_t> ParseInt64(std::string_view text);
std::optional<double> ParseDouble(std::string_view text);

// Shortest text that parses back to the same double ("2.55", "1e+21").
std::string FormatDouble(double value);

// Decodes %XX escapes (and '+' as space when `plus_is_space`). nullopt when
// an escape is malformed.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// `text` with every byte but letters, digits and "-._~" written as %XX, for
// a URL's query value.
std::string PercentEncode(std::string_view text);

// At most `max_bytes` of `text`, cut on a UTF-8 character boundary, for
// quoting user input in messages.
std::string_view TruncateUtf8(std::string_view text, size_t max_bytes);

// `text` with bytes outside printable ASCII replaced by '?', for echoing
// header values in messages.
std::string PrintableAscii(std::string_view text, size_t max_bytes);

// 64-bit FNV-1a: a stable hash (same value on every platform and version).
uint64_t Fnv1a64(std::string_view data);

// Edit distance, for "did you mean" hints on short keys.
size_t LevenshteinDistance(std::string_view a, std::string_view b);

}  // namespace vitrina
