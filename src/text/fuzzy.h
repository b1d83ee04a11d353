// Typo tolerance for search: the terms of a vocabulary within a few edits
// of a word, found through a deletion index (every term filed under itself
// and its variants with one or two letters deleted; a word looks up its own
// deletions, so nothing is scanned), and the terms that start with a prefix
// (search as you type). Distances count letters (code points), not bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "text/analyzer.h"

namespace vitrina {

// Edits (insertion, deletion, substitution, swap of neighbours) between `a`
// and `b`, or max_edits + 1 when there are more than max_edits.
int EditDistance(std::u32string_view a, std::u32string_view b, int max_edits);

class FuzzyDictionary {
 public:
  // Edits a word of this many letters may have: 0 below 4, 1 from 4, 2 from 8.
  static int AllowedEdits(size_t letters);
  // Edits between a query word and a term: none for words below 4 letters,
  // else as the longer of the two allows ("telefone" -> "telephone": 2).
  static int AllowedEdits(size_t word_letters, size_t term_letters);

  // Adds a term (normalized text) and returns its id; the same term, the same id.
  // Lookups see it after the next Build.
  uint32_t Add(std::string_view term);
  // Indexes the terms added so far.
  void Build();

  size_t size() const { return terms_.size(); }
  // Bytes of heap held (estimated).
  size_t MemoryBytes() const;
  const std::string& term(uint32_t id) const { return terms_[id]; }

  // Terms within AllowedEdits(word, term) of `word` (the word itself when
  // it is a term), as (id, edits), fewest edits first, then by term.
  void Similar(std::string_view word, std::vector<std::pair<uint32_t, int>>* out) const;

  // Up to `limit` terms that start with `prefix` (the prefix itself when it
  // is a term), in byte order.
  void WithPrefix(std::string_view prefix, size_t limit, std::vector<uint32_t>* out) const;

 private:
  std::vector<std::string> terms_;
  std::vector<std::u32string> letters_;               // terms_ as code points
  std::vector<std::pair<uint64_t, uint32_t>> index_;  // (hash of a term or a deletion of it, term), sorted
  std::vector<uint32_t> sorted_;                      // term ids in byte order of the terms
  std::unordered_map<std::string, uint32_t> ids_;     // term -> id
  size_t indexed_ = 0;                                // terms Build has indexed
};

}  // namespace vitrina
