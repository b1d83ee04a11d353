// An in-memory Store for unit tests. Same contract as RocksDbStore; the
// shared conformance tests in store_test.cc hold both to it.
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "storage/store.h"

namespace vitrina {
namespace {

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(const Clock* clock) : clock_(clock) {}

  Status Write(WriteBatch* batch, std::vector<WriteOutcome>* outcomes) override {
    std::unique_lock lock(mutex_);
    const int64_t now = clock_->NowMillis();
    outcomes->clear();
    outcomes->reserve(batch->size());
    for (const WriteBatch::Op& op : batch->ops()) {
      switch (op.kind) {
        case WriteBatch::Kind::kUpsertItem:
          outcomes->push_back(Upsert(batch->items()[op.index], &items_, &counts_.items, now));
          break;
        case WriteBatch::Kind::kDeleteItem: {
          const bool erased = items_.erase(batch->deleted_item_ids()[op.index]) > 0;
          if (erased) --counts_.items;
          outcomes->push_back(erased ? WriteOutcome::kDeleted : WriteOutcome::kNotFound);
          break;
        }
        case WriteBatch::Kind::kUpsertUser:
          outcomes->push_back(Upsert(batch->users()[op.index], &users_, &counts_.users, now));
          break;
        case WriteBatch::Kind::kAppendEvent: {
          Event& event = batch->events()[op.index];
          const uint64_t seq = events_.size();
          if (event.event_id.empty()) {
            event.event_id = kGeneratedEventIdPrefix + std::to_string(seq);
          } else if (!event_ids_.insert(event.event_id).second) {
            outcomes->push_back(WriteOutcome::kDuplicate);
            break;
          }
          if (!event.user_id.empty()) timelines_[{ActorKind::kUser, event.user_id}].insert({event.timestamp_ms, seq});
          if (!event.session_id.empty()) {
            timelines_[{ActorKind::kSession, event.session_id}].insert({event.timestamp_ms, seq});
          }
          events_.push_back(event);
          ++counts_.events;
          ++counts_.events_by_type[static_cast<size_t>(event.type)];
          outcomes->push_back(WriteOutcome::kCreated);
          break;
        }
      }
    }
    return Status::OK();
  }

  Result<Item> GetItem(std::string_view id) const override {
    std::shared_lock lock(mutex_);
    auto it = items_.find(std::string(id));
    if (it == items_.end()) return Status::NotFound("item '" + std::string(id) + "' does not exist");
    return it->second;
  }

  Result<User> GetUser(std::string_view id) const override {
    std::shared_lock lock(mutex_);
    auto it = users_.find(std::string(id));
    if (it == users_.end()) return Status::NotFound("user '" + std::string(id) + "' does not exist");
    return it->second;
  }

  Status GetRecentEvents(ActorKind kind, std::string_view actor_id, size_t limit,
                         std::vector<Event>* events) const override {
    std::shared_lock lock(mutex_);
    events->clear();
    auto it = timelines_.find({kind, std::string(actor_id)});
    if (it == timelines_.end()) return Status::OK();
    for (auto entry = it->second.rbegin(); entry != it->second.rend() && events->size() < limit; ++entry) {
      events->push_back(events_[entry->second]);
    }
    return Status::OK();
  }

  StoreCounts Counts() const override {
    std::shared_lock lock(mutex_);
    return counts_;
  }

  Status ScanItems(const std::function<bool(const Item&)>& visit) const override {
    std::shared_lock lock(mutex_);
    for (const auto& [id, item] : items_) {
      if (!visit(item)) break;
    }
    return Status::OK();
  }

  Status ScanUsers(const std::function<bool(const User&)>& visit) const override {
    std::shared_lock lock(mutex_);
    for (const auto& [id, user] : users_) {
      if (!visit(user)) break;
    }
    return Status::OK();
  }

  Status ScanEvents(const std::function<bool(const Event&)>& visit) const override {
    std::shared_lock lock(mutex_);
    for (const Event& event : events_) {
      if (!visit(event)) break;
    }
    return Status::OK();
  }

  Status Sync() override { return Status::OK(); }

  Result<CheckpointInfo> Checkpoint(const std::string&) override {
    return Status::FailedPrecondition("the in-memory store has no files to copy");
  }

  Status PutDocuments(const std::vector<std::pair<std::string, std::string>>& puts) override {
    std::unique_lock lock(mutex_);
    for (const auto& [key, value] : puts) {
      if (value.empty()) {
        documents_.erase(key);
      } else {
        documents_[key] = value;
      }
    }
    return Status::OK();
  }

  Result<std::string> GetDocument(std::string_view key) const override {
    std::shared_lock lock(mutex_);
    auto it = documents_.find(key);
    if (it == documents_.end()) return Status::NotFound("no document '" + std::string(key) + "'");
    return it->second;
  }

  Status ScanDocuments(std::string_view prefix,
                       const std::function<bool(std::string_view, std::string_view)>& visit) const override {
    std::shared_lock lock(mutex_);
    for (auto it = documents_.lower_bound(prefix); it != documents_.end() && it->first.starts_with(prefix); ++it) {
      if (!visit(it->first, it->second)) break;
    }
    return Status::OK();
  }

 private:
  template <typename T>
  static WriteOutcome Upsert(T& record, std::map<std::string, T>* stored, uint64_t* count, int64_t now) {
    auto it = stored->find(record.id);
    const bool exists = it != stored->end();
    if (record.created_ms == 0) record.created_ms = exists ? it->second.created_ms : now;
    record.updated_ms = now;
    (*stored)[record.id] = record;
    if (!exists) ++*count;
    return exists ? WriteOutcome::kUpdated : WriteOutcome::kCreated;
  }

  const Clock* clock_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, Item> items_;
  std::map<std::string, User> users_;
  std::vector<Event> events_;
  std::set<std::string> event_ids_;
  // (timestamp, sequence) per actor, ascending.
  std::map<std::pair<ActorKind, std::string>, std::set<std::pair<int64_t, uint64_t>>> timelines_;
  StoreCounts counts_;
  std::map<std::string, std::string, std::less<>> documents_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore(const Clock* clock) { return std::make_unique<MemoryStore>(clock); }

}  // namespace vitrina
