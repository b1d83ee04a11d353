#include "models/nn.h"

#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <type_traits>

// The catalog-wide products of the output layer go to OpenBLAS, which picks
// AVX2/FMA kernels for the CPU at run time (Eigen is compiled for the
// portable baseline): 2-3x faster here for these shapes.
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc);

namespace vitrina::nn {
namespace {

// c = alpha op(a) op(b) + beta c, all row-major; c is m x n, the inner size k.
// A row-major matrix is its transpose in BLAS's column-major view, so the
// call computes c^T = op(b)^T op(a)^T.
void RowMajorGemm(bool transpose_a, bool transpose_b, Eigen::Index m, Eigen::Index n, Eigen::Index k, float alpha,
                  const float* a, Eigen::Index lda, const float* b, Eigen::Index ldb, float beta, float* c,
                  Eigen::Index ldc) {
  const char op_b = transpose_b ? 'T' : 'N', op_a = transpose_a ? 'T' : 'N';
  const int im = static_cast<int>(m), in = static_cast<int>(n), ik = static_cast<int>(k);
  const int ia = static_cast<int>(lda), ib = static_cast<int>(ldb), ic = static_cast<int>(ldc);
  sgemm_(&op_b, &op_a, &in, &im, &ik, &alpha, b, &ib, a, &ia, &beta, c, &ic);
}

// One row of logits becomes scale * (softmax - one-hot of the target), in
// place; returns the row's loss, log(sum exp) - logit of the target.
double SoftmaxRowPortable(float* logits, Eigen::Index n, uint32_t target, float scale) {
  Eigen::Map<Eigen::ArrayXf> row(logits, n);
  const float max = row.maxCoeff();
  const float target_logit = row(target);
  row = (row - max).exp();
  const float sum = row.sum();
  row *= scale / sum;
  row(target) -= scale;
  return std::log(static_cast<double>(sum)) - static_cast<double>(target_logit - max);
}

// The same with AVX2: exp by range reduction to [-ln2/2, ln2/2] and a
// degree-6 polynomial (relative error ~1e-7), 8 lanes at a time, fused with
// the sum. The output layer spends most of its non-GEMM time here.
__attribute__((target("avx2,fma"))) inline __m256 Exp8(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));  // arguments are <= 0 here; below this e^x is ~0
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
}

__attribute__((target("avx2,fma"))) double SoftmaxRowAvx2(float* logits, Eigen::Index n, uint32_t target,
                                                           float scale) {
  const Eigen::Index vectors = n / 8 * 8;
  __m256 max8 = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (Eigen::Index i = 0; i < vectors; i += 8) max8 = _mm256_max_ps(max8, _mm256_loadu_ps(logits + i));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, max8);
  float max = *std::max_element(lanes, lanes + 8);
  for (Eigen::Index i = vectors; i < n; ++i) max = std::max(max, logits[i]);
  const float target_logit = logits[target];
  const __m256 shift = _mm256_set1_ps(max);
  __m256 sum8 = _mm256_setzero_ps();
  for (Eigen::Index i = 0; i < vectors; i += 8) {
    const __m256 e = Exp8(_mm256_sub_ps(_mm256_loadu_ps(logits + i), shift));
    _mm256_storeu_ps(logits + i, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  _mm256_store_ps(lanes, sum8);
  double sum = 0;
  for (float lane : lanes) sum += lane;
  for (Eigen::Index i = vectors; i < n; ++i) {
    logits[i] = std::exp(logits[i] - max);
    sum += logits[i];
  }
  const __m256 factor = _mm256_set1_ps(static_cast<float>(scale / sum));
  for (Eigen::Index i = 0; i < vectors; i += 8) {
    _mm256_storeu_ps(logits + i, _mm256_mul_ps(_mm256_loadu_ps(logits + i), factor));
  }
  for (Eigen::Index i = vectors; i < n; ++i) logits[i] *= static_cast<float>(scale / sum);
  logits[target] -= scale;
  return std::log(sum) - static_cast<double>(target_logit - max);
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}

}  // namespace

