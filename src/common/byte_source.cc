#include "common/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vitrina {
namespace {

constexpr unsigned char kZstdMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};

// Raw bytes from a file descriptor, or from memory.
class RawInput {
 public:
  virtual ~RawInput() = default;
  virtual Result<size_t> Read(char* buffer, size_t capacity) = 0;
  virtual uint64_t size() const = 0;
};

class FdInput final : public RawInput {
 public:
  FdInput(int fd, bool owned, uint64_t size) : fd_(fd), owned_(owned), size_(size) {}
  ~FdInput() override {
    if (owned_) ::close(fd_);
  }
  Result<size_t> Read(char* buffer, size_t capacity) override {
    while (true) {
      ssize_t n = ::read(fd_, buffer, capacity);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Status::IOError(std::string("read failed: ") + std::strerror(errno));
    }
  }
  uint64_t size() const override { return size_; }

 private:
  int fd_;
  bool owned_;
  uint64_t size_;
};

class MemoryInput final : public RawInput {
 public:
  explicit MemoryInput(std::string data) : data_(std::move(data)) {}
  Result<size_t> Read(char* buffer, size_t capacity) override {
    size_t n = std::min(capacity, data_.size() - pos_);
    std::memcpy(buffer, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  uint64_t size() const override { return data_.size(); }

 private:
  std::string data_;
  size_t pos_ = 0;
};

// Serves a prefix already read (for format sniffing), then the rest.
class Prefetched {
 public:
  Prefetched(std::unique_ptr<RawInput> input, std::string prefix)
      : input_(std::move(input)), prefix_(std::move(prefix)) {}
  Result<size_t> Read(char* buffer, size_t capacity) {
    if (prefix_pos_ < prefix_.size()) {
      size_t n = std::min(capacity, prefix_.size() - prefix_pos_);
      std::memcpy(buffer, prefix_.data() + prefix_pos_, n);
      prefix_pos_ += n;
      bytes_read_ += n;
      return n;
    }
    auto n = input_->Read(buffer, capacity);
    if (n.ok()) bytes_read_ += *n;
    return n;
  }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t size() const { return input_->size(); }

 private:
  std::unique_ptr<RawInput> input_;
  std::string prefix_;
  size_t prefix_pos_ = 0;
  uint64_t bytes_read_ = 0;
};

class PlainSource final : public ByteSource {
 public:
  PlainSource(Prefetched input, std::string name) : input_(std::move(input)), name_(std::move(name)) {}
  Result<size_t> Read(char* buffer, size_t capacity) override { return input_.Read(buffer, capacity); }
  uint64_t raw_bytes_read() const override { return input_.bytes_read(); }
  uint64_t raw_size() const override { return input_.size(); }
  const std::string& name() const override { return name_; }

 private:
  Prefetched input_;
  std::string name_;
};

class ZstdSource final : public ByteSource {
 public:
  ZstdSource(Prefetched input, std::string name)
      : input_(std::move(input)), name_(std::move(name)), stream_(ZSTD_createDStream()) {
    ZSTD_initDStream(stream_);
    in_buffer_.resize(ZSTD_DStreamInSize());
  }
  ~ZstdSource() override { ZSTD_freeDStream(stream_); }

  Result<size_t> Read(char* buffer, size_t capacity) override {
    ZSTD_outBuffer out{buffer, capacity, 0};
    while (out.pos == 0) {
      if (in_.pos == in_.size) {
        if (input_done_) {
          if (!frame_complete_) return Status::Corruption(name_ + ": truncated zstd data");
          return size_t{0};
        }
        auto n = input_.Read(in_buffer_.data(), in_buffer_.size());
        if (!n.ok()) return n.status();
        if (*n == 0) {
          input_done_ = true;
          continue;
        }
        in_ = ZSTD_inBuffer{in_buffer_.data(), *n, 0};
      }
      size_t ret = ZSTD_decompressStream(stream_, &out, &in_);
      if (ZSTD_isError(ret)) {
        return Status::Corruption(name_ + ": bad zstd data: " + ZSTD_getErrorName(ret));
      }
      // 0 means a frame just ended; more frames may follow.
      frame_complete_ = ret == 0;
    }
    return out.pos;
  }
  uint64_t raw_bytes_read() const override { return input_.bytes_read(); }
  uint64_t raw_size() const override { return input_.size(); }
  const std::string& name() const override { return name_; }

 private:
  Prefetched input_;
  std::string name_;
  ZSTD_DStream* stream_;
  std::vector<char> in_buffer_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  bool input_done_ = false;
  bool frame_complete_ = true;
};

Result<std::unique_ptr<ByteSource>> Sniff(std::unique_ptr<RawInput> input, std::string name) {
  std::string prefix(4, '\0');
  size_t got = 0;
  while (got < prefix.size()) {
    auto n = input->Read(prefix.data() + got, prefix.size() - got);
    if (!n.ok()) return Status::IOError(name + ": " + n.status().message());
    if (*n == 0) break;
    got += *n;
  }
  prefix.resize(got);
  const bool zstd = got == 4 && std::memcmp(prefix.data(), kZstdMagic, 4) == 0;
  Prefetched prefetched(std::move(input), std::move(prefix));
  if (zstd) return std::unique_ptr<ByteSource>(new ZstdSource(std::move(prefetched), std::move(name)));
  return std::unique_ptr<ByteSource>(new PlainSource(std::move(prefetched), std::move(name)));
}

}  // namespace

Result<std::unique_ptr<ByteSource>> OpenByteSource(const std::string& path) {
  if (path == "-") return Sniff(std::make_unique<FdInput>(STDIN_FILENO, false, 0), "<stdin>");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(path + ": " + std::strerror(errno));
  struct stat st {};
  uint64_t size = 0;
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return Status::IOError(path + ": is a directory");
    }
    if (S_ISREG(st.st_mode)) size = static_cast<uint64_t>(st.st_size);
  }
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  return Sniff(std::make_unique<FdInput>(fd, true, size), path);
}

