// Online backup of a whole data directory (docs/STORAGE.md), while the
// server keeps serving.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "storage/store.h"

namespace vitrina {

// Written last into a backup: a directory without it is not a (finished) backup.
inline constexpr std::string_view kBackupManifestName = "vitrina-backup.json";
inline constexpr std::string_view kBackupFormat = "vitrina-backup-1";

// What one folder of the data directory contributed to a backup.
struct FolderCopy {
  uint64_t folders = 0;  // directly inside it (models: the snapshots)
  uint64_t files = 0;    // at any depth
  uint64_t bytes = 0;
};

struct BackupReport {
  std::string path;
  uint64_t store_files = 0;
  uint64_t store_bytes = 0;
  StoreCounts counts;  // what the backup holds
  std::map<std::string, FolderCopy> folders;  // by name ("models", "logs")
  double seconds = 0;
};

// Copies the data directory of `store` (opened by OpenRocksDbStore) into
// `to` while it keeps serving: a Store::Checkpoint, opened once to count it
// and to fold its log into table files, then a copy of every folder of the
// data directory, then the manifest. `to` must be an absolute path outside
// the data directory naming a missing or empty directory (InvalidArgument
// starting "to: " otherwise); missing parents are created. The copy holds
// every write acknowledged before the call. In each folder the files are
// listed, then copied, and only then the subfolders listed and copied: a
// file naming a folder (models/CURRENT) never names one the copy lacks,
// and a folder's last file (a snapshot's manifest) comes only with the
// files written before it. Files named *.tmp (being written) are left out,
// *.jsonl files keep their complete lines, and a subfolder that loses
// files during the copy (being deleted) is left out whole. On error `to`
// is left as it was (missing, or empty); FailedPrecondition for a store
// without files. Runs on the calling thread, for as long as the copy takes.
Result<BackupReport> BackupDataDirectory(Store* store, const std::string& to, const Clock* clock);

}  // namespace vitrina
