// Product search for shoppers: GET /v1/search and /v1/search/suggest.
//
// A request goes: lexical matching (lexical_index.h: word forms, synonyms,
// typos, layout, transliteration, relaxed when no item has every word) ->
// filters (category, brand, price, stock, attributes) and the business
// rules' filters and blocks -> facet counts (each facet counted as if its
// own filter were off, so a shopper sees the alternatives) -> scoring ->
// sorting, pins, pagination.
//
// Scoring (sort=relevance) fuses the lexical score (BM25F, scaled so the
// best match has 1) with the text embeddings' similarity, then multiplies
// by popularity, by the rules' boosts, and, when the shopper is known, by
// their affinity: the share of their recent history (session counted
// double) in the item's brand and category, how close its price is to
// theirs, and the collaborative model's score of the item for them.
//
// When nothing matches: no word in common even after typos -> the items
// whose title embeddings are nearest the query's ("nearest", said in the
// response). When few match: items that the collaborative model finds like
// the best matches are added after them ("related").
//
// The catalog is kept in memory and updated as items change (Apply);
// thread-safe: any number of searches run while one writer waits.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "rules/rule_book.h"
#include "search/lexical_index.h"
#include "search/synonyms.h"
#include "search/text_vectors.h"
#include "serving/model_manager.h"
#include "serving/recommend.h"
#include "storage/store.h"

namespace vitrina {

struct SearchOptions {
  size_t max_results = 100;          // the largest n
  size_t max_offset = 10000;         // the deepest page
  size_t history_events = 50;        // recent events read per shopper (user and session)
  float text_weight = 0.15f;         // fusion: relevance = lexical / best + text_weight x embedding similarity
  float popularity_weight = 0.2f;    // x (1 + popularity_weight x decayed popularity, 0..1)
  // Personal affinity: x (1 + the sum of these, each times a share in 0..1).
  float category_weight = 0.3f;
  float brand_weight = 0.3f;
  float price_weight = 0.15f;
  float collaborative_weight = 0.3f;
  float session_weight = 2.0f;       // a line of the current session counts this many times a user's line
  size_t nearest_items = 20;         // zero-result fallback: how many nearest titles
  float nearest_min_similarity = 0.2f;
  size_t related_items = 10;         // items like the best matches, added when fewer than n match
  std::string related_model = "als";  // the snapshot's model that finds them
  size_t facet_values = 20;          // values per facet at most
  size_t attribute_facets = 10;      // attributes with facets at most
  size_t popular_queries = 50000;    // distinct shopper queries counted for suggestions at most
};

enum class SearchSort { kRelevance, kPriceAsc, kPriceDesc, kNewest, kPopular };
std::optional<SearchSort> ParseSearchSort(std::string_view name);

struct AttributeFilter {
  std::string name;                 // attribute name
  std::vector<std::string> values;  // any of them (case-insensitive)
};

struct SearchRequest {
  std::string query;
  std::string user_id;
  std::string session_id;
  // Filters.
  std::string category;              // any level of the category path (case-insensitive)
  std::vector<std::string> brands;   // any of them (case-insensitive)
  std::optional<double> min_price, max_price;
  bool in_stock = false;
  std::vector<AttributeFilter> attributes;
  SearchSort sort = SearchSort::kRelevance;
  size_t n = 20;
  size_t offset = 0;
  // Switches, for testing and measuring.
  bool personalize = true;
  bool typos = true;
  bool facets = true;
  bool fallback = true;  // relaxed words, nearest titles and related items
  // The attributes facets may list; null: every one. (Shop pages, with the
  // public key, see only the attributes the shop marked public.)
  const std::vector<std::string>* facet_attributes = nullptr;
};

struct SearchHit {
  Item item;
  double score = 0;
  std::string match;   // "exact", "relaxed", "nearest", "related", "browse" (no query)
  std::string reason;  // for people: "you often choose Sony"
  double lexical = 0;  // the lexical score, scaled (best match 1)
  double personal = 1; // the affinity factor (1: none)
  std::vector<AppliedRule> rules;
};

struct FacetValue {
  std::string value;
  uint32_t count = 0;
  bool selected = false;
};

struct Facet {
  std::string name;  // "category", "brand", "attributes.color"
  std::vector<FacetValue> values;  // the most frequent first
};

struct PriceRange {
  double from = 0, to = 0;  // [from, to)
  uint32_t count = 0;
};

struct SearchResponse {
  std::string search_id;
  std::string layout_corrected;         // the query as retyped in the other layout, when that was searched
  std::vector<Correction> corrections;  // words read as other words
  std::string fallback;                 // "", "relaxed", "nearest"
  std::string message;                  // the fallback, for people
  size_t total = 0;                     // results before pagination
  bool personalized = false;
  std::vector<SearchHit> hits;
  std::vector<Facet> facets;
  std::optional<double> price_min, price_max;
  std::vector<PriceRange> price_ranges;
  uint32_t in_stock_count = 0;
  int64_t rules_version = 0;
  int64_t synonyms_version = 0;
};

struct SuggestResponse {
  std::vector<std::pair<std::string, std::string>> queries;  // (completed query, "popular" or "catalog")
  std::vector<SearchHit> items;
  std::vector<std::pair<std::string, uint32_t>> categories;  // leaf categories of the matches, with counts
};

class SearchEngine {
 public:
  // `models`, `rules` and `synonyms` may be null. All must outlive the engine.
  SearchEngine(const Store* store, const ModelManager* models, const RuleBook* rules, const SynonymBook* synonyms,
               const Clock* clock, SearchOptions options = {});

