#include "common/time_util.h"

#include <cstdio>

namespace vitrina {
namespace {

bool IsLeap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeap(year) ? 29 : kDays[month - 1];
}

// Reads exactly `width` digits at text[pos]; advances pos.
bool ReadDigits(std::string_view text, size_t& pos, int width, int64_t& out) {
  if (pos + width > text.size()) return false;
  int64_t value = 0;
  for (int i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  out = value;
  return true;
}

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

// Day (1-31) of the last Sunday of `month` in `year`.
int LastSunday(int64_t year, int month) {
  int last = DaysInMonth(year, month);
  int64_t days = DaysFromCivil(year, month, last);
  return last - WeekdayFromDays(days);
}

}  // namespace

int64_t DaysFromCivil(int64_t year, int month, int day) {
  // Shift the year to start in March so the leap day is the year's last.
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t month_from_march = (month + 9) % 12;
  const int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const int month = static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  const int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

int WeekdayFromDays(int64_t days) {
  // 1970-01-01 was a Thursday (4).
  int64_t w = (days + 4) % 7;
  return static_cast<int>(w < 0 ? w + 7 : w);
}

std::optional<int64_t> ParseTimestampMillis(std::string_view text, bool* has_zone) {
  if (has_zone != nullptr) *has_zone = false;
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0;
  if (!ReadDigits(text, pos, 4, year) || !Expect(text, pos, '-') || !ReadDigits(text, pos, 2, month) ||
      !Expect(text, pos, '-') || !ReadDigits(text, pos, 2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, static_cast<int>(month))) {
    return std::nullopt;
  }
  int64_t hour = 0, minute = 0, second = 0, millis = 0, offset_minutes = 0;
  if (pos < text.size()) {
    char sep = text[pos];
    if (sep != 'T' && sep != 't' && sep != ' ') return std::nullopt;
    ++pos;
    if (!ReadDigits(text, pos, 2, hour) || !Expect(text, pos, ':') || !ReadDigits(text, pos, 2, minute)) {
      return std::nullopt;
    }
    if (Expect(text, pos, ':')) {
      if (!ReadDigits(text, pos, 2, second)) return std::nullopt;
      if (Expect(text, pos, '.')) {
        int digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (digits < 3) millis = millis * 10 + (text[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0 || digits > 9) return std::nullopt;
        for (int i = digits; i < 3; ++i) millis *= 10;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;  // 60: leap second
    if (pos < text.size()) {
      if (has_zone != nullptr) *has_zone = true;
      char zone = text[pos++];
      if (zone == 'Z' || zone == 'z') {
        // UTC
      } else if (zone == '+' || zone == '-') {
        int64_t zh, zm;
        if (!ReadDigits(text, pos, 2, zh)) return std::nullopt;
        Expect(text, pos, ':');
        if (!ReadDigits(text, pos, 2, zm) || zh > 23 || zm > 59) return std::nullopt;
        offset_minutes = (zone == '+' ? 1 : -1) * (zh * 60 + zm);
      } else {
        return std::nullopt;
      }
    }
    if (pos != text.size()) return std::nullopt;
  }
  if (second == 60) second = 59;
  const int64_t days = DaysFromCivil(year, static_cast<int>(month), static_cast<int>(day));
  return days * kMillisPerDay + ((hour * 60 + minute - offset_minutes) * 60 + second) * kMillisPerSecond +
         millis;
}

std::string FormatTimestampMillis(int64_t millis) {
  int64_t days = millis / kMillisPerDay;
  int64_t rest = millis % kMillisPerDay;
  if (rest < 0) {
    rest += kMillisPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  const int64_t ms = rest % 1000;
  const int64_t secs = rest / 1000;
  char buf[48];
  if (ms == 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02lld:%02lld:%02lldZ", static_cast<long long>(date.year),
                  date.month, date.day, static_cast<long long>(secs / 3600),
                  static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(date.year), date.month, date.day, static_cast<long long>(secs / 3600),
                  static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
                  static_cast<long long>(ms));
  }
  return buf;
}

int64_t UkLocalToUtcMillis(int64_t wall) {
  int64_t days = wall / kMillisPerDay;
  if (wall % kMillisPerDay < 0) --days;
  const int64_t year = CivilFromDays(days).year;
  constexpr int64_t kHour = 3'600'000;
  // BST starts when GMT wall clocks read 01:00 and ends when BST clocks read 02:00.
  const int64_t bst_start = DaysFromCivil(year, 3, LastSunday(year, 3)) * kMillisPerDay + kHour;
  const int64_t bst_end = DaysFromCivil(year, 10, LastSunday(year, 10)) * kMillisPerDay + 2 * kHour;
  const bool summer = wall >= bst_start && wall < bst_end;
  return summer ? wall - kHour : wall;
}

}  // namespace vitrina
