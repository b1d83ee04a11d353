// vitrina bench search-quality and search-latency (docs/BENCHMARKS.md).
//
// search-quality labels queries built from the Online Retail catalog and
// measures the search engine's NDCG@10 and zero-result rate per kind of
// query, with its parts switched off one at a time.
//
// search-latency generates a catalog of Russian and English titles, builds
// the index, and times searches on several threads.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "apps/commands.h"
#include "common/byte_source.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "ingest/importer.h"
#include "schema/json.h"
#include "search/search_engine.h"
#include "text/analyzer.h"
#include "text/fuzzy.h"

namespace vitrina {
namespace {

constexpr int64_t kMillisPerDay = 86'400'000;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The content words of a title: normalized, not stop words, letters only,
// 3 letters or more. What a query set's judgments compare.
std::vector<std::string> ContentWords(std::string_view title) {
  std::vector<std::string> words;
  for (const Token& token : Analyze(title)) {
    if (token.stop || token.script == Script::kOther || ToCodePoints(token.text).size() < 3) continue;
    if (std::find(words.begin(), words.end(), token.text) == words.end()) words.push_back(token.text);
  }
  return words;
}

// A snapshot with popularity (trending) and taste (ALS) trained on `store`,
// in a temporary directory removed again; null (message printed) on failure.
std::unique_ptr<ModelManager> TrainBenchSnapshot(const Store* store, const Clock* clock, const std::string& name) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))).string();
  ModelManagerOptions options;
  options.dir = dir;
  options.train.models = {"trending", "als"};
  options.train.eval_days = 0;
  auto models = std::make_unique<ModelManager>(store, clock, options);
  Status status = models->Open();
  if (status.ok()) status = models->TrainNow(nullptr).status();
  std::filesystem::remove_all(dir);
  if (!status.ok()) {
    std::fprintf(stderr, "vitrina: training: %s\n", status.message().c_str());
    return nullptr;
  }
  return models;
}

// ---------------------------------------------------------------- quality

struct QualityFlags {
  std::string dataset;
  int test_days = 28;
  size_t per_kind = 300;
  uint64_t seed = 42;
  std::string queries_out;
};

struct LabelledQuery {
  std::string kind;
  std::string text;
  std::string user_id;                   // personal queries: whose
  std::map<std::string, int> relevant;   // item id -> grade (1 or 2)
};

// The shop's synonyms for the benchmark, as a shop would enter them.
const std::vector<std::vector<std::string>> kBenchSynonyms = {
    {"mug", "cup"},        {"christmas", "xmas"}, {"childrens", "kids"},     {"colour", "color"},
    {"grey", "gray"},      {"rabbit", "bunny"},   {"decoration", "ornament"}, {"cushion", "pillow"},
    {"cutlery", "flatware"}, {"jewellery", "jewelry"}, {"doormat", "mat"},   {"bag", "tote"},
};

class QuerySetBuilder {
 public:
  QuerySetBuilder(const Store& store, uint64_t seed) : rng_(seed) {
    (void)store.ScanItems([&](const Item& item) {
      if (!item.active) return true;
      ids_.push_back(item.id);
      words_.push_back(ContentWords(item.title));
      for (const std::string& word : words_.back()) vocabulary_[word].push_back(ids_.size() - 1);
      return true;
    });
    for (const auto& group : kBenchSynonyms) {
      for (const std::string& a : group) {
        for (const std::string& b : group) {
          if (a != b) synonyms_[a].push_back(b);
        }
      }
    }
  }

  // Items having every word (each word given as its alternatives).
  std::vector<size_t> Having(const std::vector<std::vector<std::string>>& words) const {
    std::vector<size_t> out;
    for (size_t i = 0; i < ids_.size(); ++i) {
      const auto& have = words_[i];
      const bool all = std::all_of(words.begin(), words.end(), [&](const std::vector<std::string>& alternatives) {
        return std::any_of(alternatives.begin(), alternatives.end(), [&](const std::string& word) {
          return std::find(have.begin(), have.end(), word) != have.end();
        });
      });
      if (all) out.push_back(i);
    }
    return out;
  }