  // Indexes the stored catalog (replacing anything indexed before).
  Status Build();
  // Brings the index up to date with writes just stored (the ingestor's
  // commit thread calls it): upserted and deleted items, and search events
  // (their queries feed suggestions).
  void Apply(WriteBatch& batch, const std::vector<WriteOutcome>& outcomes);

  // InvalidArgument (field named) for a request it cannot answer.
  Result<SearchResponse> Search(const SearchRequest& request) const;
  Result<SuggestResponse> Suggest(std::string_view prefix, const std::string& user_id, const std::string& session_id,
                                  size_t n) const;

  struct Stats {
    size_t items = 0;
    size_t index_bytes = 0;    // lexical index and dictionary
    size_t catalog_bytes = 0;  // items kept for filters, facets and answers
    size_t popular_queries = 0;
  };
  Stats stats() const;

 private:
  // Distinct values (brands, category names, attribute names and values)
  // as small ids, so that filters, facets and affinities compare integers.
  class Interner {
   public:
    static constexpr uint32_t kNone = UINT32_MAX;
    // `normalize`: values that differ only in case or "ё" are one (the first spelling is shown).
    explicit Interner(bool normalize) : normalize_(normalize) {}
    uint32_t Intern(std::string_view value);
    uint32_t Find(std::string_view value) const;  // kNone when absent
    const std::string& name(uint32_t id) const { return names_[id]; }
    size_t size() const { return names_.size(); }
    size_t MemoryBytes() const;

   private:
    std::string KeyOf(std::string_view value) const;
    bool normalize_;
    std::unordered_map<std::string, uint32_t> ids_;
    std::vector<std::string> names_;
  };
  struct Entry {
    Item item;
    bool live = false;
    std::vector<uint32_t> categories;                        // every level's id, the leaf last
    std::vector<uint32_t> attributes;    // attribute pair ids; a list's values one by one
  };
  // What filters and facets read of each item, packed: one cache line
  // holds most items' (the attributes beyond the first few are in Entry).
  struct Facts {
    static constexpr size_t kInlineAttributes = 4;
    double price = 0;
    bool priced = false;
    bool in_stock = false;
    uint8_t attribute_count = 0;  // all of the item's attribute pairs (capped at 255)
    uint32_t brand = Interner::kNone;
    uint32_t leaf = Interner::kNone;  // the leaf category
    std::array<uint32_t, kInlineAttributes> attributes{};  // the first attribute pair ids
  };
  struct Profile;
  class Run;

  uint32_t SlotFor(const std::string& item_id);
  void Put(Item item);
  void Drop(const std::string& item_id);
  void CountQuery(std::string_view query);
  // The shopper's recent events, read from the store (no lock held).
  struct ShopperActivity {
    RecentActivity user, session;
  };
  ShopperActivity ReadActivity(const SearchRequest& request) const;
  Profile ProfileOf(const ShopperActivity& activity) const;  // REQUIRES: mutex_ shared
  uint32_t InternPair(uint32_t name, uint32_t value);              // REQUIRES: mutex_ held
  uint32_t AttributePair(uint32_t name, uint32_t value) const;     // kNone when no item has it
  // Points snapshot_index_ at the models' current snapshot when it changed.
  void MapSnapshot() const;

  const Store* store_;
  const ModelManager* models_;
  const RuleBook* rules_;
  const SynonymBook* synonyms_;
  const Clock* clock_;
  const SearchOptions options_;

  mutable std::shared_mutex mutex_;
  LexicalIndex index_;                                // GUARDED_BY(mutex_), keyed by slot
  std::vector<Entry> entries_;                        // GUARDED_BY(mutex_), by slot
  std::vector<TextVector> texts_;                     // GUARDED_BY(mutex_), by slot: title embeddings (zero: none)
  std::vector<Facts> facts_;                          // GUARDED_BY(mutex_), by slot
  Interner brands_{true}, categories_{true}, attribute_names_{false}, attribute_values_{true};  // GUARDED_BY(mutex_)
  std::unordered_map<uint64_t, uint32_t> pair_ids_;   // GUARDED_BY(mutex_), (name id << 32 | value id) -> pair id
  std::vector<std::pair<uint32_t, uint32_t>> pair_parts_;  // GUARDED_BY(mutex_), pair id -> (name id, value id)
  // The snapshot item index of each slot (-1: not in it), for mapped_snapshot_.
  mutable std::shared_ptr<const Snapshot> mapped_snapshot_;  // GUARDED_BY(mutex_)
  mutable std::vector<int32_t> snapshot_index_;              // GUARDED_BY(mutex_), by slot
  mutable std::vector<int32_t> slot_of_index_;               // GUARDED_BY(mutex_), snapshot item -> slot (-1: none)
  std::vector<uint32_t> free_slots_;                  // GUARDED_BY(mutex_)
  std::unordered_map<std::string, uint32_t> slot_of_;  // GUARDED_BY(mutex_), live item id -> slot
  mutable std::mutex queries_mutex_;     // events count queries without waiting for searches
  std::map<std::string, uint32_t> queries_;  // GUARDED_BY(queries_mutex_), normalized shopper query -> count
};

}  // namespace vitrina
