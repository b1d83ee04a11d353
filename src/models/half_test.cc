#include "models/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace vitrina {
namespace {

TEST(HalfTest, KnownEncodings) {
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(0.1f), 0x2e66);         // 0.0999755859375
  EXPECT_EQ(FloatToHalf(1.0f / 3), 0x3555);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);     // largest half
  EXPECT_EQ(FloatToHalf(65519.0f), 0x7bff);     // still rounds down
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);     // rounds to infinity
  EXPECT_EQ(FloatToHalf(1e10f), 0x7c00);
  EXPECT_EQ(FloatToHalf(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -26)), 0x0000);  // underflows
  EXPECT_EQ(FloatToHalf(std::ldexp(1023.6f, -24)), 0x0400);  // subnormal rounding carries into the exponent
  // Ties go to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  uint16_t nan = FloatToHalf(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x3ff, 0);
  EXPECT_TRUE(std::isnan(HalfToFloat(nan)));
}

TEST(HalfTest, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(FloatToHalf(f), h) << std::hex << h << " -> " << f;
  }
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0xfbff), -65504.0f);
}

TEST(HalfTest, RoundingErrorIsWithinHalfAnUlp) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  for (int i = 0; i < 100000; ++i) {
    const float f = value(rng);
    const float back = HalfToFloat(FloatToHalf(f));
    // Relative half-ulp of an 11-bit significand: 2^-11 (plus the
    // subnormal step near zero).
    ASSERT_LE(std::abs(back - f), std::abs(f) * std::ldexp(1.0f, -11) + std::ldexp(1.0f, -25)) << f;
  }
}

TEST(HalfTest, MatVecMatchesDoublePrecisionOnEveryPath) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (size_t dim : {size_t{1}, size_t{7}, size_t{8}, size_t{24}, size_t{64}, size_t{67}}) {
    const size_t n = 257;
    std::vector<float> matrix(n * dim), x(dim);
    for (float& v : matrix) v = normal(rng);
    for (float& v : x) v = normal(rng);
    std::vector<uint16_t> halves(matrix.size());
    FloatsToHalves(matrix, halves);
    std::vector<float> fast(n), portable(n);
    HalfMatVec(halves.data(), n, dim, x.data(), fast.data());
    HalfMatVecPortable(halves.data(), n, dim, x.data(), portable.data());
    for (size_t r = 0; r < n; ++r) {
      double exact = 0, magnitude = 0;
      for (size_t d = 0; d < dim; ++d) {
        exact += static_cast<double>(matrix[r * dim + d]) * x[d];
        magnitude += std::abs(static_cast<double>(matrix[r * dim + d]) * x[d]);
      }
      // Storage rounding (2^-11 of each term) plus float accumulation.
      const double tolerance = magnitude * 1e-3 + 1e-6;
      ASSERT_NEAR(fast[r], exact, tolerance) << "dim " << dim << " row " << r;
      ASSERT_NEAR(portable[r], exact, tolerance) << "dim " << dim << " row " << r;
    }
  }
}

}  // namespace
}  // namespace vitrina
