#include "search/text_vectors.h"

#include <cmath>
#include <functional>
#include <string>

#include "text/analyzer.h"

namespace vitrina {
namespace {

void AddFeature(std::u32string_view feature, float weight, std::array<float, kTextDims>* sum) {
  const uint64_t hash = std::hash<std::u32string_view>{}(feature);
  const size_t dim = hash % kTextDims;
  const float sign = (hash >> 32) & 1 ? 1.0f : -1.0f;
  (*sum)[dim] += sign * weight;
}

}  // namespace

TextVector EmbedText(std::string_view utf8) {
  std::array<float, kTextDims> sum{};
  std::u32string padded;
  for (const Token& token : Analyze(utf8)) {
    if (token.stop) continue;
    padded.assign(1, U'#');
    padded += ToCodePoints(token.text);
    padded.push_back(U'#');
    AddFeature(padded, 1.0f, &sum);
    for (size_t i = 0; i + 3 <= padded.size(); ++i) AddFeature(std::u32string_view(padded).substr(i, 3), 1.0f, &sum);
  }
  float norm = 0;
  for (float value : sum) norm += value * value;
  TextVector out{};
  if (norm == 0) return out;
  const float scale = kTextScale / std::sqrt(norm);
  for (size_t d = 0; d < kTextDims; ++d) out[d] = static_cast<int8_t>(std::lround(sum[d] * scale));
  return out;
}

}  // namespace vitrina
