#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/strings.h"

namespace vitrina {
namespace {

TEST(JsonWriterTest, NestedStructureAndCommas) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject()
      .Key("a").Int(1)
      .Key("b").BeginArray().String("x").Bool(true).Null().BeginObject().EndObject().EndArray()
      .Key("c").Double(2.5)
      .Key("d").UInt(18446744073709551615ull)
      .EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":["x",true,null,{}],"c":2.5,"d":18446744073709551615})");
}

TEST(JsonWriterTest, EscapesStrings) {
  std::string out;
  AppendJsonString(&out, "q\"b\\n\nt\tc\x01 ё");
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\nt\\tc\\u0001 ё\"");
}

// A byte outside well-formed UTF-8 (a header copied into a document, data
// stored before it was checked) must never make the output unreadable JSON.
TEST(JsonWriterTest, InvalidUtf8BecomesTheReplacementCharacter) {
  std::string out;
  AppendJsonString(&out, "a\xff b\xc3 \xed\xa0\x80 ok \xd0\xb6");
  EXPECT_EQ(out, "\"a\xEF\xBF\xBD b\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD ok \xD0\xB6\"");
  EXPECT_TRUE(IsValidUtf8(out));
}

TEST(JsonWriterTest, NonFiniteBecomesNull) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray().Double(NAN).Double(INFINITY).Double(0.1).EndArray();
  EXPECT_EQ(out, "[null,null,0.1]");
}

}  // namespace
}  // namespace vitrina