  std::vector<LabelledQuery> Build(size_t per_kind) {
    std::vector<LabelledQuery> out;
    const std::vector<std::string> kinds = {"exact", "partial", "typo1", "typo2", "layout", "plural", "synonym"};
    for (const std::string& kind : kinds) {
      size_t made = 0;
      for (int attempt = 0; attempt < 200000 && made < per_kind; ++attempt) {
        const size_t target = std::uniform_int_distribution<size_t>(0, ids_.size() - 1)(rng_);
        std::optional<LabelledQuery> query = Make(kind, target);
        if (!query) continue;
        out.push_back(std::move(*query));
        ++made;
      }
    }
    return out;
  }

 private:
  std::optional<LabelledQuery> Make(const std::string& kind, size_t target) {
    const std::vector<std::string>& title = words_[target];
    if (title.size() < 2) return std::nullopt;
    LabelledQuery query{.kind = kind};
    std::vector<std::vector<std::string>> judged;  // what relevant items must have
    if (kind == "exact") {
      for (const std::string& word : title) judged.push_back({word});
      for (const std::string& word : title) query.text += (query.text.empty() ? "" : " ") + word;
      for (size_t item : Having(judged)) query.relevant[ids_[item]] = 1;
      query.relevant[ids_[target]] = 2;
      return query;
    }
    // Two words of the title next to each other: what a shopper types.
    const size_t at = std::uniform_int_distribution<size_t>(0, title.size() - 2)(rng_);
    std::vector<std::string> words = {title[at], title[at + 1]};
    for (const std::string& word : words) judged.push_back({word});
    const size_t which = std::uniform_int_distribution<size_t>(0, 1)(rng_);
    std::string& changed = words[which];
    const std::u32string letters = ToCodePoints(changed);
    if (kind == "typo1" || kind == "typo2") {
      const int edits = kind == "typo1" ? 1 : 2;
      if (FuzzyDictionary::AllowedEdits(letters.size()) < edits) return std::nullopt;
      std::string typo = Misspell(changed, edits);
      if (typo.empty() || vocabulary_.contains(typo)) return std::nullopt;
      changed = typo;
    } else if (kind == "plural") {
      std::string other = changed.ends_with("s") ? changed.substr(0, changed.size() - 1) : changed + "s";
      if (letters.size() < 4 || vocabulary_.contains(other)) return std::nullopt;  // both forms in the catalog: no test
      changed = other;
    } else if (kind == "synonym") {
      auto it = synonyms_.find(changed);
      if (it == synonyms_.end()) {
        auto other = synonyms_.find(words[1 - which]);
        if (other == synonyms_.end()) return std::nullopt;
        judged[1 - which] = {words[1 - which]};
        for (const std::string& s : other->second) judged[1 - which].push_back(s);
        words[1 - which] = other->second[0];
      } else {
        for (const std::string& s : it->second) judged[which].push_back(s);
        changed = it->second[0];
      }
    }
    std::string text = words[0] + " " + words[1];
    if (kind == "layout") text = SwitchKeyboardLayout(text);
    query.text = text;
    const std::vector<size_t> relevant = Having(judged);
    if (relevant.empty()) return std::nullopt;
    for (size_t item : relevant) query.relevant[ids_[item]] = 1;
    return query;
  }

  // The word with `edits` random edits (letters a-z), different each time.
  std::string Misspell(const std::string& word, int edits) {
    std::string out = word;
    for (int e = 0; e < edits; ++e) {
      const int op = std::uniform_int_distribution<int>(0, 3)(rng_);
      const size_t at = std::uniform_int_distribution<size_t>(1, out.size() - 2)(rng_);  // keep the first and last letters
      const char letter = static_cast<char>('a' + std::uniform_int_distribution<int>(0, 25)(rng_));
      switch (op) {
        case 0: out[at] = letter; break;
        case 1: out.erase(at, 1); break;
        case 2: out.insert(at, 1, letter); break;
        default: std::swap(out[at], out[at + 1 < out.size() ? at + 1 : at - 1]); break;
      }
    }
    const int distance = EditDistance(ToCodePoints(word), ToCodePoints(out), 3);
    return distance == edits ? out : std::string();
  }

  std::mt19937_64 rng_;
  std::vector<std::string> ids_;
  std::vector<std::vector<std::string>> words_;
  std::map<std::string, std::vector<size_t>> vocabulary_;
  std::map<std::string, std::vector<std::string>> synonyms_;
};

