#include "search/search_engine.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <span>

#include "common/strings.h"
#include "models/trending.h"
#include "text/analyzer.h"

namespace vitrina {
namespace {

constexpr size_t kMaxQueryBytes = 512;
constexpr float kRecencyDecay = 0.97f;  // per history line, newest first

// Filter dimensions: a candidate's failures form a bit mask.
constexpr uint32_t kCategoryBit = 1u << 0;
constexpr uint32_t kBrandBit = 1u << 1;
constexpr uint32_t kPriceBit = 1u << 2;
constexpr uint32_t kStockBit = 1u << 3;
constexpr int kFirstAttributeBit = 4;
constexpr size_t kMaxAttributeFilters = 16;

std::string NewSearchId() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32));
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "srch_%016llx", static_cast<unsigned long long>(rng()));
  return buffer;
}

float LineWeight(EventType type) {
  switch (type) {
    case EventType::kView:
      return 1.0f;
    case EventType::kClick:
    case EventType::kSearch:  // a search that led to an item
    case EventType::kRating:
      return 1.5f;
    case EventType::kAddToCart:
      return 3.0f;
    case EventType::kPurchase:
      return 4.0f;
    default:
      return 0.0f;
  }
}

Signal SignalOfLine(EventType type) {
  if (type == EventType::kPurchase) return Signal::kPurchase;
  if (type == EventType::kAddToCart) return Signal::kCart;
  return Signal::kView;
}


bool Contains(const std::vector<uint32_t>& ids, uint32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// Range bounds that read well: 1, 2, 5 times a power of ten.
double NiceBound(double value) {
  if (value <= 0) return 0;
  const double power = std::pow(10.0, std::floor(std::log10(value)));
  for (double step : {1.0, 2.0, 5.0, 10.0}) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

}  // namespace

std::optional<SearchSort> ParseSearchSort(std::string_view name) {
  if (name == "relevance") return SearchSort::kRelevance;
  if (name == "price_asc") return SearchSort::kPriceAsc;
  if (name == "price_desc") return SearchSort::kPriceDesc;
  if (name == "newest") return SearchSort::kNewest;
  if (name == "popular") return SearchSort::kPopular;
  return std::nullopt;
}

// What the shopper's recent history says they like.
struct SearchEngine::Profile {
  float total = 0;  // the weights of the lines read
  std::vector<std::pair<uint32_t, float>> brands;      // by brand id
  std::vector<std::pair<uint32_t, float>> categories;  // by leaf category id
  bool has_price = false;
  float log_price = 0, log_price_spread = 0;
  std::vector<HistoryEntry> history;  // for the collaborative model, newest first

  static float ShareOf(const std::vector<std::pair<uint32_t, float>>& weights, uint32_t id, float total) {
    if (id == Interner::kNone) return 0;
    for (const auto& [key, weight] : weights) {
      if (key == id) return weight / total;
    }
    return 0;
  }
};

std::string SearchEngine::Interner::KeyOf(std::string_view value) const {
  return normalize_ ? NormalizeText(value) : std::string(value);
}

uint32_t SearchEngine::Interner::Intern(std::string_view value) {
  auto [it, inserted] = ids_.try_emplace(KeyOf(value), static_cast<uint32_t>(names_.size()));
  if (inserted) names_.emplace_back(value);
  return it->second;
}

uint32_t SearchEngine::Interner::Find(std::string_view value) const {
  auto it = ids_.find(KeyOf(value));
  return it == ids_.end() ? kNone : it->second;
}

size_t SearchEngine::Interner::MemoryBytes() const {
  size_t bytes = 0;
  for (const std::string& name : names_) bytes += 2 * (sizeof(std::string) + name.capacity() + 1) + 24;
  return bytes;
}

uint32_t SearchEngine::InternPair(uint32_t name, uint32_t value) {
  auto [it, inserted] = pair_ids_.try_emplace((uint64_t{name} << 32) | value, static_cast<uint32_t>(pair_parts_.size()));
  if (inserted) pair_parts_.emplace_back(name, value);
  return it->second;
}

uint32_t SearchEngine::AttributePair(uint32_t name, uint32_t value) const {
  if (name == Interner::kNone || value == Interner::kNone) return Interner::kNone;
  auto it = pair_ids_.find((uint64_t{name} << 32) | value);
  return it == pair_ids_.end() ? Interner::kNone : it->second;
}

void SearchEngine::MapSnapshot() const {
  if (models_ == nullptr) return;
  const std::shared_ptr<const Snapshot> current = models_->current();
  {
    std::shared_lock lock(mutex_);
    if (mapped_snapshot_ == current) return;
  }
  std::unique_lock lock(mutex_);
  if (mapped_snapshot_ == current) return;
  snapshot_index_.assign(entries_.size(), -1);
  slot_of_index_.assign(current != nullptr ? current->num_items() : 0, -1);
  if (current != nullptr) {
    for (uint32_t slot = 0; slot < entries_.size(); ++slot) {
      if (!entries_[slot].live) continue;
      snapshot_index_[slot] = static_cast<int32_t>(current->FindItem(entries_[slot].item.id));
      if (snapshot_index_[slot] >= 0) slot_of_index_[snapshot_index_[slot]] = static_cast<int32_t>(slot);
    }
  }
  mapped_snapshot_ = current;
}

SearchEngine::SearchEngine(const Store* store, const ModelManager* models, const RuleBook* rules,
                           const SynonymBook* synonyms, const Clock* clock, SearchOptions options)
    : store_(store), models_(models), rules_(rules), synonyms_(synonyms), clock_(clock), options_(std::move(options)) {}

uint32_t SearchEngine::SlotFor(const std::string& item_id) {
  if (auto it = slot_of_.find(item_id); it != slot_of_.end()) return it->second;
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  slot_of_.emplace(item_id, slot);
  return slot;
}

void SearchEngine::Put(Item item) {
  if (!item.active) return Drop(item.id);
  const uint32_t slot = SlotFor(item.id);
  Entry& entry = entries_[slot];
  index_.Upsert(slot, item);
  if (slot >= texts_.size()) {
    texts_.resize(slot + 1);
    facts_.resize(slot + 1);
  }
  texts_[slot] = EmbedText(item.title);
  entry.categories.clear();
  for (const std::string& level : item.category) entry.categories.push_back(categories_.Intern(level));
  entry.attributes.clear();
  for (const auto& [name, value] : item.attributes) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      entry.attributes.push_back(InternPair(attribute_names_.Intern(name), attribute_values_.Intern(*text)));
    } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      for (const std::string& one : *list) {
        entry.attributes.push_back(InternPair(attribute_names_.Intern(name), attribute_values_.Intern(one)));
      }
    }
  }
  if (slot >= snapshot_index_.size()) snapshot_index_.resize(slot + 1, -1);
  snapshot_index_[slot] = mapped_snapshot_ != nullptr ? static_cast<int32_t>(mapped_snapshot_->FindItem(item.id)) : -1;
  if (snapshot_index_[slot] >= 0) slot_of_index_[snapshot_index_[slot]] = static_cast<int32_t>(slot);
  Facts& facts = facts_[slot];
  facts = {.price = item.price.value_or(0), .priced = item.price.has_value(), .in_stock = item.InStock(),
           .attribute_count = static_cast<uint8_t>(std::min<size_t>(entry.attributes.size(), 255)),
           .brand = item.brand.empty() ? Interner::kNone : brands_.Intern(item.brand),
           .leaf = entry.categories.empty() ? Interner::kNone : entry.categories.back()};
  std::copy_n(entry.attributes.begin(), std::min(entry.attributes.size(), Facts::kInlineAttributes),
              facts.attributes.begin());
  entry.item = std::move(item);
  entry.live = true;
}

