#include "search/lexical_index.h"

#include <algorithm>
#include <cmath>

#include "text/analyzer.h"

namespace vitrina {
namespace {

// The text of each field of an item.
std::array<std::string, kSearchFieldCount> FieldTexts(const Item& item) {
  std::array<std::string, kSearchFieldCount> texts;
  texts[kTitle] = item.title;
  for (const std::string& level : item.category) texts[kCategory].append(level).push_back(' ');
  texts[kBrand] = item.brand;
  for (const auto& [key, value] : item.attributes) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      texts[kAttributes].append(*text).push_back(' ');
    } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      for (const std::string& entry : *list) texts[kAttributes].append(entry).push_back(' ');
    }
  }
  texts[kDescription] = item.description;
  return texts;
}

}  // namespace

uint32_t LexicalIndex::TermId(const std::string& term) {
  auto [it, inserted] = term_of_.try_emplace(term, static_cast<uint32_t>(postings_.size()));
  if (inserted) {
    postings_.emplace_back();
    counts_.emplace_back();
  }
  return it->second;
}

uint32_t LexicalIndex::AddWord(std::string_view word, uint32_t term) {
  const uint32_t id = words_.Add(word);
  if (id >= word_term_.size()) {
    word_term_.resize(id + 1);
    word_docs_.resize(id + 1, 0);
  }
  word_term_[id] = term;
  return id;
}

void LexicalIndex::Upsert(uint32_t key, const Item& item) {
  Remove(key);
  if (!item.active) return;
  const auto doc = static_cast<uint32_t>(docs_.size());
  docs_.push_back({.key = key});
  Doc& entry = docs_.back();
  std::vector<std::pair<uint32_t, FieldCounts>> counts;  // (term, count per field)
  std::vector<uint32_t> words;  // the document's words, counted once each
  auto count = [&](uint32_t term, int field) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == term; });
    if (it == counts.end()) {
      counts.push_back({term, {}});
      it = counts.end() - 1;
    }
    if (it->second[field] < 255) ++it->second[field];
  };
  const std::array<std::string, kSearchFieldCount> texts = FieldTexts(item);
  std::vector<Token> tokens;
  for (int field = 0; field < kSearchFieldCount; ++field) {
    uint32_t length = 0;
    tokens = Analyze(texts[field]);
    for (const Token& token : tokens) {
      if (token.stop) continue;
      ++length;
      const uint32_t term = TermId(token.stem);
      count(term, field);
      words.push_back(AddWord(token.text, term));
      if (token.script == Script::kCyrillic) {  // findable by Latin queries too
        const std::string latin = TransliterateToLatin(token.text);
        const uint32_t latin_term = TermId(Stem(latin, Script::kLatin));
        if (latin_term != term) count(latin_term, field);
        words.push_back(AddWord(latin, latin_term));
      }
    }
    entry.length[field] = static_cast<uint16_t>(std::min<uint32_t>(length, 65535));
    length_sum_[field] += entry.length[field];
  }
  if (norm_average_[kTitle] == 0) {  // the first document: lengths to normalize by until Commit has better
    for (int field = 0; field < kSearchFieldCount; ++field) norm_average_[field] = std::max<double>(1, entry.length[field]);
  }
  for (const auto& [term, tf] : counts) {
    postings_[term].push_back({doc, NormalizedTf(tf, entry)});
    counts_[term].push_back(tf);
  }
  alive_.push_back(1);
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  for (uint32_t word : words) ++word_docs_[word];
  if (key >= doc_of_key_.size()) doc_of_key_.resize(key + 1, kNoDoc);
  doc_of_key_[key] = doc;
  ++live_;
}

void LexicalIndex::Remove(uint32_t key) {
  if (key >= doc_of_key_.size() || doc_of_key_[key] == kNoDoc) return;
  Doc& doc = docs_[doc_of_key_[key]];
  doc.live = false;
  alive_[doc_of_key_[key]] = 0;
  for (int field = 0; field < kSearchFieldCount; ++field) length_sum_[field] -= doc.length[field];
  doc_of_key_[key] = kNoDoc;
  --live_;
  ++dead_;
  if (dead_ > 1000 && dead_ > live_) Compact();
}

void LexicalIndex::Compact() {
  // Live documents keep their order under new numbers; postings follow.
  std::vector<uint32_t> renumber(docs_.size(), kNoDoc);
  std::vector<Doc> kept;
  kept.reserve(live_);
  for (uint32_t doc = 0; doc < docs_.size(); ++doc) {
    if (!docs_[doc].live) continue;
    renumber[doc] = static_cast<uint32_t>(kept.size());
    doc_of_key_[docs_[doc].key] = renumber[doc];
    kept.push_back(docs_[doc]);
  }
  for (size_t term = 0; term < postings_.size(); ++term) {
    std::vector<Posting>& list = postings_[term];
    std::vector<FieldCounts>& counts = counts_[term];
    size_t out = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      if (renumber[list[i].doc] == kNoDoc) continue;
      list[out] = {renumber[list[i].doc], list[i].tf};
      counts[out++] = counts[i];
    }
    list.resize(out);
    counts.resize(out);
    list.shrink_to_fit();
    counts.shrink_to_fit();
  }
  docs_ = std::move(kept);
  alive_.assign(docs_.size(), 1);
  dead_ = 0;
}

