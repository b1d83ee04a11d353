#include "experiments/attribution.h"

#include <algorithm>

#include "common/strings.h"

namespace vitrina {
namespace {

constexpr uint8_t kClick = 1, kCart = 2, kPurchase = 4;
constexpr size_t kSeenPerActor = 500;
constexpr size_t kMinSweep = 4096;
constexpr int64_t kMillisPerDay = 86400000;
constexpr int64_t kClockSkewMs = 3600000;
constexpr int64_t kHourMs = 3600000;

// Hashed keys: 64 bits make a collision between two of a day's shoppers
// (or funnels) vanishingly rare, and save a string per entry.
uint64_t Combine(uint64_t seed, std::string_view part) {
  uint64_t x = seed ^ (Fnv1a64(part) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 29);
}

uint64_t ActorKey(char kind, std::string_view id) { return Combine(static_cast<uint64_t>(kind), id); }

double LineRevenue(const EventLine& line) { return line.quantity * line.price.value_or(0); }

double OrderRevenue(const Event& event) {
  double total = 0;
  for (const EventLine& line : event.lines) total += LineRevenue(line);
  return total;
}

int64_t ReceivedAt(const Event& event) { return event.received_ms != 0 ? event.received_ms : event.timestamp_ms; }

bool InPrePeriod(const Experiment& experiment, const Event& event) {
  return experiment.cuped_days > 0 && event.timestamp_ms < experiment.start_ms &&
         event.timestamp_ms >= experiment.start_ms - experiment.cuped_days * kMillisPerDay;
}

}  // namespace

Attributor::Attributor(AttributionOptions options, const ExperimentBook* book, const Clock* clock)
    : options_(std::move(options)), book_(book), clock_(clock) {}

Attributor::ExperimentState& Attributor::State(const Experiment& experiment) {
  for (ExperimentState& state : states_) {
    if (state.id == experiment.id) return state;
  }
  ExperimentState& state = states_.emplace_back();
  state.id = experiment.id;
  state.unit = experiment.unit;
  ListGroups(experiment, &state.groups, &state.shares);
  state.order_values.resize(state.groups.size());
  // Until its pre-period has been read from the store, no purchase counts
  // towards it live: the read covers them.
  state.live_from_ms = INT64_MAX;
  return state;
}

void Attributor::OnServed(const ShownList& list) {
  std::lock_guard lock(mutex_);
  Served(list);
}

uint32_t Attributor::Intern(const std::string& item_id) {
  return item_index_.try_emplace(item_id, static_cast<uint32_t>(item_index_.size())).first->second & kItemMask;
}

void Attributor::Served(const ShownList& list) {
  const uint64_t id_hash = Fnv1a64(list.recommendation_id);
  if (list.recommendation_id.empty() || by_id_.contains(id_hash)) return;
  ListRecord record{.at_ms = list.at_ms};
  record.items.reserve(list.items.size());
  for (const std::string& item : list.items) record.items.push_back(Intern(item));
  uint64_t funnel_key = 0;
  for (const std::string* part : {&list.scenario, &list.snapshot, &list.experiment, &list.group}) {
    funnel_key = Combine(funnel_key, *part);
  }
  auto [slot, fresh_funnel] = funnel_index_.try_emplace(funnel_key, static_cast<uint32_t>(funnels_.size()));
  if (fresh_funnel) {
    funnels_.push_back({FunnelKey{list.scenario, list.snapshot, list.experiment, list.group}, Funnel{}});
    auto name = std::find(scenario_names_.begin(), scenario_names_.end(), list.scenario);
    if (name == scenario_names_.end()) name = scenario_names_.insert(name, list.scenario);
    funnel_scenario_.push_back(static_cast<uint32_t>(name - scenario_names_.begin()));
  }
  Funnel& funnel = funnels_[slot->second].second;
  funnel.lists += 1;
  funnel.impressions += list.items.size();
  if (Hour* hour = HourOf(list.at_ms)) {
    const uint32_t scenario = funnel_scenario_[slot->second];
    if (hour->scenarios.size() <= scenario) hour->scenarios.resize(scenario + 1);
    hour->scenarios[scenario].lists += 1;
    hour->scenarios[scenario].impressions += list.items.size();
  }

  record.sequence = next_sequence_++;
  record.funnel = slot->second;
  if (!list.experiment.empty() && book_ != nullptr) {
    const std::shared_ptr<const ExperimentSet> set = book_->current();
    if (const Experiment* experiment = set->Find(list.experiment)) {
      ExperimentState& state = State(*experiment);
      auto group = std::find(state.groups.begin(), state.groups.end(), list.group);
      std::string unit = UnitId(state.unit, list.user_id, list.session_id);
      if (group != state.groups.end() && !unit.empty()) {
        record.state = static_cast<int>(&state - states_.data());
        record.group = static_cast<int>(group - state.groups.begin());
        auto [outcome, fresh] = state.units.try_emplace(unit);
        if (fresh) {
          outcome->second.group = record.group;
          outcome->second.first_exposure_ms = list.at_ms;
        }
        outcome->second.lists += 1;
        outcome->second.impressions += static_cast<uint32_t>(list.items.size());
        record.unit_id = std::move(unit);
      }
    }
  }
  const int64_t oldest = list.at_ms - options_.window_ms;
  for (const auto& [kind, id] : {std::pair{'u', &list.user_id}, std::pair{'s', &list.session_id}}) {
    if (id->empty() || options_.window_ms <= 0) continue;
    std::vector<Seen>& seen = seen_[ActorKey(kind, *id)];
    const auto at_s = static_cast<uint32_t>(list.at_ms / 1000);
    for (uint32_t item : record.items) seen.push_back({.sequence = record.sequence, .item = item, .at_s = at_s});
    // Trimmed in bulk, so a busy shopper's vector is not shifted on every list.
    const int64_t oldest_s = oldest / 1000;
    if (seen.size() > 2 * kSeenPerActor || (!seen.empty() && seen.front().at_s < oldest_s && seen.size() > 64)) {
      size_t drop = 0;
      while (drop < seen.size() && (seen[drop].at_s < oldest_s || seen.size() - drop > kSeenPerActor)) ++drop;
      seen.erase(seen.begin(), seen.begin() + static_cast<std::ptrdiff_t>(drop));
    }
  }
  by_id_.emplace(id_hash, record.sequence);
  order_.emplace_back(record.sequence, id_hash);
  lists_.emplace(record.sequence, std::move(record));
  Forget(list.at_ms);
}

// Lists older than both windows can no longer be credited; neither can
// actors' impressions.
void Attributor::Forget(int64_t now_ms) {
  const int64_t oldest = now_ms - std::max(options_.window_ms, options_.tagged_max_age_ms);
  while (!order_.empty()) {
    auto it = lists_.find(order_.front().first);
    if (it != lists_.end() && it->second.at_ms >= oldest && lists_.size() <= options_.max_lists) break;
    if (it != lists_.end()) lists_.erase(it);
    by_id_.erase(order_.front().second);
    order_.pop_front();
  }
  // Shoppers whose impressions all left the window: swept when the map has
  // doubled since the last sweep, so the cost per list stays constant.
  if (seen_.size() < 2 * seen_after_sweep_) return;
  const int64_t oldest_seen = now_ms - options_.window_ms;
  std::erase_if(seen_, [&](const auto& entry) {
    return entry.second.empty() || entry.second.back().at_s < oldest_seen / 1000;
  });
  seen_after_sweep_ = std::max<size_t>(seen_.size(), kMinSweep);
}

void Attributor::Credit(const Event& event, std::string_view item, double revenue, int kind) {
  const int64_t at = ReceivedAt(event);
  ListRecord* record = nullptr;
  size_t position = 0;
  bool by_id = false;
  auto interned = item_index_.find(std::string(item));
  if (interned == item_index_.end()) return;  // never shown
  const uint32_t index = interned->second;
  auto locate = [&](uint64_t sequence, int64_t max_age) {
    auto it = lists_.find(sequence);
    if (it == lists_.end() || at < it->second.at_ms || at - it->second.at_ms > max_age) return false;
    auto shown = std::find_if(it->second.items.begin(), it->second.items.end(),
                              [&](uint32_t packed) { return (packed & kItemMask) == index; });
    if (shown == it->second.items.end()) return false;
    record = &it->second;
    position = static_cast<size_t>(shown - it->second.items.begin());
    return true;
  };
  if (!event.recommendation_id.empty()) {
    auto id = by_id_.find(Fnv1a64(event.recommendation_id));
    by_id = id != by_id_.end() && locate(id->second, options_.tagged_max_age_ms);
  }
  if (record == nullptr) {
    const int64_t at_s = at / 1000;
    const Seen* latest = nullptr;
    for (const auto& [k, id] : {std::pair{'u', &event.user_id}, std::pair{'s', &event.session_id}}) {
      if (id->empty()) continue;
      auto it = seen_.find(ActorKey(k, *id));
      if (it == seen_.end()) continue;
      for (auto seen = it->second.rbegin(); seen != it->second.rend(); ++seen) {
        if (seen->at_s > at_s || seen->item != index) continue;
        if (latest == nullptr || seen->sequence > latest->sequence) latest = &*seen;
        break;
      }
    }
    if (latest == nullptr || !locate(latest->sequence, options_.window_ms)) return;
  }
  uint32_t& packed = record->items[position];
  const uint32_t bit = static_cast<uint32_t>(kind) << kItemBits;
  if (packed & bit) {
    ++stats_.duplicates;
    return;
  }
  packed |= bit;
  ++stats_.credited;
  if (by_id) ++stats_.by_id;
  Funnel& funnel = funnels_[record->funnel].second;
  Funnel ignored;
  Funnel* in_hour = &ignored;
  if (Hour* hour = HourOf(record->at_ms)) {
    const uint32_t scenario = funnel_scenario_[record->funnel];
    if (hour->scenarios.size() <= scenario) hour->scenarios.resize(scenario + 1);
    in_hour = &hour->scenarios[scenario];
  }
  UnitOutcome* unit = nullptr;
  if (record->state >= 0) {
    auto it = states_[static_cast<size_t>(record->state)].units.find(record->unit_id);
    if (it != states_[static_cast<size_t>(record->state)].units.end()) unit = &it->second;
  }
  switch (kind) {
    case kClick:
      ++funnel.clicks;
      ++in_hour->clicks;
      if (unit != nullptr) ++unit->clicks;
      break;
    case kCart:
      ++funnel.carts;
      ++in_hour->carts;
      if (unit != nullptr) ++unit->carts;
      break;
    default:
      ++funnel.purchases;
      funnel.revenue += revenue;
      ++in_hour->purchases;
      in_hour->revenue += revenue;
      if (unit != nullptr) {
        ++unit->purchases;
        unit->attributed_revenue += revenue;
      }
  }
}

void Attributor::CountOrder(const Event& event, double revenue, const ExperimentSet& set) {
  const int64_t at = ReceivedAt(event);
  for (ExperimentState& state : states_) {
    const Experiment* experiment = set.Find(state.id);
    if (experiment == nullptr) continue;
    const bool pre_period = InPrePeriod(*experiment, event);
    const bool ended = experiment->end_ms() != 0 && at >= experiment->end_ms();
    if (ended && !pre_period) continue;
    const std::string unit = UnitId(state.unit, event.user_id, event.session_id);
    if (unit.empty()) continue;
    if (pre_period) {
      if (at >= state.live_from_ms) state.pre_revenue[unit] += revenue;
      continue;  // never both covariate and outcome
    }
    auto it = state.units.find(unit);
    // Received after the exposure, and happened after it too (an imported
    // order from last year is not an outcome; an hour covers clock skew).
    if (it == state.units.end() || at < it->second.first_exposure_ms ||
        event.timestamp_ms < it->second.first_exposure_ms - kClockSkewMs) {
      continue;
    }
    ++it->second.orders;
    it->second.revenue += revenue;
    state.order_values[static_cast<size_t>(it->second.group)].Add(revenue);
  }
}

void Attributor::Observe(const Event& event, const ExperimentSet& set) {
  switch (event.type) {
    case EventType::kClick:
      if (!event.item_id.empty()) Credit(event, event.item_id, 0, kClick);
      break;
    case EventType::kAddToCart:
      for (const EventLine& line : event.lines) Credit(event, line.item_id, 0, kCart);
      break;
    case EventType::kPurchase:
      for (const EventLine& line : event.lines) Credit(event, line.item_id, LineRevenue(line), kPurchase);
      CountOrder(event, OrderRevenue(event), set);
      break;
    default:
      break;
  }
}

void Attributor::OnEvents(std::span<const Event> events) {
  const std::shared_ptr<const ExperimentSet> set =
      book_ != nullptr ? book_->current() : std::make_shared<const ExperimentSet>();
  std::lock_guard lock(mutex_);
  for (const Event& event : events) {
    CountEvent(event);
    Observe(event, *set);
  }
}

void Attributor::OnCommitted(const WriteBatch& batch, const std::vector<WriteOutcome>& outcomes) {
  std::shared_ptr<const ExperimentSet> set;
  std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
  for (size_t i = 0; i < batch.ops().size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    if (op.kind != WriteBatch::Kind::kAppendEvent || outcomes[i] != WriteOutcome::kCreated) continue;
    const Event& event = batch.events()[op.index];
    if (!lock.owns_lock()) {
      set = book_ != nullptr ? book_->current() : std::make_shared<const ExperimentSet>();
      lock.lock();
    }
    CountEvent(event);
    Observe(event, *set);
  }
}

Status Attributor::ScanPrePeriods(const Store& store, const std::vector<const Experiment*>& experiments,
                                  int64_t before_ms, std::vector<std::unordered_map<std::string, double>>* out,
                                  const std::function<void(const Event&)>& also) const {
  out->assign(experiments.size(), {});
  return store.ScanEvents([&](const Event& event) {
    if (also) also(event);
    if (event.type != EventType::kPurchase || ReceivedAt(event) >= before_ms) return true;
    for (size_t e = 0; e < experiments.size(); ++e) {
      if (!InPrePeriod(*experiments[e], event)) continue;
      const std::string unit = UnitId(experiments[e]->unit, event.user_id, event.session_id);
      if (!unit.empty()) (*out)[e][unit] += OrderRevenue(event);
    }
    return true;
  });
}

Status Attributor::AddExperiment(const Store& store, const Experiment& experiment, int64_t now_ms) {
  {
    std::lock_guard lock(mutex_);
    State(experiment).live_from_ms = now_ms;
  }
  std::vector<std::unordered_map<std::string, double>> pre;
  VITRINA_RETURN_IF_ERROR(ScanPrePeriods(store, {&experiment}, now_ms, &pre, {}));
  std::lock_guard lock(mutex_);
  ExperimentState& state = State(experiment);
  for (const auto& [unit, revenue] : pre[0]) state.pre_revenue[unit] += revenue;
  return Status::OK();
}

Status Attributor::Rebuild(const Store& store, std::vector<ShownList> lists, int64_t now_ms) {
  const std::shared_ptr<const ExperimentSet> set =
      book_ != nullptr ? book_->current() : std::make_shared<const ExperimentSet>();
  std::vector<const Experiment*> experiments;
  for (const Experiment& experiment : set->experiments()) experiments.push_back(&experiment);
  // An empty store: nothing to read.
  if (lists.empty() && experiments.empty() && store.Counts().events == 0) return Status::OK();
  std::sort(lists.begin(), lists.end(), [](const auto& a, const auto& b) { return a.at_ms < b.at_ms; });
  const int64_t since = lists.empty() ? now_ms : lists.front().at_ms;
  // The timeline's event counts of the kept hours come back from the store too.
  const int64_t timeline_since = (now_ms / kHourMs - options_.timeline_hours + 1) * kHourMs;
  std::vector<Event> events;
  std::map<int64_t, std::array<uint64_t, kEventTypeCount>> counted;  // by hour
  std::vector<std::unordered_map<std::string, double>> pre;
  VITRINA_RETURN_IF_ERROR(ScanPrePeriods(store, experiments, now_ms, &pre, [&](const Event& event) {
    const int64_t at = ReceivedAt(event);
    if (at >= timeline_since && at < now_ms) ++counted[at / kHourMs * kHourMs][static_cast<size_t>(event.type)];
    const bool outcome = event.type == EventType::kClick || event.type == EventType::kAddToCart ||
                         event.type == EventType::kPurchase;
    if (outcome && at >= since && at < now_ms) events.push_back(event);
  }));
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return ReceivedAt(a) < ReceivedAt(b); });
  std::lock_guard lock(mutex_);
  for (size_t e = 0; e < experiments.size(); ++e) {
    ExperimentState& state = State(*experiments[e]);
    state.live_from_ms = now_ms;
    for (const auto& [unit, revenue] : pre[e]) state.pre_revenue[unit] += revenue;
  }
  for (const auto& [start, counts] : counted) {
    if (Hour* hour = HourOf(start)) {
      for (size_t type = 0; type < kEventTypeCount; ++type) hour->events[type] += counts[type];
    }
  }
  size_t next = 0;
  for (const Event& event : events) {
    while (next < lists.size() && lists[next].at_ms <= ReceivedAt(event)) Served(lists[next++]);
    Observe(event, *set);
  }
  while (next < lists.size()) Served(lists[next++]);
  return Status::OK();
}

