// GET /v1/recommendations/{scenario}: turns a shopper's live history and
// the snapshot's models into a ranked, filtered, explained list.
//
// History is read from the store on every request, so an event posted a
// moment ago already shapes the next answer (the models score histories;
// nothing per user is precomputed).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "rules/rule_book.h"
#include "serving/catalog_index.h"
#include "serving/exploration.h"
#include "serving/fresh_items.h"
#include "serving/model_manager.h"
#include "serving/served_log.h"
#include "storage/store.h"

namespace vitrina {

enum class Scenario { kForYou, kSimilar, kBoughtTogether, kCart, kUpsell, kTrending, kRecentlyViewed };
std::optional<Scenario> ParseScenario(std::string_view name);
std::string_view ScenarioName(Scenario scenario);
// Every scenario's name: what business rules may be limited to.
std::vector<std::string> ScenarioNames();

struct RecommendRequest {
  Scenario scenario = Scenario::kForYou;
  std::string user_id;
  std::string session_id;
  std::string item_id;                  // similar, bought_together, upsell
  std::vector<std::string> cart_items;  // cart
  size_t n = 10;
  // Filters.
  std::string category;                 // any level of the item's category path (case-insensitive)
  std::optional<double> min_price, max_price;
  bool in_stock = false;                // only items with stock > 0 or untracked stock
  bool exclude_purchased = true;        // never items the shopper bought (repurchase rules may let some back)
  std::string model;                    // for_you: only this candidate source (e.g. "sasrec"); empty: all
  // Context, for the learned ranker.
  std::string device;                   // "mobile", "desktop", ...
  std::string page;                     // page type or URL
  std::string country;                  // where the shopper is (as events' context.country)
  bool explain = false;                 // add the ranker's features and their contributions
  // Set by the experiment serving the request (experiments/), and recorded
  // with the served list.
  std::string experiment;               // empty: none
  std::string variant;                  // the shopper's group in it ("holdout" too)
  bool personalize = true;              // false (the holdout): the bestsellers only, no exploration
  std::string variant_model;            // for_you: only this source, when the snapshot has it
  bool use_ranker = true;               // for_you: false blends the models instead of the learned ranker
  bool merchandising = true;            // false: no boost, bury, pin or diversity rules (filters, blocks hold)
  // A preview (the dashboard's rule editor): not logged as served, no
  // exploration, and `rules`, when set, in place of the rules in force.
  bool dry_run = false;
  std::shared_ptr<const RuleSet> rules;
};

// A business rule that moved an item, and how.
struct AppliedRule {
  std::string id;
  std::string name;
  std::string effect;  // "boost x1.5", "pinned at 1"
};

// One input of the learned ranker for one item (explain=true).
struct FeatureContribution {
  std::string name;
  float value = 0;         // NaN: missing
  float contribution = 0;  // its share of the ranker's score (TreeSHAP)
};

struct RecommendedItem {
  std::string item_id;
  std::string title;
  std::optional<double> price;
  double score = 0;
  std::string model;   // which model proposed it ("history": the shopper's own recent items)
  std::string reason;  // for people: "because you viewed Red Mug"
  std::string reason_item_id;  // the item the reason refers to, if any
  std::vector<std::string> sources;  // every model that proposed it, the strongest first
  std::vector<AppliedRule> rules;    // the business rules that moved it
  bool explored = false;   // its slot was given to exploration
  double propensity = 1;   // the chance its slot's mechanism picked it (exploration.h)
  // explain=true, when the learned ranker ordered the list:
  std::vector<FeatureContribution> features;
  float ranker_bias = 0;  // the score's part no feature explains
  Item item;              // the catalog record it was served from (the API shows its shop fields)
};

// Why a list came back empty: what a widget can log, and a merchandiser fix.
struct EmptyReason {
  std::string code;     // unknown_item, inactive_item, no_price, no_history, no_candidates,
                        // filtered_out, rules, out_of_band, excluded
  std::string message;  // for people; never names a rule (the public key reads it)
  std::vector<const Rule*> rules;  // code "rules": the rules that kept the candidates out
};

struct RecommendResponse {
  std::string recommendation_id;
  std::string snapshot_id;  // empty before the first training
  int64_t rules_version = 0;
  bool ranked = false;      // the learned ranker ordered the candidates
  std::string experiment, variant;  // as in the request
  int64_t served_ms = 0;            // when it was served (the served log's time)
  std::vector<RecommendedItem> items;
  std::optional<EmptyReason> empty_reason;  // set when `items` is empty
};

struct RecommendOptions {
  std::vector<std::string> for_you_models = {"sasrec", "gru4rec", "cooccurrence", "als", "ease"};  // those in the snapshot are used
  size_t history_events = 100;  // recent events read per shopper
  // Upsell offers items of the anchor's leaf category priced above it and
  // at most this many times its price (or 1.25 x the dearest item the
  // shopper paid for, when that is higher and at least 1.2 x the price).
  double upsell_max_ratio = 1.5;
};

// The shopper's history from their user's and their session's activity,
// newest first. Events with both ids are in both lists: a line with the
// same time, type and item as one of the user's is taken once.
std::vector<const ActivityLine*> MergeActivity(const RecentActivity& user, const RecentActivity& session);

// Thread-safe; each call reads the current snapshot and rule set once.
//
// A request goes: candidates (for_you: the learned ranker's order over its
// sources when the snapshot has the pipeline, else the models' lists fused;
// other scenarios: their models' lists; then cold start from the live
// catalog: content neighbours of items newer than the snapshot, complements
// from categories often bought together, pricier items of the same
// category for upsell) -> live checks (active, request filters,
// exclusions, one item per variant group) -> business rules (block, filter,
// boost, bury, diversity, pins) -> exploration (a share of slots to a
// source, or to the catalog's newest items, chosen by Thompson sampling) ->
// the first n, each with its reason and propensity, logged as served. An
// empty list says why (EmptyReason).
class RecommendationService {
 public:
  // `rules` may be null (no business rules), `explorer` (no exploration),
  // `served` (nothing logged) and `fresh` (no arm of new items) too.
  // `catalog` (the live catalog, for cold start and upsell) may be null:
  // then only the snapshot's items are proposed.
  RecommendationService(const Store* store, const ModelManager* models, const Clock* clock, RecommendOptions options,
                        const RuleBook* rules = nullptr, Explorer* explorer = nullptr, ServedLog* served = nullptr,
                        const FreshItems* fresh = nullptr, const CatalogIndex* catalog = nullptr);

  // InvalidArgument for a request the scenario cannot answer (field named);
  // Unavailable before the first snapshot. An anchor item the catalog does
  // not hold (or holds inactive) gets an empty list saying so.
  Result<RecommendResponse> Recommend(const RecommendRequest& request) const;

  // Events just stored: clicks, carts and purchases that carry a
  // recommendation_id reward the source that showed the item (once each).
  void Observe(std::span<const Event> events) const;

  // What a for_you request (or an experiment variant) may name as its
  // model: the configured models, category_popular, trending and
  // "pipeline" (the learned ranker).
  std::vector<std::string> ForYouModelNames() const;

  const Explorer* explorer() const { return explorer_; }
  const ServedLog* served() const { return served_; }

 private:
  class Run;

  const Store* store_;
  const ModelManager* models_;
  const Clock* clock_;
  const RecommendOptions options_;
  const RuleBook* rules_;
  Explorer* explorer_;
  ServedLog* served_;
  const FreshItems* fresh_;
  const CatalogIndex* catalog_;
};

}  // namespace vitrina
