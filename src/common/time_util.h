// Calendar arithmetic and timestamp text formats. All times are
// milliseconds since the Unix epoch, UTC, unless a name says otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vitrina {

inline constexpr int64_t kMillisPerSecond = 1000;
inline constexpr int64_t kMillisPerDay = 86'400'000;

// Days since 1970-01-01 for a proleptic Gregorian date (month 1-12).
int64_t DaysFromCivil(int64_t year, int month, int day);

struct CivilDate {
  int64_t year;
  int month;  // 1-12
  int day;    // 1-31
};
CivilDate CivilFromDays(int64_t days);

// 0 = Sunday ... 6 = Saturday.
int WeekdayFromDays(int64_t days);

// Parses RFC 3339 / ISO 8601 timestamps: "2024-03-01", "2024-03-01T10:20",
// "2024-03-01T10:20:30", with optional fraction ".123456" (kept to the
// millisecond) and optional zone "Z", "+03:00", "-0500". 'T' may also be a
// space. Without a zone the time is taken as UTC; *has_zone (when given)
// says whether a zone was written. Returns nullopt for anything else,
// including out-of-range fields (month 13, 25:00, Feb 30).
std::optional<int64_t> ParseTimestampMillis(std::string_view text, bool* has_zone = nullptr);

// "2024-03-01T10:20:30Z", or "2024-03-01T10:20:30.123Z" with milliseconds.
std::string FormatTimestampMillis(int64_t millis);

// Converts a wall-clock time in the UK (Europe/London: GMT in winter, BST =
// GMT+1 from 01:00 GMT on the last Sunday of March to 01:00 GMT on the last
// Sunday of October, the EU rule in force since 1996) to UTC. The input is
// the wall-clock reading encoded as if it were UTC. The repeated autumn hour
// resolves to BST.
int64_t UkLocalToUtcMillis(int64_t wall_clock_as_utc_millis);

}  // namespace vitrina
