// Sequential input for importers: a file or stdin, transparently
// decompressing Zstandard (recognised by its magic number, whatever the name).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vitrina {

// Not thread-safe; one reader at a time.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `capacity` bytes into `buffer`; 0 means end of input.
  virtual Result<size_t> Read(char* buffer, size_t capacity) = 0;
  // Bytes consumed from the underlying file (compressed bytes for .zst).
  virtual uint64_t raw_bytes_read() const = 0;
  // Size of the underlying file, or 0 when unknown (stdin, pipes).
  virtual uint64_t raw_size() const = 0;
  // The path as given, or "<stdin>".
  virtual const std::string& name() const = 0;
};

// Opens `path`; "-" reads stdin.
Result<std::unique_ptr<ByteSource>> OpenByteSource(const std::string& path);

// A source over bytes in memory, for tests. Zstandard data is decompressed.
std::unique_ptr<ByteSource> MakeStringByteSource(std::string data, std::string name = "<memory>");

// Splits a ByteSource into lines ("\n" or "\r\n"; the last line may lack
// one). A UTF-8 byte-order mark at the start is dropped. Lines longer than
// `max_line_bytes` are an error naming the line.
class LineReader {
 public:
  explicit LineReader(ByteSource* source, size_t max_line_bytes = 64 << 20);

  // Sets *line to the next line without its terminator. The view stays valid
  // until the next call. Returns false at end of input; check status().
  bool Next(std::string_view* line);
  // 1-based number of the line last returned.
  uint64_t line_number() const { return line_number_; }
  const Status& status() const { return status_; }

 private:
  bool Fill();

  ByteSource* source_;
  size_t max_line_bytes_;
  std::string buffer_;
  size_t begin_ = 0;  // start of unread data in buffer_
  size_t end_ = 0;    // end of valid data in buffer_
  bool eof_ = false;
  bool at_start_ = true;
  uint64_t line_number_ = 0;
  Status status_;
};

}  // namespace vitrina
