#include "models/als.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>

#include "models/binary_io.h"
#include "models/half.h"

namespace vitrina {
namespace {

constexpr uint32_t kFormatVersion = 1;

// One half-sweep: updates every row of `solve` (rows of `matrix`) given
// `fixed`, by `cg_steps` conjugate-gradient steps from its current value on
//   (F^T F + reg I + F^T (C_u - I) F) x_u = F^T C_u p_u.
void SolveRows(const SparseRows& matrix, const AlsRecommender::Factors& fixed, float alpha, float reg, int cg_steps,
               int threads, AlsRecommender::Factors* solve) {
  const Eigen::Index f = fixed.cols();
  Eigen::MatrixXf gram = fixed.transpose() * fixed;
  gram.diagonal().array() += reg;
#pragma omp parallel num_threads(std::max(1, threads))
  {
    Eigen::VectorXf r(f), p(f), ap(f);
#pragma omp for schedule(dynamic, 256)
    for (size_t u = 0; u < matrix.rows(); ++u) {
      auto x = solve->row(static_cast<Eigen::Index>(u)).transpose();
      auto columns = matrix.RowColumns(u);
      auto values = matrix.RowValues(u);
      if (columns.empty()) {
        x.setZero();
        continue;
      }
      // r = b - A x
      r.noalias() = -(gram * x);
      for (size_t k = 0; k < columns.size(); ++k) {
        auto y = fixed.row(columns[k]).transpose();
        float confidence = 1 + alpha * values[k];
        r += (confidence - (confidence - 1) * y.dot(x)) * y;
      }
      p = r;
      float rs_old = r.squaredNorm();
      for (int step = 0; step < cg_steps && rs_old > 1e-20f; ++step) {
        ap.noalias() = gram * p;
        for (size_t k = 0; k < columns.size(); ++k) {
          auto y = fixed.row(columns[k]).transpose();
          ap += (alpha * values[k]) * y.dot(p) * y;
        }
        float step_size = rs_old / p.dot(ap);
        x += step_size * p;
        r -= step_size * ap;
        float rs_new = r.squaredNorm();
        p = r + (rs_new / rs_old) * p;
        rs_old = rs_new;
      }
    }
  }
}

double Loss(const SparseRows& by_actor, const AlsRecommender::Factors& users, const AlsRecommender::Factors& items,
            float alpha, float reg) {
  // sum_u [ x_u^T (Y^T Y) x_u + sum_{i in u} (c (1 - s)^2 - s^2) ], s = x_u.y_i
  Eigen::MatrixXf gram = items.transpose() * items;
  double total = 0;
  for (size_t u = 0; u < by_actor.rows(); ++u) {
    auto x = users.row(static_cast<Eigen::Index>(u)).transpose();
    total += x.dot(gram * x);
    auto columns = by_actor.RowColumns(u);
    auto values = by_actor.RowValues(u);
    for (size_t k = 0; k < columns.size(); ++k) {
      double s = x.dot(items.row(columns[k]).transpose());
      double confidence = 1 + alpha * values[k];
      total += confidence * (1 - s) * (1 - s) - s * s;
    }
  }
  total += reg * (users.squaredNorm() + items.squaredNorm());
  return total / (static_cast<double>(users.rows()) * std::max<Eigen::Index>(1, items.rows()));
}

}  // namespace

Status AlsRecommender::Fit(const Dataset& data, const FitOptions& options) {
  if (options_.factors < 1 || options_.iterations < 0 || options_.cg_steps < 1) {
    return Status::InvalidArgument("als: factors and cg_steps must be >= 1");
  }
  SparseRows by_actor = BuildUserItemMatrix(data);
  SparseRows by_item = Transpose(by_actor, data.num_items());
  const Eigen::Index f = options_.factors;
  std::mt19937_64 rng(options.seed);
  std::normal_distribution<float> normal(0.0f, 0.01f);
  Factors users(static_cast<Eigen::Index>(data.num_actors()), f);
  item_factors_.resize(static_cast<Eigen::Index>(data.num_items()), f);
  for (Eigen::Index i = 0; i < users.size(); ++i) users.data()[i] = normal(rng);
  for (Eigen::Index i = 0; i < item_factors_.size(); ++i) item_factors_.data()[i] = normal(rng);

  const float alpha = static_cast<float>(options_.alpha);
  const float reg = static_cast<float>(options_.regularization);
  loss_history_.clear();
  for (int iteration = 0; iteration < options_.iterations; ++iteration) {
    SolveRows(by_actor, item_factors_, alpha, reg, options_.cg_steps, options.threads, &users);
    SolveRows(by_item, users, alpha, reg, options_.cg_steps, options.threads, &item_factors_);
    if (options_.track_loss) loss_history_.push_back(Loss(by_actor, users, item_factors_, alpha, reg));
    if (options.progress) options.progress(static_cast<double>(iteration + 1) / options_.iterations);
  }
  PrepareServing();
  return Status::OK();
}

void AlsRecommender::PrepareServing() {
  static std::atomic<uint64_t> serials{0};
  serial_ = ++serials;
  gram_ = item_factors_.transpose() * item_factors_;
  gram_.diagonal().array() += static_cast<float>(options_.regularization);
  const size_t n = num_items(), dim = static_cast<size_t>(item_factors_.cols());
  std::vector<uint16_t> halves(n * dim);
  FloatsToHalves(std::span<const float>(item_factors_.data(), halves.size()), halves);
  std::vector<double> norms(n);
  for (size_t i = 0; i < n; ++i) {
    double squares = 0;
    for (size_t d = 0; d < dim; ++d) {
      const double v = HalfToFloat(halves[i * dim + d]);
      squares += v * v;
    }
    norms[i] = std::sqrt(squares);
  }
  serving_items_.resize(n);
  for (uint32_t i = 0; i < n; ++i) serving_items_[i] = i;
  std::stable_sort(serving_items_.begin(), serving_items_.end(),
                   [&](uint32_t a, uint32_t b) { return norms[a] > norms[b]; });
  serving_rows_.resize(n * dim);
  serving_norms_.resize(n);
  for (size_t r = 0; r < n; ++r) {
    const uint32_t item = serving_items_[r];
    std::copy_n(halves.begin() + static_cast<ptrdiff_t>(item * dim), dim,
                serving_rows_.begin() + static_cast<ptrdiff_t>(r * dim));
    // Rounded up, so that the float still bounds the exact norm.
    serving_norms_[r] = std::nextafter(static_cast<float>(norms[item]), std::numeric_limits<float>::infinity());
  }
}

const AlsRecommender::FoldedIn* AlsRecommender::FoldIn(std::span<const HistoryEntry> history) const {
  thread_local FoldedIn last;
  auto same = [](const HistoryEntry& a, const HistoryEntry& b) {
    return a.item == b.item && a.weight == b.weight && a.signal == b.signal;
  };
  if (last.serial != serial_ ||
      !std::equal(history.begin(), history.end(), last.history.begin(), last.history.end(), same)) {
    last.serial = 0;
    last.history.assign(history.begin(), history.end());
    thread_local Eigen::MatrixXf a;
    thread_local Eigen::VectorXf b;
    FoldInSystem(history, &a, &b, &last.distinct);
    if (!last.distinct.empty()) {
      last.factorization.compute(a);
      last.user = last.factorization.solve(b);
    }
    last.serial = serial_;
  }
  return last.distinct.empty() ? nullptr : &last;
}

void AlsRecommender::FoldInSystem(std::span<const HistoryEntry> history, Eigen::MatrixXf* a, Eigen::VectorXf* b,
                                  std::vector<DistinctHistoryItem>* distinct) const {
  DistinctHistory(history, num_items(), distinct);
  // A = Y^T Y + reg I + Y_h^T diag(c - 1) Y_h and b = Y_h^T c over the
  // history rows Y_h: one matrix product rather than an outer product per
  // history item (half the time for a shopper with 100 history items).
  const Eigen::Index m = static_cast<Eigen::Index>(distinct->size());
  thread_local Eigen::MatrixXf rows;
  thread_local Eigen::VectorXf confidence;
  rows.resize(m, item_factors_.cols());
  confidence.resize(m);
  const float alpha = static_cast<float>(options_.alpha);
  for (Eigen::Index k = 0; k < m; ++k) {
    const DistinctHistoryItem& h = (*distinct)[static_cast<size_t>(k)];
    rows.row(k) = item_factors_.row(h.item);
    confidence[k] = 1 + alpha * h.weight;
  }
  *a = gram_;
  a->noalias() += rows.transpose() * ((confidence.array() - 1).matrix().asDiagonal() * rows);
  b->noalias() = rows.transpose() * confidence;
}

void AlsRecommender::Score(std::span<const HistoryEntry> history, Relation relation, std::span<float> scores) const {
  const FoldedIn* folded = FoldIn(history);
  if (folded == nullptr) {
    std::fill(scores.begin(), scores.end(), 0.0f);
    return;
  }
  const Eigen::VectorXf& user = folded->user;
  thread_local std::vector<float> by_row;
  by_row.resize(num_items());
  HalfMatVec(serving_rows_.data(), num_items(), static_cast<size_t>(item_factors_.cols()), user.data(), by_row.data());
  for (size_t r = 0; r < by_row.size(); ++r) scores[serving_items_[r]] = by_row[r];
}

void AlsRecommender::ScoreItems(std::span<const HistoryEntry> history, Relation relation,
                                std::span<const uint32_t> items, std::span<float> scores) const {
  const FoldedIn* folded = FoldIn(history);
  for (size_t i = 0; i < items.size(); ++i) {
    scores[i] = folded == nullptr ? 0.0f : item_factors_.row(items[i]).dot(folded->user);
  }
}

void AlsRecommender::TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
                          const std::function<bool(uint32_t)>& skip,
                          std::vector<std::pair<uint32_t, float>>* top) const {
  const FoldedIn* folded = FoldIn(history);
  if (folded == nullptr) {
    // Every score is 0: what the full ranking gives (nothing unless floor < 0).
    Recommender::TopK(history, relation, k, floor, skip, top);
    return;
  }
  const Eigen::VectorXf& user = folded->user;
  const size_t n = num_items(), dim = static_cast<size_t>(item_factors_.cols());
  // Cauchy-Schwarz: no row from r on scores above |x_u| |y_r|. The margin
  // covers the rounding of the float sums (under dim x 2^-24 relative:
  // 2.4e-4 at the largest dimension a model file may have).
  const float user_norm = static_cast<float>(user.cast<double>().norm() * (1 + 1e-3)) + 1e-30f;
  thread_local std::vector<std::pair<float, uint32_t>> heap;
  thread_local std::vector<float> chunk;
  constexpr size_t kChunk = 256;  // rows scored between two checks of the bound
  chunk.resize(kChunk);
  TopKHeap best(k, floor, &heap);
  float bar = floor;  // what a score must reach to be considered
  for (size_t start = 0; start < n && k > 0; start += kChunk) {
    const float bound = user_norm * serving_norms_[start];
    if (!(bound > floor) || (best.full() && bound < bar)) break;
    const size_t count = std::min(kChunk, n - start);
    HalfMatVec(serving_rows_.data() + start * dim, count, dim, user.data(), chunk.data());
    for (size_t j = 0; j < count; ++j) {
      if (chunk[j] < bar) continue;
      const uint32_t item = serving_items_[start + j];
      if (!best.Admits(chunk[j], item) || (skip && skip(item))) continue;
      best.Push(chunk[j], item);
      bar = best.bar();
    }
  }
  best.Finish(top);
}