Attributor::Hour* Attributor::HourOf(int64_t at_ms) {
  if (options_.timeline_hours <= 0) return nullptr;
  const int64_t start = at_ms / kHourMs * kHourMs;
  int64_t newest = start;
  if (clock_ != nullptr) {
    newest = clock_->NowMillis() / kHourMs * kHourMs;
    if (start > newest + kHourMs) return nullptr;  // ahead of the clock
    newest = std::max(newest, start);
  } else if (!hours_.empty()) {
    newest = std::max(newest, hours_.rbegin()->first);
  }
  const int64_t oldest = newest - (options_.timeline_hours - 1) * kHourMs;
  if (start < oldest) return nullptr;
  auto [it, fresh] = hours_.try_emplace(start);
  if (fresh) {
    while (hours_.begin()->first < oldest) hours_.erase(hours_.begin());
  }
  return &it->second;
}

void Attributor::CountEvent(const Event& event) {
  if (Hour* hour = HourOf(ReceivedAt(event))) ++hour->events[static_cast<size_t>(event.type)];
}

std::vector<TimelineHour> Attributor::Timeline(int64_t since_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<TimelineHour> out;
  for (auto it = hours_.lower_bound(since_ms); it != hours_.end(); ++it) {
    TimelineHour& hour = out.emplace_back();
    hour.start_ms = it->first;
    hour.events = it->second.events;
    for (size_t s = 0; s < it->second.scenarios.size(); ++s) {
      if (it->second.scenarios[s].lists > 0) hour.scenarios.emplace_back(scenario_names_[s], it->second.scenarios[s]);
    }
  }
  return out;
}