// NDCG@k with graded gains (2^grade - 1).
double Ndcg(const std::vector<std::string>& ranked, const std::map<std::string, int>& relevant, size_t k) {
  double dcg = 0;
  for (size_t i = 0; i < ranked.size() && i < k; ++i) {
    auto it = relevant.find(ranked[i]);
    if (it != relevant.end()) dcg += (std::pow(2.0, it->second) - 1) / std::log2(static_cast<double>(i) + 2);
  }
  std::vector<int> grades;
  for (const auto& [id, grade] : relevant) grades.push_back(grade);
  std::sort(grades.rbegin(), grades.rend());
  double ideal = 0;
  for (size_t i = 0; i < grades.size() && i < k; ++i) ideal += (std::pow(2.0, grades[i]) - 1) / std::log2(static_cast<double>(i) + 2);
  return ideal > 0 ? dcg / ideal : 0;
}

int RunSearchQuality(const QualityFlags& flags) {
  SetupLogging("warn");
  const auto start = std::chrono::steady_clock::now();
  SystemClock system_clock;
  std::unique_ptr<Store> all = NewMemoryStore(&system_clock);
  auto source = OpenByteSource(flags.dataset);
  if (!source.ok()) {
    std::fprintf(stderr, "vitrina: %s\n", source.status().message().c_str());
    return kExitFailure;
  }
  ImportOptions import;
  import.format = ImportFormat::kOnlineRetail;
  auto report = ImportFile(all.get(), source->get(), import, &system_clock, nullptr);
  if (!report.ok()) {
    std::fprintf(stderr, "vitrina: %s\n", report.status().message().c_str());
    return kExitFailure;
  }
  // Temporal split: the shop as it was `test_days` before the last event;
  // the purchases after that are what personal queries must find.
  int64_t last = 0;
  (void)all->ScanEvents([&](const Event& event) {
    last = std::max(last, event.timestamp_ms);
    return true;
  });
  const int64_t cutoff = last - flags.test_days * kMillisPerDay;
  ManualClock clock(cutoff);
  std::unique_ptr<Store> before = NewMemoryStore(&clock);
  WriteBatch batch;
  std::vector<WriteOutcome> outcomes;
  auto flush = [&] {
    if (batch.size() < 5000) return;
    (void)before->Write(&batch, &outcomes);
    batch.Clear();
  };
  (void)all->ScanItems([&](const Item& item) {
    batch.UpsertItem(item);
    flush();
    return true;
  });
  std::map<std::string, std::set<std::string>> bought_after;  // user -> items
  (void)all->ScanEvents([&](const Event& event) {
    if (event.timestamp_ms < cutoff) {
      batch.AppendEvent(event);
      flush();
    } else if (event.type == EventType::kPurchase && !event.user_id.empty()) {
      for (const EventLine& line : event.lines) bought_after[event.user_id].insert(line.item_id);
    }
    return true;
  });
  (void)before->Write(&batch, &outcomes);
  all.reset();

  // A snapshot trained on the history (trending for popularity, ALS for taste).
  std::unique_ptr<ModelManager> models = TrainBenchSnapshot(before.get(), &clock, "vitrina-search-quality");
  if (models == nullptr) return kExitFailure;
  SynonymBook synonyms(before.get(), &clock);
  for (const auto& group : kBenchSynonyms) {
    SynonymGroup entry{.terms = group};
    if (group == std::vector<std::string>{"bag", "tote"}) entry = {.terms = {"bag"}, .input = "tote"};  // one way
    if (auto created = synonyms.Create(entry); !created.ok()) {
      std::fprintf(stderr, "vitrina: synonyms: %s\n", created.status().message().c_str());
      return kExitFailure;
    }
  }
  SearchEngine engine(before.get(), models.get(), nullptr, &synonyms, &clock);
  SearchEngine plain(before.get(), models.get(), nullptr, nullptr, &clock);  // without synonyms
  SearchOptions lexical_only;
  lexical_only.text_weight = 0;
  SearchEngine unfused(before.get(), models.get(), nullptr, &synonyms, &clock, lexical_only);  // no embedding fusion
  (void)engine.Build();
  (void)plain.Build();
  (void)unfused.Build();

  QuerySetBuilder builder(*before, flags.seed);
  std::vector<LabelledQuery> queries = builder.Build(flags.per_kind);
  // Personal queries: a shopper with a history searches for the head noun
  // (the title's last word) of something they bought later, among at least
  // five items with that word.
  std::mt19937_64 rng(flags.seed);
  std::vector<std::pair<std::string, std::string>> bought;  // (user, item)
  for (const auto& [user, items] : bought_after) {
    RecentActivity activity;
    if (!before->GetRecentActivity(ActorKind::kUser, user, 5, &activity).ok() || activity.lines.size() < 5) continue;
    for (const std::string& item : items) bought.emplace_back(user, item);
  }
  std::shuffle(bought.begin(), bought.end(), rng);
  size_t personal = 0;
  for (const auto& [user, item_id] : bought) {
    if (personal >= flags.per_kind) break;
    auto item = before->GetItem(item_id);
    if (!item.ok()) continue;
    const std::vector<std::string> words = ContentWords(item->title);
    if (words.empty()) continue;
    const std::string& noun = words.back();
    const std::vector<size_t> having = builder.Having({{noun}});
    if (having.size() < 5) continue;
    LabelledQuery query{.kind = "personal", .text = noun, .user_id = user};
    for (const std::string& other : bought_after[user]) {
      auto other_item = before->GetItem(other);
      if (!other_item.ok()) continue;
      const std::vector<std::string> other_words = ContentWords(other_item->title);
      if (std::find(other_words.begin(), other_words.end(), noun) != other_words.end()) query.relevant[other] = 1;
    }
    queries.push_back(std::move(query));
    ++personal;
  }
  if (!flags.queries_out.empty()) {
    std::ofstream out(flags.queries_out);
    for (const LabelledQuery& query : queries) {
      out << query.kind << "\t" << query.text << "\t" << query.user_id << "\t";
      bool first = true;
      for (const auto& [id, grade] : query.relevant) {
        out << (first ? "" : ",") << id << ":" << grade;
        first = false;
      }
      out << "\n";
    }
  }

  struct Variant {
    std::string name;
    const SearchEngine* engine;
    bool typos, personalize, fallback;
  };
  const std::vector<Variant> variants = {
      {"full", &engine, true, true, true},
      {"no typo tolerance", &engine, false, true, true},
      {"no personalization", &engine, true, false, true},
      {"no synonyms", &plain, true, true, true},
      {"no fallback", &engine, true, true, false},
      {"no embedding fusion", &unfused, true, true, true},
      {"plain BM25 (none of these)", &plain, false, false, false},
  };
  std::vector<std::string> kinds;
  for (const LabelledQuery& query : queries) {
    if (std::find(kinds.begin(), kinds.end(), query.kind) == kinds.end()) kinds.push_back(query.kind);
  }
  std::printf("Online Retail catalog: %zu items; %zu labelled queries; snapshot trained on the %s before the last %d days\n",
              engine.stats().items, queries.size(), "events", flags.test_days);
  std::printf("%-28s %-9s %6s %9s %10s\n", "variant", "kind", "n", "NDCG@10", "zero-rate");
  for (const Variant& variant : variants) {
    double all_ndcg = 0, all_zero = 0;
    size_t all_count = 0;
    for (const std::string& kind : kinds) {
      double ndcg = 0, zero = 0;
      size_t count = 0;
      for (const LabelledQuery& query : queries) {
        if (query.kind != kind) continue;
        SearchRequest request{.query = query.text, .user_id = query.user_id, .n = 10, .personalize = variant.personalize,
                              .typos = variant.typos, .facets = false, .fallback = variant.fallback};
        auto result = variant.engine->Search(request);
        if (!result.ok()) {
          std::fprintf(stderr, "vitrina: query '%s': %s\n", query.text.c_str(), result.status().message().c_str());
          return kExitFailure;
        }
        std::vector<std::string> ranked;
        for (const SearchHit& hit : result->hits) ranked.push_back(hit.item.id);
        ndcg += Ndcg(ranked, query.relevant, 10);
        zero += ranked.empty() ? 1 : 0;
        ++count;
      }
      std::printf("%-28s %-9s %6zu %9.4f %10.4f\n", variant.name.c_str(), kind.c_str(), count, ndcg / count, zero / count);
      if (kind != "personal") {
        all_ndcg += ndcg;
        all_zero += zero;
        all_count += count;
      }
    }
    std::printf("%-28s %-9s %6zu %9.4f %10.4f\n", variant.name.c_str(), "all-but-personal", all_count,
                all_ndcg / all_count, all_zero / all_count);
  }
  std::printf("took %.1f s\n", SecondsSince(start));
  return kExitOk;
}

