#include "storage/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/json_writer.h"
#include "common/time_util.h"
#include "storage/rocksdb_store.h"

namespace vitrina {


namespace {

namespace fs = std::filesystem;

Status ErrnoError(const std::string& what) { return Status::IOError(what + ": " + std::strerror(errno)); }

// Closes a file descriptor when it goes out of scope.
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

Status FsyncPath(const fs::path& path) {
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return ErrnoError("cannot open " + path.string());
  if (::fsync(file.fd) != 0) return ErrnoError("cannot fsync " + path.string());
  return Status::OK();
}

Status WriteAll(int fd, const char* data, size_t size, const fs::path& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot write " + path.string());
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::OK();
}

// Copies `from`, as long as it is now, into the new file `to`, fsynced.
// A *.jsonl file keeps its complete lines only: its writer may be mid-line.
// False when `from` is gone (deleted meanwhile).
Result<bool> CopyFileNow(const fs::path& from, const fs::path& to, uint64_t* bytes) {
  FileDescriptor in{::open(from.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) {
    if (errno == ENOENT) return false;
    return ErrnoError("cannot read " + from.string());
  }
  struct stat info {};
  if (::fstat(in.fd, &info) != 0) return ErrnoError("cannot read " + from.string());
  FileDescriptor out{::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, info.st_mode & 0777)};
  if (out.fd < 0) return ErrnoError("cannot create " + to.string());
  const bool whole_lines = from.extension() == ".jsonl";
  const uint64_t size = static_cast<uint64_t>(info.st_size);
  uint64_t copied = 0, kept = 0;
  std::vector<char> buffer(1 << 20);
  while (copied < size) {
    const ssize_t n = ::read(in.fd, buffer.data(), std::min<uint64_t>(buffer.size(), size - copied));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("cannot read " + from.string());
    if (n == 0) break;  // it shrank
    VITRINA_RETURN_IF_ERROR(WriteAll(out.fd, buffer.data(), static_cast<size_t>(n), to));
    if (whole_lines) {
      const auto newline = std::find(std::make_reverse_iterator(buffer.begin() + n), buffer.rend(), '\n');
      if (newline != buffer.rend()) kept = copied + static_cast<uint64_t>(buffer.rend() - newline);
    }
    copied += static_cast<uint64_t>(n);
  }
  if (!whole_lines) kept = copied;
  if (kept != copied && ::ftruncate(out.fd, static_cast<off_t>(kept)) != 0) {
    return ErrnoError("cannot truncate " + to.string());
  }
  if (::fsync(out.fd) != 0) return ErrnoError("cannot fsync " + to.string());
  *bytes += kept;
  return true;
}

// The plain files (but *.tmp, still being written) or the folders of
// `folder`, sorted; symbolic links and other kinds are left out. False
// when `folder` is gone.
Result<bool> ListFolder(const fs::path& folder, bool folders, std::vector<fs::path>* out) {
  out->clear();
  std::error_code error;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    const fs::file_type type = it->symlink_status(error).type();
    if (error) break;
    if (folders ? type == fs::file_type::directory
                : type == fs::file_type::regular && it->path().extension() != ".tmp") {
      out->push_back(it->path());
    }
  }
  if (error == std::errc::no_such_file_or_directory) return false;
  if (error) return Status::IOError("cannot list " + folder.string() + ": " + error.message());
  std::sort(out->begin(), out->end());
  return true;
}

// Copies `from` into the new folder `to` in the order BackupDataDirectory
// describes. False when something in it vanished meanwhile: `from` is being
// deleted (in a top folder, a vanished file is just left out).
Result<bool> CopyFolder(const fs::path& from, const fs::path& to, bool top, FolderCopy* copy) {
  std::error_code error;
  fs::create_directory(to, error);
  if (error) return Status::IOError("cannot create " + to.string() + ": " + error.message());
  std::vector<fs::path> entries;
  VITRINA_ASSIGN_OR_RETURN(bool listed, ListFolder(from, /*folders=*/false, &entries));
  if (!listed) return false;
  for (const fs::path& file : entries) {
    VITRINA_ASSIGN_OR_RETURN(bool copied, CopyFileNow(file, to / file.filename(), &copy->bytes));
    if (!copied && !top) return false;
    copy->files += copied ? 1 : 0;
  }
  VITRINA_ASSIGN_OR_RETURN(listed, ListFolder(from, /*folders=*/true, &entries));
  if (!listed) return false;
  for (const fs::path& folder : entries) {
    FolderCopy inner;
    VITRINA_ASSIGN_OR_RETURN(bool whole, CopyFolder(folder, to / folder.filename(), /*top=*/false, &inner));
    if (!whole) {
      fs::remove_all(to / folder.filename(), error);
      continue;
    }
    ++copy->folders;
    copy->files += inner.files;
    copy->bytes += inner.bytes;
  }
  VITRINA_RETURN_IF_ERROR(FsyncPath(to));
  return true;
}

// Writes `text` to `path` through a temporary file: the name appears only
// with the whole, durable content.
Status WriteFileAtomically(const fs::path& path, std::string_view text) {
  const fs::path temp = path.string() + ".tmp";
  {
    FileDescriptor out{::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (out.fd < 0) return ErrnoError("cannot create " + temp.string());
    VITRINA_RETURN_IF_ERROR(WriteAll(out.fd, text.data(), text.size(), temp));
    if (::fsync(out.fd) != 0) return ErrnoError("cannot fsync " + temp.string());
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError("cannot write " + path.string());
  return FsyncPath(path.parent_path());
}

std::string BackupManifestJson(const BackupReport& report, const std::string& source, int64_t now_ms) {
  std::string json;
  JsonWriter w(&json);
  w.BeginObject().Key("format").String(kBackupFormat).Key("vitrina").String(VITRINA_VERSION);
  w.Key("created").String(FormatTimestampMillis(now_ms)).Key("source").String(source);
  w.Key("store").BeginObject().Key("files").UInt(report.store_files).Key("bytes").UInt(report.store_bytes).EndObject();
  w.Key("counts").BeginObject().Key("items").UInt(report.counts.items).Key("users").UInt(report.counts.users);
  w.Key("events").UInt(report.counts.events).EndObject();
  w.Key("folders").BeginObject();
  for (const auto& [name, copy] : report.folders) {
    w.Key(name).BeginObject().Key("folders").UInt(copy.folders).Key("files").UInt(copy.files);
    w.Key("bytes").UInt(copy.bytes).EndObject();
  }
  w.EndObject().Key("seconds").Double(report.seconds).EndObject();
  json += "\n";
  return json;
}

// BackupDataDirectory into `to`, which exists and is empty.
Status BackupInto(Store* store, const fs::path& to, const Clock* clock, BackupReport* report) {
  const auto start = std::chrono::steady_clock::now();
  // The checkpoint goes into a folder of `to` and then moves up: `to` may
  // be a directory that cannot be removed and created again (a mount point).
  const fs::path staging = to / ".checkpoint";
  VITRINA_ASSIGN_OR_RETURN(CheckpointInfo checkpoint, store->Checkpoint(staging.string()));
  std::error_code error;
  const fs::path data = fs::weakly_canonical(checkpoint.store_dir, error);
  if (error) return Status::IOError("cannot resolve " + checkpoint.store_dir + ": " + error.message());
  const fs::path target = fs::weakly_canonical(to, error);
  if (error) return Status::IOError("cannot resolve " + to.string() + ": " + error.message());
  if (std::mismatch(data.begin(), data.end(), target.begin(), target.end()).first == data.end()) {
    return Status::InvalidArgument("to: " + to.string() + " is inside the data directory " + data.string() +
                                   "; back up to a directory outside it");
  }
  std::vector<fs::path> files;
  VITRINA_RETURN_IF_ERROR(ListFolder(staging, /*folders=*/false, &files).status());
  for (const fs::path& file : files) {
    fs::rename(file, to / file.filename(), error);
    if (error) return Status::IOError("cannot move " + file.string() + ": " + error.message());
  }
  fs::remove(staging, error);
  if (error) return Status::IOError("cannot remove " + staging.string() + ": " + error.message());
  {
    // Opening the copy proves it opens, counts what it holds, and folds its
    // write-ahead log into table files: the restored store replays nothing.
    RocksDbOptions options;
    options.path = to.string();
    options.create_if_missing = false;
    options.block_cache_mb = 8;
    auto copy = OpenRocksDbStore(options, clock);
    if (!copy.ok()) return copy.status().WithPrefix("the backup's store does not open: ");
    report->counts = (*copy)->Counts();
  }
  VITRINA_RETURN_IF_ERROR(ListFolder(to, /*folders=*/false, &files).status());
  for (const fs::path& file : files) {
    ++report->store_files;
    report->store_bytes += fs::file_size(file, error);
  }
  std::vector<fs::path> folders;
  VITRINA_RETURN_IF_ERROR(ListFolder(data, /*folders=*/true, &folders).status());
  for (const fs::path& folder : folders) {
    FolderCopy copy;
    VITRINA_ASSIGN_OR_RETURN(bool whole, CopyFolder(folder, to / folder.filename(), /*top=*/true, &copy));
    if (!whole) {
      fs::remove_all(to / folder.filename(), error);
      continue;
    }
    report->folders[folder.filename().string()] = copy;
  }
  report->path = to.string();
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return WriteFileAtomically(to / kBackupManifestName, BackupManifestJson(*report, data.string(), clock->NowMillis()));
}

}  // namespace

Result<BackupReport> BackupDataDirectory(Store* store, const std::string& to, const Clock* clock) {
  const fs::path target = fs::path(to).lexically_normal();
  if (to.empty() || !target.is_absolute()) {
    return Status::InvalidArgument("to: must be an absolute path, not '" + to + "'");
  }
  std::error_code error;
  const bool existed = fs::exists(target, error);
  if (existed && !(fs::is_directory(target, error) && fs::is_empty(target, error))) {
    return Status::InvalidArgument("to: " + to + " exists and is not an empty directory; name a new or empty one");
  }
  if (!existed && !fs::create_directories(target, error)) {
    return Status::InvalidArgument("to: cannot create " + to + ": " + error.message());
  }
  BackupReport report;
  Status status = BackupInto(store, target, clock, &report);
  if (status.ok()) return report;
  // Leave `to` as it was: missing, or empty.
  if (existed) {
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(target, error), end; !error && it != end; it.increment(error)) {
      entries.push_back(it->path());
    }
    for (const fs::path& entry : entries) fs::remove_all(entry, error);
  } else {
    fs::remove_all(target, error);
  }
  return status;
}

}  // namespace vitrina