std::vector<std::pair<FunnelKey, Funnel>> Attributor::Funnels() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<FunnelKey, Funnel>> funnels = funnels_;
  std::sort(funnels.begin(), funnels.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return funnels;
}

ExperimentData Attributor::Data(const Experiment& experiment) const {
  std::lock_guard lock(mutex_);
  ExperimentData data;
  const ExperimentState* found = nullptr;
  for (const ExperimentState& state : states_) {
    if (state.id == experiment.id) found = &state;
  }
  if (found == nullptr) {  // nobody exposed yet: the groups, empty
    ListGroups(experiment, &data.groups, &data.shares);
    data.units.resize(data.groups.size());
    data.order_values.resize(data.groups.size());
    return data;
  }
  data.groups = found->groups;
  data.shares = found->shares;
  data.order_values = found->order_values;
  data.units.resize(data.groups.size());
  for (const auto& [unit, outcome] : found->units) {
    UnitOutcome copy = outcome;
    if (auto it = found->pre_revenue.find(unit); it != found->pre_revenue.end()) copy.pre_revenue = it->second;
    data.units[static_cast<size_t>(outcome.group)].push_back(copy);
  }
  return data;
}

AttributionStats Attributor::stats() const {
  std::lock_guard lock(mutex_);
  AttributionStats stats = stats_;
  stats.lists_in_memory = lists_.size();
  return stats;
}

}  // namespace vitrina