void MultiplyByTranspose(ConstMatRef<float> a, ConstMatRef<float> b, MatRef<float> c) {
  RowMajorGemm(false, true, a.rows(), b.rows(), a.cols(), 1, a.data(), a.outerStride(), b.data(), b.outerStride(), 0,
               c.data(), c.outerStride());
}

void Multiply(ConstMatRef<float> a, ConstMatRef<float> b, MatRef<float> c) {
  RowMajorGemm(false, false, a.rows(), b.cols(), a.cols(), 1, a.data(), a.outerStride(), b.data(), b.outerStride(), 0,
               c.data(), c.outerStride());
}

void TransposeMultiply(ConstMatRef<float> a, ConstMatRef<float> b, MatRef<float> c) {
  RowMajorGemm(true, false, a.cols(), b.cols(), a.rows(), 1, a.data(), a.outerStride(), b.data(), b.outerStride(), 0,
               c.data(), c.outerStride());
}

double SoftmaxRow(float* logits, Eigen::Index n, uint32_t target, float scale, bool portable) {
  return !portable && HasAvx2() ? SoftmaxRowAvx2(logits, n, target, scale)
                                : SoftmaxRowPortable(logits, n, target, scale);
}

// ---- Linear ----

template <typename T>
Linear<T>::Linear(Parameters<T>* params, const std::string& name, Eigen::Index in, Eigen::Index out)
    : w_(params->Add(name + ".weight", in, out)), b_(params->Add(name + ".bias", 1, out)), in_(in), out_(out) {}

template <typename T>
void Linear<T>::Forward(const Parameters<T>& p, ConstMatRef<T> x, MatRef<T> y, bool keep) {
  y.noalias() = x * p[w_];
  y.rowwise() += p[b_].row(0);
  if (keep) x_.topRows(x.rows()) = x;
}

template <typename T>
void Linear<T>::Backward(const Parameters<T>& p, Gradients<T>* g, ConstMatRef<T> dy, MatRef<T> dx, bool want_dx) {
  const Eigen::Index n = dy.rows();
  (*g)[w_].noalias() += x_.topRows(n).transpose() * dy;
  (*g)[b_].row(0) += dy.colwise().sum();
  if (want_dx) dx.noalias() = dy * p[w_].transpose();
}

// ---- LayerNorm ----

template <typename T>
LayerNorm<T>::LayerNorm(Parameters<T>* params, const std::string& name, Eigen::Index dim)
    : gamma_(params->Add(name + ".gamma", 1, dim)), beta_(params->Add(name + ".beta", 1, dim)), dim_(dim) {
  (*params)[gamma_].setConstant(T(1));  // a no-op on a store that does not allocate
}

template <typename T>
void LayerNorm<T>::Forward(const Parameters<T>& p, ConstMatRef<T> x, MatRef<T> y) {
  const T inv_dim = T(1) / static_cast<T>(dim_);
  for (Eigen::Index r = 0; r < x.rows(); ++r) {
    const T mean = x.row(r).sum() * inv_dim;
    const T var = (x.row(r).array() - mean).square().sum() * inv_dim;
    const T inv_std = T(1) / std::sqrt(var + static_cast<T>(kEps));
    inv_std_(r) = inv_std;
    xhat_.row(r) = (x.row(r).array() - mean) * inv_std;
    y.row(r) = xhat_.row(r).cwiseProduct(p[gamma_].row(0)) + p[beta_].row(0);
  }
}

template <typename T>
void LayerNorm<T>::Backward(const Parameters<T>& p, Gradients<T>* g, ConstMatRef<T> dy, MatRef<T> dx) {
  const Eigen::Index n = dy.rows();
  const T dim = static_cast<T>(dim_);
  (*g)[gamma_].row(0) += dy.cwiseProduct(xhat_.topRows(n)).colwise().sum();
  (*g)[beta_].row(0) += dy.colwise().sum();
  for (Eigen::Index r = 0; r < n; ++r) {
    // dxhat = dy * gamma, written into dx first.
    dx.row(r) = dy.row(r).cwiseProduct(p[gamma_].row(0));
    const T sum = dx.row(r).sum();
    const T dot = dx.row(r).dot(xhat_.row(r));
    dx.row(r) = (dx.row(r).array() * dim - sum - xhat_.row(r).array() * dot) * (inv_std_(r) / dim);
  }
}