int AlsRecommender::Explain(std::span<const HistoryEntry> history, uint32_t item) const {
  int anchor = -1;
  ExplainBatch(history, std::span<const uint32_t>(&item, 1), std::span<int>(&anchor, 1));
  return anchor;
}

void AlsRecommender::ExplainBatch(std::span<const HistoryEntry> history, std::span<const uint32_t> items,
                                  std::span<int> anchors) const {
  // score(item) = y_item^T A^-1 sum_h c_h y_h: credit each h with its term.
  std::fill(anchors.begin(), anchors.end(), -1);
  const FoldedIn* folded = FoldIn(history);  // one factorization for every item
  if (folded == nullptr) return;
  Eigen::VectorXf z;
  for (size_t k = 0; k < items.size(); ++k) {
    if (items[k] >= num_items()) continue;
    z = folded->factorization.solve(item_factors_.row(items[k]).transpose());
    float best_term = 0;
    for (const DistinctHistoryItem& h : folded->distinct) {
      float term = (1 + static_cast<float>(options_.alpha) * h.weight) * z.dot(item_factors_.row(h.item).transpose());
      if (term > best_term) {
        best_term = term;
        anchors[k] = h.first_index;
      }
    }
  }
}

Status AlsRecommender::Save(const std::string& path) const {
  VITRINA_ASSIGN_OR_RETURN(BinaryWriter writer, BinaryWriter::Create(path, name(), kFormatVersion));
  writer.Put<uint64_t>(static_cast<uint64_t>(item_factors_.rows()));
  writer.Put<uint64_t>(static_cast<uint64_t>(item_factors_.cols()));
  writer.Put<float>(static_cast<float>(options_.regularization));
  writer.Put<float>(static_cast<float>(options_.alpha));
  writer.Write(item_factors_.data(), sizeof(float) * item_factors_.size());
  return writer.Close();
}

Status AlsRecommender::Load(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(BinaryReader reader, BinaryReader::Open(path, name(), kFormatVersion));
  uint64_t rows = 0, cols = 0;
  float reg = 0, alpha = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&rows));
  VITRINA_RETURN_IF_ERROR(reader.Get(&cols));
  VITRINA_RETURN_IF_ERROR(reader.Get(&reg));
  VITRINA_RETURN_IF_ERROR(reader.Get(&alpha));
  if (cols == 0 || cols > 4096 || rows > (1ull << 31)) return Status::Corruption(path + ": factor shape out of range");
  item_factors_.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  VITRINA_RETURN_IF_ERROR(reader.Read(item_factors_.data(), sizeof(float) * item_factors_.size()));
  VITRINA_RETURN_IF_ERROR(reader.ExpectEnd());
  // The model is served with the hyper-parameters it was trained with.
  options_.regularization = reg;
  options_.alpha = alpha;
  options_.factors = static_cast<int>(cols);
  PrepareServing();
  return Status::OK();
}

}  // namespace vitrina
