#include "models/sequences.h"

#include <algorithm>
#include <cmath>

namespace vitrina {

TrainingSequences BuildTrainingSequences(const Dataset& data, int validation_users, std::mt19937_64* rng) {
  TrainingSequences sequences;
  std::vector<uint32_t> eligible;
  for (uint32_t a = 0; a < data.num_actors(); ++a) {
    auto interactions = data.ActorInteractions(a);
    if (interactions.size() < 2) continue;
    for (const Interaction& interaction : interactions) sequences.items.push_back(interaction.item);
    sequences.offsets.push_back(static_cast<uint32_t>(sequences.items.size()));
    sequences.validation.push_back(-1);
    if (interactions.size() >= 3) eligible.push_back(static_cast<uint32_t>(sequences.size() - 1));
  }
  std::shuffle(eligible.begin(), eligible.end(), *rng);
  eligible.resize(std::min(eligible.size(), static_cast<size_t>(std::max(0, validation_users))));
  std::sort(eligible.begin(), eligible.end());
  for (uint32_t s : eligible) sequences.validation[s] = sequences.items[sequences.offsets[s + 1] - 1];
  sequences.validated = std::move(eligible);
  return sequences;
}

double NdcgAt10(std::span<const float> scores, uint32_t target) {
  const float bar = scores[target];
  size_t above = 0;
  for (float s : scores) above += s > bar;
  return above < 10 ? 1 / std::log2(static_cast<double>(above) + 2) : 0;
}

}  // namespace vitrina