// ---- Dropout and ReLU ----

template <typename T>
void Dropout<T>::Forward(MatRef<T> x, bool training, std::mt19937_64* rng) {
  active_ = training && rate_ > 0;
  if (!active_) return;
  const T keep_scale = static_cast<T>(1 / (1 - rate_));
  // 53 random bits per draw are plenty: compare 32-bit halves of each
  // 64-bit draw against the rate.
  const uint64_t threshold = static_cast<uint64_t>(rate_ * 4294967296.0);
  const Eigen::Index count = x.rows() * x.cols();
  T* mask = mask_.data();
  for (Eigen::Index i = 0; i < count; i += 2) {
    uint64_t bits = (*rng)();
    mask[i] = (bits & 0xffffffffu) < threshold ? T(0) : keep_scale;
    if (i + 1 < count) mask[i + 1] = (bits >> 32) < threshold ? T(0) : keep_scale;
  }
  Eigen::Map<Mat<T>> m(mask_.data(), x.rows(), x.cols());
  x.array() *= m.array();
}

template <typename T>
void Dropout<T>::Backward(MatRef<T> dx) const {
  if (!active_) return;
  Eigen::Map<const Mat<T>> m(mask_.data(), dx.rows(), dx.cols());
  dx.array() *= m.array();
}

template <typename T>
void Relu<T>::Forward(MatRef<T> x) {
  Eigen::Map<Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> positive(positive_.data(), x.rows(),
                                                                                              x.cols());
  positive.array() = (x.array() > T(0)).template cast<uint8_t>();
  x = x.cwiseMax(T(0));
}

template <typename T>
void Relu<T>::Backward(MatRef<T> dx) const {
  Eigen::Map<const Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> positive(
      positive_.data(), dx.rows(), dx.cols());
  dx.array() *= positive.array().template cast<T>();
}

// ---- CausalSelfAttention ----

template <typename T>
CausalSelfAttention<T>::CausalSelfAttention(Parameters<T>* params, const std::string& name, Eigen::Index dim, int heads)
    : dim_(dim),
      heads_(heads),
      q_(params, name + ".query", dim, dim),
      k_(params, name + ".key", dim, dim),
      v_(params, name + ".value", dim, dim),
      o_(params, name + ".output", dim, dim) {}

template <typename T>
void CausalSelfAttention<T>::Reserve(Eigen::Index rows, Eigen::Index max_length) {
  for (Linear<T>* linear : {&q_, &k_, &v_, &o_}) linear->Reserve(rows);
  for (Mat<T>* m : {&q, &k, &v, &attended, &dq, &dk, &dv, &dattended, &dx_part}) m->resize(rows, dim_);
  probabilities_.resize(static_cast<size_t>(rows * max_length * heads_));
  scores_.resize(max_length, max_length);
  dscores_.resize(max_length, max_length);
}

template <typename T>
void CausalSelfAttention<T>::Forward(const Parameters<T>& p, ConstMatRef<T> x, std::span<const Segment> segments,
                                     MatRef<T> y, bool keep) {
  const Eigen::Index n = x.rows();
  const Eigen::Index dh = dim_ / heads_;
  const T scale = T(1) / std::sqrt(static_cast<T>(dh));
  q_.Forward(p, x, q.topRows(n), keep);
  k_.Forward(p, x, k.topRows(n), keep);
  v_.Forward(p, x, v.topRows(n), keep);
  size_t offset = 0;
  for (const Segment& segment : segments) {
    const Eigen::Index len = segment.length, start = segment.start;
    for (int h = 0; h < heads_; ++h) {
      Eigen::Map<Mat<T>> prob(probabilities_.data() + offset, len, len);
      offset += static_cast<size_t>(len * len);
      prob.noalias() = q.block(start, h * dh, len, dh) * k.block(start, h * dh, len, dh).transpose();
      for (Eigen::Index i = 0; i < len; ++i) {
        auto row = prob.row(i).head(i + 1);
        const T max = row.maxCoeff();
        row = ((row.array() - max) * scale).exp();
        row /= row.sum();
        prob.row(i).tail(len - i - 1).setZero();
      }
      attended.block(start, h * dh, len, dh).noalias() = prob * v.block(start, h * dh, len, dh);
    }
  }
  o_.Forward(p, attended.topRows(n), y, keep);
}

