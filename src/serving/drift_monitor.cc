#include "serving/drift_monitor.h"

#include <cmath>

namespace vitrina {
namespace {

constexpr int64_t kMillisPerHour = 3600000;
constexpr size_t kActivityLines = 100;

}  // namespace

DriftMonitor::DriftMonitor(const Store* store, const ModelManager* models, const Clock* clock, DriftOptions options)
    : store_(store), models_(models), clock_(clock), options_(options) {}

void DriftMonitor::Roll(int64_t now_ms) {
  const int64_t oldest_hour = (now_ms - options_.window_ms) / kMillisPerHour;
  while (!hours_.empty() && hours_.front().hour <= oldest_hour) {
    for (const auto& [id, n] : hours_.front().shoppers) {
      auto it = shoppers_.find(id);
      if (it == shoppers_.end()) continue;
      it->second.interactions -= std::min(it->second.interactions, n);
      if (it->second.interactions == 0) shoppers_.erase(it);
    }
    hours_.pop_front();
  }
  const int64_t hour = now_ms / kMillisPerHour;
  if (hours_.empty() || hours_.back().hour < hour) hours_.push_back(Hour{.hour = hour});
}

// A shopper none of whose recent activity is older than the window.
bool DriftMonitor::IsNewShopper(const Event& event, int64_t now_ms) const {
  const bool user = !event.user_id.empty();
  RecentActivity activity;
  if (!store_->GetRecentActivity(user ? ActorKind::kUser : ActorKind::kSession,
                                 user ? event.user_id : event.session_id, kActivityLines, &activity)
           .ok()) {
    return false;
  }
  if (activity.lines.size() >= kActivityLines) return false;
  for (const ActivityLine& line : activity.lines) {
    if (line.timestamp_ms < now_ms - options_.window_ms) return false;
  }
  return true;
}

void DriftMonitor::OnCommitted(const WriteBatch& batch, const std::vector<WriteOutcome>& outcomes) {
  std::shared_ptr<const Snapshot> snapshot;
  std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
  const SignalWeights weights;
  int64_t now = 0;
  for (size_t i = 0; i < batch.ops().size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    if (op.kind != WriteBatch::Kind::kAppendEvent || outcomes[i] != WriteOutcome::kCreated) continue;
    const Event& event = batch.events()[op.index];
    const std::string actor = ActorIdOf(event);
    if (actor.empty()) continue;
    auto observe = [&](const std::string& item_id, std::optional<double> line_price) {
      if (!lock.owns_lock()) {
        snapshot = models_->current();
        now = clock_->NowMillis();
        lock.lock();
        Roll(now);
      }
      Hour& hour = hours_.back();
      const ItemMeta* item = nullptr;
      if (snapshot != nullptr) {
        if (int64_t index = snapshot->FindItem(item_id); index >= 0) item = &snapshot->item(static_cast<uint32_t>(index));
      }
      const double price = line_price ? *line_price : item != nullptr && item->price ? *item->price : NAN;
      // Reservoir sampling keeps the hour's sample uniform over its lines.
      ++hour.price_lines;
      if (hour.prices.size() < kPriceSamplesPerHour) {
        hour.prices.push_back(price);
      } else {
        sample_state_ = sample_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
        const uint64_t slot = (sample_state_ >> 33) % hour.price_lines;
        if (slot < kPriceSamplesPerHour) hour.prices[slot] = price;
      }
      ++hour.categories[item != nullptr && !item->category.empty() ? item->category.front() : std::string()];
      ++hour.shoppers[actor];
      auto [shopper, fresh] = shoppers_.try_emplace(actor);
      if (fresh) shopper->second.fresh = IsNewShopper(event, now);
      ++shopper->second.interactions;
    };
    switch (event.type) {
      case EventType::kView:
      case EventType::kClick:
        if (!event.item_id.empty()) observe(event.item_id, std::nullopt);
        break;
      case EventType::kAddToCart:
      case EventType::kPurchase:
        for (const EventLine& line : event.lines) observe(line.item_id, line.price);
        break;
      default:
        break;
    }
  }
}

DriftReport DriftMonitor::Report() const {
  const int64_t now = clock_->NowMillis();
  std::shared_ptr<const Snapshot> snapshot = models_->current();
  const std::string snapshot_id = snapshot != nullptr ? snapshot->info().id : std::string();
  std::lock_guard lock(report_mutex_);
  if (now - report_ms_ >= kReportMaxAgeMs || now < report_ms_ || snapshot_id != report_snapshot_) {
    report_ = Compute();
    report_ms_ = now;
    report_snapshot_ = snapshot_id;
  }
  return report_;
}

DriftReport DriftMonitor::Compute() const {
  DriftReport report;
  std::shared_ptr<const Snapshot> snapshot = models_->current();
  ProfileCounts counts;
  {
    std::lock_guard lock(mutex_);
    const int64_t oldest_hour = (clock_->NowMillis() - options_.window_ms) / kMillisPerHour;
    for (const Hour& hour : hours_) {
      if (hour.hour <= oldest_hour) continue;
      counts.prices.insert(counts.prices.end(), hour.prices.begin(), hour.prices.end());
      for (const auto& [category, n] : hour.categories) counts.categories[category] += n;
    }
    for (const auto& [id, shopper] : shoppers_) {
      counts.per_shopper.push_back(shopper.interactions);
      if (shopper.fresh) ++counts.new_shoppers;
    }
  }
  if (snapshot == nullptr || snapshot->info().profile.empty()) {
    report.current = ProfileWithBins(DataProfile{}, counts);
    report.interactions = report.current.interactions;
    report.shoppers = report.current.shopper_days;
    return report;
  }
  const DataProfile& reference = snapshot->info().profile;
  report.snapshot = snapshot->info().id;
  report.current = ProfileWithBins(reference, counts);
  report.interactions = report.current.interactions;
  report.shoppers = report.current.shopper_days;
  report.judged = report.interactions >= options_.min_interactions;
  const double new_reference[] = {reference.new_share, 1 - reference.new_share};
  const double new_current[] = {report.current.new_share, 1 - report.current.new_share};
  report.features = {
      {.name = "price", .psi = PopulationStabilityIndex(reference.price, report.current.price)},
      {.name = "category", .psi = PopulationStabilityIndex(reference.category, report.current.category)},
      {.name = "activity", .psi = PopulationStabilityIndex(reference.activity, report.current.activity)},
      {.name = "new_shoppers", .psi = PopulationStabilityIndex(new_reference, new_current)},
  };
  for (DriftFeature& feature : report.features) {
    feature.alert = report.judged && std::isfinite(feature.psi) && feature.psi > options_.threshold;
    report.alert = report.alert || feature.alert;
  }
  return report;
}

}  // namespace vitrina