// ---------------------------------------------------------------- latency

struct LatencyFlags {
  size_t items = 100000;
  size_t queries = 20000;
  int threads = 2;
  uint64_t seed = 7;
  std::string write;  // write the catalog, the sessions' events and the searches as request paths here instead
};

struct ProductType {
  const char* ru;
  const char* en;
  const char* department_ru;
  const char* department_en;
  double price;
};

const ProductType kTypes[] = {
    {"наушники", "headphones", "Электроника", "Electronics", 80},   {"смартфон", "smartphone", "Электроника", "Electronics", 400},
    {"ноутбук", "laptop", "Электроника", "Electronics", 900},        {"планшет", "tablet", "Электроника", "Electronics", 350},
    {"колонка", "speaker", "Электроника", "Electronics", 60},        {"чехол", "case", "Аксессуары", "Accessories", 15},
    {"зарядка", "charger", "Аксессуары", "Accessories", 20},         {"кабель", "cable", "Аксессуары", "Accessories", 8},
    {"часы", "watch", "Аксессуары", "Accessories", 150},             {"рюкзак", "backpack", "Аксессуары", "Accessories", 45},
    {"кроссовки", "sneakers", "Обувь", "Shoes", 90},                 {"ботинки", "boots", "Обувь", "Shoes", 120},
    {"сандалии", "sandals", "Обувь", "Shoes", 40},                   {"футболка", "t-shirt", "Одежда", "Clothing", 20},
    {"куртка", "jacket", "Одежда", "Clothing", 130},                 {"джинсы", "jeans", "Одежда", "Clothing", 60},
    {"платье", "dress", "Одежда", "Clothing", 70},                   {"свитер", "sweater", "Одежда", "Clothing", 55},
    {"кружка", "mug", "Дом", "Home", 10},                            {"сковорода", "frying pan", "Дом", "Home", 35},
    {"подушка", "pillow", "Дом", "Home", 25},                        {"одеяло", "blanket", "Дом", "Home", 45},
    {"лампа", "lamp", "Дом", "Home", 30},                            {"чайник", "kettle", "Дом", "Home", 40},
    {"пылесос", "vacuum cleaner", "Техника", "Appliances", 200},     {"кофемашина", "coffee machine", "Техника", "Appliances", 300},
    {"утюг", "iron", "Техника", "Appliances", 35},                   {"фен", "hair dryer", "Техника", "Appliances", 30},
    {"велосипед", "bicycle", "Спорт", "Sports", 400},                {"гантели", "dumbbells", "Спорт", "Sports", 50},
    {"палатка", "tent", "Спорт", "Sports", 150},                     {"мяч", "ball", "Спорт", "Sports", 20},
};
const char* kColorsRu[] = {"черный", "белый", "красный", "синий", "зеленый", "серый", "розовый", "желтый"};
const char* kColorsEn[] = {"black", "white", "red", "blue", "green", "grey", "pink", "yellow"};
const char* kQualitiesRu[] = {"беспроводные", "компактный", "легкий", "прочный", "детский", "женский", "мужской", "складной",
                              "водонепроницаемый", "профессиональный"};
