// Internal to serving: the work of one recommendation request, stage by
// stage. recommend.cc drives it (checks, history, live checks, rules,
// exploration, the served log), recommend_candidates.cc proposes
// candidates (models, the learned ranker, cold start from the live
// catalog), recommend_reasons.cc says why each item is there, and why a
// list is empty.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ranking/pipeline.h"
#include "serving/recommend.h"

namespace vitrina {

inline constexpr uint32_t kNoSnapshotItem = UINT32_MAX;

// Where a candidate's reason comes from.
enum class Origin : uint8_t {
  kModel,           // a model's evidence in the shopper's history or the anchor items
  kTrending,        // popularity
  kRecentlyViewed,  // the shopper's own views
  kHistory,         // the shopper's own purchases, offered again
  kFresh,           // one of the catalog's newest items (exploration)
  kComplement,      // a popular item of a category often bought with the anchor's
  kCatalog,         // the live catalog: the anchor's category (upsell, a new item's neighbours)
};

// One candidate, in the order the sources put it.
struct Candidate {
  uint32_t item = kNoSnapshotItem;     // snapshot index; kNoSnapshotItem when the snapshot does not know it
  std::string_view id;
  double score = 0;
  const Recommender* model = nullptr;  // whose evidence explains it
  Origin origin = Origin::kModel;
  uint32_t sources = 0;                // bit s: the request's source s proposed it
  int32_t row = -1;                    // its ranker feature row (pipeline)
  const Item* anchor = nullptr;        // the catalog item it was found from (cold start), if any
};

// Why candidates were turned away, for an empty list's reason.
struct Rejections {
  size_t excluded = 0;  // the anchors, the cart, what the shopper bought or saw
  size_t missing = 0;   // no longer in the catalog, or inactive
  size_t filters = 0;   // the request's category, price or in_stock filters
  size_t band = 0;      // upsell: not a step up in the same category within the price band
  size_t groups = 0;    // a variant of a product already in the list
  size_t rules = 0;     // business rules (filters and blocks)
  std::vector<const Rule*> by_rules;  // which, first refusal first, each once
};

class RecommendationService::Run {
 public:
  Run(const RecommendationService& service, const RecommendRequest& request);
  Result<RecommendResponse> Execute();

 private:
  struct Chosen {
    const Candidate* candidate;
    Item item;
    double relevance = 0;
    std::vector<RuleEffect> effects;
    bool pinned = false;
    bool explored = false;
    double propensity = 1;
  };
  // What the live checks make of a candidate.
  enum class Verdict : uint8_t { kAccepted, kExcluded, kMissing, kFiltered, kOutOfBand };

  size_t depth() const { return std::max<size_t>(50, 5 * request_.n); }

  // recommend.cc: the pipeline.
  Status CheckRequest();
  // Sets the answer to an empty list saying why (the request cannot have one).
  void AnswerEmpty(std::string code, std::string message);
  std::vector<std::string> ForYouModels() const { return service_.ForYouModelNames(); }
  Status LoadHistory();
  void Exclude();
  Verdict Accept(std::string_view id, Item* out) const;
  bool InUpsellBand(const Item& item) const;
  double UpsellCeiling() const;
  // Whether `item` may join: live checks, rules, one item per variant group;
  // counts why not.
  bool Admissible(std::string_view id, Item* item);
  void Admit(size_t limit, std::vector<Chosen>* out);
  void Finish();
  static std::string_view ArmOf(const Candidate& candidate);
  void Explore(std::vector<Chosen>* chosen, std::vector<Chosen>* reserve);
  void AddFresh(std::deque<size_t>* unread);
  std::optional<Chosen> TakeFromArm(std::string_view arm, std::deque<size_t>* unread, std::vector<Chosen>* reserve,
                                    const std::vector<Chosen>& chosen);
  bool FitsCaps(const Item& item, const std::vector<Chosen>& chosen) const;
  void LogServed();
  void ApplyCaps(std::vector<Chosen>* chosen) const;
  void ApplyPins(std::vector<Chosen>* chosen);
  void Emit(std::vector<Chosen>& chosen);

  // recommend_candidates.cc: who proposes what.
  std::string_view ForYouModel() const;
  void Generate();
  uint32_t SourceBit(std::string_view name);
  void AddBlend(const std::vector<const Recommender*>& models, Relation relation, size_t model_depth);
  void AddRanked(const PipelineRecommender& pipeline);
  void AddTrending();
  void AddContentFor(const Item& item, size_t content_depth);
  void AddContentForUnknownHistory();
  void AddCatalogNeighbours(const Item& anchor);
  void AddCatalogUpsell();
  void AddComplements(const Item& anchor);

  // recommend_reasons.cc: why.
  std::vector<int> ExplainAnchors(const std::vector<Chosen>& chosen) const;
  void Describe(const Candidate& candidate, const Item& item, int anchor, RecommendedItem* out) const;
  void DescribeModel(const Candidate& candidate, const Item& item, int anchor, RecommendedItem* out) const;
  void ExplainEmpty();
  size_t Width() const { return pipeline_->feature_names().size(); }
  void Contributions(const std::vector<Chosen>& chosen, std::vector<float>* out) const;
  void AddFeatures(const Candidate& candidate, const float* contributions, RecommendedItem* out) const;

  const RecommendationService& service_;
  const RecommendRequest& request_;
  const int64_t now_ms_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::shared_ptr<const RuleSet> rule_set_;
  std::optional<RuleScope> scope_;
  RecommendResponse response_;
  bool answered_ = false;              // AnswerEmpty ran: nothing more to do
  std::optional<Item> anchor_item_;    // similar, bought_together, upsell: item_id
  std::optional<Item> context_item_;   // for_you: the page's item (item_id)
  bool context_in_history_ = false;    // ... known to the snapshot, history_[0]
  std::deque<Item> cart_items_;        // cart: the cart's items in the catalog
  std::deque<Item> unknown_history_;   // for_you: recent history items newer than the snapshot
  std::vector<uint32_t> anchors_;
  RecentActivity user_activity_, session_activity_;
  std::vector<const ActivityLine*> lines_;                // both merged, newest first
  std::vector<HistoryEntry> history_;                     // items the snapshot knows, newest first
  std::unordered_map<std::string, int64_t> purchased_;    // item -> latest purchase time
  std::unordered_set<std::string> buy_again_;             // purchased, let back by a repurchase rule
  std::vector<double> paid_prices_;                       // unit prices in purchases and carts
  std::unordered_set<std::string> excluded_ids_;
  std::unordered_set<uint32_t> excluded_;
  std::unordered_set<std::string> groups_;                // variant groups in the list (and the anchor's)
  std::vector<HistoryEntry> query_;                       // what the models score from
  // A deque: Chosen entries point into it while trending may still be appended.
  std::deque<Candidate> candidates_;
  std::shared_ptr<const std::vector<FreshItems::Entry>> fresh_;  // AddFresh's candidates point into it
  std::deque<std::string> catalog_ids_;                   // ids of live-catalog candidates (stable addresses)
  size_t next_candidate_ = 0;                             // Admit goes on from here
  std::unordered_set<std::string_view> seen_;             // ids Admit has looked at
  Rejections rejections_;
  std::vector<std::string_view> served_arms_;             // per emitted item
  std::deque<Candidate> pinned_;                          // candidates pins added (stable addresses)
  std::vector<std::string_view> source_names_;            // bit s of Candidate::sources
  const PipelineRecommender* pipeline_ = nullptr;
  RankScratch* scratch_ = nullptr;
};

}  // namespace vitrina
