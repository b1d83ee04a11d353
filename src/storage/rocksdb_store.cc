#include "storage/rocksdb_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/json_writer.h"
#include "common/time_util.h"
#include "schema/codec.h"
#include "storage/activity_index.h"
#include "storage/keys.h"

namespace vitrina {
namespace {

// Column families. Key layouts are in keys.h.
enum Cf : size_t { kMeta = 0, kItems, kUsers, kEvents, kEventIds, kTimeline, kCfCount };
constexpr const char* kCfNames[kCfCount] = {"default", "items", "users", "events", "event_ids", "timeline"};

constexpr std::string_view kFormatKey = "format";
constexpr std::string_view kCountsKey = "counts";
// Store::PutDocuments keys, in the meta column family.
constexpr std::string_view kDocumentPrefix = "doc/";
constexpr std::string_view kFormatVersion = "vitrina-store-1";

Status FromRocks(const rocksdb::Status& status, const std::string& context) {
  if (status.ok()) return Status::OK();
  std::string message = context + ": " + status.ToString();
  if (status.IsNotFound()) return Status::NotFound(message);
  if (status.IsCorruption()) return Status::Corruption(message);
  if (status.IsIOError()) return Status::IOError(message);
  if (status.IsInvalidArgument()) return Status::InvalidArgument(message);
  return Status::Internal(message);
}

struct Meta {
  StoreCounts counts;
  uint64_t next_seq = 0;
};

// items, users, events, next_seq, number of event types, count per type.
// Storing the number of types lets a later version add types and still
// read this store.
std::string EncodeMeta(const Meta& meta) {
  std::string out;
  PutFixed64(&out, meta.counts.items);
  PutFixed64(&out, meta.counts.users);
  PutFixed64(&out, meta.counts.events);
  PutFixed64(&out, meta.next_seq);
  PutFixed64(&out, kEventTypeCount);
  for (uint64_t n : meta.counts.events_by_type) PutFixed64(&out, n);
  return out;
}

bool DecodeMeta(std::string_view data, Meta* meta) {
  if (data.size() < 8 * 5) return false;
  const uint64_t types = GetFixed64(data.data() + 32);
  if (types > kEventTypeCount || data.size() != 8 * (5 + types)) return false;
  meta->counts.items = GetFixed64(data.data());
  meta->counts.users = GetFixed64(data.data() + 8);
  meta->counts.events = GetFixed64(data.data() + 16);
  meta->next_seq = GetFixed64(data.data() + 24);
  meta->counts.events_by_type.fill(0);
  for (size_t i = 0; i < types; ++i) meta->counts.events_by_type[i] = GetFixed64(data.data() + 40 + 8 * i);
  return true;
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

class RocksDbStore final : public Store {
 public:
  RocksDbStore(const RocksDbOptions& options, const Clock* clock) : options_(options), clock_(clock) {}

  ~RocksDbStore() override {
    stop_loading_ = true;
    if (loader_.joinable()) loader_.join();
    {
      std::lock_guard lock(sync_mutex_);
      stopping_ = true;
    }
    sync_cv_.notify_all();
    if (syncer_.joinable()) syncer_.join();
    if (db_ != nullptr) {
      // Flush memtables to table files: everything is durable, and the
      // next start has no write-ahead log to replay.
      rocksdb::FlushOptions flush;
      flush.wait = true;
      (void)db_->Flush(flush, handles_);
      (void)db_->SyncWAL();
      for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
      (void)db_->Close();
      db_.reset();
    }
  }

  Status Open() {
    rocksdb::Options db_options;
    db_options.create_if_missing = options_.create_if_missing;
    db_options.create_missing_column_families = true;
    db_options.max_background_jobs = 2;
    db_options.bytes_per_sync = 1 << 20;
    // A small WAL budget keeps restart (log replay) short: column families
    // holding old logs are flushed once the logs exceed it.
    db_options.max_total_wal_size = 4 * options_.write_buffer_mb << 20;
    db_options.keep_log_file_num = 5;
    // Without a log, only flushing all column families together keeps them
    // consistent with each other (and with the counts) after a crash.
    db_options.atomic_flush = options_.disable_wal;

    auto cache = rocksdb::NewLRUCache(options_.block_cache_mb << 20);
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (size_t cf = 0; cf < kCfCount; ++cf) {
      rocksdb::ColumnFamilyOptions cf_options;
      cf_options.write_buffer_size = options_.write_buffer_mb << 20;
      cf_options.compression = rocksdb::kLZ4Compression;
      cf_options.bottommost_compression = rocksdb::kZSTD;
      cf_options.level_compaction_dynamic_level_bytes = true;
      rocksdb::BlockBasedTableOptions table;
      table.block_cache = cache;
      table.format_version = 5;
      if (cf == kItems || cf == kUsers || cf == kEventIds) {
        // Point lookups: a Bloom filter turns most misses into no disk read.
        table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
        table.optimize_filters_for_memory = true;
        // And for the memtable: dedup lookups of new event ids mostly miss.
        cf_options.memtable_whole_key_filtering = true;
        cf_options.memtable_prefix_bloom_size_ratio = 0.05;
      }
      cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
      descriptors.emplace_back(kCfNames[cf], cf_options);
    }
    VITRINA_RETURN_IF_ERROR(CheckDirectory(descriptors));
    rocksdb::DB* db = nullptr;
    rocksdb::Status status = rocksdb::DB::Open(db_options, options_.path, descriptors, &handles_, &db);
    if (!status.ok()) {
      if (status.IsIOError() && status.ToString().find("lock") != std::string::npos) {
        return Status::Unavailable("data directory " + options_.path +
                                   " is in use by another Vitrina process (" + status.ToString() + ")");
      }
      return FromRocks(status, "cannot open data directory " + options_.path);
    }
    db_.reset(db);
    write_options_.sync = options_.durability == Durability::kFsync && !options_.disable_wal;
    write_options_.disableWAL = options_.disable_wal;
    VITRINA_RETURN_IF_ERROR(LoadMeta());
    if (options_.durability == Durability::kOs && options_.fsync_interval_ms > 0 && !options_.disable_wal) {
      syncer_ = std::thread([this] { SyncLoop(); });
    }
    if (options_.recent_events_mb > 0) {
      activity_ = std::make_unique<ActivityIndex>(options_.recent_events_per_actor, options_.recent_events_mb << 20);
      // Writes from here on are added as they commit; the loader reads what
      // came before, as of this snapshot.
      const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
      loader_ = std::thread([this, snapshot] { LoadActivity(snapshot); });
    }
    return Status::OK();
  }

  Status Write(WriteBatch* batch, std::vector<WriteOutcome>* outcomes) override {
    std::lock_guard lock(write_mutex_);
    const int64_t now = clock_->NowMillis();
    Meta meta;
    {
      std::lock_guard counts_lock(counts_mutex_);
      meta = meta_;
    }
    outcomes->assign(batch->size(), WriteOutcome::kCreated);

    // What exists before this batch: one MultiGet per column family, into
    // scratch containers reused across writes (one writer).
    VITRINA_RETURN_IF_ERROR(PrefetchExisting(batch));
    auto& item_created = scratch_.item_created;
    auto& user_created = scratch_.user_created;
    auto& known_event_ids = scratch_.known_event_ids;

    rocksdb::WriteBatch rocks_batch;
    // Index entries are added in key order at the end: sorted inserts let the
    // memtable's skip list reuse its search path ("splice") between keys,
    // which more than halves insert cost for random ids. Timeline keys and
    // their values are packed in one arena and sorted as views.
    std::string& arena = scratch_.key_arena;
    auto& id_entries = scratch_.id_entries;        // (event id, sequence number)
    auto& timeline = scratch_.timeline;            // key and value spans in the arena
    arena.clear();
    id_entries.clear();
    timeline.clear();
    std::string key;
    std::string& value = scratch_.value;
    // Upserts of items and users: keep the stored created time unless the
    // record brings one; count records that are new.
    auto upsert = [&](auto& record, auto& created_by_id, Cf cf, uint64_t* count, auto encode) {
      auto& created = created_by_id[record.id];
      const WriteOutcome outcome = created ? WriteOutcome::kUpdated : WriteOutcome::kCreated;
      if (!created) ++*count;
      if (record.created_ms == 0) record.created_ms = created ? *created : now;
      record.updated_ms = now;
      created = record.created_ms;
      value.clear();
      encode(record, &value);
      rocks_batch.Put(handles_[cf], ToSlice(record.id), value);
      return outcome;
    };
    for (size_t i = 0; i < batch->ops().size(); ++i) {
      const WriteBatch::Op op = batch->ops()[i];
      switch (op.kind) {
        case WriteBatch::Kind::kUpsertItem:
          (*outcomes)[i] = upsert(batch->items()[op.index], item_created, kItems, &meta.counts.items, EncodeItem);
          break;
        case WriteBatch::Kind::kDeleteItem: {
          const std::string& id = batch->deleted_item_ids()[op.index];
          auto& created = item_created[id];
          if (created) {
            --meta.counts.items;
            rocks_batch.Delete(handles_[kItems], ToSlice(id));
            (*outcomes)[i] = WriteOutcome::kDeleted;
            created.reset();
          } else {
            (*outcomes)[i] = WriteOutcome::kNotFound;
          }
          break;
        }
        case WriteBatch::Kind::kUpsertUser:
          (*outcomes)[i] = upsert(batch->users()[op.index], user_created, kUsers, &meta.counts.users, EncodeUser);
          break;
        case WriteBatch::Kind::kAppendEvent: {
          Event& event = batch->events()[op.index];
          const uint64_t seq = meta.next_seq;
          std::string seq_key = SequenceKey(seq);
          if (event.event_id.empty()) {
            event.event_id = kGeneratedEventIdPrefix + std::to_string(seq);
          } else {
            if (!known_event_ids.insert(event.event_id).second) {
              (*outcomes)[i] = WriteOutcome::kDuplicate;
              break;
            }
            id_entries.emplace_back(event.event_id, seq);
          }
          ++meta.next_seq;
          value.clear();
          EncodeEvent(event, &value);
          rocks_batch.Put(handles_[kEvents], seq_key, value);
          // The timeline entries carry a copy of the event, so that a
          // shopper's recent events are one short range read rather than a
          // lookup per event scattered over the whole log.
          const Span event_span{arena.size(), value.size()};
          arena += value;
          for (ActorKind kind : {ActorKind::kUser, ActorKind::kSession}) {
            const std::string& actor = kind == ActorKind::kUser ? event.user_id : event.session_id;
            if (actor.empty()) continue;
            TimelineKey(kind, actor, event.timestamp_ms, seq, &key);
            timeline.push_back({{arena.size(), key.size()}, event_span});
            arena += key;
          }
          ++meta.counts.events;
          ++meta.counts.events_by_type[static_cast<size_t>(event.type)];
          break;
        }
      }
    }
    std::sort(id_entries.begin(), id_entries.end());
    for (const auto& [id, seq] : id_entries) rocks_batch.Put(handles_[kEventIds], ToSlice(id), SequenceKey(seq));
    auto view = [&arena](Span span) { return std::string_view(arena).substr(span.offset, span.length); };
    std::sort(timeline.begin(), timeline.end(), [&](const auto& a, const auto& b) { return view(a.first) < view(b.first); });
    for (const auto& [key_span, value_span] : timeline) {
      rocks_batch.Put(handles_[kTimeline], ToSlice(view(key_span)), ToSlice(view(value_span)));
    }
    rocks_batch.Put(handles_[kMeta], ToSlice(kCountsKey), EncodeMeta(meta));
    VITRINA_RETURN_IF_ERROR(FromRocks(db_->Write(write_options_, &rocks_batch), "write failed"));
    if (activity_ != nullptr) {
      for (size_t i = 0; i < batch->ops().size(); ++i) {
        const WriteBatch::Op op = batch->ops()[i];
        if (op.kind == WriteBatch::Kind::kAppendEvent && (*outcomes)[i] == WriteOutcome::kCreated) {
          activity_->Add(batch->events()[op.index]);
        }
      }
    }
    std::lock_guard counts_lock(counts_mutex_);
    meta_ = meta;
    return Status::OK();
  }

  Status PutDocuments(const std::vector<std::pair<std::string, std::string>>& puts) override {
    rocksdb::WriteBatch batch;
    for (const auto& [key, value] : puts) {
      const std::string stored = std::string(kDocumentPrefix) + key;
      if (value.empty()) {
        batch.Delete(handles_[kMeta], stored);
      } else {
        batch.Put(handles_[kMeta], stored, value);
      }
    }
    rocksdb::WriteOptions sync_write;
    sync_write.sync = true;
    return FromRocks(db_->Write(sync_write, &batch), "writing documents");
  }

  Result<std::string> GetDocument(std::string_view key) const override {
    std::string value;
    rocksdb::Status status =
        db_->Get(rocksdb::ReadOptions(), handles_[kMeta], std::string(kDocumentPrefix) + std::string(key), &value);
    if (status.IsNotFound()) return Status::NotFound("no document '" + std::string(key) + "'");
    VITRINA_RETURN_IF_ERROR(FromRocks(status, "reading a document"));
    return value;
  }

  Status ScanDocuments(std::string_view prefix,
                       const std::function<bool(std::string_view, std::string_view)>& visit) const override {
    const std::string start = std::string(kDocumentPrefix) + std::string(prefix);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kMeta]));
    for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
      std::string_view key(it->key().data(), it->key().size());
      if (!visit(key.substr(kDocumentPrefix.size()), std::string_view(it->value().data(), it->value().size()))) break;
    }
    return FromRocks(it->status(), "scanning documents");
  }

  Result<Item> GetItem(std::string_view id) const override {
    rocksdb::PinnableSlice value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), handles_[kItems], ToSlice(id), &value);
    if (status.IsNotFound()) return Status::NotFound("item '" + std::string(id) + "' does not exist");
    VITRINA_RETURN_IF_ERROR(FromRocks(status, "reading item"));
    Item item;
    VITRINA_RETURN_IF_ERROR(DecodeItem(std::string_view(value.data(), value.size()), &item));
    return item;
  }

  Result<User> GetUser(std::string_view id) const override {
    rocksdb::PinnableSlice value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), handles_[kUsers], ToSlice(id), &value);
    if (status.IsNotFound()) return Status::NotFound("user '" + std::string(id) + "' does not exist");
    VITRINA_RETURN_IF_ERROR(FromRocks(status, "reading user"));
    User user;
    VITRINA_RETURN_IF_ERROR(DecodeUser(std::string_view(value.data(), value.size()), &user));
    return user;
  }

  Status GetRecentEvents(ActorKind kind, std::string_view actor_id, size_t limit,
                         std::vector<Event>* events) const override {
    events->clear();
    if (limit == 0) return Status::OK();
    std::string prefix;
    TimelinePrefix(kind, actor_id, &prefix);
    // Stores written before timeline entries carried their event have empty
    // values there: those events are looked up in the log by sequence number.
    std::vector<std::string> missing_keys;
    std::vector<size_t> missing_at;
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[kTimeline]));
      std::string upper = prefix + std::string(16, '\xff');
      for (it->SeekForPrev(upper); it->Valid() && events->size() < limit; it->Prev()) {
        rocksdb::Slice k = it->key();
        if (!k.starts_with(prefix) || k.size() != prefix.size() + 16) break;
        events->emplace_back();
        rocksdb::Slice v = it->value();
        if (v.empty()) {
          missing_keys.emplace_back(k.data() + k.size() - 8, 8);
          missing_at.push_back(events->size() - 1);
          continue;
        }
        VITRINA_RETURN_IF_ERROR(DecodeEvent(std::string_view(v.data(), v.size()), &events->back()));
      }
      VITRINA_RETURN_IF_ERROR(FromRocks(it->status(), "reading timeline"));
    }
    if (missing_keys.empty()) return Status::OK();
    std::vector<rocksdb::Slice> keys(missing_keys.begin(), missing_keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    db_->MultiGet(rocksdb::ReadOptions(), handles_[kEvents], keys.size(), keys.data(), values.data(),
                  statuses.data());
    for (size_t i = 0; i < keys.size(); ++i) {
      VITRINA_RETURN_IF_ERROR(FromRocks(statuses[i], "reading event"));
      VITRINA_RETURN_IF_ERROR(
          DecodeEvent(std::string_view(values[i].data(), values[i].size()), &(*events)[missing_at[i]]));
    }
    return Status::OK();
  }

  Status GetRecentActivity(ActorKind kind, std::string_view actor_id, size_t limit,
                           RecentActivity* activity) const override {
    if (activity_ != nullptr && activity_->Get(kind, actor_id, limit, activity)) return Status::OK();
    return Store::GetRecentActivity(kind, actor_id, limit, activity);
  }

  ActivityMemoryStats ActivityMemory() const override {
    return activity_ != nullptr ? activity_->stats() : ActivityMemoryStats{};
  }

  StoreCounts Counts() const override {
    std::lock_guard lock(counts_mutex_);
    return meta_.counts;
  }

  Status ScanItems(const std::function<bool(const Item&)>& visit) const override {
    Item item;
    return Scan(kItems, [&](std::string_view value, bool* keep_going) -> Status {
      VITRINA_RETURN_IF_ERROR(DecodeItem(value, &item));
      *keep_going = visit(item);
      return Status::OK();
    });
  }

  Status ScanUsers(const std::function<bool(const User&)>& visit) const override {
    User user;
    return Scan(kUsers, [&](std::string_view value, bool* keep_going) -> Status {
      VITRINA_RETURN_IF_ERROR(DecodeUser(value, &user));
      *keep_going = visit(user);
      return Status::OK();
    });
  }

  Status ScanEvents(const std::function<bool(const Event&)>& visit) const override {
    Event event;
    return Scan(kEvents, [&](std::string_view value, bool* keep_going) -> Status {
      VITRINA_RETURN_IF_ERROR(DecodeEvent(value, &event));
      *keep_going = visit(event);
      return Status::OK();
    });
  }

  Status Sync() override {
    if (options_.disable_wal) {
      rocksdb::FlushOptions flush;
      flush.wait = true;
      return FromRocks(db_->Flush(flush, handles_), "flush failed");
    }
    return FromRocks(db_->SyncWAL(), "fsync of the write-ahead log failed");
  }

  Result<CheckpointInfo> Checkpoint(const std::string& dir) override {
    rocksdb::Checkpoint* created = nullptr;
    VITRINA_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &created), "checkpoint"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(created);
    // A log_size_for_flush of 0 flushes every memtable first, so each write
    // acknowledged before this call is in a table file whatever the log
    // settings (durability os, disable_wal). Writes made during the flush
    // are in the write-ahead log, which is copied as it stands after it.
    VITRINA_RETURN_IF_ERROR(FromRocks(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0),
                                      "checkpoint of " + options_.path + " into " + dir));
    CheckpointInfo info{.store_dir = options_.path};
    std::error_code error;
    for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
      if (!it->is_regular_file(error)) continue;
      ++info.files;
      info.bytes += it->file_size(error);
    }
    if (error) return Status::IOError("cannot list the checkpoint " + dir + ": " + error.message());
    return info;
  }

 private:
  Status LoadMeta() {
    std::string format;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), handles_[kMeta], ToSlice(kFormatKey), &format);
    if (status.IsNotFound()) {
      // A new store, unless some column family already holds data.
      for (size_t cf = kItems; cf < kCfCount; ++cf) {
        std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[cf]));
        it->SeekToFirst();
        if (it->Valid()) return Status::Corruption(options_.path + " holds data but no Vitrina format marker");
      }
      rocksdb::WriteBatch init;
      init.Put(handles_[kMeta], ToSlice(kFormatKey), ToSlice(kFormatVersion));
      init.Put(handles_[kMeta], ToSlice(kCountsKey), EncodeMeta(meta_));
      rocksdb::WriteOptions sync_write;
      sync_write.sync = true;
      return FromRocks(db_->Write(sync_write, &init), "initializing " + options_.path);
    }
    VITRINA_RETURN_IF_ERROR(FromRocks(status, "reading store format"));
    if (format != kFormatVersion) {
      return Status::FailedPrecondition(options_.path + " was written in format '" + format +
                                        "', which this version of Vitrina cannot read (expects '" +
                                        std::string(kFormatVersion) + "')");
    }
    std::string counts;
    VITRINA_RETURN_IF_ERROR(
        FromRocks(db_->Get(rocksdb::ReadOptions(), handles_[kMeta], ToSlice(kCountsKey), &counts), "reading counts"));
    if (!DecodeMeta(counts, &meta_)) return Status::Corruption("cannot decode store counts in " + options_.path);
    return Status::OK();
  }

  // Refuses directories that are not (and cannot become) a Vitrina store:
  // a file, a non-empty directory that is not a database, or a RocksDB
  // database with other column families.
  Status CheckDirectory(const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) const {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path path(options_.path);
    if (!fs::exists(path, ec)) return Status::OK();
    if (!fs::is_directory(path, ec)) return Status::InvalidArgument("data directory " + options_.path + " is not a directory");
    if (!fs::exists(path / "CURRENT", ec)) {
      if (fs::directory_iterator(path, ec) == fs::directory_iterator()) return Status::OK();
      return Status::InvalidArgument("data directory " + options_.path +
                                     " is not empty and holds no Vitrina store; choose an empty or new directory");
    }
    std::vector<std::string> names;
    rocksdb::Status status = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options_.path, &names);
    if (!status.ok()) return FromRocks(status, "cannot read data directory " + options_.path);
    for (const auto& descriptor : descriptors) {
      if (std::find(names.begin(), names.end(), descriptor.name) == names.end()) {
        return Status::InvalidArgument("data directory " + options_.path +
                                       " holds a RocksDB database that is not a Vitrina store (no column family '" +
                                       descriptor.name + "')");
      }
    }
    return Status::OK();
  }

  // Looks up, in one MultiGet per column family, which items and users of
  // the batch exist (with their created time) and which event ids are known.
  // REQUIRES: write_mutex_ held (fills scratch_).
  Status PrefetchExisting(WriteBatch* batch) {
    auto* items = &scratch_.item_created;
    auto* users = &scratch_.user_created;
    auto* event_ids = &scratch_.known_event_ids;
    items->clear();
    users->clear();
    event_ids->clear();
    auto& item_keys = scratch_.item_keys;
    auto& user_keys = scratch_.user_keys;
    auto& event_keys = scratch_.event_keys;
    item_keys.clear();
    user_keys.clear();
    event_keys.clear();
    for (const Item& item : batch->items()) item_keys.push_back(ToSlice(item.id));
    for (const std::string& id : batch->deleted_item_ids()) item_keys.push_back(ToSlice(id));
    for (const User& user : batch->users()) user_keys.push_back(ToSlice(user.id));
    for (const Event& event : batch->events()) {
      if (!event.event_id.empty()) event_keys.push_back(ToSlice(event.event_id));
    }
    auto lookup = [&](Cf cf, std::vector<rocksdb::Slice>& keys, auto on_found) -> Status {
      if (keys.empty()) return Status::OK();
      auto& values = scratch_.values;
      auto& statuses = scratch_.statuses;
      values.resize(std::max(values.size(), keys.size()));
      statuses.resize(std::max(statuses.size(), keys.size()));
      db_->MultiGet(rocksdb::ReadOptions(), handles_[cf], keys.size(), keys.data(), values.data(), statuses.data());
      for (size_t i = 0; i < keys.size(); ++i) {
        if (statuses[i].IsNotFound()) continue;
        VITRINA_RETURN_IF_ERROR(FromRocks(statuses[i], "lookup before write"));
        VITRINA_RETURN_IF_ERROR(
            on_found(std::string_view(keys[i].data(), keys[i].size()), std::string_view(values[i].data(), values[i].size())));
      }
      for (size_t i = 0; i < keys.size(); ++i) values[i].Reset();
      return Status::OK();
    };
    auto created = [](auto* map) {
      return [map](std::string_view id, std::string_view value) -> Status {
        int64_t created_ms = 0;
        VITRINA_RETURN_IF_ERROR(PeekCreatedMillis(value, &created_ms));
        (*map)[id] = created_ms;
        return Status::OK();
      };
    };
    VITRINA_RETURN_IF_ERROR(lookup(kItems, item_keys, created(items)));
    VITRINA_RETURN_IF_ERROR(lookup(kUsers, user_keys, created(users)));
    return lookup(kEventIds, event_keys, [&](std::string_view id, std::string_view) -> Status {
      event_ids->insert(id);
      return Status::OK();
    });
  }

  template <typename OnValue>
  Status Scan(Cf cf, OnValue on_value) const {
    rocksdb::ReadOptions read;
    read.fill_cache = false;
    read.readahead_size = 2 << 20;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, handles_[cf]));
    bool keep_going = true;
    for (it->SeekToFirst(); it->Valid() && keep_going; it->Next()) {
      VITRINA_RETURN_IF_ERROR(on_value(std::string_view(it->value().data(), it->value().size()), &keep_going));
    }
    return FromRocks(it->status(), "scan failed");
  }

  // Reads every actor's latest events into activity_, walking the timeline
  // backwards (each actor's newest events first), at low priority beside
  // serving.
  void LoadActivity(const rocksdb::Snapshot* snapshot) {
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    rocksdb::ReadOptions read;
    read.snapshot = snapshot;
    read.fill_cache = false;
    read.readahead_size = 2 << 20;
    const size_t cap = activity_->events_per_actor();
    std::vector<Event> events(cap);  // newest first
    std::vector<const Event*> oldest_first;
    std::string prefix;  // kind byte, actor id, 0x00
    size_t count = 0;
    bool truncated = false;
    bool readable = true;
    bool all = true;
    auto flush = [&]() -> bool {
      if (prefix.empty()) return true;
      if (!readable) {
        all = false;
        return true;
      }
      oldest_first.clear();
      for (size_t i = count; i > 0; --i) oldest_first.push_back(&events[i - 1]);
      const ActorKind kind = prefix[0] == 'u' ? ActorKind::kUser : ActorKind::kSession;
      return activity_->Load(kind, std::string_view(prefix).substr(1, prefix.size() - 2), oldest_first, truncated);
    };
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, handles_[kTimeline]));
    rocksdb::PinnableSlice logged;
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      if (stop_loading_) {
        all = false;
        break;
      }
      const rocksdb::Slice key = it->key();
      if (key.size() < 18) continue;
      const std::string_view key_prefix(key.data(), key.size() - 16);
      if (key_prefix != prefix) {
        if (!flush()) {
          all = false;
          break;
        }
        prefix.assign(key_prefix);
        count = 0;
        truncated = false;
        readable = true;
      }
      if (count == cap) {
        truncated = true;
        continue;
      }
      rocksdb::Slice value = it->value();
      if (value.empty()) {  // a store from before timeline entries carried their event
        logged.Reset();
        const rocksdb::Slice seq(key.data() + key.size() - 8, 8);
        if (!db_->Get(read, handles_[kEvents], seq, &logged).ok()) {
          readable = false;
          continue;
        }
        value = logged;
      }
      if (!DecodeEvent(std::string_view(value.data(), value.size()), &events[count]).ok()) {
        readable = false;
        continue;
      }
      ++count;
    }
    if (all && (!it->status().ok() || !flush())) all = false;
    it.reset();
    db_->ReleaseSnapshot(snapshot);
    std::lock_guard lock(write_mutex_);
    activity_->FinishLoad(all);
  }

  void SyncLoop() {
    std::unique_lock lock(sync_mutex_);
    while (!stopping_) {
      sync_cv_.wait_for(lock, std::chrono::milliseconds(options_.fsync_interval_ms), [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      (void)db_->SyncWAL();
      lock.lock();
    }
  }

  // A stretch of the write arena.
  struct Span {
    size_t offset = 0;
    size_t length = 0;
  };
  // Buffers reused by every Write. GUARDED_BY(write_mutex_).
  struct Scratch {
    std::unordered_map<std::string_view, std::optional<int64_t>> item_created;  // nullopt: absent
    std::unordered_map<std::string_view, std::optional<int64_t>> user_created;
    std::unordered_set<std::string_view> known_event_ids;
    std::vector<rocksdb::Slice> item_keys, user_keys, event_keys;
    std::vector<rocksdb::PinnableSlice> values;
    std::vector<rocksdb::Status> statuses;
    std::string key_arena;
    std::vector<std::pair<std::string_view, uint64_t>> id_entries;
    std::vector<std::pair<Span, Span>> timeline;  // (key, value)
    std::string value;
  };

  const RocksDbOptions options_;
  const Clock* clock_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::WriteOptions write_options_;

  std::mutex write_mutex_;  // one Write at a time: makes check-then-write atomic
  Scratch scratch_;
  mutable std::mutex counts_mutex_;
  Meta meta_;  // GUARDED_BY(counts_mutex_); changed only under write_mutex_ too

  std::mutex sync_mutex_;
  std::condition_variable sync_cv_;
  bool stopping_ = false;  // GUARDED_BY(sync_mutex_)
  std::thread syncer_;

  std::unique_ptr<ActivityIndex> activity_;  // null unless recent_events_mb > 0
  std::atomic<bool> stop_loading_{false};
  std::thread loader_;
};

}  // namespace

std::string_view DurabilityName(Durability durability) {
  return durability == Durability::kFsync ? "fsync" : "os";
}

std::optional<Durability> ParseDurability(std::string_view name) {
  if (name == "fsync") return Durability::kFsync;
  if (name == "os") return Durability::kOs;
  return std::nullopt;
}

Result<std::unique_ptr<Store>> OpenRocksDbStore(const RocksDbOptions& options, const Clock* clock) {
  auto store = std::make_unique<RocksDbStore>(options, clock);
  VITRINA_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace vitrina