template <typename T>
void CausalSelfAttention<T>::Backward(const Parameters<T>& p, Gradients<T>* g, ConstMatRef<T> dy,
                                      std::span<const Segment> segments, MatRef<T> dx) {
  const Eigen::Index n = dy.rows();
  const Eigen::Index dh = dim_ / heads_;
  const T scale = T(1) / std::sqrt(static_cast<T>(dh));
  o_.Backward(p, g, dy, dattended.topRows(n), true);
  size_t offset = 0;
  for (const Segment& segment : segments) {
    const Eigen::Index len = segment.length, start = segment.start;
    for (int h = 0; h < heads_; ++h) {
      Eigen::Map<const Mat<T>> prob(probabilities_.data() + offset, len, len);
      offset += static_cast<size_t>(len * len);
      auto dA = dattended.block(start, h * dh, len, dh);
      auto ds = dscores_.topLeftCorner(len, len);
      ds.noalias() = dA * v.block(start, h * dh, len, dh).transpose();  // d prob
      dv.block(start, h * dh, len, dh).noalias() = prob.transpose() * dA;
      for (Eigen::Index i = 0; i < len; ++i) {
        const T dot = ds.row(i).head(i + 1).dot(prob.row(i).head(i + 1));
        ds.row(i).head(i + 1) = prob.row(i).head(i + 1).cwiseProduct((ds.row(i).head(i + 1).array() - dot).matrix()) * scale;
        ds.row(i).tail(len - i - 1).setZero();
      }
      dq.block(start, h * dh, len, dh).noalias() = ds * k.block(start, h * dh, len, dh);
      dk.block(start, h * dh, len, dh).noalias() = ds.transpose() * q.block(start, h * dh, len, dh);
    }
  }
  q_.Backward(p, g, dq.topRows(n), dx, true);
  k_.Backward(p, g, dk.topRows(n), dx_part.topRows(n), true);
  dx += dx_part.topRows(n);
  v_.Backward(p, g, dv.topRows(n), dx_part.topRows(n), true);
  dx += dx_part.topRows(n);
}

// ---- TransformerBlock ----

template <typename T>
TransformerBlock<T>::TransformerBlock(Parameters<T>* params, const std::string& name, Eigen::Index dim, int heads,
                                      double dropout)
    : dim_(dim),
      norm1_(params, name + ".norm1", dim),
      norm2_(params, name + ".norm2", dim),
      attention_(params, name + ".attention", dim, heads),
      ff1_(params, name + ".ff1", dim, dim),
      ff2_(params, name + ".ff2", dim, dim),
      drop1_(dropout),
      drop2_(dropout) {}

template <typename T>
void TransformerBlock<T>::Reserve(Eigen::Index rows, Eigen::Index max_length) {
  norm1_.Reserve(rows);
  norm2_.Reserve(rows);
  attention_.Reserve(rows, max_length);
  ff1_.Reserve(rows);
  ff2_.Reserve(rows);
  relu_.Reserve(rows, dim_);
  drop1_.Reserve(rows, dim_);
  drop2_.Reserve(rows, dim_);
  for (Mat<T>* m : {&normed_, &branch_, &hidden_, &dbranch_, &dnormed_, &dhidden_}) m->resize(rows, dim_);
}