void SearchEngine::Drop(const std::string& item_id) {
  auto it = slot_of_.find(item_id);
  if (it == slot_of_.end()) return;
  const uint32_t slot = it->second;
  index_.Remove(slot);
  entries_[slot] = Entry{};
  texts_[slot] = TextVector{};
  facts_[slot] = Facts{};
  if (snapshot_index_[slot] >= 0) slot_of_index_[snapshot_index_[slot]] = -1;
  snapshot_index_[slot] = -1;
  free_slots_.push_back(slot);
  slot_of_.erase(it);
}

Status SearchEngine::Build() {
  std::unique_lock lock(mutex_);
  index_ = LexicalIndex();
  entries_.clear();
  texts_.clear();
  facts_.clear();
  mapped_snapshot_.reset();
  snapshot_index_.clear();
  slot_of_index_.clear();
  free_slots_.clear();
  slot_of_.clear();
  Status status = store_->ScanItems([&](const Item& item) {
    Put(item);
    return true;
  });
  index_.Commit();
  return status;
}

void SearchEngine::CountQuery(std::string_view query) {
  std::string normalized;
  for (const Token& token : Analyze(query)) {
    if (!normalized.empty()) normalized.push_back(' ');
    normalized += token.text;
  }
  if (normalized.empty() || normalized.size() > 100) return;
  std::lock_guard lock(queries_mutex_);
  if (queries_.size() >= options_.popular_queries && !queries_.contains(normalized)) {
    // Full: halve every count and forget those that fall to zero.
    for (auto it = queries_.begin(); it != queries_.end();) {
      it->second /= 2;
      it = it->second == 0 ? queries_.erase(it) : std::next(it);
    }
    if (queries_.size() >= options_.popular_queries) return;
  }
  ++queries_[normalized];
}

void SearchEngine::Apply(WriteBatch& batch, const std::vector<WriteOutcome>& outcomes) {
  // Most writes are events: they count queries and never wait for searches.
  bool items = false;
  for (size_t i = 0; i < batch.ops().size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    if (op.kind == WriteBatch::Kind::kUpsertItem || op.kind == WriteBatch::Kind::kDeleteItem) items = true;
    if (op.kind != WriteBatch::Kind::kAppendEvent || outcomes[i] != WriteOutcome::kCreated) continue;
    const Event& event = batch.events()[op.index];
    if (event.type == EventType::kSearch) CountQuery(event.query);
  }
  if (!items) return;
  std::unique_lock lock(mutex_);
  for (size_t i = 0; i < batch.ops().size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    switch (op.kind) {
      case WriteBatch::Kind::kUpsertItem:
        Put(batch.items()[op.index]);
        break;
      case WriteBatch::Kind::kDeleteItem:
        if (outcomes[i] == WriteOutcome::kDeleted) Drop(batch.deleted_item_ids()[op.index]);
        break;
      case WriteBatch::Kind::kAppendEvent:
      case WriteBatch::Kind::kUpsertUser:
        break;
    }
  }
  index_.Commit();
}

