// The lexical half of product search: an in-memory inverted index over the
// catalog, ranked by BM25F over title, category, brand, attributes and
// description. A query word matches its word forms (Snowball stems), its
// synonyms, its transliteration (Cyrillic titles found by Latin queries),
// words within its allowed typos (FuzzyDictionary), and, for the last word,
// words it begins (search as you type). A word the catalog does not know,
// typed in the wrong keyboard layout, is read in the other one. When no
// item has every word, items with the most of them are returned and the
// result says it was relaxed.
//
// Documents are identified by the caller's keys (small dense integers, e.g.
// slots of a catalog table). Not thread-safe: writers hold the caller's
// lock; Match and Search are const and may run in parallel with each other.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "schema/types.h"
#include "text/analyzer.h"
#include "text/fuzzy.h"

namespace vitrina {

enum SearchField : uint8_t { kTitle = 0, kCategory, kBrand, kAttributes, kDescription, kSearchFieldCount };

struct LexicalOptions {
  std::array<float, kSearchFieldCount> weight = {3.0f, 2.0f, 2.0f, 1.0f, 1.0f};
  std::array<float, kSearchFieldCount> b = {0.5f, 0.3f, 0.3f, 0.75f, 0.75f};  // length normalization per field
  float k1 = 1.2f;
  size_t prefix_words = 20;       // words the last query word may begin, at most
  float prefix_weight = 0.8f;     // a word the query word begins counts this much of an exact match
  float typo_weight = 0.6f;       // ... a word one edit away (squared for two)
  float synonym_weight = 0.9f;    // ... a synonym
  float transliteration_weight = 0.9f;  // ... the Latin spelling of a Cyrillic word
};

// Query-time word equivalences (synonyms.h fills one from the shop's list).
class SynonymLookup {
 public:
  virtual ~SynonymLookup() = default;
  // The stems equivalent to `stem` (not `stem` itself), or null.
  virtual const std::vector<std::string>* Find(std::string_view stem) const = 0;
};

struct LexicalHit {
  uint32_t key = 0;  // the document's key
  float score = 0;
  uint32_t matched_words = 0;  // query words the item has
};

// A query word that matched only through a typo: the closest word that
// the catalog has.
struct Correction {
  std::string word;
  std::string corrected;
};

struct LexicalResult {
  std::vector<LexicalHit> hits;  // Search: best first, at most its limit; Match: every match, unordered
  size_t total = 0;              // items that matched
  size_t query_words = 0;        // words searched for (stop words left out unless all are)
  bool relaxed = false;          // no item had every word: items with the most of them
  std::string layout_corrected;  // the query's words as searched, when some were retyped in the other layout
  std::vector<Correction> corrections;
};

struct MatchOptions {
  bool typos = true;      // fuzzy matches and the layout retry
  bool relax = true;      // when no item has every word, those with the most
  const SynonymLookup* synonyms = nullptr;
};

class LexicalIndex {
 public:
  explicit LexicalIndex(LexicalOptions options = {}) : options_(options) {}

  // Adds or replaces the document of `key` (an inactive item is removed).
  void Upsert(uint32_t key, const Item& item);
  void Remove(uint32_t key);
  // Makes the words of the documents upserted since the last call findable
  // by typo and prefix (exact words and word forms are findable at once).
  void Commit();

  size_t size() const { return live_; }
  // Bytes of heap the index holds (estimated).
  size_t MemoryBytes() const;

  // Every matching document, unordered, with its score.
  LexicalResult Match(std::string_view query, const MatchOptions& options = {}) const;
  // The best `limit` matches, best first (ties: smaller key).
  LexicalResult Search(std::string_view query, size_t limit, const MatchOptions& options = {}) const;

  // Up to `limit` words of the catalog that begin with the normalized
  // `prefix`, the most frequent first, as (word, documents).
  std::vector<std::pair<std::string, uint32_t>> Complete(std::string_view prefix, size_t limit) const;

 private:
  static constexpr uint32_t kNoDoc = UINT32_MAX;
  using FieldCounts = std::array<uint8_t, kSearchFieldCount>;
  struct Posting {
    uint32_t doc;
    float tf;  // the term's counts per field, weighted and length-normalized (NormalizedTf)
  };
  struct Doc {
    uint32_t key = 0;
    std::array<uint16_t, kSearchFieldCount> length{};
    bool live = true;
  };
  // One query word's ways to match: (term, weight).
  using Alternatives = std::vector<std::pair<uint32_t, float>>;

  uint32_t TermId(const std::string& term);
  uint32_t AddWord(std::string_view word, uint32_t term);  // its word id
  Alternatives AlternativesOf(const std::string& text, const std::string& stem, bool last, const MatchOptions& options,
                              std::vector<Correction>* corrections) const;
  LexicalResult Run(const std::vector<Alternatives>& words, bool relax) const;
  // Whether the catalog has the token's word (or one within its typos, or,
  // for the word being typed, one it begins).
  bool Known(const Token& token, bool last) const;
  void Compact();
  // BM25F's term frequency of a document: sum over fields of weight x count
  // / (1 - b + b x length / average length), with the averages of norm_average_.
  float NormalizedTf(const FieldCounts& counts, const Doc& doc) const;
  // Recomputes every posting's tf with the current average lengths.
  void Renormalize();

  LexicalOptions options_;
  std::vector<Doc> docs_;
  std::vector<uint32_t> doc_of_key_;                   // key -> live doc, or kNoDoc
  std::unordered_map<std::string, uint32_t> term_of_;  // stem (or transliterated stem) -> term
  std::vector<std::vector<Posting>> postings_;         // by term; may hold dead docs until Compact
  std::vector<std::vector<FieldCounts>> counts_;       // by term, beside postings_: the raw counts (for Renormalize)
  std::vector<uint8_t> alive_;                         // by doc: searches read this, not docs_ (it stays in cache)
  std::array<double, kSearchFieldCount> norm_average_{};  // the average lengths postings' tf were computed with
  std::array<double, kSearchFieldCount> length_sum_{};  // over live docs
  size_t live_ = 0, dead_ = 0;
  FuzzyDictionary words_;              // surface words seen in documents
  std::vector<uint32_t> word_term_;    // by word id: its stem's term
  std::vector<uint32_t> word_docs_;    // by word id: documents that had it when added (for completion order)
};

}  // namespace vitrina
