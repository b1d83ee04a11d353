#include "storage/store.h"

namespace vitrina {

void WriteBatch::UpsertItem(Item item) {
  ops_.push_back({Kind::kUpsertItem, static_cast<uint32_t>(items_.size())});
  items_.push_back(std::move(item));
}

void WriteBatch::DeleteItem(std::string item_id) {
  ops_.push_back({Kind::kDeleteItem, static_cast<uint32_t>(deleted_item_ids_.size())});
  deleted_item_ids_.push_back(std::move(item_id));
}

void WriteBatch::UpsertUser(User user) {
  ops_.push_back({Kind::kUpsertUser, static_cast<uint32_t>(users_.size())});
  users_.push_back(std::move(user));
}

void WriteBatch::AppendEvent(Event event) {
  ops_.push_back({Kind::kAppendEvent, static_cast<uint32_t>(events_.size())});
  events_.push_back(std::move(event));
}

void WriteBatch::Append(WriteBatch&& other) {
  ops_.reserve(ops_.size() + other.ops_.size());
  for (Op op : other.ops_) {
    switch (op.kind) {
      case Kind::kUpsertItem: UpsertItem(std::move(other.items_[op.index])); break;
      case Kind::kDeleteItem: DeleteItem(std::move(other.deleted_item_ids_[op.index])); break;
      case Kind::kUpsertUser: UpsertUser(std::move(other.users_[op.index])); break;
      case Kind::kAppendEvent: AppendEvent(std::move(other.events_[op.index])); break;
    }
  }
  other.Clear();
}

void WriteBatch::Clear() {
  ops_.clear();
  items_.clear();
  deleted_item_ids_.clear();
  users_.clear();
  events_.clear();
}

}  // namespace vitrina
