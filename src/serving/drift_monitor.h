// Data drift: the last day's traffic, profiled live from every stored
// event, against the profile of the serving snapshot's training data.
// A population stability index over the threshold on any watched
// distribution raises the alert (in /health and /metrics): the models
// were trained on a shop that no longer looks like this one.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "serving/data_profile.h"
#include "serving/model_manager.h"
#include "storage/store.h"

namespace vitrina {

struct DriftOptions {
  double threshold = 0.2;             // PSI above this on any distribution raises the alert
  uint64_t min_interactions = 500;    // in the window, before drift is judged at all
  int64_t window_ms = 24LL * 3600 * 1000;
};

struct DriftFeature {
  std::string name;  // "price", "category", "activity", "new_shoppers"
  double psi = 0;
  bool alert = false;
};

struct DriftReport {
  std::string snapshot;        // whose training profile is the reference; empty: none yet
  bool judged = false;         // a reference and enough traffic to compare
  uint64_t interactions = 0;   // in the window
  uint64_t shoppers = 0;
  std::vector<DriftFeature> features;
  bool alert = false;
  DataProfile current;
};

// Thread-safe.
class DriftMonitor {
 public:
  // All pointers must outlive the monitor.
  DriftMonitor(const Store* store, const ModelManager* models, const Clock* clock, DriftOptions options = {});

  // The events of a stored write that were new (the ingestor's commit hook).
  void OnCommitted(const WriteBatch& batch, const std::vector<WriteOutcome>& outcomes);
  // Computed at most every few seconds: /health and /metrics ask often, and
  // a day of shoppers takes a while to go through.
  DriftReport Report() const;

 private:
  static constexpr size_t kPriceSamplesPerHour = 4096;
  struct Hour {
    int64_t hour = 0;
    std::vector<double> prices;  // a uniform sample when there are more
    uint64_t price_lines = 0;    // seen, for the sample
    std::unordered_map<std::string, uint64_t> categories;
    std::unordered_map<std::string, uint64_t> shoppers;  // interactions this hour
  };
  struct Shopper {
    uint64_t interactions = 0;  // in the window
    bool fresh = false;         // no activity before the window
  };

  static constexpr int64_t kReportMaxAgeMs = 5000;

  DriftReport Compute() const;
  void Roll(int64_t now_ms);  // REQUIRES: mutex_ held
  bool IsNewShopper(const Event& event, int64_t now_ms) const;

  const Store* store_;
  const ModelManager* models_;
  const Clock* clock_;
  const DriftOptions options_;

  mutable std::mutex mutex_;
  std::deque<Hour> hours_;                              // GUARDED_BY(mutex_): oldest first
  std::unordered_map<std::string, Shopper> shoppers_;   // GUARDED_BY(mutex_): active in the window
  uint64_t sample_state_ = 0x9e3779b97f4a7c15ULL;       // GUARDED_BY(mutex_)

  mutable std::mutex report_mutex_;
  mutable DriftReport report_;              // GUARDED_BY(report_mutex_)
  mutable int64_t report_ms_ = INT64_MIN;   // GUARDED_BY(report_mutex_): when report_ was computed
  mutable std::string report_snapshot_;     // GUARDED_BY(report_mutex_): the reference it used
};

}  // namespace vitrina
