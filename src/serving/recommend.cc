#include "serving/recommend.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <numeric>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "common/strings.h"
#include "models/trending.h"
#include "ranking/pipeline.h"

namespace vitrina {
namespace {

constexpr std::pair<Scenario, std::string_view> kScenarioNames[] = {
    {Scenario::kForYou, "for_you"}, {Scenario::kSimilar, "similar"},   {Scenario::kBoughtTogether, "bought_together"},
    {Scenario::kCart, "cart"},      {Scenario::kUpsell, "upsell"},     {Scenario::kTrending, "trending"},
    {Scenario::kRecentlyViewed, "recently_viewed"},
};

constexpr uint32_t kNoItem = UINT32_MAX;
constexpr double kMillisPerDay = 86400000.0;

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
    if (EqualsIgnoreCase(level, category)) return true;
  }
  return false;
}

// Where a candidate's reason comes from.
enum class Origin : uint8_t {
  kModel,           // a model's evidence in the shopper's history or the anchor items
  kTrending,        // popularity
  kRecentlyViewed,  // the shopper's own views
  kHistory,         // the shopper's own purchases, offered again
  kFresh,           // one of the catalog's newest items (exploration)
};

// One candidate, in the order the models put it.
struct Candidate {
  uint32_t item = kNoItem;             // snapshot index; kNoItem when the snapshot does not know it
  std::string_view id;
  double score = 0;
  const Recommender* model = nullptr;  // whose evidence explains it
  Origin origin = Origin::kModel;
  uint32_t sources = 0;                // bit s: the request's source s proposed it
  int32_t row = -1;                    // its ranker feature row (pipeline)
};

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

