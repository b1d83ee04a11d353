#include "search/search_engine.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <random>

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

bool InStock(const Item& item) { return !item.stock || *item.stock > 0; }

// Filter values as entries keep theirs (NormalizeText).
struct NormalizedFilters {
  std::string category;
  std::vector<std::string> brands;
  std::vector<std::pair<std::string, std::vector<std::string>>> attributes;

  explicit NormalizedFilters(const SearchRequest& request) : category(NormalizeText(request.category)) {
    for (const std::string& brand : request.brands) brands.push_back(NormalizeText(brand));
    for (const AttributeFilter& filter : request.attributes) {
      attributes.emplace_back(filter.name, std::vector<std::string>());
      for (const std::string& value : filter.values) attributes.back().second.push_back(NormalizeText(value));
    }
  }
};

bool Contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

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
  std::vector<std::pair<std::string_view, float>> brands;      // normalized; views into entries_
  std::vector<std::pair<std::string_view, float>> categories;  // normalized leaf categories
  bool has_price = false;
  float log_price = 0, log_price_spread = 0;
  std::vector<HistoryEntry> history;  // for the collaborative model, newest first

  static float ShareOf(const std::vector<std::pair<std::string_view, float>>& weights, std::string_view key,
                       float total) {
    if (key.empty()) return 0;
    for (const auto& [name, weight] : weights) {
      if (name == key) return weight / total;
    }
    return 0;
  }
};

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
  if (slot >= texts_.size()) texts_.resize(slot + 1);
  texts_[slot] = EmbedText(item.title);
  entry.brand_key = NormalizeText(item.brand);
  entry.category_keys.clear();
  for (const std::string& level : item.category) entry.category_keys.push_back(NormalizeText(level));
  entry.attribute_keys.clear();
  for (const auto& [name, value] : item.attributes) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      entry.attribute_keys.emplace_back(name, NormalizeText(*text));
    } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      for (const std::string& one : *list) entry.attribute_keys.emplace_back(name, NormalizeText(one));
    }
  }
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
  free_slots_.push_back(slot);
  slot_of_.erase(it);
}

Status SearchEngine::Build() {
  std::unique_lock lock(mutex_);
  index_ = LexicalIndex();
  entries_.clear();
  texts_.clear();
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
  std::unique_lock lock(mutex_);
  bool items_changed = false;
  for (size_t i = 0; i < batch.ops().size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    switch (op.kind) {
      case WriteBatch::Kind::kUpsertItem:
        Put(batch.items()[op.index]);
        items_changed = true;
        break;
      case WriteBatch::Kind::kDeleteItem:
        if (outcomes[i] == WriteOutcome::kDeleted) Drop(batch.deleted_item_ids()[op.index]);
        items_changed = true;
        break;
      case WriteBatch::Kind::kAppendEvent: {
        const Event& event = batch.events()[op.index];
        if (event.type == EventType::kSearch && outcomes[i] == WriteOutcome::kCreated) CountQuery(event.query);
        break;
      }
      case WriteBatch::Kind::kUpsertUser:
        break;
    }
  }
  if (items_changed) index_.Commit();
}

SearchEngine::Stats SearchEngine::stats() const {
  std::shared_lock lock(mutex_);
  Stats stats;
  stats.items = slot_of_.size();
  stats.index_bytes = index_.MemoryBytes();
  stats.catalog_bytes = entries_.capacity() * sizeof(Entry) + texts_.capacity() * sizeof(TextVector);
  for (const Entry& entry : entries_) {
    const Item& item = entry.item;
    stats.catalog_bytes += item.id.capacity() + item.title.capacity() + item.description.capacity() +
                           item.brand.capacity() + item.currency.capacity();
    for (const std::string& level : item.category) stats.catalog_bytes += sizeof(level) + level.capacity();
    stats.catalog_bytes += item.attributes.size() * 96;  // map nodes with short keys and values
  }
  stats.catalog_bytes += slot_of_.size() * 64;  // the id map's nodes
  stats.popular_queries = queries_.size();
  return stats;
}

