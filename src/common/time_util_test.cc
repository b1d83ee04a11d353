#include "common/time_util.h"

#include <gtest/gtest.h>

namespace vitrina {
namespace {

TEST(TimeUtilTest, CivilRoundTripsAcrossCenturies) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  for (int64_t days = -800000; days <= 800000; days += 997) {
    CivilDate d = CivilFromDays(days);
    EXPECT_EQ(DaysFromCivil(d.year, d.month, d.day), days);
  }
}

TEST(TimeUtilTest, WeekdayOfKnownDates) {
  EXPECT_EQ(WeekdayFromDays(0), 4);                              // 1970-01-01 Thursday
  EXPECT_EQ(WeekdayFromDays(DaysFromCivil(2011, 12, 9)), 5);     // Friday
  EXPECT_EQ(WeekdayFromDays(DaysFromCivil(2024, 2, 29)), 4);     // Thursday
}

TEST(TimeUtilTest, ParsesRfc3339Variants) {
  EXPECT_EQ(ParseTimestampMillis("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseTimestampMillis("2011-12-09T12:50:00Z"), 1323435000000);
  EXPECT_EQ(ParseTimestampMillis("2011-12-09 12:50:00"), 1323435000000);
  EXPECT_EQ(ParseTimestampMillis("2011-12-09T12:50"), 1323435000000);
  EXPECT_EQ(ParseTimestampMillis("2011-12-09T15:50:00+03:00"), 1323435000000);
  EXPECT_EQ(ParseTimestampMillis("2011-12-09T07:50:00-0500"), 1323435000000);
  EXPECT_EQ(ParseTimestampMillis("2011-12-09T12:50:00.123456Z"), 1323435000123);
  EXPECT_EQ(ParseTimestampMillis("2011-12-09T12:50:00.5Z"), 1323435000500);
  EXPECT_EQ(ParseTimestampMillis("2011-12-09"), 1323388800000);
}

TEST(TimeUtilTest, RejectsMalformedOrOutOfRange) {
  for (const char* bad : {"", "2011", "2011-13-01", "2011-02-29", "2011-12-09T24:00", "2011-12-09T12:60",
                          "2011-12-09X12:50", "2011-12-09T12:50:00+3", "2011-12-09T12:50:00.Z",
                          "2011-12-09T12:50:00ZZ", "12/09/2011", "2011-12-09T12:50:00 garbage"}) {
    EXPECT_FALSE(ParseTimestampMillis(bad).has_value()) << bad;
  }
  EXPECT_TRUE(ParseTimestampMillis("2012-02-29").has_value());
}

TEST(TimeUtilTest, FormatsWithOptionalMillis) {
  EXPECT_EQ(FormatTimestampMillis(1323435000000), "2011-12-09T12:50:00Z");
  EXPECT_EQ(FormatTimestampMillis(1323435000123), "2011-12-09T12:50:00.123Z");
  EXPECT_EQ(FormatTimestampMillis(-1000), "1969-12-31T23:59:59Z");
  EXPECT_EQ(ParseTimestampMillis(FormatTimestampMillis(1700000000042)), 1700000000042);
}

TEST(TimeUtilTest, UkLocalTimeFollowsBritishSummerTime) {
  auto wall = [](const char* text) { return *ParseTimestampMillis(text); };
  // Winter: GMT.
  EXPECT_EQ(UkLocalToUtcMillis(wall("2011-01-18 10:00")), wall("2011-01-18T10:00Z"));
  // Summer: BST = UTC+1.
  EXPECT_EQ(UkLocalToUtcMillis(wall("2011-07-01 10:00")), wall("2011-07-01T09:00Z"));
  // 2011 switches: 27 March 01:00 GMT, 30 October 01:00 GMT.
  EXPECT_EQ(UkLocalToUtcMillis(wall("2011-03-27 00:59")), wall("2011-03-27T00:59Z"));
  EXPECT_EQ(UkLocalToUtcMillis(wall("2011-03-27 02:00")), wall("2011-03-27T01:00Z"));
  EXPECT_EQ(UkLocalToUtcMillis(wall("2011-10-30 00:30")), wall("2011-10-29T23:30Z"));
  EXPECT_EQ(UkLocalToUtcMillis(wall("2011-10-30 02:00")), wall("2011-10-30T02:00Z"));
  // The repeated autumn hour resolves to BST; the skipped spring hour to BST too.
  EXPECT_EQ(UkLocalToUtcMillis(wall("2011-10-30 01:30")), wall("2011-10-30T00:30Z"));
  EXPECT_EQ(UkLocalToUtcMillis(wall("2011-03-27 01:30")), wall("2011-03-27T00:30Z"));
}

TEST(TimeUtilTest, ReportsWhetherAZoneWasGiven) {
  bool has_zone = true;
  EXPECT_TRUE(ParseTimestampMillis("2024-05-01T10:00:00", &has_zone).has_value());
  EXPECT_FALSE(has_zone);
  EXPECT_TRUE(ParseTimestampMillis("2024-05-01T10:00:00+02:00", &has_zone).has_value());
  EXPECT_TRUE(has_zone);
}

}  // namespace
}  // namespace vitrina
