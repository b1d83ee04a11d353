#include "common/byte_source.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <fstream>
#include <vector>

namespace vitrina {
namespace {

std::string Compress(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  out.resize(n);
  return out;
}

std::vector<std::string> ReadLines(ByteSource* source) {
  LineReader reader(source);
  std::vector<std::string> lines;
  std::string_view line;
  while (reader.Next(&line)) lines.emplace_back(line);
  EXPECT_TRUE(reader.status().ok()) << reader.status().ToString();
  return lines;
}

TEST(ByteSourceTest, SplitsLinesWithAndWithoutCarriageReturns) {
  auto source = MakeStringByteSource("a\r\nbb\n\nccc");
  EXPECT_EQ(ReadLines(source.get()), (std::vector<std::string>{"a", "bb", "", "ccc"}));
}

TEST(ByteSourceTest, DecompressesZstdByMagicNumber) {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "line " + std::to_string(i) + "\n";
  auto source = MakeStringByteSource(Compress(text), "x.csv");
  auto lines = ReadLines(source.get());
  ASSERT_EQ(lines.size(), 100000u);
  EXPECT_EQ(lines[99999], "line 99999");
  EXPECT_EQ(source->raw_bytes_read(), source->raw_size());
}

TEST(ByteSourceTest, ConcatenatedZstdFramesAreOneStream) {
  auto source = MakeStringByteSource(Compress("a\nb\n") + Compress("c\n"));
  EXPECT_EQ(ReadLines(source.get()), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(ByteSourceTest, TruncatedZstdIsAnError) {
  std::string text(200000, 'x');
  std::string packed = Compress(text);
  auto source = MakeStringByteSource(packed.substr(0, packed.size() / 2));
  LineReader reader(source.get());
  std::string_view line;
  while (reader.Next(&line)) {
  }
  EXPECT_EQ(reader.status().code(), StatusCode::kCorruption);
}

TEST(ByteSourceTest, LongLinesGrowTheBufferUpToTheLimit) {
  std::string long_line(3 << 20, 'y');
  auto source = MakeStringByteSource(long_line + "\nshort\n");
  auto lines = ReadLines(source.get());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].size(), long_line.size());

  auto limited = MakeStringByteSource(long_line + "\n", "big.jsonl");
  LineReader reader(limited.get(), 1 << 20);
  std::string_view line;
  EXPECT_FALSE(reader.Next(&line));
  EXPECT_NE(reader.status().message().find("big.jsonl:1: line longer than"), std::string::npos);
}

TEST(ByteSourceTest, MissingFileNamesThePath) {
  auto source = OpenByteSource("/nonexistent/vitrina/input.csv");
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.status().message().find("/nonexistent/vitrina/input.csv"), std::string::npos);
}

TEST(ByteSourceTest, ReadsARealFile) {
  std::string path = ::testing::TempDir() + "/byte_source_test.txt";
  std::ofstream(path) << "one\ntwo\n";
  auto source = OpenByteSource(path);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->raw_size(), 8u);
  EXPECT_EQ(ReadLines(source->get()), (std::vector<std::string>{"one", "two"}));
}

}  // namespace
}  // namespace vitrina