template <typename T>
void TransformerBlock<T>::Forward(const Parameters<T>& p, MatRef<T> x, std::span<const Segment> segments,
                                  bool training, std::mt19937_64* rng) {
  const Eigen::Index n = x.rows();
  auto normed = normed_.topRows(n);
  auto branch = branch_.topRows(n);
  auto hidden = hidden_.topRows(n);
  norm1_.Forward(p, x, normed);
  attention_.Forward(p, normed, segments, branch, training);
  drop1_.Forward(branch, training, rng);
  x += branch;
  norm2_.Forward(p, x, normed);
  ff1_.Forward(p, normed, hidden, training);
  relu_.Forward(hidden);
  ff2_.Forward(p, hidden, branch, training);
  drop2_.Forward(branch, training, rng);
  x += branch;
}

template <typename T>
void TransformerBlock<T>::Backward(const Parameters<T>& p, Gradients<T>* g, MatRef<T> dx,
                                   std::span<const Segment> segments) {
  const Eigen::Index n = dx.rows();
  auto dbranch = dbranch_.topRows(n);
  auto dnormed = dnormed_.topRows(n);
  auto dhidden = dhidden_.topRows(n);
  // x2 = x1 + drop(ff2(relu(ff1(norm2(x1)))))
  dbranch = dx;
  drop2_.Backward(dbranch);
  ff2_.Backward(p, g, dbranch, dhidden, true);
  relu_.Backward(dhidden);
  ff1_.Backward(p, g, dhidden, dnormed, true);
  norm2_.Backward(p, g, dnormed, dbranch);
  dx += dbranch;
  // x1 = x0 + drop(attention(norm1(x0)))
  dbranch = dx;
  drop1_.Backward(dbranch);
  attention_.Backward(p, g, dbranch, segments, dnormed);
  norm1_.Backward(p, g, dnormed, dbranch);
  dx += dbranch;
}

// ---- GruCell ----

template <typename T>
GruCell<T>::GruCell(Parameters<T>* params, const std::string& name, Eigen::Index in, Eigen::Index hidden)
    : wx_(params->Add(name + ".input_weight", in, 3 * hidden)),
      wh_(params->Add(name + ".hidden_weight", hidden, 3 * hidden)),
      bx_(params->Add(name + ".input_bias", 1, 3 * hidden)),
      bh_(params->Add(name + ".hidden_bias", 1, 3 * hidden)),
      in_(in),
      hidden_(hidden) {}

template <typename T>
void GruCell<T>::Forward(const Parameters<T>& p, ConstMatRef<T> x, ConstMatRef<T> h, MatRef<T> h_next,
                         Cache* c) const {
  const Eigen::Index H = hidden_;
  c->x = x;
  c->h = h;
  c->gx.noalias() = x * p[wx_];
  c->gx.rowwise() += p[bx_].row(0);
  c->gh.noalias() = h * p[wh_];
  c->gh.rowwise() += p[bh_].row(0);
  auto sigmoid = [](auto a) { return T(1) / (T(1) + (-a).exp()); };
  c->r = sigmoid(c->gx.leftCols(H).array() + c->gh.leftCols(H).array()).matrix();
  c->z = sigmoid(c->gx.middleCols(H, H).array() + c->gh.middleCols(H, H).array()).matrix();
  c->hn = c->gh.rightCols(H);
  c->n = (c->gx.rightCols(H).array() + c->r.array() * c->hn.array()).tanh().matrix();
  h_next = ((T(1) - c->z.array()) * c->n.array() + c->z.array() * c->h.array()).matrix();
}

template <typename T>
void GruCell<T>::Backward(const Parameters<T>& p, Gradients<T>* g, Cache* c, ConstMatRef<T> dh_next, MatRef<T> dx,
                          MatRef<T> dh) const {
  const Eigen::Index H = hidden_;
  auto r = c->r.array();
  auto z = c->z.array();
  auto n = c->n.array();
  auto dhn = dh_next.array();
  // Gradients of the pre-activations, [r z n] for the input side (gx) and
  // the hidden side (gh); they differ only in the n block.
  c->gx.middleCols(H, H) = (dhn * (c->h.array() - n) * z * (T(1) - z)).matrix();
  c->gx.rightCols(H) = (dhn * (T(1) - z) * (T(1) - n.square())).matrix();
  c->gx.leftCols(H) = (c->gx.rightCols(H).array() * c->hn.array() * r * (T(1) - r)).matrix();
  c->gh.leftCols(2 * H) = c->gx.leftCols(2 * H);
  c->gh.rightCols(H) = (c->gx.rightCols(H).array() * r).matrix();
  (*g)[wx_].noalias() += c->x.transpose() * c->gx;
  (*g)[bx_].row(0) += c->gx.colwise().sum();
  (*g)[wh_].noalias() += c->h.transpose() * c->gh;
  (*g)[bh_].row(0) += c->gh.colwise().sum();
  dx.noalias() = c->gx * p[wx_].transpose();
  dh = (dhn * z).matrix();
  dh.noalias() += c->gh * p[wh_].transpose();
}

