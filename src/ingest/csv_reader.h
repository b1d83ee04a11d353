// RFC 4180 CSV: separator-delimited fields, optional double quotes, ""
// inside quotes for a quote, quoted fields may span lines. Records end with
// "\n", "\r\n" or a bare "\r"; a UTF-8 byte-order mark at the start is
// dropped (Excel writes one).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_source.h"
#include "common/status.h"

namespace vitrina {

// Not thread-safe. Reads the source sequentially.
class CsvReader {
 public:
  explicit CsvReader(ByteSource* source, char separator = ',', size_t max_record_bytes = 64 << 20);

  // Reads the next record. The views stay valid until the next call.
  // Returns false at end of input or on error; check status(). Blank lines
  // are skipped.
  bool Next(std::vector<std::string_view>* fields);

  // 1-based line on which the last record started.
  uint64_t line_number() const { return record_line_; }
  const Status& status() const { return status_; }

 private:
  bool Refill();

  ByteSource* source_;
  char separator_;
  size_t max_record_bytes_;
  std::string buffer_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  bool at_start_ = true;      // a byte-order mark may follow
  bool skip_newline_ = false; // the last record ended with '\r'; drop a following '\n'
  uint64_t line_ = 1;         // current line of the reader
  uint64_t record_line_ = 0;  // line where the last record began
  std::string row_;           // unescaped field bytes of the current record
  std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) into row_
  Status status_;
};

}  // namespace vitrina
