#include "common/strings.h"

#include <gtest/gtest.h>

namespace vitrina {
namespace {

TEST(StringsTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("наушники ёлка"));
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));        // emoji
  EXPECT_FALSE(IsValidUtf8("\xC3"));                    // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));            // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));        // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("abc\xFF"));
}

TEST(StringsTest, RepairUtf8ReplacesEachStrayByte) {
  EXPECT_EQ(RepairUtf8("ok ё"), "ok ё");
  EXPECT_EQ(RepairUtf8(std::string_view("\xff\xfe", 2)), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(RepairUtf8("x\xc3"), "x\xEF\xBF\xBD");  // cut in the middle of a character
  EXPECT_TRUE(IsValidUtf8(RepairUtf8("\xe2\x82 \xf0\x9f\x98\x80 \xc0\xaf")));
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80", 0), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xc0\xaf", 0), 0u);  // overlong
}

TEST(StringsTest, ControlCharacters) {
  EXPECT_FALSE(HasControlChar("item-1 / size M"));
  EXPECT_TRUE(HasControlChar(std::string_view("a\0b", 3)));
  EXPECT_TRUE(HasControlChar("tab\there"));
  EXPECT_TRUE(HasControlChar("del\x7F"));
}

TEST(StringsTest, TrimAndSplit) {
  EXPECT_EQ(TrimWhitespace("  WHITE MUG \t"), "WHITE MUG");
  EXPECT_EQ(TrimWhitespace("   "), "");
  auto parts = Split("Home > Kitchen > Mugs", " > ");
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2], "Mugs");
  EXPECT_EQ(Split("", ",").size(), 1u);
  EXPECT_EQ(Join({"Home", "Kitchen", "Mugs"}, " > "), "Home > Kitchen > Mugs");
  EXPECT_EQ(Join({}, ","), "");
  EXPECT_EQ(Join({"one"}, ","), "one");
}

TEST(StringsTest, NumberParsingIsStrict) {
  EXPECT_EQ(ParseInt64("17850"), 17850);
  EXPECT_EQ(ParseInt64("-3"), -3);
  EXPECT_EQ(ParseInt64("+3"), 3);
  EXPECT_FALSE(ParseInt64("3.0"));
  EXPECT_FALSE(ParseInt64(""));
  EXPECT_FALSE(ParseInt64("99999999999999999999"));
  EXPECT_DOUBLE_EQ(*ParseDouble("2.55"), 2.55);
  EXPECT_DOUBLE_EQ(*ParseDouble("-11062.06"), -11062.06);
  EXPECT_FALSE(ParseDouble("2.55x"));
  EXPECT_FALSE(ParseDouble("inf"));
  EXPECT_FALSE(ParseDouble("nan"));
  EXPECT_EQ(FormatDouble(2.55), "2.55");
  EXPECT_EQ(FormatDouble(3), "3");
}

TEST(StringsTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("secret-key", "secret-key"));
  EXPECT_FALSE(ConstantTimeEquals("secret-key", "secret-kez"));
  EXPECT_FALSE(ConstantTimeEquals("secret-key", "secret-key2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
}

TEST(StringsTest, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("GB", "gb"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_FALSE(EqualsIgnoreCase("gb", "gbr"));
  EXPECT_FALSE(EqualsIgnoreCase("Кот", "кот"));  // ASCII letters only
}

TEST(StringsTest, PercentDecode) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("%D0%BC", false), "м");
  EXPECT_FALSE(PercentDecode("%2", false));
  EXPECT_FALSE(PercentDecode("%zz", false));
  EXPECT_FALSE(PercentDecode("abc%", false));
  EXPECT_EQ(PercentEncode("a b/c-d.e_f~"), "a%20b%2Fc-d.e_f~");
  EXPECT_EQ(PercentEncode("мяч"), "%D0%BC%D1%8F%D1%87");
  EXPECT_EQ(PercentDecode(PercentEncode("x&y=z%+"), false), "x&y=z%+");
}

TEST(StringsTest, Levenshtein) {
  EXPECT_EQ(LevenshteinDistance("server.port", "server.prot"), 2u);
  EXPECT_EQ(LevenshteinDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(LevenshteinDistance("", "abc"), 3u);
}

}  // namespace
}  // namespace vitrina
