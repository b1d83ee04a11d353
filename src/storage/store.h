// The Store: where a shop's catalog, users and event log live.
//
// Implementations: MemoryStore (tests) and RocksDbStore (the server's
// embedded store, one data directory). Both are thread-safe: any number of
// readers run concurrently with one writer at a time (Write serializes).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "schema/types.h"

namespace vitrina {

// Whose timeline to read.
enum class ActorKind : uint8_t { kUser, kSession };

// One item of one event: a shopper's recent activity in the compact form
// the serving path reads. Events without items (a search without a clicked
// item, an impression) are one line with an empty item_id, so that the
// number of events read stays what the caller asked for.
struct ActivityLine {
  int64_t timestamp_ms = 0;
  EventType type = EventType::kView;
  std::string_view item_id;  // see RecentActivity for how long it is valid
  float amount = 1;          // quantity of a cart or purchase line; a rating's value; else 1
  float price = NAN;         // unit price of the line; NaN when it has none
};

// The latest events of one user or session, newest first; the lines of one
// event keep their order. item_id views point into `backing` or into the
// store's item-id table, which lives as long as the store.
struct RecentActivity {
  std::vector<ActivityLine> lines;
  std::vector<Event> backing;

  void Clear() {
    lines.clear();
    backing.clear();
  }
};

// Calls add(line) for each line of the event, in order.
template <typename Add>
void ForEachActivityLine(const Event& event, Add add) {
  ActivityLine line;
  line.timestamp_ms = event.timestamp_ms;
  line.type = event.type;
  if (event.lines.empty()) {
    line.item_id = event.item_id;
    if (event.type == EventType::kRating) line.amount = static_cast<float>(event.value.value_or(0));
    add(line);
    return;
  }
  for (const EventLine& event_line : event.lines) {
    line.item_id = event_line.item_id;
    line.amount = static_cast<float>(event_line.quantity);
    line.price = event_line.price ? static_cast<float>(*event_line.price) : NAN;
    add(line);
  }
}

// How much of the shoppers' recent activity a store keeps in memory.
struct ActivityMemoryStats {
  bool enabled = false;
  bool loaded = false;    // the stored log has been read into memory
  bool complete = false;  // every actor fits: none is read from disk
  uint64_t actors = 0;    // users and sessions
  uint64_t lines = 0;
  uint64_t bytes = 0;     // estimated heap use
};

struct StoreCounts {
  uint64_t items = 0;
  uint64_t users = 0;
  uint64_t events = 0;
  std::array<uint64_t, kEventTypeCount> events_by_type{};

  bool operator==(const StoreCounts&) const = default;
};

// What Store::Checkpoint wrote.
struct CheckpointInfo {
  std::string store_dir;  // the directory the store lives in
  uint64_t files = 0;     // in the copy
  uint64_t bytes = 0;     // hard-linked table files count in full
};

// An ordered list of writes for Store::Write. Movable, not thread-safe.
class WriteBatch {
 public:
  enum class Kind : uint8_t { kUpsertItem, kDeleteItem, kUpsertUser, kAppendEvent };
  struct Op {
    Kind kind;
    uint32_t index;  // into items(), item_ids(), users() or events()
  };

  void UpsertItem(Item item);
  void DeleteItem(std::string item_id);
  void UpsertUser(User user);
  void AppendEvent(Event event);
  // Moves every operation of `other` to the end of this batch.
  void Append(WriteBatch&& other);
  void Clear();

  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  const std::vector<Op>& ops() const { return ops_; }
  std::vector<Item>& items() { return items_; }
  const std::vector<Item>& items() const { return items_; }
  std::vector<std::string>& deleted_item_ids() { return deleted_item_ids_; }
  const std::vector<std::string>& deleted_item_ids() const { return deleted_item_ids_; }
  std::vector<User>& users() { return users_; }
  std::vector<Event>& events() { return events_; }
  const std::vector<Event>& events() const { return events_; }

