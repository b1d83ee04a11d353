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
  if (inserted) postings_.emplace_back();
  return it->second;
}

void LexicalIndex::AddWord(std::string_view word, uint32_t term) {
  const uint32_t id = words_.Add(word);
  if (id >= word_term_.size()) word_term_.resize(id + 1);
  word_term_[id] = term;
}

void LexicalIndex::Upsert(const Item& item) {
  Remove(item.id);
  if (!item.active) return;
  const auto doc = static_cast<uint32_t>(docs_.size());
  docs_.push_back({.item_id = item.id});
  Doc& entry = docs_.back();
  std::vector<std::pair<uint32_t, std::array<uint8_t, kSearchFieldCount>>> counts;  // (term, tf per field)
  auto count = [&](uint32_t term, int field) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == term; });
    if (it == counts.end()) {
      counts.push_back({term, {}});
      it = counts.end() - 1;
    }
    if (it->second[field] < 255) ++it->second[field];
  };
  const std::array<std::string, kSearchFieldCount> texts = FieldTexts(item);
  for (int field = 0; field < kSearchFieldCount; ++field) {
    uint32_t length = 0;
    for (const Token& token : Analyze(texts[field])) {
      if (token.stop) continue;
      ++length;
      const uint32_t term = TermId(token.stem);
      count(term, field);
      AddWord(token.text, term);
      if (token.script == Script::kCyrillic) {  // findable by Latin queries too
        const std::string latin = TransliterateToLatin(token.text);
        const uint32_t latin_term = TermId(Stem(latin, Script::kLatin));
        if (latin_term != term) count(latin_term, field);
        AddWord(latin, latin_term);
      }
    }
    entry.length[field] = static_cast<uint16_t>(std::min<uint32_t>(length, 65535));
    length_sum_[field] += entry.length[field];
  }
  for (const auto& [term, tf] : counts) postings_[term].push_back({doc, tf});
  doc_of_.emplace(item.id, doc);
  ++live_;
}

void LexicalIndex::Remove(std::string_view item_id) {
  auto it = doc_of_.find(std::string(item_id));
  if (it == doc_of_.end()) return;
  Doc& doc = docs_[it->second];
  doc.live = false;
  for (int field = 0; field < kSearchFieldCount; ++field) length_sum_[field] -= doc.length[field];
  doc_of_.erase(it);
  --live_;
  ++dead_;
  if (dead_ > 1000 && dead_ > live_) Compact();
}

void LexicalIndex::Compact() {
  for (std::vector<Posting>& list : postings_) {
    std::erase_if(list, [&](const Posting& p) { return !docs_[p.doc].live; });
  }
  for (Doc& doc : docs_) {
    if (!doc.live) std::string().swap(doc.item_id);
  }
  dead_ = 0;
}

void LexicalIndex::Commit() { words_.Build(); }

LexicalIndex::Alternatives LexicalIndex::AlternativesOf(const std::string& text, const std::string& stem,
                                                        bool last) const {
  Alternatives out;
  auto offer = [&](uint32_t term, float weight) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& a) { return a.first == term; });
    if (it == out.end()) {
      out.emplace_back(term, weight);
    } else {
      it->second = std::max(it->second, weight);
    }
  };
  if (auto it = term_of_.find(stem); it != term_of_.end()) offer(it->second, 1.0f);
  thread_local std::vector<std::pair<uint32_t, int>> similar;
  words_.Similar(text, &similar);
  for (const auto& [word, edits] : similar) {
    offer(word_term_[word], edits == 0 ? 1.0f : std::pow(options_.typo_weight, static_cast<float>(edits)));
  }
  if (last) {
    thread_local std::vector<uint32_t> begun;
    words_.WithPrefix(text, options_.prefix_words, &begun);
    for (uint32_t word : begun) offer(word_term_[word], options_.prefix_weight);
  }
  return out;
}

LexicalResult LexicalIndex::Run(const std::vector<Alternatives>& words, size_t limit) const {
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
  std::array<float, kSearchFieldCount> average{};
  for (int f = 0; f < kSearchFieldCount; ++f) {
    average[f] = std::max(1e-3f, static_cast<float>(length_sum_[f] / static_cast<double>(live_)));
  }
  const double n = static_cast<double>(live_);
  for (const Alternatives& alternatives : words) {
    word_touched.clear();
    for (const auto& [term, weight] : alternatives) {
      const std::vector<Posting>& list = postings_[term];
      const double df = std::min<double>(static_cast<double>(list.size()), n);
      const auto idf = static_cast<float>(std::log(1.0 + (n - df + 0.5) / (df + 0.5)));
      for (const Posting& p : list) {
        const Doc& doc = docs_[p.doc];
        if (!doc.live) continue;
        float tf = 0;
        for (int f = 0; f < kSearchFieldCount; ++f) {
          if (p.tf[f] == 0) continue;
          const float norm = 1.0f - options_.b[f] + options_.b[f] * static_cast<float>(doc.length[f]) / average[f];
          tf += options_.weight[f] * static_cast<float>(p.tf[f]) / norm;
        }
        const float score = weight * idf * tf / (options_.k1 + tf);
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
  for (uint32_t doc : touched) {
    if (matched[doc] == most) result.hits.push_back({docs_[doc].item_id, total[doc], most});
    total[doc] = 0;
    matched[doc] = 0;
  }
  result.total = result.hits.size();
  auto better = [](const LexicalHit& a, const LexicalHit& b) {
    return a.score != b.score ? a.score > b.score : a.item_id < b.item_id;
  };
  const size_t keep = std::min(limit, result.hits.size());
  std::partial_sort(result.hits.begin(), result.hits.begin() + static_cast<ptrdiff_t>(keep), result.hits.end(), better);
  result.hits.resize(keep);
  return result;
}

LexicalResult LexicalIndex::Search(std::string_view query, size_t limit) const {
  auto search = [&](std::string_view text) {
    std::vector<Token> tokens = Analyze(text);
    const bool all_stop = std::all_of(tokens.begin(), tokens.end(), [](const Token& t) { return t.stop; });
    std::erase_if(tokens, [&](const Token& t) { return t.stop && !all_stop; });
    std::vector<Alternatives> words;
    for (size_t i = 0; i < tokens.size(); ++i) {
      words.push_back(AlternativesOf(tokens[i].text, tokens[i].stem, i + 1 == tokens.size()));
    }
    return Run(words, limit);
  };
  LexicalResult result = search(query);
  if (result.hits.empty() || result.relaxed) {
    const std::string normalized = NormalizeText(query);
    const std::string switched = SwitchKeyboardLayout(normalized);
    if (switched != normalized) {
      LexicalResult retyped = search(switched);
      if (!retyped.hits.empty() && (result.hits.empty() || !retyped.relaxed)) {
        retyped.layout_corrected = switched;
        return retyped;
      }
    }
  }
  return result;
}

}  // namespace vitrina