const char* kQualitiesEn[] = {"wireless", "compact", "lightweight", "durable", "kids", "women's", "men's", "foldable",
                              "waterproof", "professional"};
const char* kBrands[] = {"Sony",    "Samsung", "Apple",  "Xiaomi", "JBL",    "Philips", "Bosch",  "Nike",   "Adidas",
                         "Puma",    "Reebok",  "Asics",  "Lenovo", "Asus",   "Acer",    "Huawei", "Honor",  "Tefal",
                         "Redmond", "Polaris", "Vitek",  "Braun",  "Dyson",  "Karcher", "Garmin", "Casio",  "Zara",
                         "Levi's",  "Columbia", "Salomon", "Merrell", "Ikea", "Hoff",   "Stern",  "Forward", "Torres",
                         "Demix",   "Outventure", "Trek", "Giant"};

struct SyntheticCatalog {
  std::vector<Item> items;
};

SyntheticCatalog MakeCatalog(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  SyntheticCatalog out;
  out.items.reserve(count);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  std::lognormal_distribution<double> price_noise(0.0, 0.4);
  for (size_t i = 0; i < count; ++i) {
    const ProductType& type = kTypes[pick(std::size(kTypes))];
    const bool russian = i % 2 == 0;
    const size_t color = pick(std::size(kColorsRu));
    const size_t quality = pick(std::size(kQualitiesRu));
    const char* brand = kBrands[pick(std::size(kBrands))];
    const std::string model = std::string(1, static_cast<char>('A' + pick(26))) + std::to_string(100 + pick(900));
    Item item;
    item.id = "p" + std::to_string(i);
    if (russian) {
      item.title = std::string(kQualitiesRu[quality]) + " " + type.ru + " " + brand + " " + model + " " + kColorsRu[color];
      item.category = {type.department_ru, type.ru};
      item.description = std::string(type.ru) + " " + brand + ": " + kQualitiesRu[pick(std::size(kQualitiesRu))] +
                         ", цвет " + kColorsRu[color] + ", гарантия год, доставка по всей стране";
    } else {
      item.title = std::string(brand) + " " + kQualitiesEn[quality] + " " + type.en + " " + model + " " + kColorsEn[color];
      item.category = {type.department_en, type.en};
      item.description = std::string(type.en) + " by " + brand + ": " + kQualitiesEn[pick(std::size(kQualitiesEn))] +
                         ", colour " + kColorsEn[color] + ", one-year warranty, free delivery";
    }
    item.title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(item.title[0])));
    item.brand = brand;
    item.price = std::round(type.price * price_noise(rng) * 100) / 100;
    item.stock = static_cast<int64_t>(pick(20));
    item.attributes = {{"color", std::string(russian ? kColorsRu[color] : kColorsEn[color])}};
    item.created_ms = 1'700'000'000'000 + static_cast<int64_t>(i) * 1000;
    out.items.push_back(std::move(item));
  }
  return out;
}

