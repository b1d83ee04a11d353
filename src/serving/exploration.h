// Exploration: a share of each list's slots goes to a candidate source
// chosen by Thompson sampling, so that sources the ranker rarely puts on
// top still get shown and their click-through keeps being measured.
//
// Each (scenario, source) pair is an arm with a Beta(1 + clicks,
// 1 + impressions - clicks) posterior on its click-through rate; counts
// decay with a half-life so the bandit follows change. An exploring slot
// samples every available arm's rate and takes the best candidate of the
// arm that drew highest. Every shown item carries its propensity: the
// probability that its slot's mechanism picked it (1 - share for the
// ranked slots; share x P(its arm wins the draw) for explored ones), so
// that offline evaluation can reweight what was logged.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vitrina {

struct ExplorationOptions {
  double share = 0.05;                     // slots explored, for scenarios not listed below
  std::map<std::string, double> shares;    // per scenario ("for_you" -> 0.1); 0 turns it off there
  double half_life_hours = 24;             // clicks and impressions lose half their weight in this time
  int propensity_draws = 100;              // Monte Carlo draws that estimate an arm's chance to win
  uint64_t seed = 0;                       // 0: random
};

// "for_you=0.1,trending=0" into `shares`; InvalidArgument naming the entry.
Status ParseExplorationShares(std::string_view text, std::map<std::string, double>* shares);

// Thread-safe.
class Explorer {
 public:
  explicit Explorer(ExplorationOptions options);

  double ShareFor(std::string_view scenario) const;

  // Which of `slots` list places explore (each with probability `share`).
  std::vector<bool> PickSlots(std::string_view scenario, size_t slots);

  struct Choice {
    size_t arm = 0;           // index into the arms given
    double probability = 0;   // of that arm winning the draw
  };
  // Draws each arm's click-through rate from its posterior and returns the
  // arm that drew highest, with its estimated chance of winning.
  Choice ChooseArm(std::string_view scenario, const std::vector<std::string_view>& arms, int64_t now_ms);

  // Items of `arm` shown; clicks (or carts, purchases) on them.
  void RecordImpressions(std::string_view scenario, std::string_view arm, double count, int64_t now_ms);
  void RecordReward(std::string_view scenario, std::string_view arm, int64_t now_ms);

  struct ArmStats {
    std::string scenario, arm;
    double impressions = 0, clicks = 0;  // decayed to now
  };
  std::vector<ArmStats> Stats(int64_t now_ms) const;

 private:
  struct Arm {
    double impressions = 0, clicks = 0;
    int64_t updated_ms = 0;
  };
  // Brings an arm's counts to `now_ms`. REQUIRES: mutex_ held.
  void Decay(Arm* arm, int64_t now_ms) const;
  double SampleRate(const Arm& arm);

  const ExplorationOptions options_;
  mutable std::mutex mutex_;
  Arm& ArmOf(std::string_view scenario, std::string_view arm);  // REQUIRES: mutex_ held

  std::map<std::string, Arm, std::less<>> arms_;  // by "scenario/arm"; GUARDED_BY(mutex_)
  std::mt19937_64 rng_;                           // GUARDED_BY(mutex_)
};

}  // namespace vitrina
