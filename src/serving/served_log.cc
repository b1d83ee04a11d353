#include "serving/served_log.h"

#include <spdlog/spdlog.h>

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/json_fields.h"
#include "common/json_writer.h"
#include "common/time_util.h"

namespace vitrina {
namespace {

constexpr char kFilePrefix[] = "served-";
constexpr char kFileSuffix[] = ".jsonl";

// "2026-11-29" of a time.
std::string Day(int64_t ms) { return FormatTimestampMillis(ms).substr(0, 10); }

void WriteLine(const ServedList& list, std::string* out) {
  JsonWriter w(out);
  w.BeginObject().Key("recommendation_id").String(list.recommendation_id);
  w.Key("at").String(FormatTimestampMillis(list.at_ms)).Key("scenario").String(list.scenario);
  w.Key("user_id").String(list.user_id).Key("session_id").String(list.session_id);
  w.Key("snapshot").String(list.snapshot).Key("rules_version").Int(list.rules_version);
  if (!list.experiment.empty()) w.Key("experiment").String(list.experiment).Key("variant").String(list.variant);
  w.Key("items").BeginArray();
  for (size_t i = 0; i < list.items.size(); ++i) {
    const ServedItem& item = list.items[i];
    w.BeginObject().Key("item_id").String(item.item_id).Key("position").UInt(i + 1).Key("source").String(item.source);
    w.Key("explored").Bool(item.explored).Key("propensity").Double(item.propensity).EndObject();
  }
  w.EndArray().EndObject();
  out->push_back('\n');
}

}  // namespace

Status ForEachServedList(const std::string& dir, const std::function<void(const ServedList&)>& visit) {
  std::error_code error;
  if (dir.empty() || !std::filesystem::is_directory(dir, error)) return Status::OK();
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kFilePrefix) && name.ends_with(kFileSuffix)) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  simdjson::dom::parser parser;
  ServedList list;
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::IOError("cannot read " + path);
    std::string line, storage;
    size_t unreadable = 0, repaired = 0;
    while (std::getline(in, line)) {
      simdjson::dom::element root;
      std::string_view id, user, session, at, text;
      simdjson::dom::array items;
      bool was_repaired = false;
      if (!ParseStoredJson(&parser, line, &storage, &root, &was_repaired) ||
          root["recommendation_id"].get(id) != simdjson::SUCCESS || root["user_id"].get(user) != simdjson::SUCCESS ||
          root["session_id"].get(session) != simdjson::SUCCESS || root["at"].get(at) != simdjson::SUCCESS ||
          root["items"].get(items) != simdjson::SUCCESS) {
        ++unreadable;  // a line cut short by a crash, or damaged
        continue;
      }
      const std::optional<int64_t> at_ms = ParseTimestampMillis(at);
      if (!at_ms) {
        ++unreadable;
        continue;
      }
      repaired += was_repaired;
      list = ServedList{.recommendation_id = std::string(id), .at_ms = *at_ms, .user_id = std::string(user),
                        .session_id = std::string(session)};
      if (root["scenario"].get(text) == simdjson::SUCCESS) list.scenario = std::string(text);
      if (root["snapshot"].get(text) == simdjson::SUCCESS) list.snapshot = std::string(text);
      if (root["experiment"].get(text) == simdjson::SUCCESS) list.experiment = std::string(text);
      if (root["variant"].get(text) == simdjson::SUCCESS) list.variant = std::string(text);
      int64_t version = 0;
      if (root["rules_version"].get(version) == simdjson::SUCCESS) list.rules_version = version;
      for (simdjson::dom::element item : items) {
        ServedItem served;
        if (item["item_id"].get(text) != simdjson::SUCCESS) continue;
        served.item_id = std::string(text);
        if (item["source"].get(text) == simdjson::SUCCESS) served.source = std::string(text);
        bool explored = false;
        if (item["explored"].get(explored) == simdjson::SUCCESS) served.explored = explored;
        double propensity = 1;
        if (item["propensity"].get(propensity) == simdjson::SUCCESS) served.propensity = propensity;
        list.items.push_back(std::move(served));
      }
      visit(list);
    }
    // Never silently: a crash may cut one line short; more is damage.
    if (unreadable > 0) spdlog::warn("served log {}: {} unreadable lines left out", path, unreadable);
    if (repaired > 0) spdlog::warn("served log {}: {} lines held bytes that were not UTF-8 (read as U+FFFD)", path, repaired);
  }
  return Status::OK();
}

