// The embedded store: RocksDB in one data directory.
//
// Durability (docs/STORAGE.md):
//   fsync (default)  Write() returns after the write-ahead log is fsynced.
//                    Concurrent writers share one fsync (group commit), and
//                    the ingest pipeline batches requests into one Write.
//   os               Write() returns after the log is written to the OS:
//                    survives kill -9 and crashes of the process, not power
//                    loss or a kernel crash; a background fsync runs every
//                    fsync_interval_ms, bounding what power loss can take.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "storage/store.h"

namespace vitrina {

enum class Durability { kFsync, kOs };

std::string_view DurabilityName(Durability durability);
std::optional<Durability> ParseDurability(std::string_view name);

struct RocksDbOptions {
  std::string path = "./vitrina-data";
  Durability durability = Durability::kFsync;
  int64_t fsync_interval_ms = 1000;  // with kOs; 0 disables the background fsync
  // Bulk loads only: skip the write-ahead log; nothing is durable until
  // Sync() (which flushes memtables) or a clean close.
  bool disable_wal = false;
  size_t block_cache_mb = 256;
  size_t write_buffer_mb = 32;
  bool create_if_missing = true;
  // Keep every user's and session's latest events in memory, within this
  // many MB (0: off), loaded in the background after opening: the serving
  // path then reads shoppers' histories without touching disk. Actors left
  // out by the budget, and all actors while loading, are read from disk.
  size_t recent_events_mb = 0;
  size_t recent_events_per_actor = 100;
};

// Opens the store at options.path, creating it when allowed. Fails with a
// message naming the directory when it is locked by another process, is
// not a Vitrina store, or was written by an incompatible version.
Result<std::unique_ptr<Store>> OpenRocksDbStore(const RocksDbOptions& options, const Clock* clock);

}  // namespace vitrina
