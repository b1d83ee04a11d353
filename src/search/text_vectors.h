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
using TextVector = std::array<int8_t, kTextDims>;

// The embedding of `utf8` (all zero when it has no letters or digits).
TextVector EmbedText(std::string_view utf8);

// Cosine similarity of two embeddings, in [-1, 1].
float TextSimilarity(const TextVector& a, const TextVector& b);

}  // namespace vitrina