Status ReadServedLists(const std::string& dir, DatasetBuilder* builder) {
  std::vector<std::string> shown;
  return ForEachServedList(dir, [&](const ServedList& list) {
    if (list.user_id.empty() && list.session_id.empty()) return;
    shown.clear();
    for (const ServedItem& item : list.items) shown.push_back(item.item_id);
    builder->AddServedList(list.recommendation_id, ActorIdOf(list.user_id, list.session_id), list.at_ms, shown);
  });
}

ServedLog::ServedLog(ServedLogOptions options, const Clock* clock) : options_(std::move(options)), clock_(clock) {}

ServedLog::~ServedLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

Status ServedLog::Open() {
  if (options_.dir.empty()) return Status::OK();
  std::error_code error;
  std::filesystem::create_directories(options_.dir, error);
  if (error) return Status::IOError("cannot create " + options_.dir + ": " + error.message());
  writer_ = std::thread([this] { WriterLoop(); });
  return Status::OK();
}

void ServedLog::Record(ServedList list) {
  std::lock_guard lock(mutex_);
  ++stats_.recorded;
  if (!options_.dir.empty()) {
    if (queue_.size() < options_.max_queued) {
      queue_.push_back(list);
    } else {
      ++stats_.dropped;
    }
  }
  if (options_.memory_lists == 0) return;
  while (recent_.size() >= options_.memory_lists && !order_.empty()) {
    recent_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(list.recommendation_id);
  recent_.insert_or_assign(list.recommendation_id, std::move(list));
}

std::optional<ServedLog::Claim> ServedLog::ClaimReward(std::string_view recommendation_id, std::string_view item_id) {
  std::lock_guard lock(mutex_);
  auto it = recent_.find(std::string(recommendation_id));
  if (it == recent_.end()) return std::nullopt;
  for (ServedItem& item : it->second.items) {
    if (item.item_id != item_id) continue;
    if (item.rewarded) return std::nullopt;
    item.rewarded = true;
    return Claim{it->second.scenario, item.source};
  }
  return std::nullopt;
}

void ServedLog::Flush() {
  if (options_.dir.empty() || !writer_.joinable()) return;
  std::unique_lock lock(mutex_);
  const uint64_t ticket = ++flush_requested_;
  wake_.notify_all();
  done_.wait(lock, [&] { return flushed_ >= ticket || stopping_; });
}

ServedLogStats ServedLog::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void ServedLog::WriterLoop() {
  std::vector<ServedList> batch;
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || flush_requested_ > flushed_; });
    batch.swap(queue_);
    const uint64_t ticket = flush_requested_;
    const bool stop = stopping_;
    lock.unlock();
    WriteBatch(&batch);
    Prune(clock_->NowMillis());
    lock.lock();
    stats_.written += batch.size();
    batch.clear();
    flushed_ = ticket;
    done_.notify_all();
    if (stop && queue_.empty()) return;
  }
}

void ServedLog::WriteBatch(std::vector<ServedList>* batch) {
  std::string day, lines;
  std::FILE* file = nullptr;
  auto flush = [&] {
    if (file == nullptr) return;
    std::fwrite(lines.data(), 1, lines.size(), file);
    std::fclose(file);
    file = nullptr;
    lines.clear();
  };
  for (const ServedList& list : *batch) {
    const std::string list_day = Day(list.at_ms);
    if (list_day != day) {
      flush();
      day = list_day;
      const std::string path = options_.dir + "/" + kFilePrefix + day + kFileSuffix;
      file = std::fopen(path.c_str(), "ab");
    }
    if (file != nullptr) WriteLine(list, &lines);
  }
  flush();
}

// Deletes day files older than the retention, once a day.
void ServedLog::Prune(int64_t now_ms) {
  const std::string today = Day(now_ms);
  if (today == last_pruned_day_) return;
  last_pruned_day_ = today;
  int64_t keep_from = now_ms - static_cast<int64_t>(options_.retention_days) * kMillisPerDay;
  if (options_.keep_since) keep_from = std::min(keep_from, options_.keep_since());
  const std::string oldest = Day(keep_from);
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(kFilePrefix) || !name.ends_with(kFileSuffix)) continue;
    const std::string day = name.substr(sizeof(kFilePrefix) - 1, 10);
    if (day < oldest) std::filesystem::remove(entry.path(), error);
  }
}

}  // namespace vitrina
