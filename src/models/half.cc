#include "models/half.h"

#include <bit>
#include <cmath>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace vitrina {

uint16_t FloatToHalf(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) {  // infinity or NaN (kept quiet)
    return static_cast<uint16_t>(sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 : 0));
  }
  if (magnitude >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // rounds past 65504
  if (magnitude < 0x38800000) {
    // Below the smallest normal half (2^-14): a multiple of 2^-24, rounded
    // to even by the FPU. 1024 * 2^-24 is the smallest normal, whose
    // encoding is exactly 0x400, so the carry needs no special case.
    const float scaled = std::bit_cast<float>(magnitude) * 16777216.0f;  // exact: a power of two
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(scaled)));
  }
  uint32_t half = ((magnitude >> 23) - 112) << 10 | (magnitude & 0x7fffff) >> 13;
  const uint32_t rest = magnitude & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;  // a carry may reach the exponent: still right
  return static_cast<uint16_t>(sign | half);
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  const uint32_t exponent = (half >> 10) & 0x1f;
  const uint32_t mantissa = half & 0x3ff;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(magnitude));
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000 | mantissa << 13);
  return std::bit_cast<float>(sign | (exponent + 112) << 23 | mantissa << 13);
}

void FloatsToHalves(std::span<const float> values, std::span<uint16_t> out) {
  for (size_t i = 0; i < values.size(); ++i) out[i] = FloatToHalf(values[i]);
}

void HalfMatVecPortable(const uint16_t* rows, size_t n, size_t dim, const float* x, float* out) {
  for (size_t r = 0; r < n; ++r) {
    const uint16_t* row = rows + r * dim;
    float sum = 0;
    for (size_t d = 0; d < dim; ++d) sum += HalfToFloat(row[d]) * x[d];
    out[r] = sum;
  }
}

#if defined(__x86_64__)
namespace {

__attribute__((target("avx2,fma,f16c"))) float HorizontalSum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
  return _mm_cvtss_f32(sum);
}

__attribute__((target("avx2,fma,f16c"))) inline __m256 LoadHalves(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// The sums of eight accumulators, one per row, as one vector: a transposing
// tree of horizontal adds instead of eight separate reductions.
__attribute__((target("avx2,fma,f16c"))) inline __m256 SumEach(const __m256 (&acc)[8]) {
  // Per 128-bit lane, hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3].
  const __m256 s01 = _mm256_hadd_ps(acc[0], acc[1]), s23 = _mm256_hadd_ps(acc[2], acc[3]);
  const __m256 s45 = _mm256_hadd_ps(acc[4], acc[5]), s67 = _mm256_hadd_ps(acc[6], acc[7]);
  // Lane l of s0123 holds, for rows 0-3, the sum of their elements 4l..4l+3.
  const __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
  return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

__attribute__((target("avx2,fma,f16c"))) void HalfMatVecAvx2(const uint16_t* rows, size_t n, size_t dim,
                                                             const float* x, float* out) {
  size_t r = 0;
  if (dim % 8 == 0) {
    // Eight rows at a time: eight independent FMA chains share each load of
    // x, and one reduction yields eight scores.
    for (; r + 8 <= n; r += 8) {
      const uint16_t* block = rows + r * dim;
      __m256 acc[8];
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) acc[j] = _mm256_setzero_ps();
      for (size_t d = 0; d < dim; d += 8) {
        const __m256 xd = _mm256_loadu_ps(x + d);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) acc[j] = _mm256_fmadd_ps(LoadHalves(block + j * dim + d), xd, acc[j]);
      }
      _mm256_storeu_ps(out + r, SumEach(acc));
    }
  }
  for (; r < n; ++r) {
    const uint16_t* row = rows + r * dim;
    __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();  // two chains hide the FMA latency
    size_t d = 0;
    for (; d + 16 <= dim; d += 16) {
      even = _mm256_fmadd_ps(LoadHalves(row + d), _mm256_loadu_ps(x + d), even);
      odd = _mm256_fmadd_ps(LoadHalves(row + d + 8), _mm256_loadu_ps(x + d + 8), odd);
    }
    if (d + 8 <= dim) {
      even = _mm256_fmadd_ps(LoadHalves(row + d), _mm256_loadu_ps(x + d), even);
      d += 8;
    }
    float sum = HorizontalSum(_mm256_add_ps(even, odd));
    for (; d < dim; ++d) sum += HalfToFloat(row[d]) * x[d];
    out[r] = sum;
  }
}

bool CpuHasAvx2Fma16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

}  // namespace
#endif

void HalfMatVec(const uint16_t* rows, size_t n, size_t dim, const float* x, float* out) {
#if defined(__x86_64__)
  static const bool fast = CpuHasAvx2Fma16();
  if (fast) return HalfMatVecAvx2(rows, n, dim, x, out);
#endif
  HalfMatVecPortable(rows, n, dim, x, out);
}

}  // namespace vitrina
