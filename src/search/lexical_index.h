// The lexical half of product search: an in-memory inverted index over the
// catalog, ranked by BM25F over title, category, brand, attributes and
// description. A query word matches its word forms (Snowball stems), its
// transliteration (Cyrillic titles found by Latin queries), words within
// its allowed typos (FuzzyDictionary), and, for the last word, words it
// begins (search as you type). A query in the wrong keyboard layout is
// retried in the other one; when no item has every word, items with the
// most of them are returned and the result says it was relaxed.
//
// Not thread-safe: writers hold the caller's lock; Search is const and may
// run in parallel with other searches.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "schema/types.h"
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
};

struct LexicalHit {
  std::string_view item_id;  // valid until the index changes
  float score = 0;
  uint32_t matched_words = 0;  // query words the item has
};

struct LexicalResult {
  std::vector<LexicalHit> hits;  // best first
  size_t total = 0;              // items that matched, before the limit
  size_t query_words = 0;        // words searched for (stop words left out unless all are)
  bool relaxed = false;          // no item had every word: items with the most of them
  std::string layout_corrected;  // the query retyped in the other keyboard layout, when that was searched
};

class LexicalIndex {
 public:
  explicit LexicalIndex(LexicalOptions options = {}) : options_(options) {}

  // Adds or replaces the item's document (an inactive item is removed).
  void Upsert(const Item& item);
  void Remove(std::string_view item_id);
  // Makes the words of the items upserted since the last call findable by
  // typo and prefix (exact words and word forms are findable at once).
  void Commit();

  size_t size() const { return live_; }
  LexicalResult Search(std::string_view query, size_t limit) const;

 private:
  struct Posting {
    uint32_t doc;
    std::array<uint8_t, kSearchFieldCount> tf;
  };
  struct Doc {
    std::string item_id;
    std::array<uint16_t, kSearchFieldCount> length{};
    bool live = true;
  };
  // One query word's ways to match: (term, weight).
  using Alternatives = std::vector<std::pair<uint32_t, float>>;

  uint32_t TermId(const std::string& term);
  void AddWord(std::string_view word, uint32_t term);
  Alternatives AlternativesOf(const std::string& text, const std::string& stem, bool last) const;
  LexicalResult Run(const std::vector<Alternatives>& words, size_t limit) const;
  void Compact();

  const LexicalOptions options_;
  std::vector<Doc> docs_;
  std::unordered_map<std::string, uint32_t> doc_of_;   // live item id -> doc
  std::unordered_map<std::string, uint32_t> term_of_;  // stem (or transliterated stem) -> term
  std::vector<std::vector<Posting>> postings_;         // by term; may hold dead docs until Compact
  std::array<double, kSearchFieldCount> length_sum_{};  // over live docs
  size_t live_ = 0, dead_ = 0;
  FuzzyDictionary words_;              // surface words seen in documents
  std::vector<uint32_t> word_term_;    // by word id: its stem's term
};

}  // namespace vitrina
