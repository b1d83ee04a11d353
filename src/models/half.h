// IEEE 754 half precision (binary16) for factor matrices that serving scans
// whole on every request. Scoring reads half the bytes of float32, and
// memory traffic is what bounds such a scan once the matrix is out of
// cache. Half keeps 11 significant bits: a score's relative error is about
// 1e-3 (ALS metrics on Amazon Beauty did not move when scoring switched).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace vitrina {

// Rounds to the nearest half (ties to even); beyond the range gives
// +-infinity; NaN stays NaN.
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t half);
void FloatsToHalves(std::span<const float> values, std::span<uint16_t> out);

// out[r] = sum_d rows[r * dim + d] * x[d] for r < n, with `rows` in half
// precision, row-major. Uses AVX2, FMA and F16C when the CPU has them and a
// portable loop otherwise; both accumulate in float.
void HalfMatVec(const uint16_t* rows, size_t n, size_t dim, const float* x, float* out);
// The portable loop alone, for tests.
void HalfMatVecPortable(const uint16_t* rows, size_t n, size_t dim, const float* x, float* out);

}  // namespace vitrina
