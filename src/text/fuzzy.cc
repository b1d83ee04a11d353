#include "text/fuzzy.h"

#include <algorithm>
#include <cstddef>
#include <functional>

namespace vitrina {
namespace {

uint64_t HashOf(std::u32string_view letters) { return std::hash<std::u32string_view>{}(letters); }

// How many letters a term of this length may lose in the index: as many as
// a word of its length may have edits. A longer word spends edits on the
// difference in length (which costs the term no deletion), and a shorter
// word is allowed no more edits than a word of the term's length.
int IndexDepth(size_t letters) { return FuzzyDictionary::AllowedEdits(letters); }

// Hashes of `letters` and of its variants with up to `depth` letters deleted.
void Deletions(std::u32string_view letters, int depth, std::vector<uint64_t>* out) {
  out->push_back(HashOf(letters));
  if (depth == 0 || letters.empty()) return;
  std::u32string shorter;
  for (size_t i = 0; i < letters.size(); ++i) {
    if (i > 0 && letters[i] == letters[i - 1]) continue;  // deleting either of a double letter gives the same
    shorter.assign(letters.substr(0, i));
    shorter.append(letters.substr(i + 1));
    Deletions(shorter, depth - 1, out);
  }
}

}  // namespace

int EditDistance(std::u32string_view a, std::u32string_view b, int max_edits) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  if (std::abs(n - m) > max_edits) return max_edits + 1;
  // Three rows of the optimal-string-alignment table.
  thread_local std::vector<int> before, previous, current;
  before.assign(m + 1, 0);
  previous.resize(m + 1);
  current.resize(m + 1);
  for (int j = 0; j <= m; ++j) previous[j] = j;
  for (int i = 1; i <= n; ++i) {
    current[0] = i;
    int row_min = current[0];
    for (int j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int value = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) value = std::min(value, before[j - 2] + 1);
      current[j] = value;
      row_min = std::min(row_min, value);
    }
    if (row_min > max_edits) return max_edits + 1;
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return std::min(previous[m], max_edits + 1);
}

int FuzzyDictionary::AllowedEdits(size_t letters) { return letters >= 8 ? 2 : letters >= 4 ? 1 : 0; }

int FuzzyDictionary::AllowedEdits(size_t word_letters, size_t term_letters) {
  return word_letters < 4 ? 0 : AllowedEdits(std::max(word_letters, term_letters));
}

uint32_t FuzzyDictionary::Add(std::string_view term) {
  auto [it, inserted] = ids_.try_emplace(std::string(term), static_cast<uint32_t>(terms_.size()));
  if (inserted) {
    terms_.emplace_back(term);
    letters_.push_back(ToCodePoints(term));
  }
  return it->second;
}

void FuzzyDictionary::Build() {
  if (indexed_ == terms_.size()) return;
  // The new terms' entries are sorted on their own and merged in, so that
  // adding a few terms to a large dictionary costs a merge, not a sort.
  const size_t old_entries = index_.size();
  std::vector<uint64_t> hashes;
  for (size_t id = indexed_; id < terms_.size(); ++id) {
    hashes.clear();
    Deletions(letters_[id], IndexDepth(letters_[id].size()), &hashes);
    std::sort(hashes.begin(), hashes.end());
    hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
    for (uint64_t hash : hashes) index_.emplace_back(hash, static_cast<uint32_t>(id));
  }
  std::sort(index_.begin() + static_cast<ptrdiff_t>(old_entries), index_.end());
  std::inplace_merge(index_.begin(), index_.begin() + static_cast<ptrdiff_t>(old_entries), index_.end());
  const size_t old_sorted = sorted_.size();
  for (auto id = static_cast<uint32_t>(indexed_); id < terms_.size(); ++id) sorted_.push_back(id);
  auto by_term = [&](uint32_t a, uint32_t b) { return terms_[a] < terms_[b]; };
  std::sort(sorted_.begin() + static_cast<ptrdiff_t>(old_sorted), sorted_.end(), by_term);
  std::inplace_merge(sorted_.begin(), sorted_.begin() + static_cast<ptrdiff_t>(old_sorted), sorted_.end(), by_term);
  indexed_ = terms_.size();
}

size_t FuzzyDictionary::MemoryBytes() const {
  size_t bytes = index_.capacity() * sizeof(index_[0]) + sorted_.capacity() * sizeof(uint32_t);
  for (size_t i = 0; i < terms_.size(); ++i) {
    bytes += sizeof(std::string) + terms_[i].capacity() + 1 + sizeof(std::u32string) +
             (letters_[i].capacity() + 1) * sizeof(char32_t);
    bytes += terms_[i].size() + 1 + sizeof(std::string) + 24;  // the id map's copy and node
  }
  return bytes;
}

void FuzzyDictionary::Similar(std::string_view word, std::vector<std::pair<uint32_t, int>>* out) const {
  out->clear();
  const std::u32string letters = ToCodePoints(word);
  // The word's deletions as deep as its own allowance; a term's are as deep
  // as its own. That finds every pair within the pair's allowance (the
  // longer word's): with lengths apart, the shorter side needs fewer.
  const int allowed = AllowedEdits(letters.size());
  thread_local std::vector<uint64_t> hashes;
  thread_local std::vector<uint32_t> candidates;
  hashes.clear();
  candidates.clear();
  Deletions(letters, allowed, &hashes);
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  for (uint64_t hash : hashes) {
    auto it = std::lower_bound(index_.begin(), index_.end(), std::make_pair(hash, uint32_t{0}));
    for (; it != index_.end() && it->first == hash; ++it) candidates.push_back(it->second);
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (uint32_t id : candidates) {
    const int pair_allowed = AllowedEdits(letters.size(), letters_[id].size());
    const int edits = EditDistance(letters, letters_[id], pair_allowed);
    if (edits <= pair_allowed) out->emplace_back(id, edits);
  }
  std::sort(out->begin(), out->end(), [&](const auto& a, const auto& b) {
    return a.second != b.second ? a.second < b.second : terms_[a.first] < terms_[b.first];
  });
}

void FuzzyDictionary::WithPrefix(std::string_view prefix, size_t limit, std::vector<uint32_t>* out) const {
  out->clear();
  auto it = std::lower_bound(sorted_.begin(), sorted_.end(), prefix,
                             [&](uint32_t id, std::string_view p) { return std::string_view(terms_[id]) < p; });
  for (; it != sorted_.end() && out->size() < limit; ++it) {
    if (std::string_view(terms_[*it]).substr(0, prefix.size()) != prefix) break;
    out->push_back(*it);
  }
}

}  // namespace vitrina