 private:
  std::vector<Op> ops_;
  std::vector<Item> items_;
  std::vector<std::string> deleted_item_ids_;
  std::vector<User> users_;
  std::vector<Event> events_;
};

// What one operation of a batch did.
enum class WriteOutcome : uint8_t {
  kCreated,    // a new item or user; an event stored
  kUpdated,    // an existing item or user replaced
  kDuplicate,  // an event whose event_id is already stored: not stored again
  kDeleted,    // an item removed
  kNotFound,   // a delete of an item that does not exist
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies the batch's operations in order, atomically: after a crash
  // either all or none of them are visible. When it returns OK the batch is
  // durable as the store's durability setting promises. On error nothing
  // was applied.
  //
  // Upserts replace the whole record, set updated_ms to now, and keep the
  // stored created_ms when the new record has none (0); a new record with
  // none gets now. Events keep their received_ms; those without an
  // event_id get a generated one ("~" + sequence number). Writes into the
  // batch's records (ids, times) so callers see what was stored.
  // (*outcomes)[i] says what operation i did.
  virtual Status Write(WriteBatch* batch, std::vector<WriteOutcome>* outcomes) = 0;

  // NotFound when absent.
  virtual Result<Item> GetItem(std::string_view id) const = 0;
  virtual Result<User> GetUser(std::string_view id) const = 0;

  // The actor's events, newest first by event timestamp (ties: latest
  // ingested first), at most `limit`. An unknown actor has none.
  virtual Status GetRecentEvents(ActorKind kind, std::string_view actor_id, size_t limit,
                                 std::vector<Event>* events) const = 0;

  // The same events as GetRecentEvents, as activity lines. The default
  // reads the events; RocksDbStore answers from memory when it keeps
  // recent activity there (RocksDbOptions::recent_events_mb).
  virtual Status GetRecentActivity(ActorKind kind, std::string_view actor_id, size_t limit,
                                   RecentActivity* activity) const;

  virtual ActivityMemoryStats ActivityMemory() const { return {}; }

  virtual StoreCounts Counts() const = 0;

  // Full scans, for training and export: items and users by id, events in
  // ingest order. The visitor returns false to stop early. A scan sees a
  // consistent snapshot taken when it starts.
  virtual Status ScanItems(const std::function<bool(const Item&)>& visit) const = 0;
  virtual Status ScanUsers(const std::function<bool(const User&)>& visit) const = 0;
  virtual Status ScanEvents(const std::function<bool(const Event&)>& visit) const = 0;

  // Makes every write so far durable on disk, whatever the durability mode.
  virtual Status Sync() = 0;

  // Writes a copy of the store into `dir`, which must not exist (its parent
  // must): a store that opens on its own and holds every write acknowledged
  // before the call, with its documents, and perhaps some made during it.
  // Reads and writes go on meanwhile. Table files are hard links when `dir`
  // is on the same file system, copies otherwise. FailedPrecondition for a
  // store without files (MemoryStore).
  virtual Result<CheckpointInfo> Checkpoint(const std::string& dir) = 0;

  // Small named documents beside the shop's data (business rules and their
  // audit log, ...): `puts` are written together, atomically, and are
  // durable on disk when it returns, whatever the durability mode. An empty
  // value deletes the key. Keys are compared bytewise.
  virtual Status PutDocuments(const std::vector<std::pair<std::string, std::string>>& puts) = 0;
  // NotFound when absent.
  virtual Result<std::string> GetDocument(std::string_view key) const = 0;
  // Documents whose key starts with `prefix`, in key order; `visit` returns
  // false to stop.
  virtual Status ScanDocuments(std::string_view prefix,
                               const std::function<bool(std::string_view key, std::string_view value)>& visit) const = 0;
};

// Where SetAsideDocument keeps documents that could not be read.
inline constexpr std::string_view kUnreadablePrefix = "unreadable/";

// A stored document that cannot be read back (written by a faulty version,
// damaged on disk): copies it to "unreadable/<key>@<now_ms>", where an
// operator can still read it, so that loading goes on without it and
// nothing is lost. Returns the key it was copied to.
Result<std::string> SetAsideDocument(Store* store, std::string_view key, std::string_view value, int64_t now_ms);

// For tests: everything in memory, nothing survives the object.
std::unique_ptr<Store> NewMemoryStore(const Clock* clock);

}  // namespace vitrina
