// Attribution: which recommendation caused a click, an add-to-cart or a
// purchase, and what the shoppers of each experiment group did after they
// first saw it.
//
// An event is credited to a served list when it carries that list's
// recommendation_id and the list showed the item (while the list is in
// memory: at most a week and memory_lists lists), or else when the same
// user or session was shown the item within the window before (the latest
// such list wins). Each list, item and event type is credited once, so a
// repeated click, a replayed batch or an event both tagged and in the
// window count once. Revenue is quantity x unit price of the purchase
// lines (a line without a price adds none).
//
// Times are the server's: a list's serving time and an event's
// received_ms. The CUPED covariate (a unit's purchases in the days before
// an experiment started) goes by the events' own timestamps, so imported
// history counts.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "experiments/experiment_book.h"
#include "experiments/stats.h"
#include "schema/types.h"
#include "storage/store.h"

namespace vitrina {

struct AttributionOptions {
  int64_t window_ms = 24LL * 3600 * 1000;     // an untagged event counts for lists shown this long before
  size_t max_lists = 200000;                  // recent lists kept in memory (the oldest go first)
  int64_t tagged_max_age_ms = 7LL * 86400000; // a tagged event counts for lists at most this old
  int64_t timeline_hours = 14 * 24;           // hours of the timeline (the dashboard's charts) kept
};

// One served list: what attribution needs of a recommendation response.
struct ShownList {
  std::string recommendation_id;
  int64_t at_ms = 0;
  std::string scenario;
  std::string user_id, session_id;
  std::string snapshot;            // the models' snapshot
  std::string experiment, group;   // empty when no experiment served it
  std::vector<std::string> items;  // in display order
};

// Counts of one scenario (and experiment group): lists served, items
// shown, and the attributed clicks, carts, purchase lines and revenue.
struct Funnel {
  uint64_t lists = 0, impressions = 0, clicks = 0, carts = 0, purchases = 0;
  double revenue = 0;

  Funnel& operator+=(const Funnel& other) {
    lists += other.lists;
    impressions += other.impressions;
    clicks += other.clicks;
    carts += other.carts;
    purchases += other.purchases;
    revenue += other.revenue;
    return *this;
  }
};

struct FunnelKey {
  std::string scenario, snapshot, experiment, group;
  auto operator<=>(const FunnelKey&) const = default;
};

// What one unit (shopper) of an experiment did from its first exposure to
// the experiment's end.
struct UnitOutcome {
  int group = 0;  // index into ExperimentData::groups
  int64_t first_exposure_ms = 0;
  uint32_t lists = 0, impressions = 0, clicks = 0, carts = 0, purchases = 0;  // attributed, as Funnel
  uint32_t orders = 0;    // every purchase event after exposure, attributed or not
  double revenue = 0;     // of those orders
  double attributed_revenue = 0;
  double pre_revenue = 0; // purchases in the cuped_days before the start (CUPED covariate)
};

struct ExperimentData {
  std::vector<std::string> groups;               // the variants, then "holdout"
  std::vector<double> shares;                    // each group's expected share of units
  std::vector<std::vector<UnitOutcome>> units;   // by group
  std::vector<stats::Moments> order_values;      // by group: each order's revenue
};

// One hour of the timeline: each scenario's funnel over the lists served in
// it (their later clicks, carts and purchases count in the hour the list was
// shown), and the events stored in it by type.
struct TimelineHour {
  int64_t start_ms = 0;
  std::vector<std::pair<std::string, Funnel>> scenarios;  // by name, those with lists
  std::array<uint64_t, kEventTypeCount> events{};        // by EventType
};

struct AttributionStats {
  uint64_t lists_in_memory = 0;
  uint64_t credited = 0;     // events (per item) credited to a list
  uint64_t by_id = 0;        // ... through their recommendation_id
  uint64_t duplicates = 0;   // credits refused because already given
};

// Thread-safe.
class Attributor {
 public:
  // `book` must outlive the attributor, and `clock` when given. With a
  // clock the timeline keeps the hours up to its present (a list or event
  // stamped over an hour ahead of it is left out of the timeline, so a
  // clock that jumped ahead cannot push the real hours out); without one,
  // the hours up to the newest seen.
  Attributor(AttributionOptions options, const ExperimentBook* book, const Clock* clock = nullptr);

  // A list just served (in time order with the events, roughly).
  void OnServed(const ShownList& list);
  // Events just stored for the first time (duplicates excluded).
  void OnEvents(std::span<const Event> events);
  // The events of a stored write that were new (the ingestor's commit hook).
  void OnCommitted(const WriteBatch& batch, const std::vector<WriteOutcome>& outcomes);

  // Reads the pre-period purchases of `experiment` from the store (when it
  // is created; later purchases arrive through OnEvents).
  // Purchases received from `now_ms` on count live.
  Status AddExperiment(const Store& store, const Experiment& experiment, int64_t now_ms);
  // Rebuilds everything after a restart: the pre-periods of the book's
  // experiments, then the lists (oldest first) merged in time with the
  // store's clicks, carts and purchases received since the oldest list.
  // Call before serving starts; `now_ms` as for AddExperiment.
  Status Rebuild(const Store& store, std::vector<ShownList> lists, int64_t now_ms);