SearchEngine::Stats SearchEngine::stats() const {
  std::shared_lock lock(mutex_);
  Stats stats;
  stats.items = slot_of_.size();
  stats.index_bytes = index_.MemoryBytes();
  stats.catalog_bytes = entries_.capacity() * sizeof(Entry) + texts_.capacity() * sizeof(TextVector) +
                        facts_.capacity() * sizeof(Facts) + brands_.MemoryBytes() + categories_.MemoryBytes() +
                        attribute_names_.MemoryBytes() + attribute_values_.MemoryBytes() +
                        pair_parts_.capacity() * 8 + pair_ids_.size() * 32 +
                        (snapshot_index_.capacity() + slot_of_index_.capacity()) * sizeof(int32_t);
  for (const Entry& entry : entries_) {
    const Item& item = entry.item;
    stats.catalog_bytes += item.id.capacity() + item.title.capacity() + item.description.capacity() +
                           item.brand.capacity() + item.currency.capacity();
    for (const std::string& level : item.category) stats.catalog_bytes += sizeof(level) + level.capacity();
    stats.catalog_bytes += item.attributes.size() * 96;  // entries with short keys and values
    stats.catalog_bytes += (entry.categories.capacity() + entry.attributes.capacity()) * sizeof(uint32_t);
  }
  stats.catalog_bytes += slot_of_.size() * 64;  // the id map's nodes
  std::lock_guard queries_lock(queries_mutex_);
  stats.popular_queries = queries_.size();
  return stats;
}

SearchEngine::ShopperActivity SearchEngine::ReadActivity(const SearchRequest& request) const {
  ShopperActivity activity;
  if (!request.personalize) return activity;
  // A shopper without history has none: a read error only loses the personal order.
  if (!request.user_id.empty()) {
    (void)store_->GetRecentActivity(ActorKind::kUser, request.user_id, options_.history_events, &activity.user);
  }
  if (!request.session_id.empty()) {
    (void)store_->GetRecentActivity(ActorKind::kSession, request.session_id, options_.history_events,
                                    &activity.session);
  }
  return activity;
}

SearchEngine::Profile SearchEngine::ProfileOf(const ShopperActivity& activity) const {
  Profile profile;
  std::vector<std::pair<float, float>> prices;  // (log price, weight)
  auto read = [&](const RecentActivity& lines, float factor) {
    float decay = 1.0f;
    for (const ActivityLine& line : lines.lines) {
      const float weight = LineWeight(line.type) * decay * factor;
      decay *= kRecencyDecay;
      if (weight <= 0 || line.item_id.empty()) continue;
      auto it = slot_of_.find(std::string(line.item_id));
      if (it == slot_of_.end()) continue;
      const Item& item = entries_[it->second].item;
      const Facts& facts = facts_[it->second];
      profile.total += weight;
      auto add = [&](std::vector<std::pair<uint32_t, float>>* weights, uint32_t id) {
        if (id == Interner::kNone) return;
        for (auto& [key, sum] : *weights) {
          if (key == id) {
            sum += weight;
            return;
          }
        }
        weights->emplace_back(id, weight);
      };
      add(&profile.brands, facts.brand);
      add(&profile.categories, facts.leaf);
      if (item.price && *item.price > 0) prices.emplace_back(std::log(static_cast<float>(*item.price)), weight);
      if (mapped_snapshot_ != nullptr) {
        const int32_t index = snapshot_index_[it->second];
        if (index >= 0) {
          profile.history.push_back({.item = static_cast<uint32_t>(index), .weight = weight,
                                     .signal = SignalOfLine(line.type), .time_ms = line.timestamp_ms});
        }
      }
    }
  };
  read(activity.session, options_.session_weight);
  read(activity.user, 1.0f);
  std::stable_sort(profile.history.begin(), profile.history.end(),
                   [](const HistoryEntry& a, const HistoryEntry& b) { return a.time_ms > b.time_ms; });
  if (prices.size() >= 2) {
    float sum = 0, weights = 0;
    for (auto [log_price, weight] : prices) {
      sum += log_price * weight;
      weights += weight;
    }
    profile.log_price = sum / weights;
    float spread = 0;
    for (auto [log_price, weight] : prices) spread += weight * (log_price - profile.log_price) * (log_price - profile.log_price);
    profile.log_price_spread = std::max(0.35f, std::sqrt(spread / weights));  // at least about +-40%
    profile.has_price = true;
  }
  return profile;
}

