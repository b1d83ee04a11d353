#include "serving/recommend.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "common/strings.h"
#include "models/sparse.h"
#include "models/trending.h"

namespace vitrina {
namespace {

constexpr std::pair<Scenario, std::string_view> kScenarioNames[] = {
    {Scenario::kForYou, "for_you"}, {Scenario::kSimilar, "similar"},   {Scenario::kBoughtTogether, "bought_together"},
    {Scenario::kCart, "cart"},      {Scenario::kUpsell, "upsell"},     {Scenario::kTrending, "trending"},
    {Scenario::kRecentlyViewed, "recently_viewed"},
};

std::string NewRecommendationId() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32));
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "rec_%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buffer;
}

std::string DisplayName(const ItemMeta& item) { return item.title.empty() ? item.id : item.title; }

std::string_view Verb(Signal signal) {
  switch (signal) {
    case Signal::kView: return "viewed";
    case Signal::kCart: return "added to your cart";
    case Signal::kPurchase: return "bought";
  }
  return "viewed";
}

bool InCategory(const Item& item, const std::string& category) {
  for (const std::string& level : item.category) {
    if (AsciiLower(level) == AsciiLower(category)) return true;
  }
  return false;
}

// One candidate, combined across models by reciprocal rank fusion.
struct Candidate {
  uint32_t item = 0;
  double score = 0;
  size_t best_rank = SIZE_MAX;
  const Recommender* model = nullptr;
};