  std::vector<std::pair<FunnelKey, Funnel>> Funnels() const;
  // The hours starting at or after `since_ms` that saw lists or events,
  // oldest first (at most options().timeline_hours of them are kept).
  std::vector<TimelineHour> Timeline(int64_t since_ms) const;
  // The units of `experiment` and their outcomes so far.
  ExperimentData Data(const Experiment& experiment) const;
  AttributionStats stats() const;
  const AttributionOptions& options() const { return options_; }

 private:
  // Kept compact: a busy shop serves millions of lists a day. An item is
  // its interned index (low 29 bits) with a bit per event kind already
  // credited above it.
  static constexpr uint32_t kItemBits = 29;
  static constexpr uint32_t kItemMask = (1u << kItemBits) - 1;
  struct ListRecord {
    uint64_t sequence = 0;
    int64_t at_ms = 0;
    uint32_t funnel = 0;   // index into funnels_
    int state = -1;        // index into states_; -1: no experiment
    int group = -1;
    std::string unit_id;   // experiment lists only
    std::vector<uint32_t> items;
  };
  struct Seen {  // an item shown to an actor
    uint64_t sequence = 0;  // of the list
    uint32_t item = 0;      // interned
    uint32_t at_s = 0;      // seconds since the epoch
  };
  struct Hour {
    std::vector<Funnel> scenarios;  // by index into scenario_names_
    std::array<uint64_t, kEventTypeCount> events{};
  };
  struct ExperimentState {
    std::string id;
    ExperimentUnit unit = ExperimentUnit::kUser;
    std::vector<std::string> groups;
    std::vector<double> shares;
    std::unordered_map<std::string, UnitOutcome> units;
    std::unordered_map<std::string, double> pre_revenue;
    std::vector<stats::Moments> order_values;
    int64_t live_from_ms = 0;  // pre-period purchases received before this were read from the store
  };

  ExperimentState& State(const Experiment& experiment);  // REQUIRES: mutex_ held
  void Served(const ShownList& list);                    // REQUIRES: mutex_ held
  uint32_t Intern(const std::string& item_id);            // REQUIRES: mutex_ held
  void Credit(const Event& event, std::string_view item, double revenue, int kind);  // REQUIRES: mutex_ held
  void CountOrder(const Event& event, double revenue, const ExperimentSet& set);     // REQUIRES: mutex_ held
  void Observe(const Event& event, const ExperimentSet& set);                        // REQUIRES: mutex_ held
  void Forget(int64_t now_ms);                                                      // REQUIRES: mutex_ held
  // The timeline's hour holding `at_ms`; nullptr when it is older than the kept hours.
  Hour* HourOf(int64_t at_ms);                                                      // REQUIRES: mutex_ held
  void CountEvent(const Event& event);                                              // REQUIRES: mutex_ held
  // The pre-period purchases of the experiments in `set` received before
  // `before_ms`, read from the store, by state index then unit.
  Status ScanPrePeriods(const Store& store, const std::vector<const Experiment*>& experiments, int64_t before_ms,
                        std::vector<std::unordered_map<std::string, double>>* out,
                        const std::function<void(const Event&)>& also) const;

  const AttributionOptions options_;
  const ExperimentBook* book_;
  const Clock* clock_;

  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, ListRecord> lists_;               // GUARDED_BY(mutex_): by sequence
  std::unordered_map<uint64_t, uint64_t> by_id_;                 // GUARDED_BY(mutex_): hashed recommendation_id -> sequence
  std::deque<std::pair<uint64_t, uint64_t>> order_;              // GUARDED_BY(mutex_): (sequence, hashed id), oldest first
  std::unordered_map<std::string, uint32_t> item_index_;         // GUARDED_BY(mutex_): item id -> interned index
  uint64_t next_sequence_ = 1;                                   // GUARDED_BY(mutex_)
  std::unordered_map<uint64_t, std::vector<Seen>> seen_;         // GUARDED_BY(mutex_): by hashed user or session
  std::vector<std::pair<FunnelKey, Funnel>> funnels_;            // GUARDED_BY(mutex_)
  std::unordered_map<uint64_t, uint32_t> funnel_index_;          // GUARDED_BY(mutex_): by hashed key
  std::vector<uint32_t> funnel_scenario_;                        // GUARDED_BY(mutex_): parallel to funnels_
  std::vector<std::string> scenario_names_;                      // GUARDED_BY(mutex_)
  std::map<int64_t, Hour> hours_;                                // GUARDED_BY(mutex_): by the hour's start
  std::vector<ExperimentState> states_;                          // GUARDED_BY(mutex_)
  AttributionStats stats_;                                       // GUARDED_BY(mutex_)
  size_t seen_after_sweep_ = 4096;                               // GUARDED_BY(mutex_): seen_'s size after the last sweep
};

}  // namespace vitrina
