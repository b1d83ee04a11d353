#include "models/recommender.h"

#include "models/als.h"
#include "models/content.h"
#include "models/cooccurrence.h"
#include "models/ease.h"
#include "models/gru4rec.h"
#include "models/sasrec.h"
#include "models/trending.h"

namespace vitrina {

const std::vector<std::string>& RecommenderNames() {
  static const std::vector<std::string> names = {"trending", "cooccurrence", "ease", "als", "content", "sasrec", "gru4rec"};
  return names;
}

Result<std::unique_ptr<Recommender>> CreateRecommender(std::string_view name, const ModelOptions& options) {
  std::unique_ptr<Recommender> model;
  if (name == "trending") {
    model = std::make_unique<TrendingRecommender>(options.trending);
  } else if (name == "cooccurrence") {
    model = std::make_unique<CooccurrenceRecommender>(options.cooccurrence);
  } else if (name == "ease") {
    model = std::make_unique<EaseRecommender>(options.ease);
  } else if (name == "als") {
    model = std::make_unique<AlsRecommender>(options.als);
  } else if (name == "content") {
    model = std::make_unique<ContentRecommender>(options.content);
  } else if (name == "sasrec") {
    model = std::make_unique<SasRecRecommender>(options.sasrec);
  } else if (name == "gru4rec") {
    model = std::make_unique<Gru4RecRecommender>(options.gru4rec);
  } else {
    std::string known;
    for (const std::string& n : RecommenderNames()) known += (known.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("unknown model '" + std::string(name) + "' (known: " + known + ")");
  }
  return model;
}

}  // namespace vitrina
