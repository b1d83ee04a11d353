// vitrina restore: a data directory from a backup made by POST /v1/admin/backup.
#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "storage/backup.h"
#include "storage/rocksdb_store.h"

namespace vitrina {
namespace {

namespace fs = std::filesystem;

struct RestoreFlags {
  ConfigFlags config;
  std::string from;
};

// What the backup's manifest says it holds.
struct BackupManifest {
  std::string created;
  std::string source;
  StoreCounts counts;
};

// Refuses a directory that is not a finished Vitrina backup: its manifest,
// written last, is missing or of another format, or it holds no store.
Result<BackupManifest> ReadBackupManifest(const fs::path& from) {
  std::error_code error;
  if (!fs::is_directory(from, error)) return Status::InvalidArgument(from.string() + " is not a directory");
  const fs::path path = from / kBackupManifestName;
  if (!fs::exists(path, error)) {
    return Status::InvalidArgument(from.string() + " is not a Vitrina backup: it has no " +
                                   std::string(kBackupManifestName) + " (a backup that did not finish has none)");
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view format, created, source;
  if (parser.load(path.string()).get(root) != simdjson::SUCCESS || root["format"].get(format) != simdjson::SUCCESS) {
    return Status::InvalidArgument(path.string() + " is not a backup manifest");
  }
  if (format != kBackupFormat) {
    return Status::InvalidArgument(path.string() + " is in format '" + std::string(format) +
                                   "', which this version of Vitrina cannot restore (expects '" +
                                   std::string(kBackupFormat) + "')");
  }
  BackupManifest manifest;
  simdjson::dom::element counts;
  if (root["created"].get(created) != simdjson::SUCCESS || root["source"].get(source) != simdjson::SUCCESS ||
      root["counts"].get(counts) != simdjson::SUCCESS ||
      counts["items"].get(manifest.counts.items) != simdjson::SUCCESS ||
      counts["users"].get(manifest.counts.users) != simdjson::SUCCESS ||
      counts["events"].get(manifest.counts.events) != simdjson::SUCCESS) {
    return Status::InvalidArgument(path.string() + " lacks created, source or counts");
  }
  manifest.created = created;
  manifest.source = source;
  if (!fs::exists(from / "CURRENT", error)) {
    return Status::InvalidArgument(from.string() + " holds no store (no RocksDB CURRENT file)");
  }
  return manifest;
}

// True when `inner` is `outer` or lies inside it.
bool IsWithin(const fs::path& inner, const fs::path& outer) {
  std::error_code error;
  const fs::path a = fs::weakly_canonical(inner, error), b = fs::weakly_canonical(outer, error);
  return std::mismatch(b.begin(), b.end(), a.begin(), a.end()).first == b.end();
}

// Copies everything of the backup but its manifest into `to` (existing,
// empty): files as copies, never links, so the restored store shares
// nothing with the backup. Then flushes the file system.
Status CopyBackup(const fs::path& from, const fs::path& to) {
  std::error_code error;
  for (fs::recursive_directory_iterator it(from, error), end; !error && it != end; it.increment(error)) {
    const fs::path relative = it->path().lexically_relative(from);
    if (relative == fs::path(kBackupManifestName)) continue;
    const fs::file_type type = it->symlink_status(error).type();
    if (type == fs::file_type::directory) {
      fs::create_directory(to / relative, error);
    } else if (type == fs::file_type::regular) {
      fs::copy_file(it->path(), to / relative, error);
    }
    if (error) return Status::IOError("cannot copy " + it->path().string() + ": " + error.message());
  }
  if (error) return Status::IOError("cannot read " + from.string() + ": " + error.message());
  const int fd = ::open(to.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::syncfs(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return Status::IOError("cannot flush " + to.string() + " to disk");
  }
  ::close(fd);
  return Status::OK();
}

std::string ServingSnapshot(const fs::path& data) {
  std::FILE* file = std::fopen((data / "models" / "CURRENT").c_str(), "r");
  if (file == nullptr) return "";
  char id[128] = {};
  const bool read = std::fgets(id, sizeof id, file) != nullptr;
  std::fclose(file);
  std::string text = read ? id : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

size_t CountEntries(const fs::path& folder, bool folders) {
  std::error_code error;
  size_t count = 0;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    count += (folders ? it->is_directory(error) : it->is_regular_file(error)) ? 1 : 0;
  }
  return count;
}

int RunRestore(const RestoreFlags& flags) {
  std::optional<LoadedConfig> loaded = flags.config.Load();
  if (!loaded) return kExitUsage;
  Config config = loaded->config;
  SetupLogging(config.log_level);
  const fs::path from(flags.from);
  const fs::path data(config.data_dir);

  auto manifest = ReadBackupManifest(from);
  if (!manifest.ok()) {
    std::cerr << "vitrina restore: " << manifest.status().message() << "\n";
    return kExitUsage;
  }
  std::error_code error;
  const bool existed = fs::exists(data, error);
  if (existed && !(fs::is_directory(data, error) && fs::is_empty(data, error))) {
    std::cerr << "vitrina restore: data directory " << data.string()
              << " exists and is not empty; restore into a new or empty directory (nothing was changed)\n";
    return kExitUsage;
  }
  if (IsWithin(data, from)) {
    std::cerr << "vitrina restore: the data directory " << data.string() << " is inside the backup " << from.string()
              << "; restore outside it\n";
    return kExitUsage;
  }
  if (!existed && !fs::create_directories(data, error)) {
    std::cerr << "vitrina restore: cannot create " << data.string() << ": " << error.message() << "\n";
    return kExitFailure;
  }
  // On failure the data directory is left as it was: missing, or empty.
  auto undo = [&] {
    if (existed) {
      std::vector<fs::path> entries;
      for (fs::directory_iterator it(data, error), end; !error && it != end; it.increment(error)) {
        entries.push_back(it->path());
      }
      for (const fs::path& entry : entries) fs::remove_all(entry, error);
    } else {
      fs::remove_all(data, error);
    }
  };
  auto fail = [&](const std::string& message) {
    std::cerr << "vitrina restore: " << message << "\n";
    undo();
    return kExitFailure;
  };
  if (Status copied = CopyBackup(from, data); !copied.ok()) return fail(copied.message());

  // Open what was restored, as `vitrina serve` will, and count it.
  SystemClock clock;
  config.storage.recent_events_mb = 0;
  config.storage.create_if_missing = false;
  StoreCounts counts;
  size_t documents = 0;
  {
    auto store = OpenRocksDbStore(config.storage, &clock);
    if (!store.ok()) return fail("the restored store does not open: " + store.status().message());
    counts = (*store)->Counts();
    Status scanned = (*store)->ScanDocuments("", [&](std::string_view, std::string_view) { return ++documents, true; });
    if (!scanned.ok()) return fail("the restored store cannot be read: " + scanned.message());
  }
  if (counts.items != manifest->counts.items || counts.users != manifest->counts.users ||
      counts.events != manifest->counts.events) {
    return fail("the restored store holds " + std::to_string(counts.items) + " items, " +
                std::to_string(counts.users) + " users, " + std::to_string(counts.events) +
                " events, not what the backup's manifest lists; the backup is damaged");
  }
  const std::string serving = ServingSnapshot(data);
  std::printf("restored the backup of %s made %s into %s:\n", manifest->source.c_str(), manifest->created.c_str(),
              data.c_str());
  std::printf("  store   %llu items, %llu users, %llu events, %zu documents (rules, experiments, synonyms, audits)\n",
              static_cast<unsigned long long>(counts.items), static_cast<unsigned long long>(counts.users),
              static_cast<unsigned long long>(counts.events), documents);
  std::printf("  models  %zu snapshots%s%s\n", CountEntries(data / "models", true),
              serving.empty() ? ", none in service" : ", serving ", serving.c_str());
  std::printf("  logs    %zu served-list files\n", CountEntries(data / "logs", false));
  std::printf("start it with: vitrina serve --data %s\n", data.c_str());
  return kExitOk;
}

}  // namespace

Command AddRestoreCommand(CLI::App* app) {
  auto flags = std::make_shared<RestoreFlags>();
  CLI::App* command = app->add_subcommand(
      "restore", "Restore a data directory (--data, new or empty) from a backup made by POST /v1/admin/backup");
  command->add_option("--from", flags->from, "The backup directory")->required();
  flags->config.Register(command);
  return {command, [flags] { return RunRestore(*flags); }};
}

}  // namespace vitrina
