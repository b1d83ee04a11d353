// Why each item is in a list, in words that claim no more than the evidence
// behind it ("often bought with X" only from co-purchases, "viewed together"
// only from co-views), and why a list is empty.
#include <algorithm>
#include <cmath>

#include "common/strings.h"
#include "common/time_util.h"
#include "models/cooccurrence.h"
#include "serving/recommend_run.h"

namespace vitrina {
namespace {

std::string DisplayName(const ItemMeta& item) { return item.title.empty() ? item.id : item.title; }
std::string DisplayName(const Item& item) { return item.title.empty() ? item.id : item.title; }

std::string_view Verb(Signal signal) {
  switch (signal) {
    case Signal::kView: return "viewed";
    case Signal::kCart: return "added to your cart";
    case Signal::kPurchase: return "bought";
  }
  return "viewed";
}

std::string Leaf(const Item& item) { return item.category.empty() ? std::string() : item.category.back(); }

bool IsSequenceModel(std::string_view model) { return model == "sasrec" || model == "gru4rec"; }
bool IsTasteModel(std::string_view model) { return model == "als" || model == "ease"; }

}  // namespace

// For each chosen item, the index into query_ of the history entry that
// most supports it (-1: none), one batch per model.
std::vector<int> RecommendationService::Run::ExplainAnchors(const std::vector<Chosen>& chosen) const {
  std::vector<int> anchors(chosen.size(), -1);
  if (query_.empty()) return anchors;
  std::vector<const Recommender*> models;
  for (const Chosen& c : chosen) {
    const Recommender* model = c.candidate->model;
    if (model != nullptr && c.candidate->item != kNoSnapshotItem && c.candidate->origin == Origin::kModel &&
        std::find(models.begin(), models.end(), model) == models.end()) {
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
      if (chosen[k].candidate->model == model && chosen[k].candidate->item != kNoSnapshotItem &&
          chosen[k].candidate->origin == Origin::kModel) {
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
void RecommendationService::Run::Describe(const Candidate& candidate, const Item& item, int anchor,
                                          RecommendedItem* out) const {
  out->model = candidate.model != nullptr ? std::string(candidate.model->name()) : "";
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
        const int64_t days = static_cast<int64_t>(static_cast<double>(now_ms_ - bought->second) / static_cast<double>(kMillisPerDay));
        out->reason = "you bought this " + (days <= 0 ? std::string("today") : std::to_string(days) + " days ago");
      } else {
        out->reason = "you looked at this before";
      }
      out->reason_item_id = out->item_id;
      return;
    }
    case Origin::kComplement: {
      // Evidence: orders holding both categories, not this pair of items.
      out->model = "complements";
      const Item& with = *candidate.anchor;
      out->reason = "goes with " + DisplayName(with) + ": " + Leaf(item) + " is often bought with " + Leaf(with);
      out->reason_item_id = with.id;
      return;
    }
    case Origin::kCatalog: {
      out->model = "catalog";
      const Item& of = *candidate.anchor;
      out->reason = request_.scenario == Scenario::kUpsell ? "a step up from " + DisplayName(of)
                                                           : "also in " + Leaf(of) + ", like " + DisplayName(of);
      out->reason_item_id = of.id;
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
  // Among the sources that proposed it, co-occurrence has the most concrete
  // evidence (a pair of items shoppers viewed or bought together): when it
  // is one of them, its evidence explains the item.
  const Candidate* explained = &candidate;
  Candidate concrete;
  if (out->model != "cooccurrence" && request_.scenario != Scenario::kUpsell) {
    const auto* graphs = static_cast<const CooccurrenceRecommender*>(snapshot_->model("cooccurrence"));
    auto bit = std::find(source_names_.begin(), source_names_.end(), "cooccurrence");
    if (graphs != nullptr && bit != source_names_.end() && candidate.item != kNoSnapshotItem &&
        (candidate.sources & (1u << (bit - source_names_.begin())))) {
      constexpr size_t kLookBack = 20;
      for (size_t h = 0; h < query_.size() && h < kLookBack; ++h) {
        if (graphs->Evidence(query_[h].item, candidate.item) != CooccurrenceEvidence::kNone) {
          concrete = candidate;
          concrete.model = graphs;
          explained = &concrete;
          anchor = static_cast<int>(h);
          out->model = "cooccurrence";
          break;
        }
      }
    }
  }
  DescribeModel(*explained, item, anchor, out);
}

// A model's reason: what its own evidence says, and nothing it does not.
void RecommendationService::Run::DescribeModel(const Candidate& candidate, const Item& item, int anchor,
                                               RecommendedItem* out) const {
  const std::string& model = out->model;
  if (model == "category_popular" && !item.category.empty()) {
    out->reason = "popular in " + item.category.back() + ", a category you browse";
    return;
  }
  if (model == "trending") {
    out->reason = "popular this week";
    return;
  }
  // The item the evidence is about, and how the shopper met it.
  const ItemMeta* because = nullptr;
  std::string met;  // ", which you viewed"; empty for an anchor scenario's item
  if (anchor >= 0) {
    because = &snapshot_->item(query_[anchor].item);
    if (request_.scenario == Scenario::kForYou) {
      met = anchor == 0 && context_in_history_ ? ", which you are viewing"
                                               : ", which you " + std::string(Verb(query_[anchor].signal));
    }
  }
  auto refer = [&](const std::string& name, const std::string& id) {
    out->reason_item_id = id;
    return name;
  };
  if (model == "content") {
    if (candidate.anchor != nullptr) {
      // Similar to an item the snapshot does not know yet.
      const bool page = context_item_ && candidate.anchor->id == context_item_->id;
      const std::string how = request_.scenario != Scenario::kForYou ? ""
                              : page                                 ? ", which you are viewing"
                                                                     : ", which you viewed";
      out->reason = "similar to " + refer(DisplayName(*candidate.anchor), candidate.anchor->id) + how;
    } else if (because != nullptr) {
      out->reason = "similar to " + refer(DisplayName(*because), because->id) + met;
    } else {
      out->reason = "similar to what you looked at";
    }
  } else if (model == "cooccurrence" && because != nullptr) {
    const auto& graphs = *static_cast<const CooccurrenceRecommender*>(candidate.model);
    const uint32_t from = query_[anchor].item;
    switch (graphs.Evidence(from, candidate.item)) {
      case CooccurrenceEvidence::kBoughtTogether:
        out->reason = "often bought with " + refer(DisplayName(*because), because->id) + met;
        break;
      case CooccurrenceEvidence::kViewedTogether:
        out->reason = "often viewed with " + refer(DisplayName(*because), because->id) + met;
        break;
      case CooccurrenceEvidence::kNone:
        out->reason = "chosen by shoppers with similar interests";
        break;
    }
  } else if (IsSequenceModel(model) && !query_.empty()) {
    // Sequence models learn what comes next: said of the newest item.
    const ItemMeta& last = snapshot_->item(query_[0].item);
    out->reason = "often chosen next after " + refer(DisplayName(last), last.id);
  } else if (IsTasteModel(model)) {
    // A factorization's evidence is shared taste, not a pair of items.
    out->reason = "chosen by shoppers with similar taste";
    if (because != nullptr) out->reason_item_id = because->id;
  } else {
    out->reason = "chosen by shoppers with similar interests";
  }
  if (request_.scenario == Scenario::kUpsell) {
    // Whatever proposed it, it is the same kind of item, pricier (InUpsellBand).
    out->reason = "a step up from " + refer(DisplayName(*anchor_item_), anchor_item_->id);
  }
}

// An empty list says why: what turned most candidates away, or that there
// were none.
void RecommendationService::Run::ExplainEmpty() {
  EmptyReason reason;
  const Rejections& r = rejections_;
  const std::string anchor = anchor_item_ ? "'" + DisplayName(*anchor_item_) + "'" : std::string("the cart");
  if (candidates_.empty() && pinned_.empty()) {
    reason.code = "no_candidates";
    switch (request_.scenario) {
      case Scenario::kSimilar:
        reason.message = "nothing similar to " + anchor +
                         " is known yet: no co-views, and no other item shares its words, brand or category";
        break;
      case Scenario::kBoughtTogether:
      case Scenario::kCart:
        reason.message = "nothing is known to go with " + anchor + " yet: no orders hold it or its category";
        break;
      case Scenario::kUpsell:
        reason.message = "no in-stock item of " + anchor + "'s category costs more, up to " +
                         FormatDouble(std::round(UpsellCeiling() * 100) / 100);
        break;
      case Scenario::kRecentlyViewed:
        reason.code = "no_history";
        reason.message = "this shopper has viewed nothing yet";
        break;
      default:
        reason.message = "the model snapshot proposes nothing yet (no sales to rank by)";
        break;
    }
  } else {
    // The most frequent refusal speaks for the list.
    const std::pair<size_t, std::string_view> causes[] = {
        {r.rules, "rules"}, {r.filters, "filtered_out"}, {r.band, "out_of_band"},
        {r.excluded, "excluded"}, {r.missing + r.groups, "no_candidates"}};
    const auto* top = std::max_element(std::begin(causes), std::end(causes),
                                       [](const auto& a, const auto& b) { return a.first < b.first; });
    reason.code = std::string(top->second);
    if (reason.code == "rules") {
      reason.message = "the shop's business rules filtered out every candidate";
      reason.rules = r.by_rules;
    } else if (reason.code == "filtered_out") {
      reason.message = "no candidate matches the request's filters (category, min_price, max_price, in_stock)";
    } else if (reason.code == "out_of_band") {
      reason.message = "no candidate is a step up from " + anchor + " in its category, in stock, priced up to " +
                       FormatDouble(std::round(UpsellCeiling() * 100) / 100);
    } else if (reason.code == "excluded") {
      reason.message = "the shopper has already bought or seen every candidate";
    } else {
      reason.message = "the candidates are no longer for sale (removed, inactive, or variants of one product)";
    }
  }
  response_.empty_reason = std::move(reason);
}

// The ranker's per-feature contributions for the chosen items, one row
// each (zeros for items the ranker did not score, such as pins).
void RecommendationService::Run::Contributions(const std::vector<Chosen>& chosen, std::vector<float>* out) const {
  const size_t width = Width();
  std::vector<float> rows(chosen.size() * width, 0.0f);
  for (size_t k = 0; k < chosen.size(); ++k) {
    if (chosen[k].candidate->row < 0) continue;
    const float* row = &scratch_->features[static_cast<size_t>(chosen[k].candidate->row) * width];
    std::copy(row, row + width, rows.begin() + static_cast<ptrdiff_t>(k * width));
  }
  if (!pipeline_->ranker().Contributions(rows, out).ok()) out->clear();
}

void RecommendationService::Run::AddFeatures(const Candidate& candidate, const float* contributions,
                                             RecommendedItem* out) const {
  const size_t width = Width();
  const float* values = &scratch_->features[static_cast<size_t>(candidate.row) * width];
  for (size_t f = 0; f < width; ++f) {
    out->features.push_back({.name = pipeline_->feature_names()[f], .value = values[f], .contribution = contributions[f]});
  }
  out->ranker_bias = contributions[width];
}

}  // namespace vitrina