// A mix of what shoppers type: product types, with a brand or a colour,
// misspelled, in the wrong layout, half-typed, a brand and model; some
// with filters, some by shoppers with a history.
std::vector<SearchRequest> MakeQueries(const SyntheticCatalog& catalog, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  std::vector<SearchRequest> out;
  for (size_t i = 0; i < count; ++i) {
    const ProductType& type = kTypes[pick(std::size(kTypes))];
    const bool russian = pick(2) == 0;
    const std::string noun = russian ? type.ru : type.en;
    const char* brand = kBrands[pick(std::size(kBrands))];
    SearchRequest request;
    switch (pick(8)) {
      case 0: request.query = noun; break;
      case 1: request.query = noun + " " + brand; break;
      case 2: request.query = noun + " " + (russian ? kColorsRu[pick(8)] : kColorsEn[pick(8)]); break;
      case 3: {  // a typo: one letter dropped
        std::string typo = noun;
        if (typo.size() > 8) typo.erase(typo.size() / 2 & ~size_t{1}, russian ? 2 : 1);
        request.query = typo;
        break;
      }
      case 4: request.query = russian ? SwitchKeyboardLayout(noun) : noun; break;
      case 5: request.query = noun.substr(0, russian ? 8 : 4); break;  // being typed
      case 6: {
        const Item& item = catalog.items[pick(catalog.items.size())];
        request.query = item.brand + " " + item.title.substr(item.title.rfind(' ', item.title.rfind(' ') - 1) + 1);
        break;
      }
      default: request.query = std::string(russian ? kQualitiesRu[pick(10)] : kQualitiesEn[pick(10)]) + " " + noun; break;
    }
    if (pick(5) == 0) request.brands = {brand};
    if (pick(5) == 0) request.max_price = type.price;
    if (pick(3) == 0) request.session_id = "s" + std::to_string(pick(1000));
    out.push_back(std::move(request));
  }
  return out;
}