std::vector<std::string> ScenarioNames() {
  std::vector<std::string> names;
  for (const auto& [value, text] : kScenarioNames) names.emplace_back(text);
  return names;
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

// The work of one request, stage by stage.
class RecommendationService::Run {
 public:
  Run(const RecommendationService& service, const RecommendRequest& request)
      : service_(service), request_(request), now_ms_(service.clock_->NowMillis()) {}

  Result<RecommendResponse> Execute() {
    snapshot_ = service_.models_->current();
    response_.recommendation_id = NewRecommendationId();
    response_.served_ms = now_ms_;
    response_.experiment = request_.experiment;
    response_.variant = request_.variant;
    if (snapshot_ != nullptr) response_.snapshot_id = snapshot_->info().id;
    VITRINA_RETURN_IF_ERROR(CheckRequest());
    if (request_.rules != nullptr || service_.rules_ != nullptr) {
      rule_set_ = request_.rules != nullptr ? request_.rules : service_.rules_->current();
      response_.rules_version = rule_set_->version();
      std::vector<const CompiledRule*> rules = rule_set_->InEffect(ScenarioName(request_.scenario), now_ms_);
      if (!request_.merchandising) {
        std::erase_if(rules, [](const CompiledRule* rule) {
          return rule->rule.kind != RuleKind::kFilter && rule->rule.kind != RuleKind::kBlock &&
                 rule->rule.kind != RuleKind::kRepurchase;
        });
      }
      scope_.emplace(std::move(rules), now_ms_);
    } else {
      scope_.emplace(std::vector<const CompiledRule*>{}, now_ms_);
    }
    VITRINA_RETURN_IF_ERROR(LoadHistory());
    Exclude();
    Generate();
    Finish();
    return std::move(response_);
  }

 private:
  size_t depth() const { return std::max<size_t>(50, 5 * request_.n); }

  // The catalog's item_id; NotFound naming the field.
  Result<Item> RequestedItem() const {
    auto item = service_.store_->GetItem(request_.item_id);
    if (!item.ok() && item.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("item_id: no item '" + PrintableAscii(request_.item_id, 64) + "'");
    }
    return item;
  }

  // Required fields, anchor items, and the model parameter.
  Status CheckRequest() {
    switch (request_.scenario) {
      case Scenario::kSimilar:
      case Scenario::kBoughtTogether:
      case Scenario::kUpsell: {
        if (request_.item_id.empty()) {
          return Status::InvalidArgument("item_id: required for " + std::string(ScenarioName(request_.scenario)));
        }
        VITRINA_ASSIGN_OR_RETURN(anchor_item_, RequestedItem());
        if (snapshot_ != nullptr && snapshot_->FindItem(request_.item_id) >= 0) {
          anchors_.push_back(static_cast<uint32_t>(snapshot_->FindItem(request_.item_id)));
        }
        if (request_.scenario == Scenario::kUpsell && !anchor_item_->price) {
          return Status::InvalidArgument("item_id: upsell needs an item with a price");
        }
        break;
      }
      case Scenario::kCart:
        if (request_.cart_items.empty()) {
          return Status::InvalidArgument("items: required for cart (comma-separated item ids)");
        }
        if (snapshot_ != nullptr) {
          for (const std::string& id : request_.cart_items) {
            if (int64_t index = snapshot_->FindItem(id); index >= 0) anchors_.push_back(static_cast<uint32_t>(index));
          }
        }
        break;
      case Scenario::kForYou:
        if (!request_.item_id.empty()) {  // the product page the shopper is on
          VITRINA_ASSIGN_OR_RETURN(context_item_, RequestedItem());
          break;
        }
        [[fallthrough]];
      case Scenario::kRecentlyViewed:
        if (request_.user_id.empty() && request_.session_id.empty()) {
          return Status::InvalidArgument("user_id: user_id or session_id is required for " +
                                         std::string(ScenarioName(request_.scenario)));
        }
        break;
      case Scenario::kTrending:
        break;
    }
    if (snapshot_ == nullptr && request_.scenario != Scenario::kRecentlyViewed) {
      return Status::Unavailable("no model snapshot yet: training has not finished (POST /v1/models/train)");
    }
    if (!request_.model.empty()) {
      if (request_.scenario != Scenario::kForYou) return Status::InvalidArgument("model: only for_you takes a model");
      std::vector<std::string> available;
      for (const std::string& name : ForYouModels()) {
        if (snapshot_->model(name) != nullptr) available.push_back(name);
      }
      if (std::find(available.begin(), available.end(), request_.model) == available.end()) {
        return Status::InvalidArgument("model: '" + PrintableAscii(request_.model, 40) +
                                       "' is not a for_you model of the serving snapshot (it has: " +
                                       Join(available, ", ") + ")");
      }
    }
    return Status::OK();
  }

  // The configured for_you models, category_popular (a source of the
  // learned ranker, left out of the blend) and the learned ranker itself.
  std::vector<std::string> ForYouModels() const {
    return service_.ForYouModelNames();
  }

  Status LoadHistory() {
    const Store& store = *service_.store_;
    if (!request_.user_id.empty()) {
      VITRINA_RETURN_IF_ERROR(
          store.GetRecentActivity(ActorKind::kUser, request_.user_id, service_.options_.history_events, &user_activity_));
    }
    if (!request_.session_id.empty()) {
      VITRINA_RETURN_IF_ERROR(store.GetRecentActivity(ActorKind::kSession, request_.session_id,
                                                      service_.options_.history_events, &session_activity_));
    }
    lines_ = MergeActivity(user_activity_, session_activity_);
    const SignalWeights weights;
    for (const ActivityLine* line : lines_) {
      if (line->type == EventType::kPurchase || line->type == EventType::kAddToCart) {
        if (line->type == EventType::kPurchase) purchased_.try_emplace(std::string(line->item_id), line->timestamp_ms);
        if (!std::isnan(line->price)) paid_prices_.push_back(line->price);
      }
      if (snapshot_ == nullptr || line->item_id.empty()) continue;
      const std::optional<LineSignal> signal = SignalOf(line->type, line->amount, weights);
      if (!signal) continue;
      const int64_t index = snapshot_->FindItem(line->item_id);
      if (index < 0) continue;
      history_.push_back({static_cast<uint32_t>(index), signal->weight, signal->signal, line->timestamp_ms});
    }
    if (context_item_ && snapshot_ != nullptr) {
      // The page's item is what the shopper looks at now: the newest history
      // entry every source reads. One the snapshot does not know yet is
      // answered by content similarity (AddContentForNewItem).
      const int64_t index = snapshot_->FindItem(context_item_->id);
      if (index < 0) {
        anchor_item_ = context_item_;
      } else if (history_.empty() || history_.front().item != static_cast<uint32_t>(index)) {
        history_.insert(history_.begin(), {static_cast<uint32_t>(index), weights.view, Signal::kView, now_ms_});
        context_in_history_ = true;
      } else {
        context_in_history_ = true;
      }
    }
    return Status::OK();
  }

  // Which items may not be proposed at all: the anchors, the cart, what the
  // shopper bought (unless a repurchase rule lets it back) and, for for_you,
  // what they have seen.
  void Exclude() {
    if (!request_.item_id.empty()) excluded_ids_.insert(request_.item_id);
    for (const std::string& id : request_.cart_items) excluded_ids_.insert(id);
    for (const auto& [id, bought_ms] : purchased_) {
      bool exclude = request_.exclude_purchased;
      if (scope_->has_repurchase()) {
        auto item = service_.store_->GetItem(id);
        if (item.ok()) {
          if (std::optional<bool> verdict = scope_->RepurchaseExcludes(*item, bought_ms)) {
            exclude = *verdict;
            if (!*verdict) buy_again_.insert(id);
          }
        }
      }
      if (exclude) excluded_ids_.insert(id);
    }
    if (snapshot_ == nullptr) return;
    for (const std::string& id : excluded_ids_) {
      if (int64_t index = snapshot_->FindItem(id); index >= 0) excluded_.insert(static_cast<uint32_t>(index));
    }
    if (request_.scenario == Scenario::kForYou) {
      for (const HistoryEntry& h : history_) {
        if (!buy_again_.contains(snapshot_->item(h.item).id)) excluded_.insert(h.item);  // seen already
      }
    }
  }

  // The for_you source the request or its experiment variant asks for; empty: all.
  std::string_view ForYouModel() const {
    if (!request_.model.empty()) return request_.model;
    if (!request_.variant_model.empty() && snapshot_->model(request_.variant_model) != nullptr) {
      return request_.variant_model;
    }
    return {};
  }

  // Candidates, best first, for the scenario.
  void Generate() {
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
        AddContentForNewItem();  // a page item newer than the snapshot
        // Trending fills in (Finish) when these leave too few.
        return;
      case Scenario::kSimilar:
      case Scenario::kUpsell:
        for (uint32_t a : anchors_) query_.push_back({a, 1, Signal::kView});
        AddBlend({snapshot_->model("content"), snapshot_->model("cooccurrence"), snapshot_->model("als")},
                 Relation::kSubstitute, request_.scenario == Scenario::kUpsell ? 4 * depth() : depth());
        AddContentForNewItem();
        return;
      case Scenario::kBoughtTogether:
      case Scenario::kCart:
        for (uint32_t a : anchors_) query_.push_back({a, 1, Signal::kCart});
        AddBlend({snapshot_->model("cooccurrence"), snapshot_->model("ease"), snapshot_->model("als")},
                 Relation::kComplement, depth());
        if (request_.scenario == Scenario::kCart) AddContentForNewItem();
        return;
    }
  }

  uint32_t SourceBit(std::string_view name) {
    auto it = std::find(source_names_.begin(), source_names_.end(), name);
    if (it != source_names_.end()) return static_cast<uint32_t>(it - source_names_.begin());
    source_names_.push_back(name);
    return static_cast<uint32_t>(source_names_.size() - 1);
  }

  void AddBlend(const std::vector<const Recommender*>& models, Relation relation, size_t model_depth) {
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
  void AddRanked(const PipelineRecommender& pipeline) {
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

  void AddTrending() {
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

  // An anchor item the snapshot does not know yet still gets content neighbours.
  void AddContentForNewItem() {
    const ContentRecommender* content = snapshot_->content();
    if (!anchors_.empty() || !anchor_item_ || content == nullptr) return;
    const uint32_t bit = SourceBit("content");
    const size_t content_depth = request_.scenario == Scenario::kUpsell ? 4 * depth() : depth();
    for (const auto& [index, similarity] : content->SimilarTo(ItemMetaFrom(*anchor_item_), content_depth)) {
      if (excluded_.contains(index)) continue;
      candidates_.push_back({.item = index, .id = snapshot_->item(index).id, .score = similarity, .model = content,
                             .sources = 1u << bit});
    }
  }

  // Live checks: exists, active, passes the request's filters and the
  // scenario's own conditions.
  bool Accept(std::string_view id, Item* out) const {
    if (excluded_ids_.contains(std::string(id))) return false;
    auto item = service_.store_->GetItem(id);
    if (!item.ok() || !item->active) return false;
    if (!request_.category.empty() && !InCategory(*item, request_.category)) return false;
    if (request_.min_price && (!item->price || *item->price < *request_.min_price)) return false;
    if (request_.max_price && (!item->price || *item->price > *request_.max_price)) return false;
    if (request_.in_stock && item->stock && *item->stock <= 0) return false;
    if (request_.scenario == Scenario::kUpsell && !InUpsellBand(*item)) return false;
    *out = std::move(item).value();
    return true;
  }

  // Upsell: the same kind (leaf category), pricier, within the price band
  // the shopper buys in.
  bool InUpsellBand(const Item& item) const {
    const double price = *anchor_item_->price;
    double high = price * 1.5;
    if (!paid_prices_.empty()) high = std::max(price * 1.2, 1.25 * *std::max_element(paid_prices_.begin(), paid_prices_.end()));
    if (!item.price || *item.price <= price || *item.price > high) return false;
    return anchor_item_->category.empty() ||
           (!item.category.empty() && item.category.back() == anchor_item_->category.back());
  }

  struct Chosen {
    const Candidate* candidate;
    Item item;
    double relevance = 0;
    std::vector<RuleEffect> effects;
    bool pinned = false;
    bool explored = false;
    double propensity = 1;
  };

  // Appends candidates that pass the live checks and the rules to `out`
  // until it holds `limit`, going on from where the last call stopped.
  void Admit(size_t limit, std::vector<Chosen>* out) {
    const RuleScope& scope = *scope_;
    for (; next_candidate_ < candidates_.size() && out->size() < limit; ++next_candidate_) {
      const Candidate& candidate = candidates_[next_candidate_];
      if (!seen_.insert(candidate.id).second) continue;
      Item item;
      if (!Accept(candidate.id, &item) || !scope.Admits(item)) continue;
      out->push_back({.candidate = &candidate, .item = std::move(item)});
    }
  }

  // Live checks and business rules over the candidates, exploration, then
  // the first n with their reasons.
  void Finish() {
    const RuleScope& scope = *scope_;
    const size_t n = request_.n;
    // Without rules that reorder, the first n that pass are the answer.
    const size_t wanted = (scope.reorders() ? std::max(depth(), n) : n) + scope.pins().size();
    std::vector<Chosen> chosen;
    Admit(wanted, &chosen);
    if (chosen.size() < wanted && request_.scenario == Scenario::kForYou) {
      // New shoppers, and whatever the filters and rules leave too few of.
      AddTrending();
      Admit(wanted, &chosen);
    }
    if (scope.reorders()) {
      // Relevance falls linearly with the candidate's place; boosts and buries scale it.
      const double count = static_cast<double>(chosen.size());
      for (size_t i = 0; i < chosen.size(); ++i) {
        chosen[i].relevance = (1.0 - static_cast<double>(i) / count) * scope.Boost(chosen[i].item, &chosen[i].effects);
      }
      std::stable_sort(chosen.begin(), chosen.end(),
                       [](const Chosen& a, const Chosen& b) { return a.relevance > b.relevance; });
      ApplyCaps(&chosen);
    }
    std::vector<Chosen> reserve;  // admitted beyond the first n: what exploration draws from
    if (chosen.size() > n) {
      reserve.assign(std::make_move_iterator(chosen.begin() + static_cast<ptrdiff_t>(n)),
                     std::make_move_iterator(chosen.end()));
      chosen.resize(n);
    }
    ApplyPins(&chosen);
    if (chosen.size() > n) chosen.resize(n);
    Explore(&chosen, &reserve);
    Emit(chosen);
    LogServed();
  }

  // The source a candidate stands for, as an exploration arm.
  static std::string_view ArmOf(const Candidate& candidate) {
    switch (candidate.origin) {
      case Origin::kRecentlyViewed:
      case Origin::kHistory: return "history";
      case Origin::kTrending: return "trending";
      case Origin::kFresh: return "fresh";
      case Origin::kModel: return candidate.model != nullptr ? candidate.model->name() : "rule";
    }
    return "rule";
  }

  // Gives each exploring slot to the best remaining candidate of the source
  // that wins a Thompson draw, and sets every item's propensity. Candidates
  // are read (live checks, rules) only for the source drawn.
  void Explore(std::vector<Chosen>* chosen, std::vector<Chosen>* reserve) {
    Explorer* explorer = service_.explorer_;
    const std::string_view scenario = ScenarioName(request_.scenario);
    const double share = explorer != nullptr && request_.personalize && !request_.dry_run &&
                                 request_.scenario != Scenario::kRecentlyViewed
                             ? explorer->ShareFor(scenario)
                             : 0;
    if (share <= 0 || chosen->empty()) return;
    for (Chosen& entry : *chosen) entry.propensity = entry.pinned ? 1 : 1 - share;
    const std::vector<bool> slots = explorer->PickSlots(scenario, chosen->size());
    if (std::none_of(slots.begin(), slots.end(), [](bool explore) { return explore; })) return;
    // The sources with candidates left: admitted ones, then unread ones (up to depth()).
    std::vector<std::string_view> arms;
    std::vector<std::deque<size_t>> unread;
    auto arm_of = [&](std::string_view arm) {
      auto it = std::find(arms.begin(), arms.end(), arm);
      if (it != arms.end()) return static_cast<size_t>(it - arms.begin());
      arms.push_back(arm);
      unread.emplace_back();
      return arms.size() - 1;
    };
    for (const Chosen& entry : *reserve) arm_of(ArmOf(*entry.candidate));
    const size_t scan_end = std::min(candidates_.size(), next_candidate_ + depth());
    for (size_t c = next_candidate_; c < scan_end; ++c) {
      if (!seen_.contains(candidates_[c].id)) unread[arm_of(ArmOf(candidates_[c]))].push_back(c);
    }
    const size_t fresh_arm = arm_of("fresh");
    AddFresh(&unread[fresh_arm]);
    if (unread[fresh_arm].empty()) {  // no fresh item: no such arm (it is the last one added)
      arms.pop_back();
      unread.pop_back();
    }
    std::vector<size_t> open(arms.size());
    std::iota(open.begin(), open.end(), 0);
    for (size_t slot = 0; slot < slots.size() && slot < chosen->size() && !open.empty(); ++slot) {
      if (!slots[slot] || (*chosen)[slot].pinned) continue;
      while (!open.empty()) {
        std::vector<std::string_view> names;
        for (size_t a : open) names.push_back(arms[a]);
        const Explorer::Choice choice = explorer->ChooseArm(scenario, names, now_ms_);
        const size_t arm = open[choice.arm];
        std::optional<Chosen> entry = TakeFromArm(arms[arm], &unread[arm], reserve, *chosen);
        if (!entry) {
          open.erase(open.begin() + static_cast<ptrdiff_t>(choice.arm));  // nothing left that fits
          continue;
        }
        entry->explored = true;
        entry->propensity = share * choice.probability;
        chosen->insert(chosen->begin() + static_cast<ptrdiff_t>(slot), std::move(*entry));
        chosen->pop_back();
        break;
      }
    }
  }

  // The catalog's newest items as candidates of the arm "fresh": those in
  // the leaf categories of the shopper's history (or the anchor items)
  // first, newest first within each part.
  void AddFresh(std::deque<size_t>* unread) {
    if (service_.fresh_ == nullptr || request_.scenario == Scenario::kRecentlyViewed) return;
    fresh_ = service_.fresh_->Current();
    if (fresh_->empty()) return;
    std::vector<std::string_view> categories;
    auto note = [&](const std::vector<std::string>& path) {
      if (!path.empty() && categories.size() < 20 &&
          std::find(categories.begin(), categories.end(), path.back()) == categories.end()) {
        categories.push_back(path.back());
      }
    };
    if (anchor_item_) note(anchor_item_->category);
    if (context_item_) note(context_item_->category);
    if (snapshot_ != nullptr) {
      for (uint32_t a : anchors_) note(snapshot_->item(a).category);
      for (const HistoryEntry& h : history_) note(snapshot_->item(h.item).category);
    }
    // Items that already sell are not new to shoppers, whenever created.
    const auto* trending = snapshot_ != nullptr ? static_cast<const TrendingRecommender*>(snapshot_->model("trending"))
                                                : nullptr;
    const float max_popularity = static_cast<float>(service_.fresh_->options().max_popularity);
    const size_t limit = depth();
    size_t added = 0;
    for (int pass = 0; pass < 2 && added < limit; ++pass) {
      for (const FreshItems::Entry& entry : *fresh_) {
        const bool related = std::find(categories.begin(), categories.end(), entry.category) != categories.end();
        if (related != (pass == 0) || seen_.contains(entry.id) || excluded_ids_.contains(entry.id)) continue;
        const int64_t index = snapshot_ != nullptr ? snapshot_->FindItem(entry.id) : -1;
        if (index >= 0 && excluded_.contains(static_cast<uint32_t>(index))) continue;
        if (index >= 0 && trending != nullptr && trending->popularity()[index] > max_popularity) continue;
        candidates_.push_back({.item = index >= 0 ? static_cast<uint32_t>(index) : kNoItem, .id = entry.id,
                               .origin = Origin::kFresh});
        unread->push_back(candidates_.size() - 1);
        if (++added == limit) break;
      }
    }
  }

  // The first candidate of source `arm` that passes the live checks, the
  // rules and the diversity caps: from the admitted reserve, else read now.
  std::optional<Chosen> TakeFromArm(std::string_view arm, std::deque<size_t>* unread, std::vector<Chosen>* reserve,
                                    const std::vector<Chosen>& chosen) {
    for (size_t r = 0; r < reserve->size(); ++r) {
      if (ArmOf(*(*reserve)[r].candidate) != arm || !FitsCaps((*reserve)[r].item, chosen)) continue;
      Chosen entry = std::move((*reserve)[r]);
      reserve->erase(reserve->begin() + static_cast<ptrdiff_t>(r));
      return entry;
    }
    while (!unread->empty()) {
      const Candidate& candidate = candidates_[unread->front()];
      unread->pop_front();
      if (!seen_.insert(candidate.id).second) continue;
      Item item;
      if (!Accept(candidate.id, &item) || !scope_->Admits(item) || !FitsCaps(item, chosen)) continue;
      return Chosen{.candidate = &candidate, .item = std::move(item)};
    }
    return std::nullopt;
  }

  // Whether adding `item` keeps every diversity cap.
  bool FitsCaps(const Item& item, const std::vector<Chosen>& chosen) const {
    for (const RuleScope::Cap& cap : scope_->caps()) {
      for (const std::string& value : RuleScope::CapValues(cap, item)) {
        int count = 0;
        for (const Chosen& entry : chosen) {
          const std::vector<std::string> values = RuleScope::CapValues(cap, entry.item);
          count += std::find(values.begin(), values.end(), value) != values.end();
        }
        if (count >= cap.max_items) return false;
      }
    }
    return true;
  }

  // Impressions per source for the bandit, and the list for the served log.
  void LogServed() {
    if ((service_.explorer_ == nullptr && service_.served_ == nullptr) || request_.dry_run) return;
    const std::string_view scenario = ScenarioName(request_.scenario);
    ServedList list{.recommendation_id = response_.recommendation_id,
                    .at_ms = now_ms_,
                    .scenario = std::string(scenario),
                    .user_id = request_.user_id,
                    .session_id = request_.session_id,
                    .snapshot = response_.snapshot_id,
                    .rules_version = response_.rules_version,
                    .experiment = request_.experiment,
                    .variant = request_.variant};
    std::vector<std::pair<std::string_view, double>> shown;
    for (size_t k = 0; k < served_arms_.size(); ++k) {
      const RecommendedItem& item = response_.items[k];
      list.items.push_back({.item_id = item.item_id, .source = std::string(served_arms_[k]), .explored = item.explored,
                            .propensity = item.propensity});
      auto it = std::find_if(shown.begin(), shown.end(), [&](const auto& entry) { return entry.first == served_arms_[k]; });
      if (it == shown.end()) {
        shown.emplace_back(served_arms_[k], 1.0);
      } else {
        it->second += 1;
      }
    }
    // The holdout's bestsellers are not the bandit's choice: they would skew its trending arm.
    if (service_.explorer_ != nullptr && request_.personalize) {
      for (const auto& [arm, count] : shown) service_.explorer_->RecordImpressions(scenario, arm, count, now_ms_);
    }
    if (service_.served_ != nullptr) service_.served_->Record(std::move(list));
  }

  // Diversity: at most max_items items per attribute value.
  void ApplyCaps(std::vector<Chosen>* chosen) const {
    const auto& caps = scope_->caps();
    if (caps.empty()) return;
    std::unordered_map<std::string, int> counts;
    std::vector<Chosen> kept;
    for (Chosen& entry : *chosen) {
      bool over = false;
      std::vector<std::string> keys;
      for (size_t c = 0; c < caps.size(); ++c) {
        for (const std::string& value : RuleScope::CapValues(caps[c], entry.item)) {
          std::string key = std::to_string(c) + "\x1f" + value;
          if (counts[key] >= caps[c].max_items) over = true;
          keys.push_back(std::move(key));
        }
      }
      if (over) continue;
      for (const std::string& key : keys) ++counts[key];
      kept.push_back(std::move(entry));
    }
    *chosen = std::move(kept);
  }

  // Pinned items at their places, if they pass the live checks and are not blocked.
  void ApplyPins(std::vector<Chosen>* chosen) {
    for (const RuleScope::Pin& pin : scope_->pins()) {
      if (pin.position >= request_.n) continue;
      auto present = std::find_if(chosen->begin(), chosen->end(), [&](const Chosen& c) { return c.item.id == pin.item_id; });
      Chosen entry;
      if (present != chosen->end()) {
        entry = std::move(*present);
        chosen->erase(present);
      } else {
        Item item;
        if (!Accept(pin.item_id, &item) || scope_->Blocks(item)) continue;
        pinned_.push_back({.id = pin.item_id, .origin = Origin::kModel});
        entry = {.candidate = &pinned_.back(), .item = std::move(item)};
        seen_.insert(pin.item_id);
      }
      entry.pinned = true;
      entry.effects.push_back({&pin.rule->rule, "pinned at " + std::to_string(pin.position + 1)});
      chosen->insert(chosen->begin() + static_cast<ptrdiff_t>(std::min(pin.position, chosen->size())), std::move(entry));
    }
  }

  void Emit(std::vector<Chosen>& chosen) {
    const std::vector<int> anchors = ExplainAnchors(chosen);
    std::vector<float> contributions;
    if (request_.explain && pipeline_ != nullptr) Contributions(chosen, &contributions);
    for (size_t k = 0; k < chosen.size(); ++k) {
      const Candidate& candidate = *chosen[k].candidate;
      const Item& item = chosen[k].item;
      RecommendedItem out{.item_id = item.id, .title = item.title, .price = item.price, .score = candidate.score};
      Describe(candidate, item, anchors[k], &out);
      out.explored = chosen[k].explored;
      out.propensity = chosen[k].propensity;
      served_arms_.push_back(ArmOf(candidate));
      for (size_t s = 0; s < source_names_.size(); ++s) {
        if (candidate.sources & (1u << s)) out.sources.emplace_back(source_names_[s]);
      }
      // The strongest source first.
      auto strongest = std::find(out.sources.begin(), out.sources.end(), out.model);
      if (strongest != out.sources.end()) std::rotate(out.sources.begin(), strongest, strongest + 1);
      for (const RuleEffect& effect : chosen[k].effects) {
        out.rules.push_back({.id = effect.rule->id, .name = effect.rule->name, .effect = effect.effect});
      }
      if (!contributions.empty() && candidate.row >= 0) AddFeatures(candidate, &contributions[k * (Width() + 1)], &out);
      response_.items.push_back(std::move(out));
    }
  }

  // For each chosen item, the index into query_ of the history entry that
  // most supports it (-1: none), one batch per model.
  std::vector<int> ExplainAnchors(const std::vector<Chosen>& chosen) const {
    std::vector<int> anchors(chosen.size(), -1);
    if (query_.empty()) return anchors;
    std::vector<const Recommender*> models;
    for (const Chosen& c : chosen) {
      const Recommender* model = c.candidate->model;
      if (model != nullptr && c.candidate->item != kNoItem && std::find(models.begin(), models.end(), model) == models.end()) {
        models.push_back(model);
      }
    }
    std::vector<uint32_t> items;
    std::vector<size_t> positions;
    std::vector<int> batch;
    for (const Recommender* model : models) {
      items.clear();
      positions.clear();
      for (size_t k = 0; k < chosen.size(); ++k) {
        if (chosen[k].candidate->model == model && chosen[k].candidate->item != kNoItem) {
          items.push_back(chosen[k].candidate->item);
          positions.push_back(k);
        }
      }
      batch.assign(items.size(), -1);
      model->ExplainBatch(query_, items, batch);
      for (size_t k = 0; k < items.size(); ++k) anchors[positions[k]] = batch[k];
    }
    return anchors;
  }

  // The model name and the reason people read.
  void Describe(const Candidate& candidate, const Item& item, int anchor, RecommendedItem* out) const {
    out->model = candidate.model != nullptr ? std::string(candidate.model->name()) : "";
    if (out->model == "category_popular" && !item.category.empty()) {
      out->reason = "popular in " + item.category.back() + ", a category you browse";
      return;
    }
    switch (candidate.origin) {
      case Origin::kRecentlyViewed:
        out->model = "history";
        out->reason = "you viewed this recently";
        return;
      case Origin::kTrending:
        out->model = "trending";
        out->reason = request_.category.empty() ? "popular this week" : "popular in " + request_.category + " this week";
        return;
      case Origin::kFresh:
        out->model = "fresh";
        out->reason = item.category.empty() ? "new in the shop" : "new in " + item.category.back();
        return;
      case Origin::kHistory: {
        out->model = "history";
        auto bought = purchased_.find(out->item_id);
        if (bought != purchased_.end()) {
          const int64_t days = static_cast<int64_t>(static_cast<double>(now_ms_ - bought->second) / kMillisPerDay);
          out->reason = "you bought this " + (days <= 0 ? std::string("today") : std::to_string(days) + " days ago");
        } else {
          out->reason = "you looked at this before";
        }
        out->reason_item_id = out->item_id;
        return;
      }
      case Origin::kModel:
        break;
    }
    if (candidate.model == nullptr) {  // pinned by a rule
      out->model = "rule";
      out->reason = "chosen by the shop";
      return;
    }
    if (request_.scenario == Scenario::kForYou) {
      if (anchor == 0 && context_in_history_) {
        const ItemMeta& because = snapshot_->item(query_[0].item);
        out->reason = "goes with " + DisplayName(because) + ", which you are viewing";
        out->reason_item_id = because.id;
      } else if (anchor >= 0) {
        const ItemMeta& because = snapshot_->item(query_[anchor].item);
        out->reason = "because you " + std::string(Verb(query_[anchor].signal)) + " " + DisplayName(because);
        out->reason_item_id = because.id;
      } else if (out->model == "content" && anchor_item_) {
        out->reason = "similar to " + (anchor_item_->title.empty() ? anchor_item_->id : anchor_item_->title) +
                      ", which you are viewing";
        out->reason_item_id = anchor_item_->id;
      } else {
        out->reason = "popular this week";
      }
      return;
    }
    const std::string anchor_name = anchor_item_ ? (anchor_item_->title.empty() ? anchor_item_->id : anchor_item_->title) : "";
    const std::string because_name = anchor >= 0 ? DisplayName(snapshot_->item(query_[anchor].item)) : anchor_name;
    out->reason_item_id = anchor >= 0 ? snapshot_->item(query_[anchor].item).id : (anchor_item_ ? anchor_item_->id : "");
    switch (request_.scenario) {
      case Scenario::kSimilar:
        out->reason = out->model == "content"        ? "similar to " + because_name
                      : out->model == "cooccurrence" ? "often viewed with " + because_name
                                                     : "liked by shoppers who liked " + because_name;
        break;
      case Scenario::kUpsell:
        out->reason = "a step up from " + because_name;
        break;
      default:
        out->reason = "often bought with " + because_name;
        break;
    }
  }

  size_t Width() const { return pipeline_->feature_names().size(); }

  // The ranker's per-feature contributions for the chosen items, one row
  // each (zeros for items the ranker did not score, such as pins).
  void Contributions(const std::vector<Chosen>& chosen, std::vector<float>* out) const {
    const size_t width = Width();
    std::vector<float> rows(chosen.size() * width, 0.0f);
    for (size_t k = 0; k < chosen.size(); ++k) {
      if (chosen[k].candidate->row < 0) continue;
      const float* row = &scratch_->features[static_cast<size_t>(chosen[k].candidate->row) * width];
      std::copy(row, row + width, rows.begin() + static_cast<ptrdiff_t>(k * width));
    }
    if (!pipeline_->ranker().Contributions(rows, out).ok()) out->clear();
  }

  void AddFeatures(const Candidate& candidate, const float* contributions, RecommendedItem* out) const {
    const size_t width = Width();
    const float* values = &scratch_->features[static_cast<size_t>(candidate.row) * width];
    for (size_t f = 0; f < width; ++f) {
      out->features.push_back({.name = pipeline_->feature_names()[f], .value = values[f], .contribution = contributions[f]});
    }
    out->ranker_bias = contributions[width];
  }

  const RecommendationService& service_;
  const RecommendRequest& request_;
  const int64_t now_ms_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::shared_ptr<const RuleSet> rule_set_;
  std::optional<RuleScope> scope_;
  RecommendResponse response_;
  std::optional<Item> anchor_item_;
  std::optional<Item> context_item_;   // for_you: the page's item (item_id)
  bool context_in_history_ = false;    // ... known to the snapshot, history_[0]
  std::vector<uint32_t> anchors_;
  RecentActivity user_activity_, session_activity_;
  std::vector<const ActivityLine*> lines_;                // both merged, newest first
  std::vector<HistoryEntry> history_;                     // items the snapshot knows, newest first
  std::unordered_map<std::string, int64_t> purchased_;    // item -> latest purchase time
  std::unordered_set<std::string> buy_again_;             // purchased, let back by a repurchase rule
  std::vector<double> paid_prices_;                       // unit prices in purchases and carts
  std::unordered_set<std::string> excluded_ids_;
  std::unordered_set<uint32_t> excluded_;
  std::vector<HistoryEntry> query_;                       // what the models score from
  // A deque: Chosen entries point into it while trending may still be appended.
  std::deque<Candidate> candidates_;
  std::shared_ptr<const std::vector<FreshItems::Entry>> fresh_;  // AddFresh's candidates point into it
  size_t next_candidate_ = 0;                             // Admit goes on from here
  std::unordered_set<std::string_view> seen_;             // ids Admit has looked at
  std::vector<std::string_view> served_arms_;             // per emitted item
  std::deque<Candidate> pinned_;                          // candidates pins added (stable addresses)
  std::vector<std::string_view> source_names_;            // bit s of Candidate::sources
  const PipelineRecommender* pipeline_ = nullptr;
  RankScratch* scratch_ = nullptr;
};

RecommendationService::RecommendationService(const Store* store, const ModelManager* models, const Clock* clock,
                                             RecommendOptions options, const RuleBook* rules, Explorer* explorer,
                                             ServedLog* served, const FreshItems* fresh)
    : store_(store),
      models_(models),
      clock_(clock),
      options_(std::move(options)),
      rules_(rules),
      explorer_(explorer),
      served_(served),
      fresh_(fresh) {}

std::vector<std::string> RecommendationService::ForYouModelNames() const {
  std::vector<std::string> names = options_.for_you_models;
  names.push_back("category_popular");
  names.push_back("trending");
  names.push_back("pipeline");
  return names;
}

Result<RecommendResponse> RecommendationService::Recommend(const RecommendRequest& request) const {
  return Run(*this, request).Execute();
}

void RecommendationService::Observe(std::span<const Event> events) const {
  if (served_ == nullptr || explorer_ == nullptr) return;
  const int64_t now_ms = clock_->NowMillis();
  auto reward = [&](const Event& event, std::string_view item) {
    if (auto claim = served_->ClaimReward(event.recommendation_id, item)) {
      explorer_->RecordReward(claim->scenario, claim->source, now_ms);
    }
  };
  for (const Event& event : events) {
    if (event.recommendation_id.empty()) continue;
    if (event.type != EventType::kClick && event.type != EventType::kAddToCart && event.type != EventType::kPurchase) {
      continue;
    }
    if (!event.item_id.empty()) reward(event, event.item_id);
    for (const EventLine& line : event.lines) reward(event, line.item_id);
  }
}

}  // namespace vitrina