// One search, step by step. Holds the engine's lock for its lifetime.
class SearchEngine::Run {
 public:
  Run(const SearchEngine& engine, const SearchRequest& request, const ShopperActivity& activity,
      SearchResponse* response)
      : engine_(engine),
        lock_(engine.mutex_),
        entries_(engine.entries_),
        request_(request),
        activity_(activity),
        response_(*response),
        browse_(TrimWhitespace(request.query).empty()),
        now_ms_(engine.clock_->NowMillis()),
        rule_set_(engine.rules_ != nullptr ? engine.rules_->current() : nullptr),
        synonyms_(engine.synonyms_ != nullptr ? engine.synonyms_->current() : nullptr),
        snapshot_(engine.mapped_snapshot_) {
    if (rule_set_ != nullptr) {
      response_.rules_version = rule_set_->version();
      scope_.emplace(rule_set_->InEffect("search", now_ms_), now_ms_);
      if (scope_->empty()) scope_.reset();
    }
    if (synonyms_ != nullptr) response_.synonyms_version = synonyms_->version();
    // Filter values as ids (kNone: a value no item has, so nothing passes).
    if (!request.category.empty()) category_ = engine.categories_.Find(request.category);
    for (const std::string& brand : request.brands) brands_.push_back(engine.brands_.Find(brand));
    for (const AttributeFilter& filter : request.attributes) {
      const uint32_t name = engine.attribute_names_.Find(filter.name);
      attributes_.push_back({.name = name});
      for (const std::string& value : filter.values) {
        attributes_.back().pairs.push_back(engine.AttributePair(name, engine.attribute_values_.Find(value)));
      }
    }
  }

  void Execute() {
    if (browse_) {
      for (uint32_t slot = 0; slot < entries_.size(); ++slot) {
        if (entries_[slot].live) candidates_.push_back({slot, 0.0f});
      }
    } else {
      MatchQuery();
    }
    FilterAndCount();
    Score();
    Order();
    Page();
    if (request_.facets) WriteFacets();
  }

 private:
  struct Candidate {
    uint32_t slot;
    float lexical;  // BM25F, or the embedding similarity for "nearest"
  };
  struct Scored {
    uint32_t slot;
    double score = 0;
    double lexical = 0;
    double personal = 1;
    float popularity = 0;
    const char* match = "exact";
    const char* affinity = nullptr;  // which affinity mattered most: "brand", "category", "taste", "price"
    int32_t effects = -1;            // into effects_
  };

  bool Admits(const Item& item) const { return !scope_ || scope_->Admits(item); }

  // The item's attribute pair ids: from its facts when they all fit there.
  std::span<const uint32_t> AttributesOf(uint32_t slot) const {
    const Facts& facts = engine_.facts_[slot];
    if (facts.attribute_count <= Facts::kInlineAttributes) return {facts.attributes.data(), facts.attribute_count};
    return entries_[slot].attributes;
  }

  // Which filters the item in `slot` fails, as a bit mask.
  uint32_t Failures(uint32_t slot) const {
    const Facts& facts = engine_.facts_[slot];
    uint32_t mask = 0;
    if (!request_.category.empty() && !Contains(entries_[slot].categories, category_)) mask |= kCategoryBit;
    if (!brands_.empty() && !Contains(brands_, facts.brand)) mask |= kBrandBit;
    if ((request_.min_price && (!facts.priced || facts.price < *request_.min_price)) ||
        (request_.max_price && (!facts.priced || facts.price > *request_.max_price))) {
      mask |= kPriceBit;
    }
    if (request_.in_stock && !facts.in_stock) mask |= kStockBit;
    if (!attributes_.empty()) {
      const std::span<const uint32_t> have = AttributesOf(slot);
      for (size_t a = 0; a < attributes_.size(); ++a) {
        const AttributeWanted& wanted = attributes_[a];
        const bool any = std::any_of(have.begin(), have.end(), [&](uint32_t pair) { return Contains(wanted.pairs, pair); });
        if (!any) mask |= 1u << (kFirstAttributeBit + a);
      }
    }
    return mask;
  }

  void MatchQuery() {
    const MatchOptions options{.typos = request_.typos, .relax = request_.fallback, .synonyms = synonyms_.get()};
    LexicalResult lexical = engine_.index_.Match(request_.query, options);
    response_.layout_corrected = std::move(lexical.layout_corrected);
    response_.corrections = std::move(lexical.corrections);
    candidates_.reserve(lexical.hits.size());
    for (const LexicalHit& hit : lexical.hits) candidates_.push_back({hit.key, hit.score});
    if (lexical.relaxed) {
      match_ = "relaxed";
      response_.fallback = "relaxed";
      response_.message = "No item matches every word; showing items that match " +
                          std::to_string(lexical.hits.empty() ? 0 : lexical.hits[0].matched_words) + " of " +
                          std::to_string(lexical.query_words) + ".";
    }
    query_vector_ = EmbedText(response_.layout_corrected.empty() ? request_.query : response_.layout_corrected);
    if (candidates_.empty() && request_.fallback) Nearest();
  }