// ---- SoftmaxCrossEntropy ----

template <typename T>
double SoftmaxCrossEntropy<T>::ForwardBackward(ConstMatRef<T> h, std::span<const uint32_t> targets, ConstMatRef<T> items,
                                               T scale, MatRef<T> dh, MatRef<T> ditems, std::span<const T> bias) {
  const Eigen::Index n = h.rows(), chunk = logits_.rows();
  double loss = 0;
  for (Eigen::Index start = 0; start < n; start += chunk) {
    const Eigen::Index m = std::min(chunk, n - start);
    const Eigen::Index d = h.cols(), count = items.rows();
    auto logits = logits_.topLeftCorner(m, count);
    if constexpr (std::is_same_v<T, float>) {
      RowMajorGemm(false, true, m, count, d, 1, h.data() + start * h.outerStride(), h.outerStride(), items.data(),
                   items.outerStride(), 0, logits.data(), logits.outerStride());
    } else {
      logits.noalias() = h.middleRows(start, m) * items.transpose();
    }
    if (!bias.empty()) {
      logits.rowwise() += Eigen::Map<const RowVec<T>>(bias.data(), static_cast<Eigen::Index>(bias.size()));
    }
    for (Eigen::Index r = 0; r < m; ++r) {
      const uint32_t target = targets[static_cast<size_t>(start + r)];
      if constexpr (std::is_same_v<T, float>) {
        loss += SoftmaxRow(logits.row(r).data(), count, target, scale);
      } else {
        auto row = logits.row(r);
        const T max = row.maxCoeff();
        const T target_logit = row(target);
        row = (row.array() - max).exp();
        const T sum = row.sum();
        loss += std::log(static_cast<double>(sum)) - static_cast<double>(target_logit - max);
        row *= scale / sum;
        row(target) -= scale;
      }
    }
    if constexpr (std::is_same_v<T, float>) {
      RowMajorGemm(false, false, m, d, count, 1, logits.data(), logits.outerStride(), items.data(), items.outerStride(),
                   0, dh.data() + start * dh.outerStride(), dh.outerStride());
      RowMajorGemm(true, false, count, d, m, 1, logits.data(), logits.outerStride(), h.data() + start * h.outerStride(),
                   h.outerStride(), 1, ditems.data(), ditems.outerStride());
    } else {
      dh.middleRows(start, m).noalias() = logits * items;
      ditems.noalias() += logits.transpose() * h.middleRows(start, m);
    }
  }
  return loss;
}

// ---- GRU4Rec's losses ----

template <typename T>
double CrossEntropyDiagonal(ConstMatRef<T> scores, T scale, MatRef<T> grad) {
  double loss = 0;
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    const T max = scores.row(i).maxCoeff();
    grad.row(i) = (scores.row(i).array() - max).exp().matrix();
    const T sum = grad.row(i).sum();
    loss += std::log(static_cast<double>(sum)) - static_cast<double>(scores(i, i) - max);
    grad.row(i) *= scale / sum;
    grad(i, i) -= scale;
  }
  return loss;
}

