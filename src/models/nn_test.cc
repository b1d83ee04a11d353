// Each layer's backward pass against central finite differences (in double),
// plus the properties the sequence models rely on: causality, dropout
// scaling, the cross-entropy value, Adam's first step.
#include "models/nn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

namespace vitrina::nn {
namespace {

using M = Mat<double>;

M Random(Eigen::Index rows, Eigen::Index cols, std::mt19937_64* rng, double scale = 1) {
  M m(rows, cols);
  InitNormal(&m, scale, rng);
  return m;
}

// Compares the analytic gradients of a scalar loss with central differences,
// for every parameter element and every element of `input`. `loss` runs the
// forward pass from the current values; `analytic` runs forward and backward
// and fills the gradients.
void CheckGradients(Parameters<double>* params, M* input, const std::function<double()>& loss,
                    const std::function<void(Gradients<double>*, M*)>& analytic, double tolerance = 1e-6) {
  Gradients<double> grads = params->ZerosLike();
  M dinput = M::Zero(input->rows(), input->cols());
  analytic(&grads, &dinput);
  const double h = 1e-6;
  auto numeric = [&](double* value) {
    const double saved = *value;
    *value = saved + h;
    const double up = loss();
    *value = saved - h;
    const double down = loss();
    *value = saved;
    return (up - down) / (2 * h);
  };
  auto close = [&](double expected, double actual) {
    return std::abs(expected - actual) <= tolerance * std::max(1.0, std::abs(expected));
  };
  for (size_t i = 0; i < params->size(); ++i) {
    M& value = (*params)[i];
    for (Eigen::Index j = 0; j < value.size(); ++j) {
      const double expected = numeric(value.data() + j);
      ASSERT_TRUE(close(expected, grads[i].data()[j]))
          << params->name(i) << "[" << j << "]: numeric " << expected << ", analytic " << grads[i].data()[j];
    }
  }
  for (Eigen::Index j = 0; j < input->size(); ++j) {
    const double expected = numeric(input->data() + j);
    ASSERT_TRUE(close(expected, dinput.data()[j]))
        << "input[" << j << "]: numeric " << expected << ", analytic " << dinput.data()[j];
  }
}

// Random parameters (layer norms' gamma around 1) so no gradient is
// trivially zero.
void Randomize(Parameters<double>* params, std::mt19937_64* rng) {
  for (size_t i = 0; i < params->size(); ++i) {
    InitNormal(&(*params)[i], 0.5, rng);
    if (params->name(i).ends_with(".gamma")) (*params)[i].array() += 1;
  }
}

TEST(NnGradientTest, Linear) {
  std::mt19937_64 rng(1);
  Parameters<double> params;
  Linear<double> linear(&params, "fc", 4, 3);
  Randomize(&params, &rng);
  linear.Reserve(5);
  M x = Random(5, 4, &rng), r = Random(5, 3, &rng), y(5, 3);
  auto loss = [&] {
    linear.Forward(params, x, y, false);
    return y.cwiseProduct(r).sum();
  };
  CheckGradients(&params, &x, loss, [&](Gradients<double>* g, M* dx) {
    linear.Forward(params, x, y, true);
    linear.Backward(params, g, r, *dx, true);
  });
}

TEST(NnGradientTest, LayerNorm) {
  std::mt19937_64 rng(2);
  Parameters<double> params;
  LayerNorm<double> norm(&params, "ln", 6);
  Randomize(&params, &rng);
  norm.Reserve(4);
  M x = Random(4, 6, &rng, 2), r = Random(4, 6, &rng), y(4, 6);
  auto loss = [&] {
    norm.Forward(params, x, y);
    return y.cwiseProduct(r).sum();
  };
  CheckGradients(&params, &x, loss, [&](Gradients<double>* g, M* dx) {
    norm.Forward(params, x, y);
    norm.Backward(params, g, r, *dx);
  });
}

TEST(NnGradientTest, CausalSelfAttentionTwoHeadsTwoSequences) {
  std::mt19937_64 rng(3);
  Parameters<double> params;
  CausalSelfAttention<double> attention(&params, "attn", 4, 2);
  Randomize(&params, &rng);
  const std::vector<Segment> segments = {{0, 3}, {3, 4}};
  attention.Reserve(7, 4);
  M x = Random(7, 4, &rng), r = Random(7, 4, &rng), y(7, 4);
  auto loss = [&] {
    attention.Forward(params, x, segments, y, false);
    return y.cwiseProduct(r).sum();
  };
  CheckGradients(&params, &x, loss, [&](Gradients<double>* g, M* dx) {
    attention.Forward(params, x, segments, y, true);
    attention.Backward(params, g, r, segments, *dx);
  });
}

TEST(NnGradientTest, TransformerBlockWithDropout) {
  std::mt19937_64 rng(4);
  Parameters<double> params;
  TransformerBlock<double> block(&params, "block", 4, 2, 0.3);
  Randomize(&params, &rng);
  const std::vector<Segment> segments = {{0, 2}, {2, 3}};
  block.Reserve(5, 3);
  M x = Random(5, 4, &rng), r = Random(5, 4, &rng);
  // The same dropout masks on every pass: the generator restarts each time.
  auto forward = [&](bool training) {
    M y = x;
    std::mt19937_64 masks(99);
    block.Forward(params, y, segments, training, &masks);
    return y;
  };
  auto loss = [&] { return forward(true).cwiseProduct(r).sum(); };
  CheckGradients(&params, &x, loss, [&](Gradients<double>* g, M* dx) {
    forward(true);
    *dx = r;
    block.Backward(params, g, *dx, segments);
  });
}

TEST(NnGradientTest, GruCell) {
  std::mt19937_64 rng(5);
  Parameters<double> params;
  GruCell<double> cell(&params, "gru", 4, 5);
  Randomize(&params, &rng);
  M x = Random(3, 4, &rng), h = Random(3, 5, &rng), r = Random(3, 5, &rng), next(3, 5);
  GruCell<double>::Cache cache;
  auto loss = [&] {
    cell.Forward(params, x, h, next, &cache);
    return next.cwiseProduct(r).sum();
  };
  // The input x, then the hidden state h, as the checked input.
  M dh(3, 5);
  CheckGradients(&params, &x, loss, [&](Gradients<double>* g, M* dx) {
    cell.Forward(params, x, h, next, &cache);
    cell.Backward(params, g, &cache, r, *dx, dh);
  });
  Parameters<double> none;
  M dx(3, 4);
  CheckGradients(&none, &h, loss, [&](Gradients<double>*, M* dhidden) {
    Gradients<double> g = params.ZerosLike();
    cell.Forward(params, x, h, next, &cache);
    cell.Backward(params, &g, &cache, r, dx, *dhidden);
  });
}

TEST(NnGradientTest, SoftmaxCrossEntropyInChunks) {
  std::mt19937_64 rng(6);
  Parameters<double> params;
  const size_t items = params.Add("items", 7, 4);
  Randomize(&params, &rng);
  M h = Random(5, 4, &rng);
  const std::vector<uint32_t> targets = {0, 6, 3, 3, 1};
  SoftmaxCrossEntropy<double> loss_layer;
  loss_layer.Reserve(2, 7);  // chunks of 2, 2 and 1 rows
  M dh(5, 4);
  M ditems = M::Zero(7, 4);
  auto loss = [&] { return loss_layer.ForwardBackward(h, targets, params[items], 0.5, dh, ditems) * 0.5; };
  // The value: the mean of -log softmax at the target.
  double expected = 0;
  for (int r = 0; r < 5; ++r) {
    Eigen::VectorXd logits = params[items] * h.row(r).transpose();
    expected += std::log(logits.array().exp().sum()) - logits(targets[r]);
  }
  EXPECT_NEAR(loss(), expected * 0.5, 1e-12);
  // Room for more items than are passed changes nothing.
  SoftmaxCrossEntropy<double> roomy;
  roomy.Reserve(3, 12);
  M dh_roomy(5, 4), ditems_roomy = M::Zero(7, 4);
  EXPECT_NEAR(roomy.ForwardBackward(h, targets, params[items], 0.5, dh_roomy, ditems_roomy) * 0.5, expected * 0.5, 1e-12);
  EXPECT_TRUE(dh_roomy.isApprox(dh, 1e-12));
  CheckGradients(&params, &h, loss, [&](Gradients<double>* g, M* dx) {
    (*g)[items].setZero();
    loss_layer.ForwardBackward(h, targets, params[items], 0.5, *dx, (*g)[items]);
  });

  // With a constant bias per item (sampled softmax's logQ correction).
  const std::vector<double> bias = {0.3, -1.0, 0.0, 2.0, -0.5, 0.1, 0.7};
  auto biased = [&] { return loss_layer.ForwardBackward(h, targets, params[items], 0.5, dh, ditems, bias) * 0.5; };
  double expected_biased = 0;
  for (int r = 0; r < 5; ++r) {
    Eigen::VectorXd logits = params[items] * h.row(r).transpose();
    for (int j = 0; j < 7; ++j) logits(j) += bias[j];
    expected_biased += std::log(logits.array().exp().sum()) - logits(targets[r]);
  }
  EXPECT_NEAR(biased(), expected_biased * 0.5, 1e-12);
  CheckGradients(&params, &h, biased, [&](Gradients<double>* g, M* dx) {
    (*g)[items].setZero();
    loss_layer.ForwardBackward(h, targets, params[items], 0.5, *dx, (*g)[items], bias);
  });
}

TEST(NnGradientTest, Gru4RecLosses) {
  std::mt19937_64 rng(10);
  Parameters<double> none;
  M scores = Random(4, 9, &rng, 1.5);  // 4 examples, 4 in-batch targets + 5 samples
  M grad(4, 9);
  auto ce = [&] { return CrossEntropyDiagonal<double>(scores, 0.5, grad) * 0.5; };
  CheckGradients(&none, &scores, ce, [&](Gradients<double>*, M* d) { CrossEntropyDiagonal<double>(scores, 0.5, *d); });
  auto bpr = [&] { return BprMaxDiagonal<double>(scores, 0.3, 0.5, grad) * 0.5; };
  CheckGradients(&none, &scores, bpr, [&](Gradients<double>*, M* d) { BprMaxDiagonal<double>(scores, 0.3, 0.5, *d); });
  // A positive far above its negatives costs almost nothing but the
  // regularizer; far below, a lot.
  M easy = M::Zero(1, 3), hard = M::Zero(1, 3);
  easy(0, 0) = 20;
  hard(0, 0) = -20;
  M g(1, 3);
  EXPECT_LT(BprMaxDiagonal<double>(easy, 0, 1, g), 1e-6);
  EXPECT_GT(BprMaxDiagonal<double>(hard, 0, 1, g), 19);
  M uniform = M::Zero(2, 4), g2(2, 4);
  EXPECT_NEAR(CrossEntropyDiagonal<double>(uniform, 1, g2), 2 * std::log(4.0), 1e-12);
}

TEST(NnTest, VectorizedSoftmaxRowMatchesThePortableOne) {
  std::mt19937_64 rng(9);
  for (Eigen::Index n : {1, 7, 8, 13, 1000, 12101}) {
    for (double spread : {1.0, 30.0}) {
      std::vector<float> a(static_cast<size_t>(n));
      std::normal_distribution<float> normal(0, static_cast<float>(spread));
      for (float& x : a) x = normal(rng);
      std::vector<float> b = a;
      const uint32_t target = static_cast<uint32_t>(rng() % static_cast<uint64_t>(n));
      const double la = SoftmaxRow(a.data(), n, target, 0.25f, /*portable=*/true);
      const double lb = SoftmaxRow(b.data(), n, target, 0.25f);
      EXPECT_NEAR(la, lb, 1e-5 * std::max(1.0, std::abs(la))) << n;
      for (Eigen::Index i = 0; i < n; ++i) ASSERT_NEAR(a[i], b[i], 1e-6) << n << " " << i;
      // Gradient rows of a softmax sum to zero.
      double sum = 0;
      for (float x : b) sum += x;
      EXPECT_NEAR(sum, 0, 1e-5);
    }
  }
}

TEST(NnTest, AttentionIsCausal) {
  std::mt19937_64 rng(7);
  Parameters<float> params;
  CausalSelfAttention<float> attention(&params, "attn", 8, 2);
  for (size_t i = 0; i < params.size(); ++i) InitNormal(&params[i], 0.3, &rng);
  const std::vector<Segment> segments = {{0, 5}, {5, 5}};
  attention.Reserve(10, 5);
  Mat<float> x(10, 8), y(10, 8), y2(10, 8);
  InitNormal(&x, 1, &rng);
  attention.Forward(params, x, segments, y, false);
  // Changing position 3 of the first sequence changes positions 3 and 4 of
  // it only; the second sequence does not see the first at all.
  x.row(3).array() += 1;
  attention.Forward(params, x, segments, y2, false);
  EXPECT_EQ(y.topRows(3), y2.topRows(3));
  EXPECT_NE(y.row(3), y2.row(3));
  EXPECT_NE(y.row(4), y2.row(4));
  EXPECT_EQ(y.bottomRows(5), y2.bottomRows(5));
}

TEST(NnTest, DropoutKeepsTheMeanAndDropsTheRate) {
  std::mt19937_64 rng(8);
  Dropout<float> dropout(0.25);
  dropout.Reserve(200, 100);
  Mat<float> x = Mat<float>::Ones(200, 100);
  dropout.Forward(x, true, &rng);
  const double zeros = (x.array() == 0).cast<double>().sum() / static_cast<double>(x.size());
  EXPECT_NEAR(zeros, 0.25, 0.01);
  EXPECT_NEAR(x.mean(), 1.0, 0.02);
  Mat<float> same = Mat<float>::Ones(200, 100);
  dropout.Forward(same, false, &rng);  // inference: identity
  EXPECT_EQ(same, Mat<float>::Ones(200, 100));
}

TEST(NnTest, AdamFirstStepMovesByTheLearningRateAndDecaysWeightsOnly) {
  Parameters<double> params;
  const size_t w = params.Add("fc.weight", 1, 2);
  const size_t b = params.Add("fc.bias", 1, 2);
  params[w] << 1, -2;
  params[b] << 1, -2;
  Adam<double> adam(params, {.learning_rate = 0.1, .weight_decay = 0.5});
  Gradients<double> grads = params.ZerosLike();
  grads[w] << 3, -0.001;
  grads[b] << 3, -0.001;
  adam.Step(&params, grads);
  // Adam's first step is lr * sign(g) (bias-corrected); weights also shrink
  // by lr * decay before it, biases do not.
  EXPECT_NEAR(params[w](0, 0), 1 * (1 - 0.05) - 0.1, 1e-6);
  EXPECT_NEAR(params[w](0, 1), -2 * (1 - 0.05) + 0.1, 1e-4);
  EXPECT_NEAR(params[b](0, 0), 1 - 0.1, 1e-6);
  EXPECT_NEAR(params[b](0, 1), -2 + 0.1, 1e-4);
}

}  // namespace
}  // namespace vitrina::nn
