#include "ingest/csv_reader.h"

#include <cstring>

namespace vitrina {

CsvReader::CsvReader(ByteSource* source, char separator, size_t max_record_bytes)
    : source_(source), separator_(separator), max_record_bytes_(max_record_bytes) {
  buffer_.resize(1 << 20);
}

bool CsvReader::Refill() {
  if (eof_) return false;
  auto n = source_->Read(buffer_.data(), buffer_.size());
  if (!n.ok()) {
    status_ = n.status();
    eof_ = true;
    return false;
  }
  pos_ = 0;
  end_ = *n;
  if (end_ == 0) eof_ = true;
  if (at_start_ && end_ > 0) {
    at_start_ = false;
    if (end_ >= 3 && std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;
  }
  return end_ > pos_ || (end_ > 0 && Refill());
}

bool CsvReader::Next(std::vector<std::string_view>* fields) {
  fields->clear();
  row_.clear();
  spans_.clear();
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  State state = State::kFieldStart;
  size_t field_start = 0;
  bool any = false;  // the record has at least one character
  record_line_ = line_;

  auto finish_field = [&] {
    spans_.emplace_back(field_start, row_.size() - field_start);
    field_start = row_.size();
  };
  auto finish_record = [&] {
    finish_field();
    fields->reserve(spans_.size());
    for (auto [offset, length] : spans_) fields->emplace_back(row_.data() + offset, length);
  };

  while (true) {
    if (pos_ == end_ && !Refill()) {
      if (!status_.ok()) return false;
      if (state == State::kQuoted) {
        status_ = Status::InvalidArgument(source_->name() + ":" + std::to_string(record_line_) +
                                          ": unterminated quoted field");
        return false;
      }
      if (!any) return false;
      finish_record();
      return true;
    }
    if (skip_newline_) {
      skip_newline_ = false;
      if (buffer_[pos_] == '\n') {
        ++pos_;
        continue;
      }
    }
    // Fast path: copy a run of ordinary bytes in one go.
    if (state == State::kUnquoted || state == State::kQuoted) {
      size_t run = pos_;
      if (state == State::kQuoted) {
        while (run < end_ && buffer_[run] != '"' && buffer_[run] != '\n') ++run;
      } else {
        while (run < end_) {
          char c = buffer_[run];
          if (c == separator_ || c == '\n' || c == '\r' || c == '"') break;
          ++run;
        }
      }
      row_.append(buffer_.data() + pos_, run - pos_);
      pos_ = run;
      if (row_.size() > max_record_bytes_) {
        status_ = Status::InvalidArgument(source_->name() + ":" + std::to_string(record_line_) +
                                          ": record longer than " + std::to_string(max_record_bytes_) +
                                          " bytes (an unterminated quote?)");
        return false;
      }
      if (pos_ == end_) continue;
    }
    char c = buffer_[pos_++];
    switch (state) {
      case State::kFieldStart:
      case State::kUnquoted:
        if (c == separator_) {
          any = true;
          finish_field();
          state = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          ++line_;
          skip_newline_ = c == '\r';
          if (!any) {
            record_line_ = line_;
            state = State::kFieldStart;
            continue;  // blank line
          }
          finish_record();
          return true;
        } else if (c == '"' && state == State::kFieldStart) {
          any = true;
          state = State::kQuoted;
        } else {
          any = true;
          row_.push_back(c);
          state = State::kUnquoted;
        }
        break;
      case State::kQuoted:
        if (c == '"') {
          state = State::kQuoteInQuoted;
        } else {
          if (c == '\n') ++line_;
          row_.push_back(c);
        }
        break;
      case State::kQuoteInQuoted:
        if (c == '"') {
          row_.push_back('"');
          state = State::kQuoted;
        } else {
          // The closing quote; what follows continues as an unquoted field.
          --pos_;
          state = State::kUnquoted;
        }
        break;
    }
  }
}

}  // namespace vitrina