SearchEngine::Profile SearchEngine::ProfileOf(const std::string& user_id, const std::string& session_id) const {
  Profile profile;
  const std::shared_ptr<const Snapshot> snapshot = models_ != nullptr ? models_->current() : nullptr;
  std::vector<std::pair<float, float>> prices;  // (log price, weight)
  auto read = [&](ActorKind kind, const std::string& id, float factor) {
    if (id.empty()) return;
    RecentActivity activity;
    if (!store_->GetRecentActivity(kind, id, options_.history_events, &activity).ok()) return;
    float decay = 1.0f;
    for (const ActivityLine& line : activity.lines) {
      const float weight = LineWeight(line.type) * decay * factor;
      decay *= kRecencyDecay;
      if (weight <= 0 || line.item_id.empty()) continue;
      auto it = slot_of_.find(std::string(line.item_id));
      if (it == slot_of_.end()) continue;
      const Entry& entry = entries_[it->second];
      const Item& item = entry.item;
      profile.total += weight;
      auto add = [&](std::vector<std::pair<std::string_view, float>>* weights, std::string_view key) {
        if (key.empty()) return;
        for (auto& [name, sum] : *weights) {
          if (name == key) {
            sum += weight;
            return;
          }
        }
        weights->emplace_back(key, weight);
      };
      add(&profile.brands, entry.brand_key);
      if (!entry.category_keys.empty()) add(&profile.categories, entry.category_keys.back());
      if (item.price && *item.price > 0) prices.emplace_back(std::log(static_cast<float>(*item.price)), weight);
      if (snapshot != nullptr) {
        const int64_t index = snapshot->FindItem(line.item_id);
        if (index >= 0) {
          profile.history.push_back({.item = static_cast<uint32_t>(index), .weight = weight,
                                     .signal = SignalOfLine(line.type), .time_ms = line.timestamp_ms});
        }
      }
    }
  };
  read(ActorKind::kSession, session_id, options_.session_weight);
  read(ActorKind::kUser, user_id, 1.0f);
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
  Run(const SearchEngine& engine, const SearchRequest& request, SearchResponse* response)
      : engine_(engine),
        entries_(engine.entries_),
        request_(request),
        response_(*response),
        wanted_(request),
        browse_(TrimWhitespace(request.query).empty()),
        now_ms_(engine.clock_->NowMillis()),
        rule_set_(engine.rules_ != nullptr ? engine.rules_->current() : nullptr),
        synonyms_(engine.synonyms_ != nullptr ? engine.synonyms_->current() : nullptr),
        snapshot_(engine.models_ != nullptr ? engine.models_->current() : nullptr),
        lock_(engine.mutex_) {
    if (rule_set_ != nullptr) {
      response_.rules_version = rule_set_->version();
      scope_.emplace(rule_set_->InEffect("search", now_ms_), now_ms_);
      if (scope_->empty()) scope_.reset();
    }
    if (synonyms_ != nullptr) response_.synonyms_version = synonyms_->version();
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

  // Which filters an entry fails, as a bit mask.
  uint32_t Failures(const Entry& entry) const {
    const Item& item = entry.item;
    uint32_t mask = 0;
    if (!wanted_.category.empty() && !Contains(entry.category_keys, wanted_.category)) mask |= kCategoryBit;
    if (!wanted_.brands.empty() && !Contains(wanted_.brands, entry.brand_key)) mask |= kBrandBit;
    if ((request_.min_price && (!item.price || *item.price < *request_.min_price)) ||
        (request_.max_price && (!item.price || *item.price > *request_.max_price))) {
      mask |= kPriceBit;
    }
    if (request_.in_stock && !InStock(item)) mask |= kStockBit;
    for (size_t a = 0; a < wanted_.attributes.size(); ++a) {
      const auto& [name, values] = wanted_.attributes[a];
      const bool any = std::any_of(entry.attribute_keys.begin(), entry.attribute_keys.end(), [&](const auto& key) {
        return key.first == name && Contains(values, key.second);
      });
      if (!any) mask |= 1u << (kFirstAttributeBit + a);
    }
    return mask;
  }

  void MatchQuery() {
    const MatchOptions options{.typos = request_.typos, .relax = true, .synonyms = synonyms_.get()};
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
      if (Failures(entries_[slot]) == 0 && Admits(entries_[slot].item)) candidates_.push_back({slot, similarity});
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
    for (const Candidate& candidate : candidates_) {
      const Entry& entry = entries_[candidate.slot];
      const Item& item = entry.item;
      const uint32_t mask = Failures(entry);
      if (mask != 0 && (mask & (mask - 1)) != 0) continue;  // fails two or more
      if (!Admits(item)) continue;
      if (request_.facets) {
        if ((mask == 0 || mask == kCategoryBit) && !item.category.empty()) ++category_counts_[item.category.back()];
        if ((mask == 0 || mask == kBrandBit) && !item.brand.empty()) ++brand_counts_[item.brand];
        if ((mask == 0 || mask == kPriceBit) && item.price) prices_.push_back(*item.price);
        if ((mask == 0 || mask == kStockBit) && InStock(item)) ++response_.in_stock_count;
        if (mask == 0 || mask >= (1u << kFirstAttributeBit)) CountAttributes(item, mask);
      }
      if (mask == 0) results_.push_back(candidate);
    }
  }

  void CountAttributes(const Item& item, uint32_t mask) {
    for (const auto& [name, value] : item.attributes) {
      if (mask != 0) {  // only the attribute whose filter it fails
        bool own = false;
        for (size_t a = 0; a < wanted_.attributes.size(); ++a) {
          if (mask == 1u << (kFirstAttributeBit + a) && wanted_.attributes[a].first == name) own = true;
        }
        if (!own) continue;
      }
      if (const auto* text = std::get_if<std::string>(&value)) {
        if (!text->empty()) ++attribute_counts_[name][*text];
      } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
        for (const std::string& entry : *list) ++attribute_counts_[name][entry];
      }
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
      for (size_t i = 0; i < results_.size(); ++i) indexes[i] = snapshot_->FindItem(entries_[results_[i].slot].item.id);
    }
    Profile profile;
    if (request_.personalize && (!request_.user_id.empty() || !request_.session_id.empty())) {
      profile = engine_.ProfileOf(request_.user_id, request_.session_id);
    }
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
      if (response_.personalized) Personalize(profile, entry, collaborative[i], &s);
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

  void Personalize(const Profile& profile, const Entry& entry, float collaborative, Scored* s) const {
    const SearchOptions& options = engine_.options_;
    const Item& item = entry.item;
    const double brand = options.brand_weight * Profile::ShareOf(profile.brands, entry.brand_key, profile.total);
    const double category =
        entry.category_keys.empty()
            ? 0.0
            : options.category_weight * Profile::ShareOf(profile.categories, entry.category_keys.back(), profile.total);
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
      const int64_t index = snapshot_->FindItem(entries_[scored_[i].slot].item.id);
      if (index >= 0) seeds.push_back({.item = static_cast<uint32_t>(index)});
    }
    if (seeds.empty()) return;
    std::vector<uint32_t> taken;
    for (const Scored& s : scored_) taken.push_back(s.slot);
    std::sort(taken.begin(), taken.end());
    auto skip = [&](uint32_t index) {
      auto it = engine_.slot_of_.find(snapshot_->item(index).id);
      if (it == engine_.slot_of_.end()) return true;
      const Entry& entry = entries_[it->second];
      return std::binary_search(taken.begin(), taken.end(), it->second) || Failures(entry) != 0 || !Admits(entry.item);
    };
    std::vector<std::pair<uint32_t, float>> top;
    model->TopK(seeds, Relation::kAny, engine_.options_.related_items, -INFINITY, skip, &top);
    related_to_ = entries_[scored_.front().slot].item.title;
    double below = scored_.back().score;
    for (const auto& [index, model_score] : top) {
      below *= 0.99;
      scored_.push_back({.slot = engine_.slot_of_.at(snapshot_->item(index).id), .score = below, .match = "related"});
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

  void AddFacet(std::string name, const std::unordered_map<std::string_view, uint32_t>& counts,
                const std::vector<std::string>& selected) {  // selected: normalized
    Facet out{.name = std::move(name)};
    for (const auto& [value, count] : counts) out.values.push_back({.value = std::string(value), .count = count});
    std::sort(out.values.begin(), out.values.end(), [](const FacetValue& a, const FacetValue& b) {
      return a.count != b.count ? a.count > b.count : a.value < b.value;
    });
    if (out.values.size() > engine_.options_.facet_values) out.values.resize(engine_.options_.facet_values);
    for (FacetValue& value : out.values) value.selected = !selected.empty() && Contains(selected, NormalizeText(value.value));
    if (!out.values.empty()) response_.facets.push_back(std::move(out));
  }

  void WriteFacets() {
    AddFacet("category", category_counts_,
             wanted_.category.empty() ? std::vector<std::string>{} : std::vector<std::string>{wanted_.category});
    AddFacet("brand", brand_counts_, wanted_.brands);
    std::vector<std::pair<std::string_view, size_t>> by_coverage;
    for (const auto& [name, values] : attribute_counts_) {
      size_t total = 0;
      for (const auto& [value, count] : values) total += count;
      by_coverage.emplace_back(name, total);
    }
    std::sort(by_coverage.begin(), by_coverage.end(),
              [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    if (by_coverage.size() > engine_.options_.attribute_facets) by_coverage.resize(engine_.options_.attribute_facets);
    for (const auto& [name, total] : by_coverage) {
      std::vector<std::string> selected;
      for (const auto& [filter_name, values] : wanted_.attributes) {
        if (filter_name == name) selected = values;
      }
      AddFacet("attributes." + std::string(name), attribute_counts_.at(name), selected);
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
  const std::vector<Entry>& entries_;
  const SearchRequest& request_;
  SearchResponse& response_;
  const NormalizedFilters wanted_;
  const bool browse_;
  const int64_t now_ms_;
  const std::shared_ptr<const RuleSet> rule_set_;
  std::optional<RuleScope> scope_;  // points into rule_set_; empty when no rule applies
  const std::shared_ptr<const SynonymSet> synonyms_;
  const std::shared_ptr<const Snapshot> snapshot_;
  std::shared_lock<std::shared_mutex> lock_;

  const char* match_ = "exact";
  TextVector query_vector_{};
  std::vector<Candidate> candidates_;
  std::vector<Candidate> results_;  // candidates passing every filter and rule
  std::vector<Scored> scored_;
  std::vector<std::vector<RuleEffect>> effects_;
  std::string related_to_;
  std::unordered_map<std::string_view, uint32_t> category_counts_, brand_counts_;
  std::unordered_map<std::string_view, std::unordered_map<std::string_view, uint32_t>> attribute_counts_;
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
  SearchResponse response;
  response.search_id = NewSearchId();
  Run(*this, request, &response).Execute();
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
    std::shared_lock lock(mutex_);
    std::vector<std::pair<std::string_view, uint32_t>> popular;
    for (const auto& [query, count] : queries_) {
      if (query.size() > typed.size() && query.starts_with(typed)) popular.emplace_back(query, count);
    }
    std::sort(popular.begin(), popular.end(),
              [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    for (const auto& [query, count] : popular) {
      if (out.queries.size() >= n) break;
      out.queries.emplace_back(std::string(query), "popular");
    }
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
