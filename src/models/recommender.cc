#include "models/recommender.h"

#include "common/strings.h"
#include "models/als.h"
#include "models/category_popular.h"
#include "models/content.h"
#include "models/cooccurrence.h"
#include "models/ease.h"
#include "models/gru4rec.h"
#include "models/sasrec.h"
#include "models/sparse.h"
#include "models/trending.h"

namespace vitrina {

std::vector<HistoryEntry> HistoryOf(std::span<const Interaction> interactions, size_t max_history) {
  std::vector<HistoryEntry> history;
  const size_t count = std::min(interactions.size(), max_history);
  history.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const Interaction& interaction = interactions[interactions.size() - 1 - i];
    history.push_back({interaction.item, interaction.weight, interaction.signal, interaction.time_ms});
  }
  return history;
}

void Recommender::TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
                       const std::function<bool(uint32_t)>& skip, std::vector<std::pair<uint32_t, float>>* top) const {
  thread_local std::vector<float> scores;
  thread_local std::vector<std::pair<float, uint32_t>> heap;
  scores.resize(num_items());
  Score(history, relation, scores);
  SelectTopK(scores, k, floor, [&](uint32_t item) { return skip && skip(item); }, &heap, top);
}

void Recommender::ScoreItems(std::span<const HistoryEntry> history, Relation relation, std::span<const uint32_t> items,
                             std::span<float> scores) const {
  thread_local std::vector<float> all;
  all.resize(num_items());
  Score(history, relation, all);
  for (size_t i = 0; i < items.size(); ++i) scores[i] = all[items[i]];
}

const std::vector<std::string>& RecommenderNames() {
  static const std::vector<std::string> names = {"trending", "category_popular", "cooccurrence", "ease", "als",
                                                 "content", "sasrec", "gru4rec"};
  return names;
}

Result<std::unique_ptr<Recommender>> CreateRecommender(std::string_view name, const ModelOptions& options) {
  std::unique_ptr<Recommender> model;
  if (name == "trending") {
    model = std::make_unique<TrendingRecommender>(options.trending);
  } else if (name == "category_popular") {
    model = std::make_unique<CategoryPopularRecommender>(options.category_popular);
  } else if (name == "cooccurrence") {
    model = std::make_unique<CooccurrenceRecommender>(options.cooccurrence);
  } else if (name == "ease") {
    model = std::make_unique<EaseRecommender>(options.ease);
  } else if (name == "als") {
    model = std::make_unique<AlsRecommender>(options.als);
  } else if (name == "content") {
    model = std::make_unique<ContentRecommender>(options.content);
  } else if (name == "sasrec") {
    model = std::make_unique<SasRecRecommender>(options.sasrec, options.ann);
  } else if (name == "gru4rec") {
    model = std::make_unique<Gru4RecRecommender>(options.gru4rec, options.ann);
  } else {
    return Status::InvalidArgument("unknown model '" + std::string(name) + "' (known: " + Join(RecommenderNames(), ", ") +
                                   ")");
  }
  return model;
}

}  // namespace vitrina
