// Who proposes what: the models, the learned ranker, and cold start from the
// live catalog for items and shoppers newer than the snapshot.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "models/category_popular.h"
#include "serving/recommend_run.h"

namespace vitrina {
namespace {

// Candidates of several models fused by reciprocal rank.
class Blend {
 public:
  // Adds `model`'s top `depth` items for `history`, skipping `excluded`;
  // `source` is the model's bit in Candidate::sources.
  void Add(const Recommender* model, uint32_t source, std::span<const HistoryEntry> history, Relation relation,
           size_t depth, const std::unordered_set<uint32_t>& excluded) {
    if (model == nullptr || history.empty()) return;
    thread_local std::vector<std::pair<uint32_t, float>> top;
    model->TopK(history, relation, depth, 0.0f, [&](uint32_t i) { return excluded.contains(i); }, &top);
    for (size_t rank = 0; rank < top.size(); ++rank) {
      auto [it, inserted] = by_item_.try_emplace(top[rank].first, candidates_.size());
      if (inserted) {
        candidates_.push_back({.item = top[rank].first});
        best_rank_.push_back(SIZE_MAX);
      }
      Candidate& candidate = candidates_[it->second];
      candidate.score += 1.0 / (60.0 + static_cast<double>(rank));
      candidate.sources |= 1u << source;
      if (rank < best_rank_[it->second]) {
        best_rank_[it->second] = rank;
        candidate.model = model;
      }
    }
  }

  std::vector<Candidate> Ranked() && {
    std::sort(candidates_.begin(), candidates_.end(), [](const Candidate& a, const Candidate& b) {
      return a.score != b.score ? a.score > b.score : a.item < b.item;
    });
    return std::move(candidates_);
  }

