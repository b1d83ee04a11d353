#include "serving/fresh_items.h"

namespace vitrina {

FreshItems::FreshItems(const CatalogIndex* catalog, const Clock* clock, FreshItemsOptions options)
    : catalog_(catalog), clock_(clock), options_(options) {}

std::shared_ptr<const std::vector<FreshItems::Entry>> FreshItems::Current() const {
  const int64_t now = clock_->NowMillis();
  const uint64_t version = catalog_->version();
  std::lock_guard lock(mutex_);
  const bool fresh_enough = now - current_at_ms_ < static_cast<int64_t>(options_.refresh_seconds * 1000.0) &&
                            now >= current_at_ms_;
  if (current_ != nullptr && version == current_version_ && fresh_enough) return current_;
  auto list = std::make_shared<std::vector<Entry>>();
  if (options_.days > 0 && options_.max_items > 0) {
    const int64_t since = now - static_cast<int64_t>(options_.days * 86400000.0);
    for (CatalogIndex::Entry& entry : catalog_->Newest(since, options_.max_items)) {
      list->push_back({.id = std::move(entry.id), .category = std::move(entry.leaf), .created_ms = entry.created_ms});
    }
  }
  current_ = std::move(list);
  current_version_ = version;
  current_at_ms_ = now;
  return current_;
}

}  // namespace vitrina