class Blend {
 public:
  // Adds `model`'s top `depth` items for `history`, skipping `excluded`.
  void Add(const Recommender* model, std::span<const HistoryEntry> history, Relation relation, size_t depth,
           const std::unordered_set<uint32_t>& excluded) {
    if (model == nullptr || history.empty()) return;
    thread_local std::vector<std::pair<uint32_t, float>> top;
    model->TopK(history, relation, depth, 0.0f, [&](uint32_t i) { return excluded.contains(i); }, &top);
    for (size_t rank = 0; rank < top.size(); ++rank) {
      auto [it, inserted] = by_item_.try_emplace(top[rank].first, candidates_.size());
      if (inserted) candidates_.push_back({.item = top[rank].first});
      Candidate& candidate = candidates_[it->second];
      candidate.score += 1.0 / (60.0 + static_cast<double>(rank));
      if (rank < candidate.best_rank) {
        candidate.best_rank = rank;
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
  std::unordered_map<uint32_t, size_t> by_item_;
};

}  // namespace

std::optional<Scenario> ParseScenario(std::string_view name) {
  for (const auto& [scenario, text] : kScenarioNames) {
    if (text == name) return scenario;
  }
  return std::nullopt;
}

std::string_view ScenarioName(Scenario scenario) {
  for (const auto& [value, text] : kScenarioNames) {
    if (value == scenario) return text;
  }
  return "";
}

std::vector<const ActivityLine*> MergeActivity(const RecentActivity& user, const RecentActivity& session) {
  std::vector<const ActivityLine*> lines;
  lines.reserve(user.lines.size() + session.lines.size());
  for (const ActivityLine& line : user.lines) lines.push_back(&line);
  if (session.lines.empty()) return lines;
  const size_t user_lines = lines.size();
  for (const ActivityLine& line : session.lines) {
    const bool known = std::any_of(lines.begin(), lines.begin() + static_cast<ptrdiff_t>(user_lines), [&](const ActivityLine* l) {
      return l->timestamp_ms == line.timestamp_ms && l->type == line.type && l->item_id == line.item_id;
    });
    if (!known) lines.push_back(&line);
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const ActivityLine* a, const ActivityLine* b) { return a->timestamp_ms > b->timestamp_ms; });
  return lines;
}

struct RecommendationService::Context {
  std::shared_ptr<const Snapshot> snapshot;
  RecentActivity user_activity, session_activity;
  std::vector<const ActivityLine*> lines;  // both merged, newest first
  std::vector<HistoryEntry> history;    // items the snapshot knows, newest first
  std::unordered_set<std::string> purchased;
  std::vector<double> paid_prices;      // unit prices in purchases and carts
};

RecommendationService::RecommendationService(const Store* store, const ModelManager* models, const Clock* clock,
                                             RecommendOptions options)
    : store_(store), models_(models), clock_(clock), options_(std::move(options)) {}

Status RecommendationService::LoadHistory(const RecommendRequest& request, Context* context) const {
  if (!request.user_id.empty()) {
    VITRINA_RETURN_IF_ERROR(
        store_->GetRecentActivity(ActorKind::kUser, request.user_id, options_.history_events, &context->user_activity));
  }
  if (!request.session_id.empty()) {
    VITRINA_RETURN_IF_ERROR(store_->GetRecentActivity(ActorKind::kSession, request.session_id,
                                                      options_.history_events, &context->session_activity));
  }
  context->lines = MergeActivity(context->user_activity, context->session_activity);
  const Snapshot* snapshot = context->snapshot.get();
  const SignalWeights weights;
  for (const ActivityLine* line : context->lines) {
    if (line->type == EventType::kPurchase || line->type == EventType::kAddToCart) {
      if (line->type == EventType::kPurchase) context->purchased.emplace(line->item_id);
      if (!std::isnan(line->price)) context->paid_prices.push_back(line->price);
    }
    if (snapshot == nullptr || line->item_id.empty()) continue;
    const std::optional<LineSignal> signal = SignalOf(line->type, line->amount, weights);
    if (!signal) continue;
    const int64_t index = snapshot->FindItem(line->item_id);
    if (index < 0) continue;
    context->history.push_back({static_cast<uint32_t>(index), signal->weight, signal->signal, line->timestamp_ms});
  }
  return Status::OK();
}

Result<RecommendResponse> RecommendationService::Recommend(const RecommendRequest& request) const {
  Context context;
  context.snapshot = models_->current();
  const Snapshot* snapshot = context.snapshot.get();
  RecommendResponse response;
  response.recommendation_id = NewRecommendationId();
  if (snapshot != nullptr) response.snapshot_id = snapshot->info().id;
  const size_t n = request.n;
  const size_t depth = std::max<size_t>(50, 5 * n);

  // Anchor items and required fields.
  std::vector<uint32_t> anchors;
  std::optional<Item> anchor_item;
  switch (request.scenario) {
    case Scenario::kSimilar:
    case Scenario::kBoughtTogether:
    case Scenario::kUpsell: {
      if (request.item_id.empty()) {
        return Status::InvalidArgument("item_id: required for " + std::string(ScenarioName(request.scenario)));
      }
      auto item = store_->GetItem(request.item_id);
      if (!item.ok()) {
        if (item.status().code() == StatusCode::kNotFound) {
          return Status::NotFound("item_id: no item '" + PrintableAscii(request.item_id, 64) + "'");
        }
        return item.status();
      }
      anchor_item = std::move(item).value();
      if (snapshot != nullptr && snapshot->FindItem(request.item_id) >= 0) {
        anchors.push_back(static_cast<uint32_t>(snapshot->FindItem(request.item_id)));
      }
      break;
    }
    case Scenario::kCart:
      if (request.cart_items.empty()) return Status::InvalidArgument("items: required for cart (comma-separated item ids)");
      if (snapshot != nullptr) {
        for (const std::string& id : request.cart_items) {
          if (int64_t index = snapshot->FindItem(id); index >= 0) anchors.push_back(static_cast<uint32_t>(index));
        }
      }
      break;
    case Scenario::kForYou:
    case Scenario::kRecentlyViewed:
      if (request.user_id.empty() && request.session_id.empty()) {
        return Status::InvalidArgument("user_id: user_id or session_id is required for " +
                                       std::string(ScenarioName(request.scenario)));
      }
      break;
    case Scenario::kTrending:
      break;
  }
  if (snapshot == nullptr && request.scenario != Scenario::kRecentlyViewed) {
    return Status::Unavailable("no model snapshot yet: training has not finished (POST /v1/models/train)");
  }
  if (!request.model.empty()) {
    if (request.scenario != Scenario::kForYou) return Status::InvalidArgument("model: only for_you takes a model");
    const auto& names = options_.for_you_models;
    if (std::find(names.begin(), names.end(), request.model) == names.end() || snapshot->model(request.model) == nullptr) {
      std::string available;
      for (const std::string& name : names) {
        if (snapshot->model(name) != nullptr) available += (available.empty() ? "" : ", ") + name;
      }
      return Status::InvalidArgument("model: '" + PrintableAscii(request.model, 40) +
                                     "' is not a for_you model of the serving snapshot (it has: " + available + ")");
    }
  }
  VITRINA_RETURN_IF_ERROR(LoadHistory(request, &context));

  // Which items may not be proposed at all.
  std::unordered_set<std::string> excluded_ids;
  if (request.exclude_purchased) excluded_ids = context.purchased;
  if (!request.item_id.empty()) excluded_ids.insert(request.item_id);
  for (const std::string& id : request.cart_items) excluded_ids.insert(id);
  std::unordered_set<uint32_t> excluded;
  if (snapshot != nullptr) {
    for (const std::string& id : excluded_ids) {
      if (int64_t index = snapshot->FindItem(id); index >= 0) excluded.insert(static_cast<uint32_t>(index));
    }
    if (request.scenario == Scenario::kForYou) {
      for (const HistoryEntry& h : context.history) excluded.insert(h.item);  // seen already
    }
  }

  // Live checks on a candidate: exists, active, passes the filters.
  auto accept = [&](std::string_view id, Item* out) {
    if (excluded_ids.contains(std::string(id))) return false;
    auto item = store_->GetItem(id);
    if (!item.ok() || !item->active) return false;
    if (!request.category.empty() && !InCategory(*item, request.category)) return false;
    if (request.min_price && (!item->price || *item->price < *request.min_price)) return false;
    if (request.max_price && (!item->price || *item->price > *request.max_price)) return false;
    if (request.in_stock && item->stock && *item->stock <= 0) return false;
    *out = std::move(item).value();
    return true;
  };
  auto emit = [&](const Item& item, double score, std::string_view model, std::string reason, std::string reason_item) {
    response.items.push_back({.item_id = item.id, .title = item.title, .price = item.price, .score = score,
                              .model = std::string(model), .reason = std::move(reason),
                              .reason_item_id = std::move(reason_item)});
  };
  std::unordered_set<std::string> emitted;
  const Recommender* trending = snapshot != nullptr ? snapshot->model("trending") : nullptr;
  auto fill_with_trending = [&] {
    if (trending == nullptr || response.items.size() >= n) return;
    const std::vector<float>& popularity = static_cast<const TrendingRecommender*>(trending)->popularity();
    std::vector<std::pair<float, uint32_t>> heap;
    std::vector<std::pair<uint32_t, float>> top;
    // Category filters can reject most of the list: look deeper for them.
    size_t trending_depth = request.category.empty() ? depth + n : std::min<size_t>(popularity.size(), 20 * depth);
    SelectTopK(popularity, trending_depth, 0.0f, [&](uint32_t i) { return excluded.contains(i); }, &heap, &top);
    std::string where = request.category.empty() ? "" : " in " + request.category;
    for (const auto& [index, score] : top) {
      if (response.items.size() >= n) break;
      const std::string& id = snapshot->item(index).id;
      Item item;
      if (emitted.contains(id) || !accept(id, &item)) continue;
      emitted.insert(id);
      emit(item, score, "trending", "popular" + where + " this week", "");
    }
  };

  if (request.scenario == Scenario::kRecentlyViewed) {
    for (const ActivityLine* line : context.lines) {
      if (response.items.size() >= n) break;
      if (line->type != EventType::kView && line->type != EventType::kClick) continue;
      const std::string id(line->item_id);
      Item item;
      if (emitted.contains(id) || !accept(id, &item)) continue;
      emitted.insert(id);
      emit(item, static_cast<double>(line->timestamp_ms), "history", "you viewed this recently", "");
    }
    return response;
  }
  if (request.scenario == Scenario::kTrending) {
    fill_with_trending();
    return response;
  }

  // Model candidates for the other scenarios.
  std::vector<HistoryEntry> query;
  Relation relation = Relation::kAny;
  std::vector<const Recommender*> sources;
  auto add_source = [&](std::string_view name) {
    if (const Recommender* model = snapshot->model(name)) sources.push_back(model);
  };
  switch (request.scenario) {
    case Scenario::kForYou:
      query = context.history;
      if (request.model.empty()) {
        for (const std::string& name : options_.for_you_models) add_source(name);
      } else {
        add_source(request.model);
      }
      break;
    case Scenario::kSimilar:
    case Scenario::kUpsell:
      for (uint32_t a : anchors) query.push_back({a, 1, Signal::kView});
      relation = Relation::kSubstitute;
      add_source("content");
      add_source("cooccurrence");
      add_source("als");
      break;
    case Scenario::kBoughtTogether:
    case Scenario::kCart:
      for (uint32_t a : anchors) query.push_back({a, 1, Signal::kCart});
      relation = Relation::kComplement;
      add_source("cooccurrence");
      add_source("ease");
      add_source("als");
      break;
    default:
      break;
  }
  Blend blend;
  size_t source_depth = request.scenario == Scenario::kUpsell ? 4 * depth : depth;
  for (const Recommender* model : sources) blend.Add(model, query, relation, source_depth, excluded);
  std::vector<Candidate> candidates = std::move(blend).Ranked();

  // New items (not in the snapshot) still get content neighbours.
  if (anchors.empty() && anchor_item && snapshot->content() != nullptr &&
      request.scenario != Scenario::kBoughtTogether) {
    for (const auto& [index, similarity] : snapshot->content()->SimilarTo(ItemMetaFrom(*anchor_item), source_depth)) {
      if (!excluded.contains(index)) candidates.push_back({.item = index, .score = similarity, .best_rank = 0, .model = snapshot->content()});
    }
  }

  // Upsell: the same kind (leaf category), pricier, within the shopper's band.
  double band_low = 0, band_high = 0;
  if (request.scenario == Scenario::kUpsell) {
    if (!anchor_item->price) return Status::InvalidArgument("item_id: upsell needs an item with a price");
    double price = *anchor_item->price;
    band_low = price;
    band_high = price * 1.5;
    if (!context.paid_prices.empty()) {
      band_high = std::max(price * 1.2, 1.25 * *std::max_element(context.paid_prices.begin(), context.paid_prices.end()));
    }
  }

  // The first n candidates that pass the live checks...
  std::vector<std::pair<const Candidate*, Item>> chosen;
  for (const Candidate& candidate : candidates) {
    if (response.items.size() + chosen.size() >= n) break;
    const ItemMeta& meta = snapshot->item(candidate.item);
    Item item;
    if (emitted.contains(meta.id) || !accept(meta.id, &item)) continue;
    if (request.scenario == Scenario::kUpsell) {
      if (!item.price || *item.price <= band_low || *item.price > band_high) continue;
      if (!anchor_item->category.empty() &&
          (item.category.empty() || item.category.back() != anchor_item->category.back())) {
        continue;
      }
    }
    emitted.insert(meta.id);
    chosen.emplace_back(&candidate, std::move(item));
  }
  // ...explained by the model that proposed them, one batch per model...
  std::vector<int> anchors_of(chosen.size(), -1);
  if (!query.empty()) {
    std::vector<uint32_t> items;
    std::vector<size_t> positions;
    std::vector<int> batch;
    for (const Recommender* model : sources) {
      items.clear();
      positions.clear();
      for (size_t k = 0; k < chosen.size(); ++k) {
        if (chosen[k].first->model == model) {
          items.push_back(chosen[k].first->item);
          positions.push_back(k);
        }
      }
      if (items.empty()) continue;
      batch.assign(items.size(), -1);
      model->ExplainBatch(query, items, batch);
      for (size_t k = 0; k < items.size(); ++k) anchors_of[positions[k]] = batch[k];
    }
  }
  // ...and given their reasons.
  for (size_t k = 0; k < chosen.size(); ++k) {
    const Candidate& candidate = *chosen[k].first;
    const Item& item = chosen[k].second;
    const int anchor = anchors_of[k];
    std::string model(candidate.model->name());
    std::string reason, reason_item;
    if (request.scenario == Scenario::kForYou) {
      if (anchor >= 0) {
        const ItemMeta& because = snapshot->item(query[anchor].item);
        reason = "because you " + std::string(Verb(query[anchor].signal)) + " " + DisplayName(because);
        reason_item = because.id;
      } else {
        reason = "popular this week";
      }
    } else {
      const std::string anchor_name =
          anchor_item ? (anchor_item->title.empty() ? anchor_item->id : anchor_item->title) : "";
      std::string because_id = anchor >= 0 ? snapshot->item(query[anchor].item).id : (anchor_item ? anchor_item->id : "");
      std::string because_name = anchor >= 0 ? DisplayName(snapshot->item(query[anchor].item)) : anchor_name;
      reason_item = because_id;
      switch (request.scenario) {
        case Scenario::kSimilar:
          reason = model == "content"        ? "similar to " + because_name
                   : model == "cooccurrence" ? "often viewed with " + because_name
                                             : "liked by shoppers who liked " + because_name;
          break;
        case Scenario::kUpsell:
          reason = "a step up from " + because_name;
          break;
        default:
          reason = "often bought with " + because_name;
          break;
      }
    }
    emit(item, candidate.score, model, std::move(reason), std::move(reason_item));
  }
  if (request.scenario == Scenario::kForYou) fill_with_trending();
  return response;
}

}  // namespace vitrina
