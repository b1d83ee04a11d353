// Little binary files for model snapshots: a header naming the model and
// format version, then plain-old-data values and arrays. Readers check
// every length against the file, so a truncated or foreign file is an
// error, never a crash.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/status.h"

namespace vitrina {

class BinaryWriter {
 public:
  // Opens `path` for writing and writes the header.
  static Result<BinaryWriter> Create(const std::string& path, std::string_view model, uint32_t version);
  BinaryWriter(BinaryWriter&& other) noexcept;
  BinaryWriter& operator=(BinaryWriter&&) = delete;
  ~BinaryWriter();

  template <typename T>
  void Put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    Write(&value, sizeof(T));
  }
  template <typename T>
  void PutVector(const std::vector<T>& values) {
    static_assert(std::is_trivially_copyable_v<T>);
    Put<uint64_t>(values.size());
    Write(values.data(), values.size() * sizeof(T));
  }
  void PutString(std::string_view text);
  void Write(const void* data, size_t bytes);

  // Flushes and closes; reports any write error since Create.
  Status Close();

 private:
  BinaryWriter(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  std::FILE* file_;
  std::string path_;
  bool failed_ = false;
};

class BinaryReader {
 public:
  // Opens `path` and checks the header. Corruption if it names another model
  // or version.
  static Result<BinaryReader> Open(const std::string& path, std::string_view model, uint32_t version);
  // The same for a model that still reads older versions: any version from
  // `oldest` to `newest`, the one found in *version.
  static Result<BinaryReader> Open(const std::string& path, std::string_view model, uint32_t oldest, uint32_t newest,
                                   uint32_t* version);
  BinaryReader(BinaryReader&& other) noexcept;
  BinaryReader& operator=(BinaryReader&&) = delete;
  ~BinaryReader();

  template <typename T>
  Status Get(T* value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return Read(value, sizeof(T));
  }
  template <typename T>
  Status GetVector(std::vector<T>* values) {
    static_assert(std::is_trivially_copyable_v<T>);
    uint64_t count = 0;
    VITRINA_RETURN_IF_ERROR(Get(&count));
    if (count > remaining_ / sizeof(T) + 1) return Truncated();
    values->resize(count);
    return Read(values->data(), count * sizeof(T));
  }
  Status GetString(std::string* text);
  Status Read(void* data, size_t bytes);
  // OK only when the whole file was read.
  Status ExpectEnd() const;

 private:
  BinaryReader(std::FILE* file, std::string path, uint64_t size) : file_(file), path_(std::move(path)), remaining_(size) {}
  Status Truncated() const;
  std::FILE* file_;
  std::string path_;
  uint64_t remaining_;
};

}  // namespace vitrina
