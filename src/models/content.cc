#include "models/content.h"

#include <algorithm>
#include <cmath>

#include "common/strings.h"
#include "models/binary_io.h"

namespace vitrina {
namespace {

constexpr uint32_t kFormatVersion = 1;
constexpr double kAlwaysKeptFrequency = 100;
constexpr double kPriceBandWeight = 0.25;

void AddTitleWords(std::string_view title, std::vector<std::string>* tokens) {
  std::string word;
  // Numbers ("2", "500ml" stays) say little about what an item is.
  auto flush = [&] {
    bool digits = std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (word.size() > 1 && !digits) tokens->push_back("t:" + word);
    word.clear();
  };
  for (char c : title) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x80 || std::isalnum(u)) {
      word.push_back(u < 0x80 ? static_cast<char>(std::tolower(u)) : c);
    } else {
      flush();
    }
  }
  flush();
}

}  // namespace

std::vector<std::string> ContentTokens(const ItemMeta& item) {
  std::vector<std::string> tokens;
  std::string path;
  for (const std::string& level : item.category) {
    path += (path.empty() ? "" : "/") + AsciiLower(level);
    tokens.push_back("c:" + path);
  }
  if (!item.brand.empty()) tokens.push_back("b:" + AsciiLower(item.brand));
  AddTitleWords(item.title, &tokens);
  for (const std::string& tag : item.tags) tokens.push_back("a:" + tag);
  // Price band: prices within a factor of 1.5 of each other tend to share one.
  if (item.price && *item.price > 0) {
    tokens.push_back("p:" + std::to_string(static_cast<int>(std::floor(std::log(*item.price) / std::log(1.5)))));
  }
  std::sort(tokens.begin(), tokens.end());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  return tokens;
}

void ContentRecommender::Vectorize(const ItemMeta& item, std::vector<std::pair<uint32_t, float>>* out) const {
  out->clear();
  double norm = 0;
  for (const std::string& token : ContentTokens(item)) {
    auto it = vocabulary_.find(token);
    if (it == vocabulary_.end()) continue;
    float weight = idf_[it->second];
    out->emplace_back(it->second, weight);
    norm += static_cast<double>(weight) * weight;
  }
  if (norm > 0) {
    float scale = static_cast<float>(1 / std::sqrt(norm));
    for (auto& [token, weight] : *out) weight *= scale;
  }
}

float ContentRecommender::Similarity(const ItemMeta& a, const ItemMeta& b) const {
  std::vector<std::pair<uint32_t, float>> x, y;
  Vectorize(a, &x);
  Vectorize(b, &y);
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  float dot = 0;
  for (size_t i = 0, j = 0; i < x.size() && j < y.size();) {
    if (x[i].first == y[j].first) {
      dot += x[i++].second * y[j++].second;
    } else if (x[i].first < y[j].first) {
      ++i;
    } else {
      ++j;
    }
  }
  return dot;
}

Status ContentRecommender::Fit(const Dataset& data, const FitOptions& options) {
  const size_t n = data.num_items();
  std::vector<std::vector<std::string>> item_tokens(n);
  std::unordered_map<std::string, uint32_t> document_frequency;
  for (size_t i = 0; i < n; ++i) {
    item_tokens[i] = ContentTokens(data.items[i]);
    for (const std::string& token : item_tokens[i]) ++document_frequency[token];
  }
  // A token in one item links nothing; one in most items says little and
  // costs the square of its frequency. Small catalogs keep everything.
  double max_df = std::max(kAlwaysKeptFrequency, options_.max_document_frequency * static_cast<double>(n));
  vocabulary_.clear();
  idf_.clear();
  std::vector<std::string> kept;
  for (const auto& [token, df] : document_frequency) {
    if (df >= 2 && df <= max_df) kept.push_back(token);
  }
  std::sort(kept.begin(), kept.end());
  for (const std::string& token : kept) {
    vocabulary_.emplace(token, static_cast<uint32_t>(idf_.size()));
    // A price band is shared by few items, so its IDF alone would make it
    // the strongest likeness; it only breaks ties between items alike in
    // what they are.
    const double weight = token.starts_with("p:") ? kPriceBandWeight : 1.0;
    idf_.push_back(static_cast<float>(weight * std::log(static_cast<double>(n) / document_frequency[token])));
  }

  // Item vectors, then the inverted index.
  SparseRows item_vectors;
  std::vector<std::pair<uint32_t, float>> vector;
  for (size_t i = 0; i < n; ++i) {
    Vectorize(data.items[i], &vector);
    std::sort(vector.begin(), vector.end());
    for (const auto& [token, weight] : vector) {
      item_vectors.columns.push_back(token);
      item_vectors.values.push_back(weight);
    }
    item_vectors.offsets.push_back(item_vectors.columns.size());
  }
  postings_ = Transpose(item_vectors, idf_.size());
  if (options.progress) options.progress(0.3);

  auto accumulate = [&](uint32_t item, std::vector<float>* acc, std::vector<uint32_t>* touched) {
    auto tokens = item_vectors.RowColumns(item);
    auto weights = item_vectors.RowValues(item);
    for (size_t t = 0; t < tokens.size(); ++t) {
      auto others = postings_.RowColumns(tokens[t]);
      auto other_weights = postings_.RowValues(tokens[t]);
      for (size_t k = 0; k < others.size(); ++k) {
        if ((*acc)[others[k]] == 0) touched->push_back(others[k]);
        (*acc)[others[k]] += weights[t] * other_weights[k];
      }
    }
  };
  neighbors_ = BuildNeighborGraph(n, options_.neighbors, options.threads, accumulate,
                                  [](uint32_t, uint32_t, float raw) { return raw; });
  if (options.progress) options.progress(1.0);
  return Status::OK();
}