  // No word in common: the titles nearest the query's embedding.
  void Nearest() {
    const std::vector<TextVector>& texts = engine_.texts_;
    std::vector<std::pair<float, uint32_t>> close;
    for (uint32_t slot = 0; slot < texts.size(); ++slot) {
      const float similarity = TextSimilarity(query_vector_, texts[slot]);
      if (similarity >= engine_.options_.nearest_min_similarity && entries_[slot].live) close.emplace_back(similarity, slot);
    }
    std::sort(close.begin(), close.end(),
              [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    for (const auto& [similarity, slot] : close) {
      if (candidates_.size() >= engine_.options_.nearest_items) break;
      if (Failures(slot) == 0 && Admits(entries_[slot].item)) candidates_.push_back({slot, similarity});
    }
    if (candidates_.empty()) return;
    match_ = "nearest";
    response_.fallback = "nearest";
    response_.message = "No item matches '" + std::string(TruncateUtf8(request_.query, 80)) +
                        "'; showing the items with the closest titles.";
  }

  // Filters, rules and facet counts. A candidate failing exactly one filter
  // counts in that filter's facet only.
  void FilterAndCount() {
    if (browse_) match_ = "browse";
    if (request_.facets) {
      brand_counts_.assign(engine_.brands_.size(), 0);
      category_counts_.assign(engine_.categories_.size(), 0);
      attribute_counts_.assign(engine_.pair_parts_.size(), 0);
    }
    for (const Candidate& candidate : candidates_) {
      const uint32_t slot = candidate.slot;
      const uint32_t mask = Failures(slot);
      if (mask != 0 && (mask & (mask - 1)) != 0) continue;  // fails two or more
      if (!Admits(entries_[slot].item)) continue;
      if (request_.facets) {
        const Facts& facts = engine_.facts_[slot];
        if ((mask == 0 || mask == kCategoryBit) && facts.leaf != Interner::kNone) ++category_counts_[facts.leaf];
        if ((mask == 0 || mask == kBrandBit) && facts.brand != Interner::kNone) ++brand_counts_[facts.brand];
        if ((mask == 0 || mask == kPriceBit) && facts.priced) prices_.push_back(facts.price);
        if ((mask == 0 || mask == kStockBit) && facts.in_stock) ++response_.in_stock_count;
        if (mask == 0 || mask >= (1u << kFirstAttributeBit)) CountAttributes(slot, mask);
      }
      if (mask == 0) results_.push_back(candidate);
    }
  }

  void CountAttributes(uint32_t slot, uint32_t mask) {
    uint32_t only = Interner::kNone;  // failing one attribute filter: that attribute only
    if (mask != 0) only = attributes_[std::countr_zero(mask) - kFirstAttributeBit].name;
    for (uint32_t pair : AttributesOf(slot)) {
      if (mask == 0 || engine_.pair_parts_[pair].first == only) ++attribute_counts_[pair];
    }
  }

  // The collaborative model's scores of `results_` for the shopper, scaled
  // so the best is 1 (0 where unknown).
  std::vector<float> Collaborative(const Profile& profile, const std::vector<int64_t>& indexes) const {
    std::vector<float> out(indexes.size(), 0.0f);
    const Recommender* model = snapshot_ != nullptr ? snapshot_->model(engine_.options_.related_model) : nullptr;
    if (model == nullptr || profile.history.empty() || engine_.options_.collaborative_weight <= 0) return out;
    std::vector<uint32_t> known;
    std::vector<size_t> position;
    for (size_t i = 0; i < indexes.size(); ++i) {
      if (indexes[i] >= 0) {
        known.push_back(static_cast<uint32_t>(indexes[i]));
        position.push_back(i);
      }
    }
    std::vector<float> scores(known.size());
    model->ScoreItems(profile.history, Relation::kAny, known, scores);
    float top = 0;
    for (float score : scores) top = std::max(top, score);
    if (top <= 0) return out;
    for (size_t k = 0; k < known.size(); ++k) out[position[k]] = std::max(0.0f, scores[k] / top);
    return out;
  }

  void Score() {
    const SearchOptions& options = engine_.options_;
    const auto* trending =
        snapshot_ != nullptr ? dynamic_cast<const TrendingRecommender*>(snapshot_->model("trending")) : nullptr;
    std::vector<int64_t> indexes(results_.size(), -1);  // in the snapshot
    if (snapshot_ != nullptr) {
      for (size_t i = 0; i < results_.size(); ++i) indexes[i] = engine_.snapshot_index_[results_[i].slot];
    }
    const Profile profile = engine_.ProfileOf(activity_);
    response_.personalized = profile.total > 0;
    const std::vector<float> collaborative =
        response_.personalized ? Collaborative(profile, indexes) : std::vector<float>(results_.size(), 0.0f);
    float best = 0;
    for (const Candidate& candidate : results_) best = std::max(best, candidate.lexical);
    scored_.reserve(results_.size());
    std::vector<RuleEffect> effects;
    for (size_t i = 0; i < results_.size(); ++i) {
      const uint32_t slot = results_[i].slot;
      const Entry& entry = entries_[slot];
      Scored s{.slot = slot, .match = match_};
      double relevance = 1.0;
      if (match_ == std::string_view("nearest")) {
        relevance = results_[i].lexical;  // the similarity itself
      } else if (!browse_) {
        s.lexical = best > 0 ? results_[i].lexical / best : 0.0;
        relevance = s.lexical + options.text_weight *
                                    std::max(0.0f, TextSimilarity(query_vector_, engine_.texts_[slot]));
      }
      s.popularity = trending != nullptr && indexes[i] >= 0 ? trending->popularity()[indexes[i]] : 0.0f;
      relevance *= 1.0 + options.popularity_weight * s.popularity;
      if (response_.personalized) Personalize(profile, slot, collaborative[i], &s);
      s.score = relevance * s.personal;
      if (scope_) {
        effects.clear();
        s.score *= scope_->Boost(entry.item, &effects);
        if (!effects.empty()) {
          s.effects = static_cast<int32_t>(effects_.size());
          effects_.push_back(effects);
        }
      }
      scored_.push_back(s);
    }
  }

  void Personalize(const Profile& profile, uint32_t slot, float collaborative, Scored* s) const {
    const SearchOptions& options = engine_.options_;
    const Item& item = entries_[slot].item;
    const Facts& facts = engine_.facts_[slot];
    const double brand = options.brand_weight * Profile::ShareOf(profile.brands, facts.brand, profile.total);
    const double category = options.category_weight * Profile::ShareOf(profile.categories, facts.leaf, profile.total);
    double price = 0;
    if (profile.has_price && item.price && *item.price > 0) {
      const double z = (std::log(*item.price) - profile.log_price) / profile.log_price_spread;
      price = options.price_weight * std::exp(-0.5 * z * z);
    }
    const double taste = options.collaborative_weight * collaborative;
    s->personal = 1.0 + brand + category + price + taste;
    const double strongest = std::max({brand, category, price, taste});
    if (strongest >= 0.05) {
      s->affinity = strongest == brand ? "brand" : strongest == category ? "category" : strongest == taste ? "taste" : "price";
    }
  }

  bool Before(const Scored& a, const Scored& b) const {
    switch (request_.sort) {
      case SearchSort::kRelevance:
        break;
      case SearchSort::kPriceAsc:
      case SearchSort::kPriceDesc: {
        const auto& pa = entries_[a.slot].item.price;
        const auto& pb = entries_[b.slot].item.price;
        if (pa.has_value() != pb.has_value()) return pa.has_value();  // unpriced last
        if (pa && *pa != *pb) return request_.sort == SearchSort::kPriceAsc ? *pa < *pb : *pa > *pb;
        break;
      }
      case SearchSort::kNewest: {
        const int64_t ca = entries_[a.slot].item.created_ms, cb = entries_[b.slot].item.created_ms;
        if (ca != cb) return ca > cb;
        break;
      }
      case SearchSort::kPopular:
        if (a.popularity != b.popularity) return a.popularity > b.popularity;
        break;
    }
    if (a.score != b.score) return a.score > b.score;
    return entries_[a.slot].item.id < entries_[b.slot].item.id;
  }

  // Sorts the head the page needs, adds related items when few match, and
  // moves pinned items to their places.
  void Order() {
    const size_t pins = scope_ ? scope_->pins().size() : 0;
    const size_t needed = std::min(scored_.size(), request_.offset + request_.n + pins);
    std::partial_sort(scored_.begin(), scored_.begin() + static_cast<ptrdiff_t>(needed), scored_.end(),
                      [this](const Scored& a, const Scored& b) { return Before(a, b); });
    if (request_.sort != SearchSort::kRelevance) return;
    if (!browse_ && request_.fallback && !scored_.empty() && scored_.size() < request_.offset + request_.n) {
      AddRelated();
    }
    for (const RuleScope::Pin& pin : scope_ ? scope_->pins() : std::vector<RuleScope::Pin>{}) {
      auto it = std::find_if(scored_.begin(), scored_.end(),
                             [&](const Scored& s) { return entries_[s.slot].item.id == pin.item_id; });
      if (it == scored_.end()) continue;  // pinned items appear only when they match
      Scored moved = *it;
      scored_.erase(it);
      if (moved.effects < 0) {
        moved.effects = static_cast<int32_t>(effects_.size());
        effects_.emplace_back();
      }
      effects_[moved.effects].push_back({.rule = &pin.rule->rule, .effect = "pinned at " + std::to_string(pin.position + 1)});
      scored_.insert(scored_.begin() + static_cast<ptrdiff_t>(std::min(pin.position, scored_.size())), moved);
    }
  }

  // When few match: what the collaborative model finds like the best matches.
  void AddRelated() {
    const Recommender* model = snapshot_ != nullptr ? snapshot_->model(engine_.options_.related_model) : nullptr;
    if (model == nullptr) return;
    std::vector<HistoryEntry> seeds;
    for (size_t i = 0; i < scored_.size() && seeds.size() < 3; ++i) {
      const int64_t index = engine_.snapshot_index_[scored_[i].slot];
      if (index >= 0) seeds.push_back({.item = static_cast<uint32_t>(index)});
    }
    if (seeds.empty()) return;
    std::vector<uint32_t> taken;
    for (const Scored& s : scored_) taken.push_back(s.slot);
    std::sort(taken.begin(), taken.end());
    auto skip = [&](uint32_t index) {
      const int32_t slot = engine_.slot_of_index_[index];
      if (slot < 0) return true;
      const auto at = static_cast<uint32_t>(slot);
      return std::binary_search(taken.begin(), taken.end(), at) || Failures(at) != 0 || !Admits(entries_[at].item);
    };
    std::vector<std::pair<uint32_t, float>> top;
    model->TopK(seeds, Relation::kAny, engine_.options_.related_items, -INFINITY, skip, &top);
    related_to_ = entries_[scored_.front().slot].item.title;
    double below = scored_.back().score;
    for (const auto& [index, model_score] : top) {
      below *= 0.99;
      scored_.push_back({.slot = static_cast<uint32_t>(engine_.slot_of_index_[index]), .score = below, .match = "related"});
    }
  }

  std::string ReasonOf(const Scored& s) const {
    const Item& item = entries_[s.slot].item;
    const std::string_view match = s.match;
    if (match == "related") return "often chosen with " + related_to_;
    if (s.affinity != nullptr) {
      const std::string_view affinity = s.affinity;
      if (affinity == "brand") return "you often choose " + item.brand;
      if (affinity == "category") return "you browse " + item.category.back();
      if (affinity == "taste") return "matches your taste";
      return "in your price range";
    }
    if (match == "nearest") return "title close to your search";
    if (match == "relaxed") return "matches some of your words";
    if (match == "exact") return "matches your search";
    return "in the selected range";
  }

  void Page() {
    response_.total = scored_.size();
    for (size_t i = request_.offset; i < scored_.size() && response_.hits.size() < request_.n; ++i) {
      const Scored& s = scored_[i];
      SearchHit hit{.item = entries_[s.slot].item, .score = s.score, .match = s.match, .reason = ReasonOf(s),
                    .lexical = s.lexical, .personal = s.personal};
      if (s.effects >= 0) {
        for (const RuleEffect& effect : effects_[s.effects]) {
          hit.rules.push_back({.id = effect.rule->id, .name = effect.rule->name, .effect = effect.effect});
        }
      }
      response_.hits.push_back(std::move(hit));
    }
  }

  // A facet from counts by id (zero: absent), the most frequent first.
  void AddFacet(std::string name, const std::vector<std::pair<uint32_t, uint32_t>>& counts, const Interner& names,
                const std::vector<uint32_t>& selected) {
    Facet out{.name = std::move(name)};
    for (const auto& [id, count] : counts) {
      if (count > 0) out.values.push_back({.value = names.name(id), .count = count, .selected = Contains(selected, id)});
    }
    std::sort(out.values.begin(), out.values.end(), [](const FacetValue& a, const FacetValue& b) {
      return a.count != b.count ? a.count > b.count : a.value < b.value;
    });
    if (out.values.size() > engine_.options_.facet_values) out.values.resize(engine_.options_.facet_values);
    if (!out.values.empty()) response_.facets.push_back(std::move(out));
  }

  static std::vector<std::pair<uint32_t, uint32_t>> Nonzero(const std::vector<uint32_t>& counts) {
    std::vector<std::pair<uint32_t, uint32_t>> out;
    for (uint32_t id = 0; id < counts.size(); ++id) {
      if (counts[id] > 0) out.emplace_back(id, counts[id]);
    }
    return out;
  }

  void WriteFacets() {
    AddFacet("category", Nonzero(category_counts_), engine_.categories_,
             request_.category.empty() ? std::vector<uint32_t>{} : std::vector<uint32_t>{category_});
    AddFacet("brand", Nonzero(brand_counts_), engine_.brands_, brands_);
    // Attributes: those on the most candidates first.
    std::map<uint32_t, std::vector<std::pair<uint32_t, uint32_t>>> by_name;  // name -> (value, count)
    const std::vector<std::string>* visible = request_.facet_attributes;
    for (uint32_t pair = 0; pair < attribute_counts_.size(); ++pair) {
      if (attribute_counts_[pair] == 0) continue;
      const auto [name, value] = engine_.pair_parts_[pair];
      if (visible != nullptr &&
          std::find(visible->begin(), visible->end(), engine_.attribute_names_.name(name)) == visible->end()) {
        continue;
      }
      by_name[name].emplace_back(value, attribute_counts_[pair]);
    }
    std::vector<std::pair<uint32_t, size_t>> by_coverage;
    for (const auto& [name, values] : by_name) {
      size_t total = 0;
      for (const auto& [value, count] : values) total += count;
      by_coverage.emplace_back(name, total);
    }
    std::sort(by_coverage.begin(), by_coverage.end(), [&](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second
                                  : engine_.attribute_names_.name(a.first) < engine_.attribute_names_.name(b.first);
    });
    if (by_coverage.size() > engine_.options_.attribute_facets) by_coverage.resize(engine_.options_.attribute_facets);
    for (const auto& [name, total] : by_coverage) {
      std::vector<uint32_t> selected;
      for (const AttributeWanted& wanted : attributes_) {
        if (wanted.name != name) continue;
        for (uint32_t pair : wanted.pairs) {
          if (pair != Interner::kNone) selected.push_back(engine_.pair_parts_[pair].second);
        }
      }
      AddFacet("attributes." + engine_.attribute_names_.name(name), by_name[name], engine_.attribute_values_, selected);
    }
    if (prices_.empty()) return;
    std::sort(prices_.begin(), prices_.end());
    response_.price_min = prices_.front();
    response_.price_max = prices_.back();
    // Up to five ranges with round bounds near the quintiles.
    std::vector<double> bounds;
    for (int q = 1; q < 5; ++q) {
      const double bound = NiceBound(prices_[prices_.size() * q / 5]);
      if (bound > prices_.front() && bound <= prices_.back() && (bounds.empty() || bound > bounds.back())) {
        bounds.push_back(bound);
      }
    }
    double from = 0;
    for (size_t b = 0; b <= bounds.size(); ++b) {
      const double to = b < bounds.size() ? bounds[b] : NiceBound(prices_.back() * 1.0000001);
      const auto lo = std::lower_bound(prices_.begin(), prices_.end(), from);
      const auto hi = b < bounds.size() ? std::lower_bound(prices_.begin(), prices_.end(), to) : prices_.end();
      response_.price_ranges.push_back({.from = from, .to = to, .count = static_cast<uint32_t>(hi - lo)});
      from = to;
    }
  }

  const SearchEngine& engine_;
  std::shared_lock<std::shared_mutex> lock_;  // first: the rest reads the engine
  const std::vector<Entry>& entries_;
  struct AttributeWanted {
    uint32_t name = Interner::kNone;
    std::vector<uint32_t> pairs;  // (name, value) pair ids
  };

  const SearchRequest& request_;
  const ShopperActivity& activity_;
  SearchResponse& response_;
  const bool browse_;
  const int64_t now_ms_;
  const std::shared_ptr<const RuleSet> rule_set_;
  std::optional<RuleScope> scope_;  // points into rule_set_; empty when no rule applies
  const std::shared_ptr<const SynonymSet> synonyms_;
  const std::shared_ptr<const Snapshot> snapshot_;  // the one engine_.snapshot_index_ maps to

  const char* match_ = "exact";
  TextVector query_vector_{};
  std::vector<Candidate> candidates_;
  std::vector<Candidate> results_;  // candidates passing every filter and rule
  std::vector<Scored> scored_;
  std::vector<std::vector<RuleEffect>> effects_;
  std::string related_to_;
  uint32_t category_ = Interner::kNone;  // wanted, as ids
  std::vector<uint32_t> brands_;
  std::vector<AttributeWanted> attributes_;
  std::vector<uint32_t> category_counts_, brand_counts_;  // by id
  std::vector<uint32_t> attribute_counts_;  // by attribute pair id
  std::vector<double> prices_;
};

Result<SearchResponse> SearchEngine::Search(const SearchRequest& request) const {
  if (request.query.size() > kMaxQueryBytes) return Status::InvalidArgument("q: at most 512 bytes");
  if (request.n < 1 || request.n > options_.max_results) {
    return Status::InvalidArgument("n: must be from 1 to " + std::to_string(options_.max_results));
  }
  if (request.offset > options_.max_offset) {
    return Status::InvalidArgument("offset: at most " + std::to_string(options_.max_offset));
  }
  if (request.attributes.size() > kMaxAttributeFilters) {
    return Status::InvalidArgument("attributes: at most 16 attribute filters");
  }
  const bool filtered = !request.category.empty() || !request.brands.empty() || request.min_price ||
                        request.max_price || request.in_stock || !request.attributes.empty();
  if (TrimWhitespace(request.query).empty() && !filtered) {
    return Status::InvalidArgument("q: required (or a filter to browse by)");
  }
  MapSnapshot();
  const ShopperActivity activity = ReadActivity(request);  // before the lock: it may read the disk
  SearchResponse response;
  response.search_id = NewSearchId();
  Run(*this, request, activity, &response).Execute();
  return response;
}

Result<SuggestResponse> SearchEngine::Suggest(std::string_view prefix, const std::string& user_id,
                                              const std::string& session_id, size_t n) const {
  if (prefix.size() > kMaxQueryBytes) return Status::InvalidArgument("q: at most 512 bytes");
  if (n < 1 || n > 20) return Status::InvalidArgument("n: must be from 1 to 20");
  SuggestResponse out;
  const std::vector<Token> tokens = Analyze(prefix);
  if (tokens.empty()) return out;
  std::string head;  // the words before the one being typed
  for (size_t i = 0; i + 1 < tokens.size(); ++i) head += tokens[i].text + " ";
  const std::string typed = head + tokens.back().text;
  {
    std::lock_guard lock(queries_mutex_);
    std::vector<std::pair<std::string_view, uint32_t>> popular;  // the queries that start with what was typed
    for (auto it = queries_.upper_bound(typed); it != queries_.end() && it->first.starts_with(typed); ++it) {
      popular.emplace_back(it->first, it->second);
    }
    std::sort(popular.begin(), popular.end(),
              [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    for (const auto& [query, count] : popular) {
      if (out.queries.size() >= n) break;
      out.queries.emplace_back(std::string(query), "popular");
    }
  }
  {
    std::shared_lock lock(mutex_);
    for (const auto& [word, documents] : index_.Complete(tokens.back().text, n * 2)) {
      if (out.queries.size() >= n) break;
      std::string completed = head + word;
      const bool seen = std::any_of(out.queries.begin(), out.queries.end(),
                                    [&](const auto& q) { return q.first == completed; });
      if (!seen) out.queries.emplace_back(std::move(completed), "catalog");
    }
  }
  SearchRequest request{.query = std::string(prefix), .user_id = user_id, .session_id = session_id, .n = 4,
                        .fallback = false};
  auto found = Search(request);
  if (!found.ok()) return found.status();
  out.items = std::move(found->hits);
  for (const Facet& facet : found->facets) {
    if (facet.name != "category") continue;
    for (size_t i = 0; i < facet.values.size() && i < 3; ++i) {
      out.categories.emplace_back(facet.values[i].value, facet.values[i].count);
    }
  }
  return out;
}

}  // namespace vitrina
