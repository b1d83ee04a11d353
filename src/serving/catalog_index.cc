#include "serving/catalog_index.h"

#include <mutex>

namespace vitrina {

Status CatalogIndex::Build(const Store& store) {
  CatalogIndex fresh;
  VITRINA_RETURN_IF_ERROR(store.ScanItems([&](const Item& item) {
    if (item.active) fresh.Put(item);
    return true;
  }));
  std::unique_lock lock(mutex_);
  entries_ = std::move(fresh.entries_);
  leaves_ = std::move(fresh.leaves_);
  by_created_ = std::move(fresh.by_created_);
  ++version_;
  return Status::OK();
}

void CatalogIndex::Put(const Item& item) {
  Erase(item.id);
  Entry entry{.id = item.id,
              .leaf = item.category.empty() ? std::string() : item.category.back(),
              .price = item.price.value_or(NAN),
              .created_ms = item.created_ms,
              .in_stock = item.InStock()};
  Leaf& leaf = leaves_[entry.leaf];
  if (!std::isnan(entry.price)) leaf.by_price.emplace(entry.price, entry.id);
  leaf.by_created.emplace(entry.created_ms, entry.id);
  by_created_.emplace(entry.created_ms, entry.id);
  entries_.emplace(entry.id, std::move(entry));
}

void CatalogIndex::Erase(std::string_view id) {
  auto it = entries_.find(std::string(id));
  if (it == entries_.end()) return;
  const Entry& entry = it->second;
  auto leaf = leaves_.find(entry.leaf);
  if (leaf != leaves_.end()) {
    if (!std::isnan(entry.price)) leaf->second.by_price.erase({entry.price, entry.id});
    leaf->second.by_created.erase({entry.created_ms, entry.id});
    if (leaf->second.by_created.empty()) leaves_.erase(leaf);
  }
  by_created_.erase({entry.created_ms, entry.id});
  entries_.erase(it);
}

void CatalogIndex::Apply(const WriteBatch& batch, const std::vector<WriteOutcome>& outcomes) {
  std::unique_lock lock(mutex_, std::defer_lock);  // taken only when the batch touches items
  for (size_t i = 0; i < batch.ops().size() && i < outcomes.size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    if (op.kind != WriteBatch::Kind::kUpsertItem && op.kind != WriteBatch::Kind::kDeleteItem) continue;
    if (!lock.owns_lock()) lock.lock();
    if (op.kind == WriteBatch::Kind::kUpsertItem) {
      const Item& item = batch.items()[op.index];
      if (item.active) {
        Put(item);
      } else {
        Erase(item.id);
      }
    } else if (outcomes[i] == WriteOutcome::kDeleted) {
      Erase(batch.deleted_item_ids()[op.index]);
    }
  }
  if (lock.owns_lock()) ++version_;
}

std::vector<CatalogIndex::Entry> CatalogIndex::PricedIn(std::string_view leaf, double low, double high,
                                                        size_t limit) const {
  std::vector<Entry> out;
  std::shared_lock lock(mutex_);
  auto found = leaves_.find(std::string(leaf));
  if (found == leaves_.end()) return out;
  const auto& by_price = found->second.by_price;
  for (auto it = by_price.upper_bound({low, std::string(1, '\xff')}); it != by_price.end() && out.size() < limit;
       ++it) {
    if (it->first <= low) continue;
    if (it->first > high) break;
    const Entry& entry = entries_.at(it->second);
    if (entry.in_stock) out.push_back(entry);
  }
  return out;
}

std::vector<CatalogIndex::Entry> CatalogIndex::InCategory(std::string_view leaf, size_t limit) const {
  std::vector<Entry> out;
  std::shared_lock lock(mutex_);
  auto found = leaves_.find(std::string(leaf));
  if (found == leaves_.end()) return out;
  const auto& by_created = found->second.by_created;
  for (auto it = by_created.rbegin(); it != by_created.rend() && out.size() < limit; ++it) {
    out.push_back(entries_.at(it->second));
  }
  return out;
}

std::vector<CatalogIndex::Entry> CatalogIndex::Newest(int64_t since_ms, size_t limit) const {
  std::vector<Entry> out;
  std::shared_lock lock(mutex_);
  for (auto it = by_created_.rbegin(); it != by_created_.rend() && out.size() < limit; ++it) {
    if (it->first < since_ms) break;
    out.push_back(entries_.at(it->second));
  }
  return out;
}

size_t CatalogIndex::size() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

uint64_t CatalogIndex::version() const {
  std::shared_lock lock(mutex_);
  return version_;
}

}  // namespace vitrina
