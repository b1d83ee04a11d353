// Neural-network layers for the sequence models, written on Eigen with the
// forward and backward pass of each layer by hand (each one is checked
// against finite differences in nn_test.cc).
//
// Conventions:
//  - Activations are row-major matrices, one row per position (an event of a
//    sequence), one column per feature. A batch packs its sequences one
//    after another without padding; `Segments` say where each one starts.
//  - Parameters live in a Parameters<T> store, addressed by index, and are
//    only read during a step. Each worker thread owns a Gradients<T> of the
//    same shapes and its own layer objects (which cache what backward needs),
//    so workers run forward and backward over their share of a batch at
//    once; the gradients are summed before the optimizer step.
//  - Buffers are sized once for the largest batch (Reserve) and reused:
//    inside a step nothing is allocated.
//  - Templated on the scalar: float for training and serving, double for
//    the gradient checks.
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace vitrina::nn {

template <typename T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using RowVec = Eigen::Matrix<T, 1, Eigen::Dynamic>;
// A view of the first rows of a buffer (contiguous in row-major order).
template <typename T>
using MatRef = Eigen::Ref<Mat<T>>;
template <typename T>
using ConstMatRef = Eigen::Ref<const Mat<T>>;

// Where the sequences of a packed batch lie: rows [start, start + length).
struct Segment {
  uint32_t start = 0;
  uint32_t length = 0;
};

template <typename T>
class Parameters {
 public:
  // `allocate` false keeps the names only: for building a worker's layers,
  // which hold indices into the shared store.
  explicit Parameters(bool allocate = true) : allocate_(allocate) {}

  // Adds a rows x cols parameter set to zero; returns its index.
  size_t Add(std::string name, Eigen::Index rows, Eigen::Index cols) {
    values_.emplace_back(allocate_ ? Mat<T>::Zero(rows, cols) : Mat<T>());
    names_.push_back(std::move(name));
    return values_.size() - 1;
  }
  Mat<T>& operator[](size_t i) { return values_[i]; }
  const Mat<T>& operator[](size_t i) const { return values_[i]; }
  size_t size() const { return values_.size(); }
  const std::string& name(size_t i) const { return names_[i]; }
  size_t count() const {
    size_t total = 0;
    for (const Mat<T>& v : values_) total += static_cast<size_t>(v.size());
    return total;
  }
  // Zero matrices of the parameters' shapes (a worker's gradients).
  std::vector<Mat<T>> ZerosLike() const {
    std::vector<Mat<T>> zeros;
    for (const Mat<T>& v : values_) zeros.push_back(Mat<T>::Zero(v.rows(), v.cols()));
    return zeros;
  }

 private:
  bool allocate_ = true;
  std::vector<Mat<T>> values_;
  std::vector<std::string> names_;
};

template <typename T>
using Gradients = std::vector<Mat<T>>;

// Fills a parameter with N(0, stddev) values.
template <typename T>
void InitNormal(Mat<T>* value, double stddev, std::mt19937_64* rng) {
  std::normal_distribution<double> normal(0, stddev);
  for (Eigen::Index i = 0; i < value->size(); ++i) value->data()[i] = static_cast<T>(normal(*rng));
}

// y = x W + b, W: in x out, b: 1 x out.
template <typename T>
class Linear {
 public:
  Linear() = default;
  Linear(Parameters<T>* params, const std::string& name, Eigen::Index in, Eigen::Index out);
  void Reserve(Eigen::Index rows) { x_.resize(rows, in_); }
  Eigen::Index in() const { return in_; }
  Eigen::Index out() const { return out_; }
  size_t weight() const { return w_; }
  size_t bias() const { return b_; }

  // `keep` caches the input for Backward (training).
  void Forward(const Parameters<T>& p, ConstMatRef<T> x, MatRef<T> y, bool keep);
  // Adds to the gradients; writes dx (may be skipped with an empty ref when
  // `want_dx` is false).
  void Backward(const Parameters<T>& p, Gradients<T>* g, ConstMatRef<T> dy, MatRef<T> dx, bool want_dx);

 private:
  size_t w_ = 0, b_ = 0;
  Eigen::Index in_ = 0, out_ = 0;
  Mat<T> x_;
};

// Per row: (x - mean) / sqrt(var + eps) * gamma + beta.
template <typename T>
class LayerNorm {
 public:
  LayerNorm() = default;
  LayerNorm(Parameters<T>* params, const std::string& name, Eigen::Index dim);
  void Reserve(Eigen::Index rows) {
    xhat_.resize(rows, dim_);
    inv_std_.resize(rows);
  }
  void Forward(const Parameters<T>& p, ConstMatRef<T> x, MatRef<T> y);
  void Backward(const Parameters<T>& p, Gradients<T>* g, ConstMatRef<T> dy, MatRef<T> dx);

 private:
  size_t gamma_ = 0, beta_ = 0;
  Eigen::Index dim_ = 0;
  Mat<T> xhat_;
  Eigen::Matrix<T, Eigen::Dynamic, 1> inv_std_;
  static constexpr double kEps = 1e-5;
};

// Inverted dropout: training multiplies by 0 or 1 / (1 - rate).
template <typename T>
class Dropout {
 public:
  explicit Dropout(double rate = 0) : rate_(rate) {}
  void Reserve(Eigen::Index rows, Eigen::Index cols) { mask_.resize(rows, cols); }
  // In place. Training draws a new mask from `rng`; inference does nothing.
  void Forward(MatRef<T> x, bool training, std::mt19937_64* rng);
  void Backward(MatRef<T> dx) const;

 private:
  double rate_ = 0;
  bool active_ = false;
  Mat<T> mask_;
};

// y = max(x, 0), in place.
template <typename T>
class Relu {
 public:
  void Reserve(Eigen::Index rows, Eigen::Index cols) { positive_.resize(rows, cols); }
  void Forward(MatRef<T> x);
  void Backward(MatRef<T> dx) const;

 private:
  Eigen::Matrix<uint8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> positive_;
};

// Multi-head causal self-attention over packed sequences: each position
// attends to itself and the earlier positions of its own sequence.
template <typename T>
class CausalSelfAttention {
 public:
  CausalSelfAttention() = default;
  CausalSelfAttention(Parameters<T>* params, const std::string& name, Eigen::Index dim, int heads);
  void Reserve(Eigen::Index rows, Eigen::Index max_length);
  void Forward(const Parameters<T>& p, ConstMatRef<T> x, std::span<const Segment> segments, MatRef<T> y, bool keep);
  void Backward(const Parameters<T>& p, Gradients<T>* g, ConstMatRef<T> dy, std::span<const Segment> segments,
                MatRef<T> dx);

 private:
  Eigen::Index dim_ = 0;
  int heads_ = 1;
  Linear<T> q_, k_, v_, o_;
  Mat<T> q, k, v, attended;          // rows x dim
  Mat<T> dq, dk, dv, dattended, dx_part;
  std::vector<T> probabilities_;     // per segment and head, length x length, causal
  Mat<T> scores_, dscores_;          // one segment's scratch, max_length x max_length
};

// Pre-norm transformer block: x + Attn(LN(x)), then x + FFN(LN(x)), with
// dropout on each branch's output.
template <typename T>
class TransformerBlock {
 public:
  TransformerBlock() = default;
  TransformerBlock(Parameters<T>* params, const std::string& name, Eigen::Index dim, int heads, double dropout);
  void Reserve(Eigen::Index rows, Eigen::Index max_length);
  // x is updated in place.
  void Forward(const Parameters<T>& p, MatRef<T> x, std::span<const Segment> segments, bool training,
               std::mt19937_64* rng);
  // dx is updated in place: on entry the gradient of the block's output, on
  // return that of its input.
  void Backward(const Parameters<T>& p, Gradients<T>* g, MatRef<T> dx, std::span<const Segment> segments);

 private:
  Eigen::Index dim_ = 0;
  LayerNorm<T> norm1_, norm2_;
  CausalSelfAttention<T> attention_;
  Linear<T> ff1_, ff2_;
  Relu<T> relu_;
  Dropout<T> drop1_, drop2_;
  Mat<T> normed_, branch_, hidden_, dbranch_, dnormed_, dhidden_;
};

// GRU cell (as in PyTorch): r = s(x Wr + h Ur + br), z = s(x Wz + h Uz + bz),
// n = tanh(x Wn + bn + r * (h Un + bun)), h' = (1 - z) * n + z * h.
// Runs one step over a batch of rows; callers keep the per-step caches.
template <typename T>
class GruCell {
 public:
  GruCell() = default;
  GruCell(Parameters<T>* params, const std::string& name, Eigen::Index in, Eigen::Index hidden);
  Eigen::Index hidden() const { return hidden_; }

  // What backward needs from one step, and its scratch. Reused across
  // steps of the same batch size without allocating.
  struct Cache {
    Mat<T> x, h, r, z, n, hn;  // inputs, gates, candidate, h Un + bun
    Mat<T> gx, gh;             // scratch: the gates' pre-activations, then their gradients
  };
  void Forward(const Parameters<T>& p, ConstMatRef<T> x, ConstMatRef<T> h, MatRef<T> h_next, Cache* cache) const;
  // Adds to the gradients; writes the gradients of x and h.
  void Backward(const Parameters<T>& p, Gradients<T>* g, Cache* cache, ConstMatRef<T> dh_next, MatRef<T> dx,
                MatRef<T> dh) const;

 private:
  size_t wx_ = 0, wh_ = 0, bx_ = 0, bh_ = 0;  // input and hidden weights of the three gates [r z n], biases
  Eigen::Index in_ = 0, hidden_ = 0;
};

// Softmax cross-entropy against a full catalog whose item vectors are the
// rows of `items` (tied with the input embedding): logits = h items^T,
// plus `bias` per item when given (a constant: sampled softmax's logQ
// correction). Adds `scale` * d(sum of losses) to the gradients of h (dh,
// overwritten) and of the item matrix; returns the sum of the row losses.
// Rows are processed in chunks of `chunk` so that the logits never exceed
// chunk x items in memory.
template <typename T>
class SoftmaxCrossEntropy {
 public:
  // Room for `chunk` rows against up to `items` items.
  void Reserve(Eigen::Index chunk, Eigen::Index items) { logits_.resize(chunk, items); }
  double ForwardBackward(ConstMatRef<T> h, std::span<const uint32_t> targets, ConstMatRef<T> items, T scale,
                         MatRef<T> dh, MatRef<T> ditems, std::span<const T> bias = {});

 private:
  Mat<T> logits_;
};

// GRU4Rec's losses over a score matrix whose row i has its positive in
// column i and negatives in every other column (the mini-batch's other
// targets and the shared samples). Write `scale` * d(loss)/d(scores) into
// grad (same shape) and return the summed loss.
//  - cross-entropy: -log softmax(row)[i];
//  - BPR-max (Hidasi & Karatzoglou 2018): with s = softmax over the
//    negatives, -log(sum_j s_j sigmoid(r_i - r_j)) + bpreg * sum_j s_j r_j^2.
template <typename T>
double CrossEntropyDiagonal(ConstMatRef<T> scores, T scale, MatRef<T> grad);
template <typename T>
double BprMaxDiagonal(ConstMatRef<T> scores, T bpreg, T scale, MatRef<T> grad);

// Products through BLAS, for the large shapes of the output layers:
// c = a b^T, c = a b and c = a^T b (c is overwritten).
void MultiplyByTranspose(ConstMatRef<float> a, ConstMatRef<float> b, MatRef<float> c);
void Multiply(ConstMatRef<float> a, ConstMatRef<float> b, MatRef<float> c);
void TransposeMultiply(ConstMatRef<float> a, ConstMatRef<float> b, MatRef<float> c);

// One row of float logits becomes scale * (softmax - one-hot(target)), in
// place; returns -log softmax at the target. Uses AVX2 when the CPU has it
// unless `portable` (tests compare the two).
double SoftmaxRow(float* logits, Eigen::Index n, uint32_t target, float scale, bool portable = false);

// AdamW: Adam with decoupled weight decay (not applied to parameters whose
// name ends in ".bias", ".gamma" or ".beta").
template <typename T>
class Adam {
 public:
  struct Options {
    double learning_rate = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.98;
    double epsilon = 1e-8;
    double weight_decay = 0;
  };
  Adam(const Parameters<T>& params, Options options);
  void Step(Parameters<T>* params, const Gradients<T>& grads);

 private:
  Options options_;
  std::vector<Mat<T>> m_, v_;
  std::vector<bool> decay_;
  int64_t steps_ = 0;
};

}  // namespace vitrina::nn
