#include "common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace vitrina {

std::string FormatCount(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

ProgressBar::ProgressBar(std::FILE* out, std::string label, uint64_t total_bytes)
    : out_(out),
      label_(std::move(label)),
      total_bytes_(total_bytes),
      is_terminal_(::isatty(::fileno(out)) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::Update(uint64_t rows, uint64_t bytes) {
  if ((++calls_ & 4095) != 0) return;
  auto now = std::chrono::steady_clock::now();
  auto interval = is_terminal_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  Draw(rows, bytes, false);
}

void ProgressBar::Finish(uint64_t rows, uint64_t bytes) { Draw(rows, bytes, true); }

void ProgressBar::Draw(uint64_t rows, uint64_t bytes, bool final) {
  const double seconds = std::max(elapsed_seconds(), 1e-6);
  const double rate = rows / seconds;
  std::string line = label_;
  if (total_bytes_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(bytes) / total_bytes_);
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth);
    line += " [" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
    line += std::to_string(static_cast<int>(fraction * 100)) + "%";
  }
  line += "  " + FormatCount(rows) + " rows  " + FormatCount(static_cast<uint64_t>(rate)) + " rows/s";
  if (final) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %.2f s", seconds);
    line += buf;
  } else if (total_bytes_ > 0 && bytes > 0) {
    const double remaining = seconds * (static_cast<double>(total_bytes_) / bytes - 1.0);
    line += "  ETA " + std::to_string(static_cast<int>(std::ceil(std::max(0.0, remaining)))) + " s";
  }
  if (is_terminal_) {
    std::fprintf(out_, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

}  // namespace vitrina