float LexicalIndex::NormalizedTf(const FieldCounts& counts, const Doc& doc) const {
  float tf = 0;
  for (int f = 0; f < kSearchFieldCount; ++f) {
    if (counts[f] == 0) continue;
    const double norm = 1.0 - options_.b[f] + options_.b[f] * doc.length[f] / norm_average_[f];
    tf += static_cast<float>(options_.weight[f] * counts[f] / norm);
  }
  return tf;
}

void LexicalIndex::Renormalize() {
  for (int f = 0; f < kSearchFieldCount; ++f) {
    norm_average_[f] = std::max(1e-3, length_sum_[f] / static_cast<double>(live_));
  }
  for (size_t term = 0; term < postings_.size(); ++term) {
    for (size_t i = 0; i < postings_[term].size(); ++i) {
      postings_[term][i].tf = NormalizedTf(counts_[term][i], docs_[postings_[term][i].doc]);
    }
  }
}

void LexicalIndex::Commit() {
  words_.Build();
  // Postings keep their tf from the averages of when they were computed;
  // when the catalog's averages have moved by a tenth, all are recomputed.
  if (live_ == 0) return;
  for (int f = 0; f < kSearchFieldCount; ++f) {
    const double average = std::max(1e-3, length_sum_[f] / static_cast<double>(live_));
    if (std::abs(average - norm_average_[f]) > 0.1 * std::max(norm_average_[f], 1.0)) {
      Renormalize();
      return;
    }
  }
}

size_t LexicalIndex::MemoryBytes() const {
  size_t bytes = docs_.capacity() * sizeof(Doc) + doc_of_key_.capacity() * sizeof(uint32_t);
  for (const auto& list : postings_) bytes += list.capacity() * sizeof(Posting) + sizeof(list);
  for (const auto& list : counts_) bytes += list.capacity() * sizeof(FieldCounts) + sizeof(list);
  bytes += alive_.capacity();
  for (const auto& [term, id] : term_of_) bytes += term.capacity() + 1 + sizeof(term) + sizeof(id) + 16;
  bytes += words_.MemoryBytes() + (word_term_.capacity() + word_docs_.capacity()) * sizeof(uint32_t);
  return bytes;
}

LexicalIndex::Alternatives LexicalIndex::AlternativesOf(const std::string& text, const std::string& stem, bool last,
                                                        const MatchOptions& options,
                                                        std::vector<Correction>* corrections) const {
  Alternatives out;
  auto offer = [&](uint32_t term, float weight) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& a) { return a.first == term; });
    if (it == out.end()) {
      out.emplace_back(term, weight);
    } else {
      it->second = std::max(it->second, weight);
    }
  };
  const auto own = term_of_.find(stem);
  if (own != term_of_.end()) offer(own->second, 1.0f);
  const Script script = ScriptOf(text);
  if (script == Script::kCyrillic) {  // a Cyrillic query word finds Latin spellings of it too
    if (auto it = term_of_.find(Stem(TransliterateToLatin(text), Script::kLatin)); it != term_of_.end()) {
      offer(it->second, options_.transliteration_weight);
    }
  }
  if (options.synonyms != nullptr) {
    if (const std::vector<std::string>* equivalents = options.synonyms->Find(stem)) {
      for (const std::string& equivalent : *equivalents) {
        if (auto it = term_of_.find(equivalent); it != term_of_.end()) offer(it->second, options_.synonym_weight);
      }
    }
  }
  thread_local std::vector<uint32_t> begun;
  begun.clear();
  if (last) {
    words_.WithPrefix(text, options_.prefix_words, &begun);
    for (uint32_t word : begun) offer(word_term_[word], options_.prefix_weight);
  }
  if (options.typos) {
    thread_local std::vector<std::pair<uint32_t, int>> similar;
    words_.Similar(text, &similar);
    bool exact = own != term_of_.end() || !begun.empty();  // a word being typed is not a typo
    uint32_t closest = UINT32_MAX;
    int closest_edits = 0;
    for (const auto& [word, edits] : similar) {
      if (edits == 0) {
        exact = true;
        offer(word_term_[word], 1.0f);
        continue;
      }
      offer(word_term_[word], std::pow(options_.typo_weight, static_cast<float>(edits)));
      if (closest == UINT32_MAX || edits < closest_edits ||
          (edits == closest_edits && word_docs_[word] > word_docs_[closest])) {
        closest = word;
        closest_edits = edits;
      }
    }
    if (!exact && closest != UINT32_MAX) corrections->push_back({text, words_.term(closest)});
  }
  return out;
}