// 1,000 sessions that viewed 10 items each (the searches' shoppers).
std::vector<Event> SessionViews(const SyntheticCatalog& catalog, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Event> events;
  for (int s = 0; s < 1000; ++s) {
    for (int v = 0; v < 10; ++v) {
      events.push_back({.type = EventType::kView, .session_id = "s" + std::to_string(s),
                        .item_id = catalog.items[rng() % catalog.items.size()].id,
                        .timestamp_ms = 1'749'000'000'000 + v});
    }
  }
  return events;
}

// GET /v1/search?... for a request.
std::string SearchPath(const SearchRequest& request) {
  std::string path = "/v1/search?q=" + PercentEncode(request.query);
  if (!request.brands.empty()) path += "&brand=" + PercentEncode(request.brands[0]);
  if (request.max_price) path += "&max_price=" + std::to_string(*request.max_price);
  if (!request.session_id.empty()) path += "&session_id=" + request.session_id;
  return path;
}

int WriteSearchFiles(const LatencyFlags& flags, const SyntheticCatalog& catalog) {
  std::filesystem::create_directories(flags.write);
  std::ofstream items(flags.write + "/items.jsonl"), events(flags.write + "/events.jsonl"),
      paths(flags.write + "/search.paths");
  std::string line;
  for (const Item& item : catalog.items) {
    line.clear();
    JsonWriter w(&line);
    WriteItemJson(item, &w);
    items << line << "\n";
  }
  for (const Event& event : SessionViews(catalog, flags.seed + 1)) {
    line.clear();
    JsonWriter w(&line);
    WriteEventJson(event, &w);
    events << line << "\n";
  }
  for (const SearchRequest& request : MakeQueries(catalog, flags.queries, flags.seed + 2)) paths << SearchPath(request) << "\n";
  items.close();
  events.close();
  paths.close();
  if (!items || !events || !paths) {
    std::fprintf(stderr, "vitrina: cannot write into %s\n", flags.write.c_str());
    return kExitFailure;
  }
  std::printf("wrote %s/items.jsonl, events.jsonl, search.paths\n", flags.write.c_str());
  return kExitOk;
}