 private:
  std::vector<Candidate> candidates_;
  std::vector<size_t> best_rank_;
  std::unordered_map<uint32_t, size_t> by_item_;
};

}  // namespace

// The for_you source the request or its experiment variant asks for; empty: all.
std::string_view RecommendationService::Run::ForYouModel() const {
  if (!request_.model.empty()) return request_.model;
  if (!request_.variant_model.empty() && snapshot_->model(request_.variant_model) != nullptr) {
    return request_.variant_model;
  }
  return {};
}

// Candidates, best first, for the scenario.
void RecommendationService::Run::Generate() {
  if (!request_.personalize && request_.scenario != Scenario::kRecentlyViewed) {
    AddTrending();  // the holdout: what everyone buys, nothing learned from this shopper
    return;
  }
  switch (request_.scenario) {
    case Scenario::kRecentlyViewed:
      for (const ActivityLine* line : lines_) {
        if (line->type != EventType::kView && line->type != EventType::kClick) continue;
        candidates_.push_back({.id = line->item_id, .score = static_cast<double>(line->timestamp_ms),
                               .origin = Origin::kRecentlyViewed});
      }
      return;
    case Scenario::kTrending:
      AddTrending();
      return;
    case Scenario::kForYou:
      query_ = history_;
      if (const auto* pipeline = static_cast<const PipelineRecommender*>(snapshot_->model("pipeline"));
          pipeline != nullptr && request_.use_ranker && (ForYouModel().empty() || ForYouModel() == "pipeline") &&
          !query_.empty()) {
        AddRanked(*pipeline);
      } else {
        std::vector<const Recommender*> models;
        if (ForYouModel().empty() || ForYouModel() == "pipeline") {
          for (const std::string& name : service_.options_.for_you_models) models.push_back(snapshot_->model(name));
        } else {
          models.push_back(snapshot_->model(ForYouModel()));
        }
        AddBlend(models, Relation::kAny, depth());
      }
      if (ForYouModel().empty() || ForYouModel() == "content") {
        // A page item newer than the snapshot, and what the shopper looked
        // at since it was trained: their content neighbours.
        if (anchor_item_) AddContentFor(*anchor_item_, depth());
        AddContentForUnknownHistory();
      }
      // Trending fills in (Finish) when these leave too few.
      return;
    case Scenario::kSimilar:
    case Scenario::kUpsell:
      for (uint32_t a : anchors_) query_.push_back({a, 1, Signal::kView});
      AddBlend({snapshot_->model("content"), snapshot_->model("cooccurrence"), snapshot_->model("als")},
               Relation::kSubstitute, request_.scenario == Scenario::kUpsell ? 4 * depth() : depth());
      if (anchors_.empty()) {
        AddContentFor(*anchor_item_, request_.scenario == Scenario::kUpsell ? 4 * depth() : depth());
        AddCatalogNeighbours(*anchor_item_);
      }
      if (request_.scenario == Scenario::kUpsell) AddCatalogUpsell();
      return;
    case Scenario::kBoughtTogether:
    case Scenario::kCart:
      for (uint32_t a : anchors_) query_.push_back({a, 1, Signal::kCart});
      AddBlend({snapshot_->model("cooccurrence"), snapshot_->model("ease"), snapshot_->model("als")},
               Relation::kComplement, depth());
      // Categories bought together fill in, and answer for items too new
      // or too rarely bought to have item-level evidence.
      if (anchor_item_) AddComplements(*anchor_item_);
      for (const Item& item : cart_items_) AddComplements(item);
      return;
  }
}

uint32_t RecommendationService::Run::SourceBit(std::string_view name) {
  auto it = std::find(source_names_.begin(), source_names_.end(), name);
  if (it != source_names_.end()) return static_cast<uint32_t>(it - source_names_.begin());
  source_names_.push_back(name);
  return static_cast<uint32_t>(source_names_.size() - 1);
}

void RecommendationService::Run::AddBlend(const std::vector<const Recommender*>& models, Relation relation,
                                          size_t model_depth) {
  Blend blend;
  for (const Recommender* model : models) {
    if (model != nullptr) blend.Add(model, SourceBit(model->name()), query_, relation, model_depth, excluded_);
  }
  for (Candidate& candidate : std::move(blend).Ranked()) {
    candidate.id = snapshot_->item(candidate.item).id;
    candidates_.push_back(candidate);
  }
}

// The learned ranker's order over its sources' candidates.
void RecommendationService::Run::AddRanked(const PipelineRecommender& pipeline) {
  thread_local RankScratch scratch;
  thread_local std::vector<RankedCandidate> ranked;
  pipeline_ = &pipeline;
  scratch_ = &scratch;
  response_.ranked = true;
  for (const std::string& name : pipeline.source_names()) SourceBit(name);
  const RankContext context{.now_ms = now_ms_, .device = request_.device, .page = request_.page,
                            .country = request_.country};
  pipeline.Rank(query_, context, depth(), [&](uint32_t item) { return excluded_.contains(item); }, &scratch, &ranked);
  const size_t width = pipeline.feature_names().size();
  for (const RankedCandidate& r : ranked) {
    Candidate candidate{.item = r.item, .id = snapshot_->item(r.item).id, .score = r.score, .row = static_cast<int32_t>(r.row)};
    const float* row = &scratch.features[r.row * width];
    for (size_t s = 0; s < pipeline.source_names().size(); ++s) {
      if (!std::isnan(row[kFeaturesPerSource * s + 1])) candidate.sources |= 1u << s;
    }
    if (r.source >= 0) {
      candidate.model = pipeline.source(static_cast<size_t>(r.source));
      if (candidate.model->name() == "trending") candidate.origin = Origin::kTrending;
    } else {
      candidate.origin = Origin::kHistory;
    }
    candidates_.push_back(candidate);
  }
}

void RecommendationService::Run::AddTrending() {
  const Recommender* trending = snapshot_->model("trending");
  if (trending == nullptr) return;
  thread_local std::vector<std::pair<uint32_t, float>> top;
  // Category filters can reject most of the list: look deeper for them.
  const size_t trending_depth =
      request_.category.empty() ? depth() + request_.n : std::min<size_t>(trending->num_items(), 20 * depth());
  trending->TopK({}, Relation::kAny, trending_depth, 0.0f, [&](uint32_t i) { return excluded_.contains(i); }, &top);
  const uint32_t bit = SourceBit("trending");
  for (const auto& [index, score] : top) {
    candidates_.push_back({.item = index, .id = snapshot_->item(index).id, .score = score, .model = trending,
                           .origin = Origin::kTrending, .sources = 1u << bit});
  }
}

// The snapshot's items most like `item`, an item the snapshot does not know.
void RecommendationService::Run::AddContentFor(const Item& item, size_t content_depth) {
  const ContentRecommender* content = snapshot_->content();
  if (content == nullptr) return;
  const uint32_t bit = SourceBit("content");
  for (const auto& [index, similarity] : content->SimilarTo(ItemMetaFrom(item), content_depth)) {
    if (excluded_.contains(index)) continue;
    candidates_.push_back({.item = index, .id = snapshot_->item(index).id, .score = similarity, .model = content,
                           .sources = 1u << bit, .anchor = &item});
  }
}

// for_you: what the shopper viewed since the snapshot was trained (a
// shopper's first view of a new item changes the next answer).
void RecommendationService::Run::AddContentForUnknownHistory() {
  for (const Item& item : unknown_history_) AddContentFor(item, depth() / unknown_history_.size() + 1);
}

// Items of the anchor's category in the live catalog, those the snapshot
// does not know too, by content similarity to the anchor: a new item's
// neighbours may be new themselves.
void RecommendationService::Run::AddCatalogNeighbours(const Item& anchor) {
  if (service_.catalog_ == nullptr || anchor.category.empty()) return;
  const ContentRecommender* content = snapshot_->content();
  const ItemMeta meta = ItemMetaFrom(anchor);
  std::vector<std::pair<float, std::string>> scored;
  for (CatalogIndex::Entry& entry : service_.catalog_->InCategory(anchor.category.back(), 4 * depth())) {
    if (entry.id == anchor.id || snapshot_->FindItem(entry.id) >= 0) continue;  // known ones came from the models
    float similarity = 0;
    if (content != nullptr) {
      auto item = service_.store_->GetItem(entry.id);
      if (!item.ok()) continue;
      similarity = content->Similarity(meta, ItemMetaFrom(*item));
    }
    scored.emplace_back(similarity, std::move(entry.id));
  }
  std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const uint32_t bit = SourceBit("catalog");
  for (auto& [similarity, id] : scored) {
    catalog_ids_.push_back(std::move(id));
    candidates_.push_back({.id = catalog_ids_.back(), .score = similarity, .origin = Origin::kCatalog,
                           .sources = 1u << bit, .anchor = &anchor});
  }
}

// Upsell from the live catalog: items of the anchor's leaf category priced
// above it within the band, in stock, the closest step up first; the
// models' substitutes come first, these fill in.
void RecommendationService::Run::AddCatalogUpsell() {
  if (service_.catalog_ == nullptr || anchor_item_->category.empty()) return;
  const uint32_t bit = SourceBit("catalog");
  for (CatalogIndex::Entry& entry :
       service_.catalog_->PricedIn(anchor_item_->category.back(), *anchor_item_->price, UpsellCeiling(), 4 * depth())) {
    const int64_t index = snapshot_->FindItem(entry.id);
    catalog_ids_.push_back(std::move(entry.id));
    candidates_.push_back({.item = index >= 0 ? static_cast<uint32_t>(index) : kNoSnapshotItem,
                           .id = catalog_ids_.back(), .score = -entry.price, .origin = Origin::kCatalog,
                           .sources = 1u << bit, .anchor = &*anchor_item_});
  }
}

// Popular items of the categories bought together with `anchor`'s, the
// strongest complement first: learned from orders at training, so they
// serve an item added a second ago.
void RecommendationService::Run::AddComplements(const Item& anchor) {
  const auto* categories = static_cast<const CategoryPopularRecommender*>(snapshot_->model("category_popular"));
  if (categories == nullptr || anchor.category.empty()) return;
  const uint32_t category = categories->FindCategory(anchor.category.back());
  if (category == 0) return;
  constexpr size_t kItemsPerComplement = 10;
  const uint32_t bit = SourceBit("complements");
  for (const CategoryPopularRecommender::Complement& complement : categories->Complements(category)) {
    size_t taken = 0;
    for (uint32_t item : categories->ItemsOf(complement.category)) {
      if (taken == kItemsPerComplement) break;
      if (excluded_.contains(item)) continue;
      candidates_.push_back({.item = item, .id = snapshot_->item(item).id,
                             .score = complement.similarity * categories->popularity(item), .model = categories,
                             .origin = Origin::kComplement, .sources = 1u << bit, .anchor = &anchor});
      ++taken;
    }
  }
}

}  // namespace vitrina
