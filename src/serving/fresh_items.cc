#include "serving/fresh_items.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

namespace vitrina {

FreshItems::FreshItems(const Store* store, const Clock* clock, FreshItemsOptions options)
    : store_(store), clock_(clock), options_(options), current_(std::make_shared<const std::vector<Entry>>()) {}

FreshItems::~FreshItems() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status FreshItems::Refresh() {
  auto list = std::make_shared<std::vector<Entry>>();
  if (options_.days > 0 && options_.max_items > 0) {
    const int64_t since = clock_->NowMillis() - static_cast<int64_t>(options_.days * 86400000.0);
    // A min-heap on creation time keeps the newest max_items seen so far.
    auto newer = [](const Entry& a, const Entry& b) {
      return a.created_ms > b.created_ms || (a.created_ms == b.created_ms && a.id < b.id);
    };
    VITRINA_RETURN_IF_ERROR(store_->ScanItems([&](const Item& item) {
      if (!item.active || item.created_ms < since) return true;
      if (list->size() == options_.max_items) {
        const Entry& oldest = list->front();
        if (item.created_ms < oldest.created_ms || (item.created_ms == oldest.created_ms && item.id > oldest.id)) {
          return true;
        }
        std::pop_heap(list->begin(), list->end(), newer);
        list->pop_back();
      }
      list->push_back({.id = item.id, .category = item.category.empty() ? "" : item.category.back(),
                       .created_ms = item.created_ms});
      std::push_heap(list->begin(), list->end(), newer);
      return true;
    }));
    std::sort(list->begin(), list->end(), newer);
  }
  std::lock_guard lock(mutex_);
  current_ = std::move(list);
  return Status::OK();
}

void FreshItems::Start() {
  if (options_.days <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] {
    const auto period = std::chrono::duration<double>(std::max(1.0, options_.refresh_seconds));
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      if (Status status = Refresh(); !status.ok()) spdlog::warn("fresh items: {}", status.message());
      lock.lock();
      wake_.wait_for(lock, period, [this] { return stopping_; });
    }
  });
}

std::shared_ptr<const std::vector<FreshItems::Entry>> FreshItems::Current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace vitrina