int RunSearchLatency(const LatencyFlags& flags) {
  SetupLogging("warn");
  ManualClock clock(1'750'000'000'000);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  SyntheticCatalog catalog = MakeCatalog(flags.items, flags.seed);
  if (!flags.write.empty()) return WriteSearchFiles(flags, catalog);
  {
    WriteBatch batch;
    std::vector<WriteOutcome> outcomes;
    for (const Item& item : catalog.items) {
      batch.UpsertItem(item);
      if (batch.size() == 5000) {
        (void)store->Write(&batch, &outcomes);
        batch.Clear();
      }
    }
    for (Event& event : SessionViews(catalog, flags.seed + 1)) batch.AppendEvent(std::move(event));
    (void)store->Write(&batch, &outcomes);
  }
  // A snapshot (popularity and ALS over the sessions' views), as a shop has:
  // searches then look up popularity, the shopper's taste and related items.
  std::unique_ptr<ModelManager> models = TrainBenchSnapshot(store.get(), &clock, "vitrina-search-latency");
  if (models == nullptr) return kExitFailure;
  SearchEngine engine(store.get(), models.get(), nullptr, nullptr, &clock);
  const size_t rss_before = ResidentBytes();
  auto start = std::chrono::steady_clock::now();
  if (Status status = engine.Build(); !status.ok()) {
    std::fprintf(stderr, "vitrina: %s\n", status.message().c_str());
    return kExitFailure;
  }
  const double build_s = SecondsSince(start);
  const size_t rss_after = ResidentBytes();
  const SearchEngine::Stats stats = engine.stats();
  std::printf("catalog: %zu items (half Russian, half English titles)\n", stats.items);
  std::printf("build: %.2f s, %.0f items/s on one thread\n", build_s, static_cast<double>(stats.items) / build_s);
  std::printf("memory: index %.0f B/item, catalog copy %.0f B/item (estimated); resident growth %.0f B/item\n",
              static_cast<double>(stats.index_bytes) / static_cast<double>(stats.items),
              static_cast<double>(stats.catalog_bytes) / static_cast<double>(stats.items),
              static_cast<double>(rss_after - rss_before) / static_cast<double>(stats.items));
  // Updates as the ingestor applies them: batches of 1,000 changed items.
  start = std::chrono::steady_clock::now();
  size_t updated = 0;
  for (size_t first = 0; first + 1000 <= std::min<size_t>(catalog.items.size(), 20000); first += 1000) {
    WriteBatch batch;
    for (size_t i = first; i < first + 1000; ++i) {
      Item item = catalog.items[i];
      item.price = *item.price * 0.9;
      batch.UpsertItem(std::move(item));
    }
    std::vector<WriteOutcome> outcomes(batch.size(), WriteOutcome::kUpdated);
    engine.Apply(batch, outcomes);
    updated += 1000;
  }
  std::printf("updates: %zu items in batches of 1,000: %.0f items/s\n", updated,
              static_cast<double>(updated) / SecondsSince(start));

  const std::vector<SearchRequest> queries = MakeQueries(catalog, flags.queries, flags.seed + 2);
  for (size_t i = 0; i < std::min<size_t>(500, queries.size()); ++i) (void)engine.Search(queries[i]);  // warm up
  std::vector<double> latencies(queries.size());
  std::atomic<size_t> next{0}, empty{0}, total_hits{0};
  start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < flags.threads; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < queries.size(); i = next++) {
        const auto begin = std::chrono::steady_clock::now();
        auto result = engine.Search(queries[i]);
        latencies[i] = SecondsSince(begin) * 1000;
        if (!result.ok() || result->hits.empty()) ++empty;
        if (result.ok()) total_hits += result->total;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double wall = SecondsSince(start);
  std::vector<double> sorted = latencies;
  std::sort(sorted.begin(), sorted.end());
  auto at = [&](double q) { return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()))]; };
  std::printf("searches: %zu on %d threads, %.0f per second; latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              queries.size(), flags.threads, static_cast<double>(queries.size()) / wall, at(0.5), at(0.9), at(0.99),
              sorted.back());
  std::printf("mean matches per query %.0f; queries with no result %.2f%%\n",
              static_cast<double>(total_hits) / static_cast<double>(queries.size()),
              100.0 * static_cast<double>(empty) / static_cast<double>(queries.size()));
  return kExitOk;
}

}  // namespace

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

std::vector<Command> AddSearchBenchCommands(CLI::App* bench) {
  auto quality = std::make_shared<QualityFlags>();
  CLI::App* quality_command = bench->add_subcommand(
      "search-quality", "NDCG@10 and zero-result rate of search on queries labelled from the Online Retail catalog");
  quality_command->add_option("--dataset", quality->dataset, "Online Retail CSV (.csv or .csv.zst)")->required();
  quality_command->add_option("--test-days", quality->test_days, "Days at the end whose purchases personal queries find")
      ->check(CLI::Range(1, 365));
  quality_command->add_option("--per-kind", quality->per_kind, "Queries of each kind")->check(CLI::Range(1, 100000));
  quality_command->add_option("--seed", quality->seed, "Random seed of the query set");
  quality_command->add_option("--queries-out", quality->queries_out, "Write the labelled queries here (TSV)");

  auto latency = std::make_shared<LatencyFlags>();
  CLI::App* latency_command = bench->add_subcommand(
      "search-latency", "Index build rate, memory and search latency on a synthetic Russian and English catalog");
  latency_command->add_option("--items", latency->items, "Catalog items")->check(CLI::Range(100, 10'000'000));
  latency_command->add_option("--queries", latency->queries, "Timed searches")->check(CLI::Range(1, 10'000'000));
  latency_command->add_option("--threads", latency->threads, "Threads searching at once")->check(CLI::Range(1, 256));
  latency_command->add_option("--seed", latency->seed, "Random seed");
  latency_command->add_option("--write", latency->write,
                              "Only write items.jsonl, events.jsonl and search.paths (GET paths) into this directory");
  return {{quality_command, [quality] { return RunSearchQuality(*quality); }},
          {latency_command, [latency] { return RunSearchLatency(*latency); }}};
}

}  // namespace vitrina