LexicalResult LexicalIndex::Run(const std::vector<Alternatives>& words, bool relax) const {
  LexicalResult result;
  result.query_words = words.size();
  if (words.empty() || live_ == 0) return result;
  thread_local std::vector<float> total, best;
  thread_local std::vector<uint32_t> matched;
  thread_local std::vector<uint32_t> touched, word_touched;
  if (total.size() < docs_.size()) {
    total.resize(docs_.size(), 0.0f);
    best.resize(docs_.size(), 0.0f);
    matched.resize(docs_.size(), 0);
  }
  touched.clear();
  const double n = static_cast<double>(live_);
  for (const Alternatives& alternatives : words) {
    word_touched.clear();
    // One idf per query word, from its most common way to match: a rare
    // synonym or typo must not outweigh the word itself.
    size_t most_common = 0;
    for (const auto& alternative : alternatives) most_common = std::max(most_common, postings_[alternative.first].size());
    const double df = std::min<double>(static_cast<double>(most_common), n);
    const auto idf = static_cast<float>(std::log(1.0 + (n - df + 0.5) / (df + 0.5)));
    for (const auto& [term, weight] : alternatives) {
      const std::vector<Posting>& list = postings_[term];
      for (const Posting& p : list) {
        if (alive_[p.doc] == 0) continue;
        const float score = weight * idf * p.tf / (options_.k1 + p.tf);
        if (best[p.doc] == 0) word_touched.push_back(p.doc);
        best[p.doc] = std::max(best[p.doc], score);
      }
    }
    for (uint32_t doc : word_touched) {
      if (matched[doc] == 0) touched.push_back(doc);
      total[doc] += best[doc];
      ++matched[doc];
      best[doc] = 0;
    }
  }
  uint32_t most = 0;
  for (uint32_t doc : touched) most = std::max(most, matched[doc]);
  result.relaxed = most > 0 && most < words.size();
  const uint32_t needed = relax ? most : static_cast<uint32_t>(words.size());
  for (uint32_t doc : touched) {
    if (matched[doc] == needed) result.hits.push_back({docs_[doc].key, total[doc], needed});
    total[doc] = 0;
    matched[doc] = 0;
  }
  if (!relax) result.relaxed = false;
  result.total = result.hits.size();
  return result;
}

bool LexicalIndex::Known(const Token& token, bool last) const {
  if (term_of_.contains(token.stem)) return true;
  thread_local std::vector<std::pair<uint32_t, int>> similar;
  words_.Similar(token.text, &similar);
  if (!similar.empty()) return true;
  thread_local std::vector<uint32_t> begun;
  if (last) words_.WithPrefix(token.text, 1, &begun);
  return last && !begun.empty();
}

LexicalResult LexicalIndex::Match(std::string_view query, const MatchOptions& options) const {
  std::vector<Token> tokens = Analyze(query);
  // A word the catalog does not know, typed in the wrong keyboard layout,
  // is read in the other one when the catalog knows that.
  bool switched = false;
  if (options.typos) {
    for (Token& token : tokens) {
      const bool last = &token == &tokens.back();
      if (token.stop || Known(token, last)) continue;
      std::vector<Token> retyped = Analyze(SwitchKeyboardLayout(token.text));
      if (retyped.size() != 1 || !Known(retyped[0], last)) continue;
      retyped[0].position = token.position;
      token = std::move(retyped[0]);
      switched = true;
    }
  }
  const bool all_stop = std::all_of(tokens.begin(), tokens.end(), [](const Token& t) { return t.stop; });
  std::string retyped_query;
  if (switched) {
    for (const Token& token : tokens) retyped_query.append(retyped_query.empty() ? "" : " ").append(token.text);
  }
  std::erase_if(tokens, [&](const Token& t) { return t.stop && !all_stop; });
  std::vector<Alternatives> words;
  std::vector<Correction> corrections;
  for (size_t i = 0; i < tokens.size(); ++i) {
    words.push_back(AlternativesOf(tokens[i].text, tokens[i].stem, i + 1 == tokens.size(), options, &corrections));
  }
  LexicalResult result = Run(words, options.relax);
  result.corrections = std::move(corrections);
  result.layout_corrected = std::move(retyped_query);
  return result;
}

LexicalResult LexicalIndex::Search(std::string_view query, size_t limit, const MatchOptions& options) const {
  LexicalResult result = Match(query, options);
  auto better = [](const LexicalHit& a, const LexicalHit& b) {
    return a.score != b.score ? a.score > b.score : a.key < b.key;
  };
  const size_t keep = std::min(limit, result.hits.size());
  std::partial_sort(result.hits.begin(), result.hits.begin() + static_cast<ptrdiff_t>(keep), result.hits.end(), better);
  result.hits.resize(keep);
  return result;
}

std::vector<std::pair<std::string, uint32_t>> LexicalIndex::Complete(std::string_view prefix, size_t limit) const {
  const std::string normalized = NormalizeText(prefix);
  thread_local std::vector<uint32_t> begun;
  words_.WithPrefix(normalized, 2000, &begun);
  std::vector<std::pair<std::string, uint32_t>> out;
  for (uint32_t word : begun) out.emplace_back(words_.term(word), word_docs_[word]);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace vitrina
