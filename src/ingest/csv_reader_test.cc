#include "ingest/csv_reader.h"

#include <gtest/gtest.h>

namespace vitrina {
namespace {

std::vector<std::vector<std::string>> ReadAll(const std::string& text, Status* status = nullptr,
                                              std::vector<uint64_t>* lines = nullptr) {
  auto source = MakeStringByteSource(text, "t.csv");
  CsvReader reader(source.get());
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string_view> fields;
  while (reader.Next(&fields)) {
    rows.emplace_back(fields.begin(), fields.end());
    if (lines != nullptr) lines->push_back(reader.line_number());
  }
  if (status != nullptr) *status = reader.status();
  return rows;
}

TEST(CsvReaderTest, PlainAndQuotedFields) {
  auto rows = ReadAll("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n,,\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"1", "x, y", "say \"hi\""}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"", "", ""}));
}

TEST(CsvReaderTest, MultiLineFieldsKeepLineNumbersRight) {
  std::vector<uint64_t> lines;
  auto rows = ReadAll("h1,h2\n\"two\nlines\",b\n\nlast,row", nullptr, &lines);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1][0], "two\nlines");
  EXPECT_EQ(lines, (std::vector<uint64_t>{1, 2, 5}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"last", "row"}));
}

TEST(CsvReaderTest, UnterminatedQuoteIsAnErrorWithTheLine) {
  Status status;
  ReadAll("a,b\n1,\"open\n2,3\n", &status);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("t.csv:2: unterminated"), std::string::npos) << status.message();
}

TEST(CsvReaderTest, ByteOrderMarkAndLineEndings) {
  auto rows = ReadAll("\xEF\xBB\xBF" "a,b\r1,x\ry\r\n2,\"in\rquotes\"\n");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a", "b"}));  // no BOM in the first name
  EXPECT_EQ(rows[1], (std::vector<std::string>{"1", "x"}));  // bare CR ends a record
  EXPECT_EQ(rows[2], (std::vector<std::string>{"y"}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"2", "in\rquotes"}));
  std::vector<uint64_t> lines;
  ReadAll("a\r\n\r\nb\r\n", nullptr, &lines);
  EXPECT_EQ(lines, (std::vector<uint64_t>{1, 3}));
}

TEST(CsvReaderTest, RunawayQuoteStopsAtTheRecordLimit) {
  auto source = MakeStringByteSource("a\n\"" + std::string(5000, 'x'), "big.csv");
  CsvReader reader(source.get(), ',', 1000);
  std::vector<std::string_view> fields;
  EXPECT_TRUE(reader.Next(&fields));
  EXPECT_FALSE(reader.Next(&fields));
  EXPECT_NE(reader.status().message().find("big.csv:2: record longer than 1000 bytes"), std::string::npos)
      << reader.status().message();
}

TEST(CsvReaderTest, RowsSpanningReadBuffers) {
  std::string text;
  for (int i = 0; i < 60000; ++i) text += std::to_string(i) + ",\"quoted " + std::to_string(i) + "\",tail\n";
  auto rows = ReadAll(text);
  ASSERT_EQ(rows.size(), 60000u);
  EXPECT_EQ(rows[59999][1], "quoted 59999");
  EXPECT_EQ(rows[31337][0], "31337");
}

}  // namespace
}  // namespace vitrina
