// A progress line for long-running commands: rows, rows/s, percent and ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace vitrina {

// On a terminal, redraws one line at most 10 times a second; otherwise
// (logs, CI) prints a plain line every 5 seconds. Not thread-safe.
class ProgressBar {
 public:
  // `total_bytes` 0 means unknown (no percentage or ETA).
  ProgressBar(std::FILE* out, std::string label, uint64_t total_bytes);

  // Cheap enough to call per row: it checks the time every 4096 calls.
  void Update(uint64_t rows, uint64_t bytes);
  // Prints the final state and a newline.
  void Finish(uint64_t rows, uint64_t bytes);

  double elapsed_seconds() const;

 private:
  void Draw(uint64_t rows, uint64_t bytes, bool final);

  std::FILE* out_;
  std::string label_;
  uint64_t total_bytes_;
  bool is_terminal_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  uint32_t calls_ = 0;
};

// "1,234,567"
std::string FormatCount(uint64_t value);

}  // namespace vitrina