template <typename T>
double BprMaxDiagonal(ConstMatRef<T> scores, T bpreg, T scale, MatRef<T> grad) {
  double loss = 0;
  const Eigen::Index columns = scores.cols();
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    auto row = scores.row(i);
    auto g = grad.row(i);
    const T positive = row(i);
    // Softmax over the negatives (column i excluded), into g.
    T max = -std::numeric_limits<T>::infinity();
    for (Eigen::Index j = 0; j < columns; ++j) {
      if (j != i) max = std::max(max, row(j));
    }
    T sum = 0;
    for (Eigen::Index j = 0; j < columns; ++j) {
      g(j) = j == i ? T(0) : std::exp(row(j) - max);
      sum += g(j);
    }
    g /= sum;
    // A = sum_j s_j sigma_j, R = sum_j s_j r_j^2.
    T a = 0, r2 = 0, dpositive = 0;
    for (Eigen::Index j = 0; j < columns; ++j) {
      if (j == i) continue;
      const T sigma = T(1) / (T(1) + std::exp(row(j) - positive));
      a += g(j) * sigma;
      r2 += g(j) * row(j) * row(j);
      dpositive += g(j) * sigma * (1 - sigma);
    }
    a = std::max(a, std::numeric_limits<T>::min());
    loss += -std::log(static_cast<double>(a)) + static_cast<double>(bpreg * r2);
    // d/dr_k = s_k (1 - sigma_k^2 / A) + bpreg s_k (r_k^2 + 2 r_k - R); d/dr_i = -sum_j s_j sigma_j (1 - sigma_j) / A.
    for (Eigen::Index j = 0; j < columns; ++j) {
      if (j == i) continue;
      const T sigma = T(1) / (T(1) + std::exp(row(j) - positive));
      const T s = g(j);
      g(j) = scale * (s * (1 - sigma * sigma / a) + bpreg * s * (row(j) * row(j) + 2 * row(j) - r2));
    }
    g(i) = -scale * dpositive / a;
  }
  return loss;
}

// ---- Adam ----

template <typename T>
Adam<T>::Adam(const Parameters<T>& params, Options options) : options_(options) {
  m_ = params.ZerosLike();
  v_ = params.ZerosLike();
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& name = params.name(i);
    auto ends_with = [&](std::string_view suffix) {
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    decay_.push_back(!(ends_with(".bias") || ends_with(".gamma") || ends_with(".beta")));
  }
}

template <typename T>
void Adam<T>::Step(Parameters<T>* params, const Gradients<T>& grads) {
  ++steps_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const T step = static_cast<T>(options_.learning_rate * std::sqrt(1 - std::pow(b2, steps_)) /
                                (1 - std::pow(b1, steps_)));
  const T eps = static_cast<T>(options_.epsilon);
  for (size_t i = 0; i < params->size(); ++i) {
    auto value = (*params)[i].array();
    auto grad = grads[i].array();
    m_[i].array() = T(b1) * m_[i].array() + T(1 - b1) * grad;
    v_[i].array() = T(b2) * v_[i].array() + T(1 - b2) * grad.square();
    if (decay_[i] && options_.weight_decay > 0) {
      value *= T(1 - options_.learning_rate * options_.weight_decay);
    }
    value -= step * m_[i].array() / (v_[i].array().sqrt() + eps);
  }
}

#define VITRINA_NN_INSTANTIATE(T)          \
  template class Linear<T>;                \
  template class LayerNorm<T>;             \
  template class Dropout<T>;               \
  template class Relu<T>;                  \
  template class CausalSelfAttention<T>;   \
  template class TransformerBlock<T>;      \
  template class GruCell<T>;               \
  template class SoftmaxCrossEntropy<T>;   \
  template class Adam<T>;
VITRINA_NN_INSTANTIATE(float)
VITRINA_NN_INSTANTIATE(double)
template double CrossEntropyDiagonal<float>(ConstMatRef<float>, float, MatRef<float>);
template double CrossEntropyDiagonal<double>(ConstMatRef<double>, double, MatRef<double>);
template double BprMaxDiagonal<float>(ConstMatRef<float>, float, float, MatRef<float>);
template double BprMaxDiagonal<double>(ConstMatRef<double>, double, double, MatRef<double>);
#undef VITRINA_NN_INSTANTIATE

}  // namespace vitrina::nn
