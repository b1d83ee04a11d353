#include "models/binary_io.h"

#include <cerrno>
#include <cstring>

namespace vitrina {
namespace {

constexpr char kMagic[4] = {'V', 'T', 'R', 'M'};

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

Result<BinaryWriter> BinaryWriter::Create(const std::string& path, std::string_view model, uint32_t version) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return Status::IOError("cannot create " + path + ": " + ErrnoText());
  BinaryWriter writer(file, path);
  writer.Write(kMagic, sizeof(kMagic));
  writer.PutString(model);
  writer.Put(version);
  return writer;
}

BinaryWriter::BinaryWriter(BinaryWriter&& other) noexcept
    : file_(other.file_), path_(std::move(other.path_)), failed_(other.failed_) {
  other.file_ = nullptr;
}

BinaryWriter::~BinaryWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void BinaryWriter::Write(const void* data, size_t bytes) {
  if (failed_ || bytes == 0) return;
  if (std::fwrite(data, 1, bytes, file_) != bytes) failed_ = true;
}

void BinaryWriter::PutString(std::string_view text) {
  Put<uint64_t>(text.size());
  Write(text.data(), text.size());
}

Status BinaryWriter::Close() {
  if (file_ == nullptr) return Status::Internal("closed twice: " + path_);
  bool flush_failed = std::fflush(file_) != 0;
  bool close_failed = std::fclose(file_) != 0;
  file_ = nullptr;
  if (failed_ || flush_failed || close_failed) return Status::IOError("cannot write " + path_ + ": " + ErrnoText());
  return Status::OK();
}

Result<BinaryReader> BinaryReader::Open(const std::string& path, std::string_view model, uint32_t version) {
  uint32_t found = 0;
  return Open(path, model, version, version, &found);
}

Result<BinaryReader> BinaryReader::Open(const std::string& path, std::string_view model, uint32_t oldest,
                                        uint32_t newest, uint32_t* version) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return Status::IOError("cannot open " + path + ": " + ErrnoText());
  std::fseek(file, 0, SEEK_END);
  long size = std::ftell(file);
  std::fseek(file, 0, SEEK_SET);
  BinaryReader reader(file, path, size < 0 ? 0 : static_cast<uint64_t>(size));
  char magic[4];
  std::string stored_model;
  uint32_t stored_version = 0;
  if (!reader.Read(magic, sizeof(magic)).ok() || std::memcmp(magic, kMagic, sizeof(magic)) != 0 ||
      !reader.GetString(&stored_model).ok() || !reader.Get(&stored_version).ok()) {
    return Status::Corruption(path + " is not a Vitrina model file");
  }
  if (stored_model != model || stored_version < oldest || stored_version > newest) {
    const std::string expected = oldest == newest ? std::to_string(newest)
                                                  : std::to_string(oldest) + " to " + std::to_string(newest);
    return Status::Corruption(path + " holds model '" + stored_model + "' version " + std::to_string(stored_version) +
                              ", expected '" + std::string(model) + "' version " + expected);
  }
  *version = stored_version;
  return reader;
}

BinaryReader::BinaryReader(BinaryReader&& other) noexcept
    : file_(other.file_), path_(std::move(other.path_)), remaining_(other.remaining_) {
  other.file_ = nullptr;
}

BinaryReader::~BinaryReader() {
  if (file_ != nullptr) std::fclose(file_);
}

Status BinaryReader::Truncated() const { return Status::Corruption(path_ + " is truncated"); }

Status BinaryReader::Read(void* data, size_t bytes) {
  if (bytes > remaining_) return Truncated();
  if (bytes > 0 && std::fread(data, 1, bytes, file_) != bytes) return Truncated();
  remaining_ -= bytes;
  return Status::OK();
}

Status BinaryReader::GetString(std::string* text) {
  uint64_t size = 0;
  VITRINA_RETURN_IF_ERROR(Get(&size));
  if (size > remaining_) return Truncated();
  text->resize(size);
  return Read(text->data(), size);
}

Status BinaryReader::ExpectEnd() const {
  if (remaining_ != 0) return Status::Corruption(path_ + " has " + std::to_string(remaining_) + " unexpected trailing bytes");
  return Status::OK();
}

}  // namespace vitrina
