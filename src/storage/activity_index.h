// The in-memory index of every shopper's recent activity (store.h's
// ActivityLine), kept so that a recommendation request reads no disk
// (DESIGN.md: "online state ... updates on every event").
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schema/types.h"
#include "storage/store.h"

namespace vitrina {

// Every actor's latest `events_per_actor` events, in memory, within a byte
// budget. Thread-safe: readers run concurrently with one writer at a time
// per actor (the store's commit path and its loader).
//
// An actor's list is complete once loaded: built from the stored log by
// Load(), or created by Add() after loading finished. Get() answers only
// from complete lists (or for actors known to have no events) and returns
// false otherwise, so the caller reads the log instead; the results are
// the same either way.
class ActivityIndex {
 public:
  ActivityIndex(size_t events_per_actor, size_t budget_bytes);
  ~ActivityIndex();
  ActivityIndex(const ActivityIndex&) = delete;
  ActivityIndex& operator=(const ActivityIndex&) = delete;

  size_t events_per_actor() const { return events_per_actor_; }

  // After an event is committed: adds it to its user's and session's lists.
  void Add(const Event& event);

  // The loader: an actor's stored events, oldest first, at most
  // events_per_actor of them; `truncated` when older ones exist. Merged
  // with events Add()ed meanwhile (which are newer in ingest order).
  // Returns false when the budget is spent (then stop loading).
  bool Load(ActorKind kind, std::string_view actor_id, const std::vector<const Event*>& oldest_first, bool truncated);
  // Loading is over. `all`: every stored actor was loaded, so an actor
  // that is absent has no events. Not concurrently with Add().
  void FinishLoad(bool all);

  // The actor's latest `limit` events into *out (cleared first). False
  // when this index cannot answer for the actor: read the log.
  bool Get(ActorKind kind, std::string_view actor_id, size_t limit, RecentActivity* out) const;

  ActivityMemoryStats stats() const;

 private:
  // 24 bytes per line.
  struct Line {
    int64_t timestamp_ms;
    uint32_t item;  // into the item-id table; kNoItem for none
    float amount;
    float price;
    EventType type;
    bool starts_event;  // the first line of its event
  };
  struct Actor {
    std::vector<Line> lines;  // oldest first
    uint32_t events = 0;
    bool loaded = false;      // complete (see above)
    bool truncated = false;   // older events were dropped
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, Actor, Hash, std::equal_to<>> actors[2];  // by ActorKind
  };
  static constexpr uint32_t kNoItem = UINT32_MAX;
  static constexpr size_t kShards = 64;
  static constexpr size_t kChunkBits = 12;             // 4096 ids (128 KB) per chunk
  static constexpr size_t kMaxChunks = size_t{1} << 16;  // 268 million ids

  Shard& ShardFor(std::string_view actor_id) const;
  uint32_t Intern(std::string_view item_id);
  std::string_view ItemId(uint32_t item) const;
  void AppendLines(const Event& event, std::vector<Line>* out);
  // Inserts one event's lines by time (after equal times: newer ingest
  // last) and drops the oldest events beyond the limit.
  void Insert(Actor* actor, const std::vector<Line>& event_lines);
  void Trim(Actor* actor);
  static size_t ActorBytes(std::string_view actor_id, const Actor& actor);

  const size_t events_per_actor_;
  const size_t budget_bytes_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<int64_t> bytes_{0};
  std::atomic<uint64_t> actor_count_{0};
  std::atomic<int64_t> line_count_{0};
  std::atomic<bool> loaded_{false};
  // After loading: absent actors have no events. Cleared for good once an
  // actor is left out for lack of budget.
  std::atomic<bool> complete_{false};
  std::atomic<bool> refused_{false};  // an actor was left out for lack of budget

  // Item ids, interned: written under intern_mutex_; read without a lock
  // through ids published by a shard mutex (the chunk and string are
  // written before the line that refers to them). The lookup is an
  // open-addressing table of (hash, id), linear probing, at most half full:
  // one cache line before the string compare, where a node-based map costs
  // three.
  struct Slot {
    uint64_t hash = 0;
    uint32_t item = kNoItem;
  };
  std::mutex intern_mutex_;
  std::vector<Slot> slots_;
  std::unique_ptr<std::unique_ptr<std::string[]>[]> chunks_;
  uint32_t item_count_ = 0;
  std::vector<Line> add_lines_;  // Add()'s buffer (one committing thread)
  std::vector<Line> load_lines_, add_from_live_;  // Load()'s buffers (one loading thread)
};

}  // namespace vitrina
