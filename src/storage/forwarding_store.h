// A Store that passes every call to another one. Tests derive from it to
// intercept a single method (slow or failing writes) and keep the rest.
#pragma once

#include <memory>

#include "storage/store.h"

namespace vitrina {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}

  Status Write(WriteBatch* batch, std::vector<WriteOutcome>* outcomes) override {
    return inner_->Write(batch, outcomes);
  }
  Result<Item> GetItem(std::string_view id) const override { return inner_->GetItem(id); }
  Result<User> GetUser(std::string_view id) const override { return inner_->GetUser(id); }
  Status GetRecentEvents(ActorKind kind, std::string_view actor_id, size_t limit,
                         std::vector<Event>* events) const override {
    return inner_->GetRecentEvents(kind, actor_id, limit, events);
  }
  Status GetRecentActivity(ActorKind kind, std::string_view actor_id, size_t limit,
                           RecentActivity* activity) const override {
    return inner_->GetRecentActivity(kind, actor_id, limit, activity);
  }
  ActivityMemoryStats ActivityMemory() const override { return inner_->ActivityMemory(); }
  StoreCounts Counts() const override { return inner_->Counts(); }
  Status ScanItems(const std::function<bool(const Item&)>& visit) const override { return inner_->ScanItems(visit); }
  Status ScanUsers(const std::function<bool(const User&)>& visit) const override { return inner_->ScanUsers(visit); }
  Status ScanEvents(const std::function<bool(const Event&)>& visit) const override {
    return inner_->ScanEvents(visit);
  }
  Status Sync() override { return inner_->Sync(); }
  Result<CheckpointInfo> Checkpoint(const std::string& dir) override { return inner_->Checkpoint(dir); }
  Status PutDocuments(const std::vector<std::pair<std::string, std::string>>& puts) override {
    return inner_->PutDocuments(puts);
  }
  Result<std::string> GetDocument(std::string_view key) const override { return inner_->GetDocument(key); }
  Status ScanDocuments(std::string_view prefix,
                       const std::function<bool(std::string_view, std::string_view)>& visit) const override {
    return inner_->ScanDocuments(prefix, visit);
  }

 private:
  std::unique_ptr<Store> inner_;
};

}  // namespace vitrina
