#include "models/sequences.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>

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

ItemFeatures BuildItemFeatures(const Dataset& data, size_t min_items) {
  // Tokens per item, kinds kept apart by a prefix.
  std::vector<std::vector<std::string>> tokens(data.num_items());
  std::unordered_map<std::string, uint32_t> count;
  for (size_t i = 0; i < data.num_items(); ++i) {
    const ItemMeta& item = data.items[i];
    std::string path;
    for (const std::string& level : item.category) {
      path += (path.empty() ? "" : "/") + level;
      tokens[i].push_back("c:" + path);
    }
    if (!item.brand.empty()) tokens[i].push_back("b:" + item.brand);
    for (const std::string& tag : item.tags) tokens[i].push_back("t:" + tag);
    std::sort(tokens[i].begin(), tokens[i].end());
    tokens[i].erase(std::unique(tokens[i].begin(), tokens[i].end()), tokens[i].end());
    for (const std::string& token : tokens[i]) ++count[token];
  }
  // Ids in order of first use, so that they do not depend on hashing.
  std::unordered_map<std::string, uint32_t> ids;
  ItemFeatures features;
  for (size_t i = 0; i < data.num_items(); ++i) {
    for (const std::string& token : tokens[i]) {
      if (count[token] < min_items) continue;
      auto [it, inserted] = ids.try_emplace(token, static_cast<uint32_t>(ids.size()));
      features.ids.push_back(it->second);
    }
    features.offsets.push_back(static_cast<uint32_t>(features.ids.size()));
  }
  features.num_features = ids.size();
  return features;
}

void ItemFeatures::Compose(const Mat& items, const Mat& table, Mat* out) const {
  *out = items;
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    const uint32_t begin = offsets[i], end = offsets[i + 1];
    if (begin == end) continue;
    const float share = 1.0f / static_cast<float>(end - begin);
    for (uint32_t k = begin; k < end; ++k) out->row(static_cast<Eigen::Index>(i)) += share * table.row(ids[k]);
  }
}

void ItemFeatures::Backpropagate(const Mat& item_gradient, Mat* table_gradient) const {
  table_gradient->setZero();
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    const uint32_t begin = offsets[i], end = offsets[i + 1];
    if (begin == end) continue;
    const float share = 1.0f / static_cast<float>(end - begin);
    for (uint32_t k = begin; k < end; ++k) {
      table_gradient->row(ids[k]) += share * item_gradient.row(static_cast<Eigen::Index>(i));
    }
  }
}

std::vector<uint32_t> LatestItems(std::span<const HistoryEntry> history, size_t max_length, size_t num_items) {
  std::vector<uint32_t> sequence;
  for (const HistoryEntry& entry : history) {
    if (sequence.size() == max_length) break;
    if (entry.item < num_items) sequence.push_back(entry.item);
  }
  std::reverse(sequence.begin(), sequence.end());
  return sequence;
}

int ClosestHistoryItem(const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>& embeddings,
                       std::span<const HistoryEntry> history, size_t max_length, uint32_t item) {
  const size_t n = static_cast<size_t>(embeddings.rows());
  if (item >= n) return -1;
  int best = -1;
  float best_score = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < std::min(history.size(), max_length); ++i) {
    if (history[i].item >= n || history[i].item == item) continue;
    const float score = embeddings.row(history[i].item).dot(embeddings.row(item));
    if (score > best_score) {
      best_score = score;
      best = static_cast<int>(i);
    }
  }
  return best;
}

void ToSoftmaxScale(float floor, std::vector<std::pair<uint32_t, float>>* top) {
  if (top->empty()) return;
  const float best = top->front().second;
  for (auto& hit : *top) hit.second = std::exp(hit.second - best);
  std::erase_if(*top, [floor](const std::pair<uint32_t, float>& hit) { return hit.second <= floor; });
}

double NdcgAt10(std::span<const float> scores, uint32_t target) {
  const float bar = scores[target];
  size_t above = 0;
  for (float s : scores) above += s > bar;
  return above < 10 ? 1 / std::log2(static_cast<double>(above) + 2) : 0;
}

}  // namespace vitrina
