// Text embeddings for search without a trained model: every word of a
// text is spread over a fixed number of dimensions by hashing its letter
// trigrams ("#на", "нау", ... of "#наушники#") and the word itself, each to
// one dimension with a sign. Texts that share words or parts of words
// (other forms, typos beyond the allowed edits, run-together words) get
// close vectors, so the nearest titles to a query that matches no word
// still resemble it.
//
// Vectors are unit length, stored as int8 (kTextDims bytes per item).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace vitrina {

inline constexpr size_t kTextDims = 64;
inline constexpr float kTextScale = 127.0f;  // a unit vector's largest component
using TextVector = std::array<int8_t, kTextDims>;

// The embedding of `utf8` (all zero when it has no letters or digits).
TextVector EmbedText(std::string_view utf8);

// Cosine similarity of two embeddings, in [-1, 1]. Inline: the fallback
// scans every item with it.
inline float TextSimilarity(const TextVector& a, const TextVector& b) {
  int32_t dot = 0;
  for (size_t d = 0; d < kTextDims; ++d) dot += int32_t{a[d]} * int32_t{b[d]};
  return static_cast<float>(dot) / (kTextScale * kTextScale);
}

}  // namespace vitrina