std::unique_ptr<ByteSource> MakeStringByteSource(std::string data, std::string name) {
  auto result = Sniff(std::make_unique<MemoryInput>(std::move(data)), std::move(name));
  return std::move(result).value();  // memory reads cannot fail
}

LineReader::LineReader(ByteSource* source, size_t max_line_bytes)
    : source_(source), max_line_bytes_(max_line_bytes) {
  buffer_.resize(1 << 20);
}

bool LineReader::Fill() {
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buffer_.size()) {
    if (buffer_.size() >= max_line_bytes_) {
      status_ = Status::InvalidArgument(source_->name() + ":" + std::to_string(line_number_ + 1) +
                                        ": line longer than " + std::to_string(max_line_bytes_) + " bytes");
      return false;
    }
    buffer_.resize(std::min(buffer_.size() * 2, max_line_bytes_));
  }
  auto n = source_->Read(buffer_.data() + end_, buffer_.size() - end_);
  if (!n.ok()) {
    status_ = n.status();
    return false;
  }
  if (*n == 0) eof_ = true;
  end_ += *n;
  return true;
}

bool LineReader::Next(std::string_view* line) {
  if (at_start_) {
    at_start_ = false;
    while (end_ - begin_ < 3 && !eof_ && Fill()) {
    }
    if (!status_.ok()) return false;
    if (end_ - begin_ >= 3 && std::memcmp(buffer_.data() + begin_, "\xEF\xBB\xBF", 3) == 0) begin_ += 3;
  }
  size_t scanned = begin_;
  while (true) {
    const char* start = buffer_.data() + scanned;
    const void* newline = std::memchr(start, '\n', end_ - scanned);
    if (newline != nullptr) {
      size_t at = static_cast<const char*>(newline) - buffer_.data();
      size_t len = at - begin_;
      if (len > 0 && buffer_[at - 1] == '\r') --len;
      *line = std::string_view(buffer_.data() + begin_, len);
      begin_ = at + 1;
      ++line_number_;
      return true;
    }
    if (eof_) {
      if (begin_ == end_) return false;
      size_t len = end_ - begin_;
      if (buffer_[end_ - 1] == '\r') --len;
      *line = std::string_view(buffer_.data() + begin_, len);
      begin_ = end_;
      ++line_number_;
      return true;
    }
    size_t consumed_offset = end_ - begin_;
    if (!Fill()) return false;
    scanned = begin_ + consumed_offset;
  }
}

}  // namespace vitrina