std::vector<std::pair<uint32_t, float>> ContentRecommender::SimilarTo(const ItemMeta& item, size_t k) const {
  std::vector<std::pair<uint32_t, float>> vector;
  Vectorize(item, &vector);
  std::vector<std::pair<uint32_t, float>> accumulated;  // (item, score), merged below
  for (const auto& [token, weight] : vector) {
    auto others = postings_.RowColumns(token);
    auto other_weights = postings_.RowValues(token);
    for (size_t i = 0; i < others.size(); ++i) accumulated.emplace_back(others[i], weight * other_weights[i]);
  }
  std::sort(accumulated.begin(), accumulated.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<uint32_t, float>> merged;
  for (const auto& [index, score] : accumulated) {
    if (!merged.empty() && merged.back().first == index) {
      merged.back().second += score;
    } else {
      merged.emplace_back(index, score);
    }
  }
  std::sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (merged.size() > k) merged.resize(k);
  return merged;
}

void ContentRecommender::Score(std::span<const HistoryEntry> history, Relation relation,
                               std::span<float> scores) const {
  std::fill(scores.begin(), scores.end(), 0.0f);
  std::vector<DistinctHistoryItem> distinct;
  DistinctHistory(history, num_items(), &distinct);
  ScoreFromNeighbors(neighbors_, distinct, options_.recency_decay, scores);
}

int ContentRecommender::Explain(std::span<const HistoryEntry> history, uint32_t item) const {
  std::vector<DistinctHistoryItem> distinct;
  DistinctHistory(history, num_items(), &distinct);
  int best = -1;
  float best_score = 0;
  for (const DistinctHistoryItem& h : distinct) {
    float score = static_cast<float>(std::pow(options_.recency_decay, h.position)) *
                  NeighborSimilarity(neighbors_, h.item, item);
    if (score > best_score) {
      best_score = score;
      best = h.first_index;
    }
  }
  return best;
}

Status ContentRecommender::Save(const std::string& path) const {
  VITRINA_ASSIGN_OR_RETURN(BinaryWriter writer, BinaryWriter::Create(path, name(), kFormatVersion));
  std::vector<std::string> tokens(idf_.size());
  for (const auto& [token, id] : vocabulary_) tokens[id] = token;
  writer.Put<uint64_t>(tokens.size());
  for (const std::string& token : tokens) writer.PutString(token);
  writer.PutVector(idf_);
  writer.Put<uint64_t>(neighbors_.rows());
  postings_.Save(&writer);
  neighbors_.Save(&writer);
  return writer.Close();
}

Status ContentRecommender::Load(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(BinaryReader reader, BinaryReader::Open(path, name(), kFormatVersion));
  uint64_t token_count = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&token_count));
  vocabulary_.clear();
  for (uint64_t id = 0; id < token_count; ++id) {
    std::string token;
    VITRINA_RETURN_IF_ERROR(reader.GetString(&token));
    vocabulary_.emplace(std::move(token), static_cast<uint32_t>(id));
  }
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&idf_));
  uint64_t n = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&n));
  VITRINA_RETURN_IF_ERROR(postings_.Load(&reader, n));
  VITRINA_RETURN_IF_ERROR(neighbors_.Load(&reader, n));
  if (idf_.size() != token_count || postings_.rows() != token_count || neighbors_.rows() != n) {
    return Status::Corruption(path + ": content index sizes disagree");
  }
  return reader.ExpectEnd();
}

}  // namespace vitrina
