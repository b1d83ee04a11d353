#include "serving/exploration.h"

#include <cmath>

#include "common/strings.h"

namespace vitrina {
namespace {

constexpr double kMillisPerHour = 3600000.0;

std::string ArmKey(std::string_view scenario, std::string_view arm) {
  return std::string(scenario) + "/" + std::string(arm);
}

}  // namespace

Status ParseExplorationShares(std::string_view text, std::map<std::string, double>* shares) {
  shares->clear();
  for (std::string_view entry : Split(text, ",")) {
    entry = TrimWhitespace(entry);
    if (entry.empty()) continue;
    const size_t equals = entry.find('=');
    if (equals == std::string_view::npos) {
      return Status::InvalidArgument("expected scenario=share, got \"" + PrintableAscii(entry, 40) + "\"");
    }
    const std::string scenario(TrimWhitespace(entry.substr(0, equals)));
    std::optional<double> share = ParseDouble(TrimWhitespace(entry.substr(equals + 1)));
    if (scenario.empty() || !share || *share < 0 || *share > 1) {
      return Status::InvalidArgument("expected scenario=share with a share from 0 to 1, got \"" +
                                     PrintableAscii(entry, 40) + "\"");
    }
    (*shares)[scenario] = *share;
  }
  return Status::OK();
}

Explorer::Explorer(ExplorationOptions options)
    : options_(std::move(options)), rng_(options_.seed != 0 ? options_.seed : std::random_device{}()) {}

double Explorer::ShareFor(std::string_view scenario) const {
  auto it = options_.shares.find(std::string(scenario));
  return it != options_.shares.end() ? it->second : options_.share;
}

std::vector<bool> Explorer::PickSlots(std::string_view scenario, size_t slots) {
  const double share = ShareFor(scenario);
  std::vector<bool> explore(slots, false);
  if (share <= 0) return explore;
  std::lock_guard lock(mutex_);
  std::bernoulli_distribution coin(share);
  for (size_t i = 0; i < slots; ++i) explore[i] = coin(rng_);
  return explore;
}

void Explorer::Decay(Arm* arm, int64_t now_ms) const {
  if (arm->updated_ms != 0 && now_ms > arm->updated_ms && options_.half_life_hours > 0) {
    const double factor = std::exp2(-static_cast<double>(now_ms - arm->updated_ms) / (options_.half_life_hours * kMillisPerHour));
    arm->impressions *= factor;
    arm->clicks *= factor;
  }
  arm->updated_ms = std::max(arm->updated_ms, now_ms);
}

Explorer::Arm& Explorer::ArmOf(std::string_view scenario, std::string_view arm) {
  const std::string key = ArmKey(scenario, arm);
  auto it = arms_.find(key);
  if (it == arms_.end()) it = arms_.emplace(key, Arm{}).first;
  return it->second;
}

double Explorer::SampleRate(const Arm& arm) {
  // Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
  const double a = 1 + arm.clicks;
  const double b = 1 + std::max(0.0, arm.impressions - arm.clicks);
  std::gamma_distribution<double> x(a, 1.0), y(b, 1.0);
  const double gx = x(rng_), gy = y(rng_);
  return gx + gy > 0 ? gx / (gx + gy) : 0.5;
}

Explorer::Choice Explorer::ChooseArm(std::string_view scenario, const std::vector<std::string_view>& arms, int64_t now_ms) {
  Choice choice;
  if (arms.empty()) return choice;
  if (arms.size() == 1) return {.arm = 0, .probability = 1};
  std::lock_guard lock(mutex_);
  std::vector<Arm> posteriors;
  posteriors.reserve(arms.size());
  for (std::string_view name : arms) {
    Arm& arm = ArmOf(scenario, name);
    Decay(&arm, now_ms);
    posteriors.push_back(arm);
  }
  auto draw = [&] {
    size_t best = 0;
    double best_rate = -1;
    for (size_t a = 0; a < posteriors.size(); ++a) {
      const double rate = SampleRate(posteriors[a]);
      if (rate > best_rate) {
        best_rate = rate;
        best = a;
      }
    }
    return best;
  };
  choice.arm = draw();
  // The chance that this arm wins a draw, for the logged propensity.
  size_t wins = 0;
  const int draws = std::max(1, options_.propensity_draws);
  for (int d = 0; d < draws; ++d) wins += draw() == choice.arm;
  choice.probability = std::max(1.0 / (2.0 * draws), static_cast<double>(wins) / draws);
  return choice;
}

void Explorer::RecordImpressions(std::string_view scenario, std::string_view arm, double count, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Arm& stats = ArmOf(scenario, arm);
  Decay(&stats, now_ms);
  stats.impressions += count;
}

void Explorer::RecordReward(std::string_view scenario, std::string_view arm, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Arm& stats = ArmOf(scenario, arm);
  Decay(&stats, now_ms);
  stats.clicks += 1;
  stats.impressions = std::max(stats.impressions, stats.clicks);
}

std::vector<Explorer::ArmStats> Explorer::Stats(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<ArmStats> out;
  for (const auto& [key, arm] : arms_) {
    Arm decayed = arm;
    Decay(&decayed, now_ms);
    const size_t slash = key.find('/');
    out.push_back({key.substr(0, slash), key.substr(slash + 1), decayed.impressions, decayed.clicks});
  }
  return out;
}

}  // namespace vitrina
