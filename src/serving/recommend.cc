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
#include "serving/recommend_run.h"

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

bool InCategory(const Item& item, const std::string& category) {
  for (const std::string& level : item.category) {
    if (EqualsIgnoreCase(level, category)) return true;
  }
  return false;
}

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

RecommendationService::Run::Run(const RecommendationService& service, const RecommendRequest& request)
    : service_(service), request_(request), now_ms_(service.clock_->NowMillis()) {}

Result<RecommendResponse> RecommendationService::Run::Execute() {
  snapshot_ = service_.models_->current();
  response_.recommendation_id = NewRecommendationId();
  response_.served_ms = now_ms_;
  response_.experiment = request_.experiment;
  response_.variant = request_.variant;
  if (snapshot_ != nullptr) response_.snapshot_id = snapshot_->info().id;
  VITRINA_RETURN_IF_ERROR(CheckRequest());
  if (answered_) return std::move(response_);
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

void RecommendationService::Run::AnswerEmpty(std::string code, std::string message) {
  response_.empty_reason = EmptyReason{.code = std::move(code), .message = std::move(message)};
  answered_ = true;
}

// Required fields, anchor items, and the model parameter.
Status RecommendationService::Run::CheckRequest() {
  const Store& store = *service_.store_;
  const std::string quoted = "'" + PrintableAscii(request_.item_id, 64) + "'";
  switch (request_.scenario) {
    case Scenario::kSimilar:
    case Scenario::kBoughtTogether:
    case Scenario::kUpsell: {
      if (request_.item_id.empty()) {
        return Status::InvalidArgument("item_id: required for " + std::string(ScenarioName(request_.scenario)));
      }
      auto item = store.GetItem(request_.item_id);
      if (item.status().IsNotFound()) {
        AnswerEmpty("unknown_item", "no item " + quoted + " in the catalog (send it to /v1/items or a feed first)");
        return Status::OK();
      }
      VITRINA_RETURN_IF_ERROR(item.status());
      if (!item->active) {
        AnswerEmpty("inactive_item", "item " + quoted + " is inactive");
        return Status::OK();
      }
      anchor_item_ = std::move(item).value();
      if (snapshot_ != nullptr && snapshot_->FindItem(request_.item_id) >= 0) {
        anchors_.push_back(static_cast<uint32_t>(snapshot_->FindItem(request_.item_id)));
      }
      if (request_.scenario == Scenario::kUpsell && !anchor_item_->price) {
        AnswerEmpty("no_price", "item " + quoted + " has no price, so nothing is a step up from it");
        return Status::OK();
      }
      if (!anchor_item_->group_id.empty()) groups_.insert(anchor_item_->group_id);  // not its own variants
      break;
    }
    case Scenario::kCart:
      if (request_.cart_items.empty()) {
        return Status::InvalidArgument("items: required for cart (comma-separated item ids)");
      }
      for (const std::string& id : request_.cart_items) {
        auto item = store.GetItem(id);
        if (!item.ok() && !item.status().IsNotFound()) return item.status();
        if (item.ok() && item->active) {
          if (!item->group_id.empty()) groups_.insert(item->group_id);
          cart_items_.push_back(std::move(item).value());
        }
        if (snapshot_ != nullptr) {
          if (int64_t index = snapshot_->FindItem(id); index >= 0) anchors_.push_back(static_cast<uint32_t>(index));
        }
      }
      if (cart_items_.empty()) {
        AnswerEmpty("unknown_item", "none of the cart's items is an active item of the catalog");
        return Status::OK();
      }
      break;
    case Scenario::kForYou:
      if (!request_.item_id.empty()) {  // the product page the shopper is on
        auto item = store.GetItem(request_.item_id);
        if (!item.ok() && !item.status().IsNotFound()) return item.status();
        // A page item the catalog does not hold yet is no context at all.
        if (item.ok() && item->active) context_item_ = std::move(item).value();
        break;  // a product page answers without a shopper too
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

Status RecommendationService::Run::LoadHistory() {
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
  constexpr size_t kMaxUnknownHistory = 3;  // the newest items the snapshot does not know, for content neighbours
  std::unordered_set<std::string_view> unknown_seen;
  for (const ActivityLine* line : lines_) {
    if (line->type == EventType::kPurchase || line->type == EventType::kAddToCart) {
      if (line->type == EventType::kPurchase) purchased_.try_emplace(std::string(line->item_id), line->timestamp_ms);
      if (!std::isnan(line->price)) paid_prices_.push_back(line->price);
    }
    if (snapshot_ == nullptr || line->item_id.empty()) continue;
    const std::optional<LineSignal> signal = SignalOf(line->type, line->amount, weights);
    if (!signal) continue;
    const int64_t index = snapshot_->FindItem(line->item_id);
    if (index < 0) {
      // Newer than the snapshot: answered by content similarity (for_you).
      if (request_.scenario == Scenario::kForYou && unknown_history_.size() < kMaxUnknownHistory &&
          unknown_seen.insert(line->item_id).second) {
        auto item = store.GetItem(line->item_id);
        if (item.ok() && item->active) unknown_history_.push_back(std::move(item).value());
      }
      continue;
    }
    history_.push_back({static_cast<uint32_t>(index), signal->weight, signal->signal, line->timestamp_ms});
  }
  if (context_item_ && snapshot_ != nullptr) {
    // The page's item is what the shopper looks at now: the newest history
    // entry every source reads. One the snapshot does not know yet is
    // answered by content similarity (AddContentFor).
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
void RecommendationService::Run::Exclude() {
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
  if (request_.scenario == Scenario::kForYou) {
    for (const Item& item : unknown_history_) excluded_ids_.insert(item.id);  // seen already
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

// Live checks: exists, active, passes the request's filters and the
// scenario's own conditions.
RecommendationService::Run::Verdict RecommendationService::Run::Accept(std::string_view id, Item* out) const {
  if (excluded_ids_.contains(std::string(id))) return Verdict::kExcluded;
  auto item = service_.store_->GetItem(id);
  if (!item.ok() || !item->active) return Verdict::kMissing;
  if (!request_.category.empty() && !InCategory(*item, request_.category)) return Verdict::kFiltered;
  if (request_.min_price && (!item->price || *item->price < *request_.min_price)) return Verdict::kFiltered;
  if (request_.max_price && (!item->price || *item->price > *request_.max_price)) return Verdict::kFiltered;
  if (request_.in_stock && !item->InStock()) return Verdict::kFiltered;
  if (request_.scenario == Scenario::kUpsell && !InUpsellBand(*item)) return Verdict::kOutOfBand;
  *out = std::move(item).value();
  return Verdict::kAccepted;
}

// The most an upsell may cost: upsell_max_ratio x the anchor's price, or
// 1.25 x the dearest item the shopper paid for when that is higher (and at
// least 1.2 x the price).
double RecommendationService::Run::UpsellCeiling() const {
  const double price = *anchor_item_->price;
  double high = price * service_.options_.upsell_max_ratio;
  if (!paid_prices_.empty()) {
    high = std::max(high, std::max(price * 1.2, 1.25 * *std::max_element(paid_prices_.begin(), paid_prices_.end())));
  }
  return high;
}

// Upsell: the same kind (leaf category), pricier, within the price band,
// and something the shopper can order now.
bool RecommendationService::Run::InUpsellBand(const Item& item) const {
  const double price = *anchor_item_->price;
  if (!item.price || *item.price <= price || *item.price > UpsellCeiling() || !item.InStock()) return false;
  return anchor_item_->category.empty() ||
         (!item.category.empty() && item.category.back() == anchor_item_->category.back());
}

bool RecommendationService::Run::Admissible(std::string_view id, Item* item) {
  switch (Accept(id, item)) {
    case Verdict::kAccepted: break;
    case Verdict::kExcluded: ++rejections_.excluded; return false;
    case Verdict::kMissing: ++rejections_.missing; return false;
    case Verdict::kFiltered: ++rejections_.filters; return false;
    case Verdict::kOutOfBand: ++rejections_.band; return false;
  }
  if (const Rule* rule = scope_->Refuses(*item)) {
    ++rejections_.rules;
    if (std::find(rejections_.by_rules.begin(), rejections_.by_rules.end(), rule) == rejections_.by_rules.end()) {
      rejections_.by_rules.push_back(rule);
    }
    return false;
  }
  // Variants of one product (sizes, colours) share a group: one per list.
  if (!item->group_id.empty() && groups_.contains(item->group_id)) {
    ++rejections_.groups;
    return false;
  }
  return true;
}

// Appends candidates that pass the live checks and the rules to `out`
// until it holds `limit`, going on from where the last call stopped.
void RecommendationService::Run::Admit(size_t limit, std::vector<Chosen>* out) {
  for (; next_candidate_ < candidates_.size() && out->size() < limit; ++next_candidate_) {
    const Candidate& candidate = candidates_[next_candidate_];
    if (!seen_.insert(candidate.id).second) continue;
    Item item;
    if (!Admissible(candidate.id, &item)) continue;
    if (!item.group_id.empty()) groups_.insert(item.group_id);
    out->push_back({.candidate = &candidate, .item = std::move(item)});
  }
}

// Live checks and business rules over the candidates, exploration, then
// the first n with their reasons.
void RecommendationService::Run::Finish() {
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
  if (response_.items.empty()) ExplainEmpty();
  LogServed();
}

// The source a candidate stands for, as an exploration arm.
std::string_view RecommendationService::Run::ArmOf(const Candidate& candidate) {
  switch (candidate.origin) {
    case Origin::kRecentlyViewed:
    case Origin::kHistory: return "history";
    case Origin::kTrending: return "trending";
    case Origin::kFresh: return "fresh";
    case Origin::kComplement: return "complements";
    case Origin::kCatalog: return "catalog";
    case Origin::kModel: return candidate.model != nullptr ? candidate.model->name() : "rule";
  }
  return "rule";
}

// Gives each exploring slot to the best remaining candidate of the source
// that wins a Thompson draw, and sets every item's propensity. Candidates
// are read (live checks, rules) only for the source drawn.
void RecommendationService::Run::Explore(std::vector<Chosen>* chosen, std::vector<Chosen>* reserve) {
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
void RecommendationService::Run::AddFresh(std::deque<size_t>* unread) {
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
  for (const Item& item : cart_items_) note(item.category);
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
      candidates_.push_back({.item = index >= 0 ? static_cast<uint32_t>(index) : kNoSnapshotItem, .id = entry.id,
                             .origin = Origin::kFresh});
      unread->push_back(candidates_.size() - 1);
      if (++added == limit) break;
    }
  }
}

// The first candidate of source `arm` that passes the live checks, the
// rules and the diversity caps: from the admitted reserve, else read now.
std::optional<RecommendationService::Run::Chosen> RecommendationService::Run::TakeFromArm(
    std::string_view arm, std::deque<size_t>* unread, std::vector<Chosen>* reserve, const std::vector<Chosen>& chosen) {
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
    if (!Admissible(candidate.id, &item) || !FitsCaps(item, chosen)) continue;
    if (!item.group_id.empty()) groups_.insert(item.group_id);
    return Chosen{.candidate = &candidate, .item = std::move(item)};
  }
  return std::nullopt;
}

// Whether adding `item` keeps every diversity cap.
bool RecommendationService::Run::FitsCaps(const Item& item, const std::vector<Chosen>& chosen) const {
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
void RecommendationService::Run::LogServed() {
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
void RecommendationService::Run::ApplyCaps(std::vector<Chosen>* chosen) const {
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
void RecommendationService::Run::ApplyPins(std::vector<Chosen>* chosen) {
  for (const RuleScope::Pin& pin : scope_->pins()) {
    if (pin.position >= request_.n) continue;
    auto present = std::find_if(chosen->begin(), chosen->end(), [&](const Chosen& c) { return c.item.id == pin.item_id; });
    Chosen entry;
    if (present != chosen->end()) {
      entry = std::move(*present);
      chosen->erase(present);
    } else {
      Item item;
      if (Accept(pin.item_id, &item) != Verdict::kAccepted || scope_->Blocks(item)) continue;
      pinned_.push_back({.id = pin.item_id, .origin = Origin::kModel});
      entry = {.candidate = &pinned_.back(), .item = std::move(item)};
      seen_.insert(pin.item_id);
    }
    entry.pinned = true;
    entry.effects.push_back({&pin.rule->rule, "pinned at " + std::to_string(pin.position + 1)});
    chosen->insert(chosen->begin() + static_cast<ptrdiff_t>(std::min(pin.position, chosen->size())), std::move(entry));
  }
}

void RecommendationService::Run::Emit(std::vector<Chosen>& chosen) {
  const std::vector<int> anchors = ExplainAnchors(chosen);
  std::vector<float> contributions;
  if (request_.explain && pipeline_ != nullptr) Contributions(chosen, &contributions);
  for (size_t k = 0; k < chosen.size(); ++k) {
    const Candidate& candidate = *chosen[k].candidate;
    const Item& item = chosen[k].item;
    RecommendedItem out{.item_id = item.id, .title = item.title, .price = item.price, .score = candidate.score,
                        .item = item};
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

RecommendationService::RecommendationService(const Store* store, const ModelManager* models, const Clock* clock,
                                             RecommendOptions options, const RuleBook* rules, Explorer* explorer,
                                             ServedLog* served, const FreshItems* fresh, const CatalogIndex* catalog)
    : store_(store),
      models_(models),
      clock_(clock),
      options_(std::move(options)),
      rules_(rules),
      explorer_(explorer),
      served_(served),
      fresh_(fresh),
      catalog_(catalog) {}

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
