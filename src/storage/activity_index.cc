#include "storage/activity_index.h"

#include <algorithm>

namespace vitrina {
namespace {

size_t HeapBytes(std::string_view s) { return s.size() > 15 ? s.size() + 1 + 16 : 0; }

}  // namespace

ActivityIndex::ActivityIndex(size_t events_per_actor, size_t budget_bytes)
    : events_per_actor_(std::max<size_t>(1, events_per_actor)),
      budget_bytes_(budget_bytes),
      shards_(std::make_unique<Shard[]>(kShards)),
      chunks_(std::make_unique<std::unique_ptr<std::string[]>[]>(kMaxChunks)) {}

ActivityIndex::~ActivityIndex() = default;

ActivityIndex::Shard& ActivityIndex::ShardFor(std::string_view actor_id) const {
  const uint64_t h = Hash{}(actor_id) * 0x9E3779B97F4A7C15ull;
  return shards_[h >> 58];  // 64 shards
}

uint32_t ActivityIndex::Intern(std::string_view item_id) {
  if (item_id.empty()) return kNoItem;
  const uint64_t hash = Hash{}(item_id);
  std::lock_guard lock(intern_mutex_);
  if (2 * (item_count_ + 1) > slots_.size()) {
    std::vector<Slot> grown(std::max<size_t>(1024, 2 * slots_.size()));
    for (const Slot& slot : slots_) {
      if (slot.item == kNoItem) continue;
      size_t at = slot.hash & (grown.size() - 1);
      while (grown[at].item != kNoItem) at = (at + 1) & (grown.size() - 1);
      grown[at] = slot;
    }
    bytes_ += static_cast<int64_t>((grown.size() - slots_.size()) * sizeof(Slot));
    slots_ = std::move(grown);
  }
  size_t at = hash & (slots_.size() - 1);
  for (; slots_[at].item != kNoItem; at = (at + 1) & (slots_.size() - 1)) {
    if (slots_[at].hash == hash && ItemId(slots_[at].item) == item_id) return slots_[at].item;
  }
  const uint32_t id = item_count_;
  const size_t chunk = id >> kChunkBits;
  if (chunk >= kMaxChunks) return kNoItem;  // 268 million distinct ids: the rest count as no item
  if (!chunks_[chunk]) {
    chunks_[chunk] = std::make_unique<std::string[]>(size_t{1} << kChunkBits);
    bytes_ += static_cast<int64_t>(sizeof(std::string) << kChunkBits);
  }
  chunks_[chunk][id & ((1u << kChunkBits) - 1)].assign(item_id);
  slots_[at] = {hash, id};
  ++item_count_;
  bytes_ += static_cast<int64_t>(HeapBytes(item_id));
  return id;
}

std::string_view ActivityIndex::ItemId(uint32_t item) const {
  if (item == kNoItem) return {};
  return chunks_[item >> kChunkBits][item & ((1u << kChunkBits) - 1)];
}

void ActivityIndex::AppendLines(const Event& event, std::vector<Line>* out) {
  const size_t first = out->size();
  ForEachActivityLine(event, [&](const ActivityLine& line) {
    out->push_back({line.timestamp_ms, Intern(line.item_id), line.amount, line.price, line.type, out->size() == first});
  });
}

size_t ActivityIndex::ActorBytes(std::string_view actor_id, const Actor& actor) {
  // Hash node (key, value, next pointer, cached hash, allocator header),
  // the key's heap part, and the line array.
  return sizeof(std::string) + sizeof(Actor) + 32 + HeapBytes(actor_id) + actor.lines.capacity() * sizeof(Line) +
         (actor.lines.capacity() > 0 ? 16 : 0);
}

void ActivityIndex::Insert(Actor* actor, const std::vector<Line>& event_lines) {
  auto& lines = actor->lines;
  const int64_t ts = event_lines.front().timestamp_ms;
  size_t at = lines.size();
  while (at > 0 && lines[at - 1].timestamp_ms > ts) --at;  // equal times: the newer ingest goes last
  lines.insert(lines.begin() + static_cast<ptrdiff_t>(at), event_lines.begin(), event_lines.end());
  ++actor->events;
  Trim(actor);
}

void ActivityIndex::Trim(Actor* actor) {
  auto& lines = actor->lines;
  size_t drop = 0;
  while (actor->events > events_per_actor_) {
    do {
      ++drop;
    } while (drop < lines.size() && !lines[drop].starts_event);
    --actor->events;
    actor->truncated = true;
  }
  if (drop > 0) lines.erase(lines.begin(), lines.begin() + static_cast<ptrdiff_t>(drop));
}

void ActivityIndex::Add(const Event& event) {
  add_lines_.clear();
  AppendLines(event, &add_lines_);
  for (ActorKind kind : {ActorKind::kUser, ActorKind::kSession}) {
    const std::string& actor_id = kind == ActorKind::kUser ? event.user_id : event.session_id;
    if (actor_id.empty()) continue;
    Shard& shard = ShardFor(actor_id);
    std::unique_lock lock(shard.mutex);
    auto& actors = shard.actors[static_cast<size_t>(kind)];
    auto it = actors.find(actor_id);
    if (it == actors.end()) {
      // A new actor: while loading, its stored events (if any) come later;
      // after loading, it has none unless some actors were left out.
      const bool loading = !loaded_.load();
      if (!loading && !complete_.load()) continue;
      if (bytes_.load() >= static_cast<int64_t>(budget_bytes_)) {
        complete_ = false;
        refused_ = true;
        continue;
      }
      it = actors.try_emplace(actor_id).first;
      it->second.loaded = !loading;
      ++actor_count_;
      bytes_ += static_cast<int64_t>(ActorBytes(actor_id, it->second));
    }
    Actor& actor = it->second;
    const int64_t before = static_cast<int64_t>(ActorBytes(actor_id, actor));
    const size_t lines_before = actor.lines.size();
    Insert(&actor, add_lines_);
    bytes_ += static_cast<int64_t>(ActorBytes(actor_id, actor)) - before;
    line_count_ += static_cast<int64_t>(actor.lines.size()) - static_cast<int64_t>(lines_before);
  }
}

bool ActivityIndex::Load(ActorKind kind, std::string_view actor_id, const std::vector<const Event*>& oldest_first,
                         bool truncated) {
  if (bytes_.load() >= static_cast<int64_t>(budget_bytes_)) {
    refused_ = true;
    return false;
  }
  std::vector<Line>& lines = load_lines_;
  lines.clear();
  for (const Event* event : oldest_first) AppendLines(*event, &lines);
  Shard& shard = ShardFor(actor_id);
  std::unique_lock lock(shard.mutex);
  auto& actors = shard.actors[static_cast<size_t>(kind)];
  auto [it, created] = actors.try_emplace(std::string(actor_id));
  Actor& actor = it->second;
  const int64_t before = created ? 0 : static_cast<int64_t>(ActorBytes(actor_id, actor));
  const size_t lines_before = actor.lines.size();
  if (created) ++actor_count_;
  if (actor.lines.empty()) {  // nothing added while loading: the usual case
    actor.lines.assign(lines.begin(), lines.end());
    actor.events = static_cast<uint32_t>(oldest_first.size());
    actor.truncated = truncated;
    actor.loaded = true;
    Trim(&actor);
    bytes_ += static_cast<int64_t>(ActorBytes(actor_id, actor)) - before;
    line_count_ += static_cast<int64_t>(actor.lines.size());
    return true;
  }
  // Events added while loading are newer in ingest order: they go after
  // stored events with the same time.
  Actor merged;
  merged.lines.reserve(lines.size() + actor.lines.size());
  merged.lines = lines;
  merged.events = static_cast<uint32_t>(oldest_first.size());
  merged.truncated = truncated;
  Trim(&merged);
  for (size_t begin = 0; begin < actor.lines.size();) {
    size_t end = begin + 1;
    while (end < actor.lines.size() && !actor.lines[end].starts_event) ++end;
    add_from_live_.assign(actor.lines.begin() + static_cast<ptrdiff_t>(begin),
                          actor.lines.begin() + static_cast<ptrdiff_t>(end));
    Insert(&merged, add_from_live_);
    begin = end;
  }
  merged.truncated = merged.truncated || actor.truncated;
  merged.loaded = true;
  merged.lines.shrink_to_fit();
  actor = std::move(merged);
  bytes_ += static_cast<int64_t>(ActorBytes(actor_id, actor)) - before;
  line_count_ += static_cast<int64_t>(actor.lines.size()) - static_cast<int64_t>(lines_before);
  return true;
}

void ActivityIndex::FinishLoad(bool all) {
  if (all) {
    // Actors still not loaded have only events added during loading.
    for (size_t s = 0; s < kShards; ++s) {
      std::unique_lock lock(shards_[s].mutex);
      for (auto& actors : shards_[s].actors) {
        for (auto& [id, actor] : actors) actor.loaded = true;
      }
    }
  }
  complete_ = all && !refused_.load();
  loaded_ = true;
}

bool ActivityIndex::Get(ActorKind kind, std::string_view actor_id, size_t limit, RecentActivity* out) const {
  out->Clear();
  const Shard& shard = ShardFor(actor_id);
  std::shared_lock lock(shard.mutex);
  const auto& actors = shard.actors[static_cast<size_t>(kind)];
  auto it = actors.find(actor_id);
  if (it == actors.end()) return complete_.load();
  const Actor& actor = it->second;
  if (!actor.loaded || (actor.truncated && limit > actor.events)) return false;
  size_t end = actor.lines.size();
  for (size_t taken = 0; end > 0 && taken < limit; ++taken) {
    size_t begin = end - 1;
    while (begin > 0 && !actor.lines[begin].starts_event) --begin;
    for (size_t i = begin; i < end; ++i) {
      const Line& line = actor.lines[i];
      out->lines.push_back(
          {.timestamp_ms = line.timestamp_ms, .type = line.type, .item_id = ItemId(line.item), .amount = line.amount,
           .price = line.price});
    }
    end = begin;
  }
  return true;
}

ActivityMemoryStats ActivityIndex::stats() const {
  ActivityMemoryStats stats;
  stats.enabled = true;
  stats.loaded = loaded_.load();
  stats.complete = stats.loaded && complete_.load();
  stats.actors = actor_count_.load();
  stats.lines = static_cast<uint64_t>(std::max<int64_t>(0, line_count_.load()));
  stats.bytes = static_cast<uint64_t>(std::max<int64_t>(0, bytes_.load()));
  return stats;
}

}  // namespace vitrina
