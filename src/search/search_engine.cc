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
  entry.text = EmbedText(item.title);
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
  free_slots_.push_back(slot);
  slot_of_.erase(it);
}

Status SearchEngine::Build() {
  std::unique_lock lock(mutex_);
  index_ = LexicalIndex();
  entries_.clear();
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
  stats.catalog_bytes = entries_.capacity() * sizeof(Entry);
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
  const bool browse = TrimWhitespace(request.query).empty();
  const bool filtered = !request.category.empty() || !request.brands.empty() || request.min_price ||
                        request.max_price || request.in_stock || !request.attributes.empty();
  if (browse && !filtered) return Status::InvalidArgument("q: required (or a filter to browse by)");

  const int64_t now = clock_->NowMillis();
  SearchResponse response;
  response.search_id = NewSearchId();
  const std::shared_ptr<const RuleSet> rule_set = rules_ != nullptr ? rules_->current() : nullptr;
  std::optional<RuleScope> scope;  // points into rule_set
  if (rule_set != nullptr) {
    response.rules_version = rule_set->version();
    scope.emplace(rule_set->InEffect("search", now), now);
    if (scope->empty()) scope.reset();
  }
  const std::shared_ptr<const SynonymSet> synonyms = synonyms_ != nullptr ? synonyms_->current() : nullptr;
  if (synonyms != nullptr) response.synonyms_version = synonyms->version();
  const std::shared_ptr<const Snapshot> snapshot = models_ != nullptr ? models_->current() : nullptr;

  std::shared_lock lock(mutex_);

  // Which filters an entry fails, as a mask.
  const NormalizedFilters wanted(request);
  auto failures = [&](const Entry& entry) {
    const Item& item = entry.item;
    uint32_t mask = 0;
    if (!wanted.category.empty() && !Contains(entry.category_keys, wanted.category)) mask |= kCategoryBit;
    if (!wanted.brands.empty() && !Contains(wanted.brands, entry.brand_key)) mask |= kBrandBit;
    if ((request.min_price && (!item.price || *item.price < *request.min_price)) ||
        (request.max_price && (!item.price || *item.price > *request.max_price))) {
      mask |= kPriceBit;
    }
    if (request.in_stock && !InStock(item)) mask |= kStockBit;
    for (size_t a = 0; a < wanted.attributes.size(); ++a) {
      const auto& [name, values] = wanted.attributes[a];
      const bool any = std::any_of(entry.attribute_keys.begin(), entry.attribute_keys.end(), [&](const auto& key) {
        return key.first == name && Contains(values, key.second);
      });
      if (!any) mask |= 1u << (kFirstAttributeBit + a);
    }
    return mask;
  };

  // Candidates: (slot, lexical score, match kind).
  struct Candidate {
    uint32_t slot;
    float lexical;
  };
  std::vector<Candidate> candidates;
  std::string match_kind = "browse";
  if (!browse) {
    MatchOptions match{.typos = request.typos, .relax = true, .synonyms = synonyms.get()};
    LexicalResult lexical = index_.Match(request.query, match);
    response.layout_corrected = std::move(lexical.layout_corrected);
    response.corrections = std::move(lexical.corrections);
    candidates.reserve(lexical.hits.size());
    for (const LexicalHit& hit : lexical.hits) candidates.push_back({hit.key, hit.score});
    match_kind = "exact";
    if (lexical.relaxed) {
      match_kind = "relaxed";
      response.fallback = "relaxed";
      response.message = "No item matches every word; showing items that match " +
                         std::to_string(lexical.hits.empty() ? 0 : lexical.hits[0].matched_words) + " of " +
                         std::to_string(lexical.query_words) + ".";
    }
    if (candidates.empty() && request.fallback) {
      // No word in common: the titles nearest the query's embedding.
      const TextVector query = EmbedText(!response.layout_corrected.empty() ? response.layout_corrected : request.query);
      std::vector<std::pair<float, uint32_t>> nearest;
      for (uint32_t slot = 0; slot < entries_.size(); ++slot) {
        const Entry& entry = entries_[slot];
        if (!entry.live || failures(entry) != 0) continue;
        const float similarity = TextSimilarity(query, entry.text);
        if (similarity < options_.nearest_min_similarity) continue;
        if (scope && !scope->Admits(entry.item)) continue;
        nearest.emplace_back(similarity, slot);
      }
      const size_t keep = std::min(options_.nearest_items, nearest.size());
      std::partial_sort(nearest.begin(), nearest.begin() + static_cast<ptrdiff_t>(keep), nearest.end(),
                        [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
      nearest.resize(keep);
      for (auto [similarity, slot] : nearest) candidates.push_back({slot, similarity});
      if (!candidates.empty()) {
        match_kind = "nearest";
        response.fallback = "nearest";
        response.message = "No item matches '" + std::string(TruncateUtf8(request.query, 80)) +
                           "'; showing the items with the closest titles.";
      }
    }
  } else {
    for (uint32_t slot = 0; slot < entries_.size(); ++slot) {
      if (entries_[slot].live) candidates.push_back({slot, 0.0f});
    }
  }

  // Filters, rules and facet counts. A candidate failing exactly one filter
  // counts in that filter's facet only.
  std::vector<Candidate> results;
  std::unordered_map<std::string_view, uint32_t> category_counts, brand_counts;
  std::unordered_map<std::string_view, std::unordered_map<std::string_view, uint32_t>> attribute_counts;
  std::vector<double> prices;
  auto count_attributes = [&](const Item& item, uint32_t mask) {
    for (const auto& [name, value] : item.attributes) {
      if (mask != 0) {  // only the attribute whose filter it fails
        bool own = false;
        for (size_t a = 0; a < request.attributes.size(); ++a) {
          if (mask == 1u << (kFirstAttributeBit + a) && request.attributes[a].name == name) own = true;
        }
        if (!own) continue;
      }
      if (const auto* text = std::get_if<std::string>(&value)) {
        if (!text->empty()) ++attribute_counts[name][*text];
      } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
        for (const std::string& entry : *list) ++attribute_counts[name][entry];
      }
    }
  };
  for (const Candidate& candidate : candidates) {
    const Entry& entry = entries_[candidate.slot];
    const Item& item = entry.item;
    if (scope && !scope->Admits(item)) continue;
    const uint32_t mask = failures(entry);
    if (mask != 0 && (mask & (mask - 1)) != 0) continue;  // fails two or more
    if (request.facets) {
      if ((mask == 0 || mask == kCategoryBit) && !item.category.empty()) ++category_counts[item.category.back()];
      if ((mask == 0 || mask == kBrandBit) && !item.brand.empty()) ++brand_counts[item.brand];
      if ((mask == 0 || mask == kPriceBit) && item.price) prices.push_back(*item.price);
      if ((mask == 0 || mask == kStockBit) && InStock(item)) ++response.in_stock_count;
      if (mask == 0 || mask >= (1u << kFirstAttributeBit)) count_attributes(item, mask);
    }
    if (mask == 0) results.push_back(candidate);
  }

  // Scores.
  const TrendingRecommender* trending =
      snapshot != nullptr ? dynamic_cast<const TrendingRecommender*>(snapshot->model("trending")) : nullptr;
  std::vector<int64_t> snapshot_index(results.size(), -1);
  if (snapshot != nullptr) {
    for (size_t i = 0; i < results.size(); ++i) snapshot_index[i] = snapshot->FindItem(entries_[results[i].slot].item.id);
  }
  Profile profile;
  if (request.personalize && (!request.user_id.empty() || !request.session_id.empty())) {
    profile = ProfileOf(request.user_id, request.session_id);
  }
  response.personalized = profile.total > 0;
  std::vector<float> collaborative(results.size(), 0.0f);
  if (response.personalized && !profile.history.empty() && options_.collaborative_weight > 0) {
    const Recommender* model = snapshot->model(options_.related_model);
    if (model != nullptr) {
      std::vector<uint32_t> known;
      std::vector<size_t> position;
      for (size_t i = 0; i < results.size(); ++i) {
        if (snapshot_index[i] >= 0) {
          known.push_back(static_cast<uint32_t>(snapshot_index[i]));
          position.push_back(i);
        }
      }
      std::vector<float> scores(known.size());
      model->ScoreItems(profile.history, Relation::kAny, known, scores);
      float top = 0;
      for (float score : scores) top = std::max(top, score);
      if (top > 0) {
        for (size_t k = 0; k < known.size(); ++k) collaborative[position[k]] = std::max(0.0f, scores[k] / top);
      }
    }
  }
  float best_lexical = 0;
  for (const Candidate& candidate : results) best_lexical = std::max(best_lexical, candidate.lexical);
  const TextVector query_vector = browse ? TextVector{} : EmbedText(request.query);
  struct Scored {
    uint32_t slot;
    double score;
    double lexical;
    double personal;
    double popularity;
    std::string_view reason;  // which affinity mattered most
    std::vector<RuleEffect> effects;
    std::string match;
  };
  std::vector<Scored> scored;
  scored.reserve(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    const Entry& entry = entries_[results[i].slot];
    const Item& item = entry.item;
    Scored s{.slot = results[i].slot, .match = match_kind};
    s.lexical = best_lexical > 0 ? results[i].lexical / best_lexical : 0.0;
    double relevance = browse ? 1.0 : s.lexical + options_.text_weight * std::max(0.0f, TextSimilarity(query_vector, entry.text));
    if (match_kind == "nearest") relevance = results[i].lexical;  // the similarity itself
    s.popularity = trending != nullptr && snapshot_index[i] >= 0 ? trending->popularity()[snapshot_index[i]] : 0.0;
    relevance *= 1.0 + options_.popularity_weight * s.popularity;
    s.personal = 1.0;
    if (response.personalized) {
      const double brand = options_.brand_weight * Profile::ShareOf(profile.brands, entry.brand_key, profile.total);
      const double category =
          entry.category_keys.empty()
              ? 0.0
              : options_.category_weight * Profile::ShareOf(profile.categories, entry.category_keys.back(), profile.total);
      double price = 0;
      if (profile.has_price && item.price && *item.price > 0) {
        const double z = (std::log(*item.price) - profile.log_price) / profile.log_price_spread;
        price = options_.price_weight * std::exp(-0.5 * z * z);
      }
      const double collab = options_.collaborative_weight * collaborative[i];
      s.personal = 1.0 + brand + category + price + collab;
      const double strongest = std::max({brand, category, price, collab});
      if (strongest >= 0.05) {
        s.reason = strongest == brand ? "brand" : strongest == category ? "category" : strongest == collab ? "taste" : "price";
      }
    }
    s.score = relevance * s.personal;
    if (scope) s.score *= scope->Boost(item, &s.effects);
    scored.push_back(std::move(s));
  }
  // Related items: when few match, what the collaborative model finds like the best matches.
  auto by_score = [&](const Scored& a, const Scored& b) {
    return a.score != b.score ? a.score > b.score : entries_[a.slot].item.id < entries_[b.slot].item.id;
  };
  std::sort(scored.begin(), scored.end(), by_score);
  std::string related_to;
  if (!browse && request.fallback && request.sort == SearchSort::kRelevance && !scored.empty() &&
      scored.size() < request.offset + request.n && snapshot != nullptr) {
    const Recommender* model = snapshot->model(options_.related_model);
    std::vector<HistoryEntry> seeds;
    for (size_t i = 0; i < scored.size() && seeds.size() < 3; ++i) {
      const int64_t index = snapshot->FindItem(entries_[scored[i].slot].item.id);
      if (index >= 0) seeds.push_back({.item = static_cast<uint32_t>(index)});
    }
    if (model != nullptr && !seeds.empty()) {
      std::vector<uint32_t> taken;
      for (const Scored& s : scored) taken.push_back(s.slot);
      std::sort(taken.begin(), taken.end());
      auto skip = [&](uint32_t index) {
        auto it = slot_of_.find(snapshot->item(index).id);
        if (it == slot_of_.end()) return true;
        const Entry& entry = entries_[it->second];
        return std::binary_search(taken.begin(), taken.end(), it->second) || failures(entry) != 0 ||
               (scope && !scope->Admits(entry.item));
      };
      std::vector<std::pair<uint32_t, float>> top;
      model->TopK(seeds, Relation::kAny, options_.related_items, -INFINITY, skip, &top);
      double below = scored.back().score;
      related_to = entries_[scored.front().slot].item.title;
      for (const auto& [index, model_score] : top) {
        const uint32_t slot = slot_of_.at(snapshot->item(index).id);
        below *= 0.99;
        scored.push_back({.slot = slot, .score = below, .lexical = 0, .personal = 1, .popularity = 0,
                          .match = "related"});
      }
    }
  }
  switch (request.sort) {
    case SearchSort::kRelevance:
      break;
    case SearchSort::kPriceAsc:
    case SearchSort::kPriceDesc: {
      const bool ascending = request.sort == SearchSort::kPriceAsc;
      std::stable_sort(scored.begin(), scored.end(), [&](const Scored& a, const Scored& b) {
        const auto& pa = entries_[a.slot].item.price;
        const auto& pb = entries_[b.slot].item.price;
        if (pa.has_value() != pb.has_value()) return pa.has_value();  // unpriced last
        if (!pa || *pa == *pb) return false;
        return ascending ? *pa < *pb : *pa > *pb;
      });
      break;
    }
    case SearchSort::kNewest:
      std::stable_sort(scored.begin(), scored.end(), [&](const Scored& a, const Scored& b) {
        return entries_[a.slot].item.created_ms > entries_[b.slot].item.created_ms;
      });
      break;
    case SearchSort::kPopular:
      std::stable_sort(scored.begin(), scored.end(),
                       [](const Scored& a, const Scored& b) { return a.popularity > b.popularity; });
      break;
  }
  // Pins move matching items to their positions (relevance order only).
  std::vector<std::vector<RuleEffect>> pin_effects;
  if (scope && request.sort == SearchSort::kRelevance) {
    for (const RuleScope::Pin& pin : scope->pins()) {
      auto it = std::find_if(scored.begin(), scored.end(),
                             [&](const Scored& s) { return entries_[s.slot].item.id == pin.item_id; });
      if (it == scored.end()) continue;  // pinned items appear only when they match
      Scored moved = std::move(*it);
      scored.erase(it);
      moved.effects.push_back({.rule = &pin.rule->rule, .effect = "pinned at " + std::to_string(pin.position + 1)});
      scored.insert(scored.begin() + static_cast<ptrdiff_t>(std::min(pin.position, scored.size())), std::move(moved));
    }
  }

  response.total = scored.size();
  for (size_t i = request.offset; i < scored.size() && response.hits.size() < request.n; ++i) {
    Scored& s = scored[i];
    const Item& item = entries_[s.slot].item;
    SearchHit hit{.item = item, .score = s.score, .match = s.match, .lexical = s.lexical, .personal = s.personal};
    if (s.match == "related") {
      hit.reason = "often chosen with " + related_to;
    } else if (s.reason == "brand") {
      hit.reason = "you often choose " + item.brand;
    } else if (s.reason == "category") {
      hit.reason = "you browse " + item.category.back();
    } else if (s.reason == "taste") {
      hit.reason = "matches your taste";
    } else if (s.reason == "price") {
      hit.reason = "in your price range";
    } else if (s.match == "nearest") {
      hit.reason = "title close to your search";
    } else if (s.match == "relaxed") {
      hit.reason = "matches some of your words";
    } else if (s.match == "exact") {
      hit.reason = "matches your search";
    } else {
      hit.reason = "in the selected range";
    }
    for (const RuleEffect& effect : s.effects) {
      hit.rules.push_back({.id = effect.rule->id, .name = effect.rule->name, .effect = effect.effect});
    }
    response.hits.push_back(std::move(hit));
  }

  // Facets.
  if (request.facets) {
    auto facet = [&](std::string name, const std::unordered_map<std::string_view, uint32_t>& counts,
                     const std::vector<std::string>& selected) {  // selected: normalized
      Facet out{.name = std::move(name)};
      for (const auto& [value, count] : counts) {
        out.values.push_back({.value = std::string(value), .count = count});
      }
      std::sort(out.values.begin(), out.values.end(), [](const FacetValue& a, const FacetValue& b) {
        return a.count != b.count ? a.count > b.count : a.value < b.value;
      });
      if (out.values.size() > options_.facet_values) out.values.resize(options_.facet_values);
      for (FacetValue& value : out.values) value.selected = !selected.empty() && Contains(selected, NormalizeText(value.value));
      if (!out.values.empty()) response.facets.push_back(std::move(out));
    };
    facet("category", category_counts,
          wanted.category.empty() ? std::vector<std::string>{} : std::vector<std::string>{wanted.category});
    facet("brand", brand_counts, wanted.brands);
    std::vector<std::pair<std::string_view, size_t>> by_coverage;
    for (const auto& [name, values] : attribute_counts) {
      size_t total = 0;
      for (const auto& [value, count] : values) total += count;
      by_coverage.emplace_back(name, total);
    }
    std::sort(by_coverage.begin(), by_coverage.end(),
              [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    if (by_coverage.size() > options_.attribute_facets) by_coverage.resize(options_.attribute_facets);
    for (const auto& [name, total] : by_coverage) {
      std::vector<std::string> selected;
      for (const auto& [filter_name, values] : wanted.attributes) {
        if (filter_name == name) selected = values;
      }
      facet("attributes." + std::string(name), attribute_counts.at(name), selected);
    }
    if (!prices.empty()) {
      std::sort(prices.begin(), prices.end());
      response.price_min = prices.front();
      response.price_max = prices.back();
      // Up to five ranges with round bounds near the quintiles.
      std::vector<double> bounds;
      for (int q = 1; q < 5; ++q) {
        const double bound = NiceBound(prices[prices.size() * q / 5]);
        if (bound > prices.front() && bound <= prices.back() && (bounds.empty() || bound > bounds.back())) {
          bounds.push_back(bound);
        }
      }
      double from = 0;
      for (size_t b = 0; b <= bounds.size(); ++b) {
        const double to = b < bounds.size() ? bounds[b] : NiceBound(prices.back() * 1.0000001);
        const auto lo = std::lower_bound(prices.begin(), prices.end(), from);
        const auto hi = b < bounds.size() ? std::lower_bound(prices.begin(), prices.end(), to) : prices.end();
        response.price_ranges.push_back({.from = from, .to = to, .count = static_cast<uint32_t>(hi - lo)});
        from = to;
      }
    }
  }
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
