#include "models/gru4rec.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "models/binary_io.h"
#include "models/sequences.h"

extern "C" void openblas_set_num_threads(int threads);

namespace vitrina {
namespace {

constexpr uint32_t kFormatVersion = 1;
using nn::Mat;

// Adagrad with momentum on n values: acc += g^2; step = lr g / (sqrt(acc) + eps);
// with momentum, velocity = momentum velocity + step and the value moves by it.
void AdagradStep(float* value, float* accumulator, float* velocity, const float* grad, Eigen::Index n, float lr,
                 float momentum) {
  constexpr float kEpsilon = 1e-6f;
  for (Eigen::Index i = 0; i < n; ++i) {
    accumulator[i] += grad[i] * grad[i];
    const float step = lr * grad[i] / (std::sqrt(accumulator[i]) + kEpsilon);
    if (velocity != nullptr) {
      velocity[i] = momentum * velocity[i] + step;
      value[i] -= velocity[i];
    } else {
      value[i] -= step;
    }
  }
}

// ELU with `alpha` in place (alpha 0: identity).
void FinalActivation(float alpha, Eigen::Ref<Mat<float>> x) {
  if (alpha <= 0) return;
  x = x.unaryExpr([alpha](float v) { return v > 0 ? v : alpha * (std::exp(v) - 1); });
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

Gru4RecRecommender::Gru4RecRecommender(ModelOptions::Gru4Rec options, AnnOptions ann)
    : options_(std::move(options)), ann_(ann) {}
Gru4RecRecommender::~Gru4RecRecommender() = default;

void Gru4RecRecommender::Encode(std::span<const uint32_t> sequence, nn::GruCell<float>::Cache* cache, Mat<float>* h,
                                Mat<float>* next, Eigen::Ref<nn::RowVec<float>> out) const {
  const Eigen::Index hidden = items_.cols();
  h->setZero(1, hidden);
  next->resize(1, hidden);
  Mat<float> x(1, hidden);
  for (uint32_t item : sequence) {
    x.row(0) = items_.row(item);
    cell_.Forward(gru_params_, x, *h, *next, cache);
    std::swap(*h, *next);
  }
  FinalActivation(static_cast<float>(options_.elu), *h);
  out = h->row(0);
}

Status Gru4RecRecommender::Fit(const Dataset& data, const FitOptions& fit) {
  const ModelOptions::Gru4Rec& o = options_;
  const bool bpr_max = o.loss == "bpr-max";
  if (!bpr_max && o.loss != "cross-entropy") {
    return Status::InvalidArgument("gru4rec: loss must be cross-entropy or bpr-max, not '" + o.loss + "'");
  }
  if (o.hidden <= 0 || o.batch_size <= 0 || o.samples < 0 || o.max_epochs <= 0 || o.max_length < 1) {
    return Status::InvalidArgument("gru4rec: hidden, batch_size, max_epochs and max_length must be positive");
  }
  const Eigen::Index n_items = static_cast<Eigen::Index>(data.num_items()), hidden = o.hidden;
  epochs_.clear();
  best_epoch_ = -1;
  std::mt19937_64 rng(fit.seed);
  items_.resize(n_items, hidden);
  nn::InitNormal(&items_, 1 / std::sqrt(static_cast<double>(hidden)), &rng);
  biases_ = nn::RowVec<float>::Zero(n_items);
  gru_params_ = nn::Parameters<float>();
  cell_ = nn::GruCell<float>(&gru_params_, "gru", hidden, hidden);
  for (size_t i = 0; i < gru_params_.size(); ++i) {
    if (gru_params_.name(i).ends_with("weight")) {
      nn::InitNormal(&gru_params_[i], 1 / std::sqrt(static_cast<double>(hidden)), &rng);
    }
  }
  if (n_items == 0) return Status::OK();

  const TrainingSequences sequences = BuildTrainingSequences(data, o.validation_users, &rng);
  std::vector<uint32_t> order;
  std::vector<double> support(static_cast<size_t>(n_items), 0);
  for (size_t s = 0; s < sequences.size(); ++s) {
    auto sequence = sequences.Training(s);
    if (sequence.size() >= 2) order.push_back(static_cast<uint32_t>(s));
    for (uint32_t item : sequence) support[item] += 1;
  }
  // Negatives by popularity^alpha: a cumulative table searched with one draw each.
  std::vector<double> cumulative(support.size());
  double total_weight = 0;
  for (size_t i = 0; i < support.size(); ++i) {
    total_weight += std::pow(support[i], o.sample_alpha) * (support[i] > 0);
    cumulative[i] = total_weight;
  }
  std::vector<float> log_probability(support.size(), 0);
  for (size_t i = 0; i < support.size(); ++i) {
    const double weight = cumulative[i] - (i == 0 ? 0 : cumulative[i - 1]);
    log_probability[i] = weight > 0 ? static_cast<float>(std::log(weight / total_weight)) : -30.0f;
  }
  const Eigen::Index samples = total_weight > 0 ? o.samples : 0;

  openblas_set_num_threads(std::max(1, fit.threads));
  const Eigen::Index batch = o.batch_size, max_candidates = batch + samples;
  Mat<float> xe(batch, hidden), h = Mat<float>::Zero(batch, hidden), hn(batch, hidden), out(batch, hidden);
  Mat<float> act_in(batch, hidden), wc(max_candidates, hidden), logits(batch, max_candidates);
  Mat<float> grad(batch, max_candidates), d_out(batch, hidden), dwc(max_candidates, hidden), dx(batch, hidden);
  Mat<float> dh(batch, hidden);
  nn::RowVec<float> bc(max_candidates), dbc(max_candidates);
  nn::Dropout<float> drop_embed(o.dropout_embed), drop_hidden(o.dropout_hidden);
  drop_embed.Reserve(batch, hidden);
  drop_hidden.Reserve(batch, hidden);
  nn::GruCell<float>::Cache cache;
  nn::Gradients<float> gru_grads = gru_params_.ZerosLike();
  std::vector<uint32_t> inputs(static_cast<size_t>(batch)), candidates(static_cast<size_t>(max_candidates));
  // Item rows a step touched and their gradients, compact.
  std::vector<int32_t> slot_of(static_cast<size_t>(n_items), -1);
  std::vector<uint32_t> touched;
  Mat<float> row_grads(max_candidates + batch, hidden);
  std::vector<float> bias_grads(static_cast<size_t>(max_candidates + batch));
  // Optimizer state.
  const bool momentum = o.momentum > 0;
  const float lr = static_cast<float>(o.learning_rate), beta = static_cast<float>(o.momentum);
  Mat<float> item_acc = Mat<float>::Zero(n_items, hidden), item_vel;
  std::vector<float> bias_acc(static_cast<size_t>(n_items), 0), bias_vel;
  nn::Gradients<float> gru_acc = gru_params_.ZerosLike(), gru_vel;
  if (momentum) {
    item_vel = Mat<float>::Zero(n_items, hidden);
    bias_vel.assign(static_cast<size_t>(n_items), 0);
    gru_vel = gru_params_.ZerosLike();
  }

  // Validation NDCG@10: encode each held-out shopper, score all items at once.
  const int workers = std::max(1, fit.threads);
  auto validate = [&]() -> double {
    const std::vector<uint32_t>& held = sequences.validated;
    if (held.empty()) return 0;
    constexpr size_t kChunk = 256;
    const size_t parts = (held.size() + kChunk - 1) / kChunk;
    double total = 0;
    openblas_set_num_threads(1);
#pragma omp parallel num_threads(workers) reduction(+ : total)
    {
      nn::GruCell<float>::Cache local_cache;
      Mat<float> state, next, encoded(static_cast<Eigen::Index>(kChunk), hidden);
      Mat<float> scores(static_cast<Eigen::Index>(kChunk), n_items);
#pragma omp for schedule(dynamic, 1)
      for (size_t part = 0; part < parts; ++part) {
        const size_t begin = part * kChunk, end = std::min(held.size(), begin + kChunk);
        const Eigen::Index count = static_cast<Eigen::Index>(end - begin);
        for (size_t j = begin; j < end; ++j) {
          auto sequence = sequences.Training(held[j]);
          if (sequence.size() > static_cast<size_t>(o.max_length)) sequence = sequence.last(static_cast<size_t>(o.max_length));
          Encode(sequence, &local_cache, &state, &next, encoded.row(static_cast<Eigen::Index>(j - begin)));
        }
        nn::MultiplyByTranspose(encoded.topRows(count), items_, scores.topRows(count));
        for (Eigen::Index j = 0; j < count; ++j) {
          scores.row(j) += biases_;
          total += NdcgAt10({scores.row(j).data(), static_cast<size_t>(n_items)},
                            static_cast<uint32_t>(sequences.validation[held[begin + static_cast<size_t>(j)]]));
        }
      }
    }
    openblas_set_num_threads(std::max(1, fit.threads));
    return total / static_cast<double>(held.size());
  };

  struct Slot {
    uint32_t sequence;
    uint32_t position;
  };
  std::uniform_real_distribution<double> uniform(0, 1);
  Mat<float> best_items;
  nn::RowVec<float> best_biases;
  std::vector<Mat<float>> best_gru;
  double best_ndcg = -1;
  for (int epoch = 0; epoch < o.max_epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<Slot> slots;
    size_t next_sequence = 0;
    while (slots.size() < static_cast<size_t>(batch) && next_sequence < order.size()) {
      slots.push_back({order[next_sequence++], 0});
    }
    h.setZero();
    double epoch_loss = 0;
    size_t epoch_events = 0;
    while (!slots.empty()) {
      const Eigen::Index b = static_cast<Eigen::Index>(slots.size());
      const Eigen::Index c = b + samples;
      for (Eigen::Index r = 0; r < b; ++r) {
        auto sequence = sequences.Training(slots[static_cast<size_t>(r)].sequence);
        inputs[static_cast<size_t>(r)] = sequence[slots[static_cast<size_t>(r)].position];
        candidates[static_cast<size_t>(r)] = sequence[slots[static_cast<size_t>(r)].position + 1];
      }
      for (Eigen::Index j = 0; j < samples; ++j) {
        const double u = uniform(rng) * total_weight;
        candidates[static_cast<size_t>(b + j)] = static_cast<uint32_t>(std::min<size_t>(
            std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin(), cumulative.size() - 1));
      }

      // Forward: embedding, GRU step, final activation, scores of the candidates.
      auto xs = xe.topRows(b);
      for (Eigen::Index r = 0; r < b; ++r) xs.row(r) = items_.row(inputs[static_cast<size_t>(r)]);
      drop_embed.Forward(xs, true, &rng);
      cell_.Forward(gru_params_, xs, h.topRows(b), hn.topRows(b), &cache);
      auto acts = act_in.topRows(b);
      acts = hn.topRows(b);
      drop_hidden.Forward(acts, true, &rng);
      auto outs = out.topRows(b);
      outs = acts;
      FinalActivation(static_cast<float>(o.elu), outs);
      for (Eigen::Index j = 0; j < c; ++j) {
        wc.row(j) = items_.row(candidates[static_cast<size_t>(j)]);
        bc(j) = biases_(candidates[static_cast<size_t>(j)]);
      }
      auto scores = logits.topLeftCorner(b, c);
      nn::MultiplyByTranspose(outs, wc.topRows(c), scores);
      scores.rowwise() += bc.head(c);
      if (!bpr_max && o.logq > 0) {
        for (Eigen::Index j = 0; j < c; ++j) {
          scores.col(j).array() -= static_cast<float>(o.logq) * log_probability[candidates[static_cast<size_t>(j)]];
        }
      }
      auto g = grad.topLeftCorner(b, c);
      const float scale = 1.0f / static_cast<float>(b);
      epoch_loss += bpr_max ? nn::BprMaxDiagonal<float>(scores, static_cast<float>(o.bpreg), scale, g)
                            : nn::CrossEntropyDiagonal<float>(scores, scale, g);
      epoch_events += static_cast<size_t>(b);

      // Backward, one step deep.
      auto douts = d_out.topRows(b);
      nn::Multiply(g, wc.topRows(c), douts);
      nn::TransposeMultiply(g, outs, dwc.topRows(c));
      dbc.head(c) = g.colwise().sum();
      if (o.elu > 0) {
        const float alpha = static_cast<float>(o.elu);
        douts.array() *= (acts.array() > 0).select(Eigen::ArrayXXf::Ones(b, hidden), outs.array() + alpha);
      }
      drop_hidden.Backward(douts);
      for (Mat<float>& m : gru_grads) m.setZero();
      cell_.Backward(gru_params_, &gru_grads, &cache, douts, dx.topRows(b), dh.topRows(b));
      drop_embed.Backward(dx.topRows(b));

      // Gradients of the item rows touched, then the updates.
      touched.clear();
      auto slot = [&](uint32_t item) {
        if (slot_of[item] < 0) {
          slot_of[item] = static_cast<int32_t>(touched.size());
          row_grads.row(slot_of[item]).setZero();
          bias_grads[static_cast<size_t>(slot_of[item])] = 0;
          touched.push_back(item);
        }
        return slot_of[item];
      };
      for (Eigen::Index j = 0; j < c; ++j) {
        const int32_t k = slot(candidates[static_cast<size_t>(j)]);
        row_grads.row(k) += dwc.row(j);
        bias_grads[static_cast<size_t>(k)] += dbc(j);
      }
      for (Eigen::Index r = 0; r < b; ++r) row_grads.row(slot(inputs[static_cast<size_t>(r)])) += dx.row(r);
      for (size_t k = 0; k < touched.size(); ++k) {
        const uint32_t item = touched[k];
        AdagradStep(items_.row(item).data(), item_acc.row(item).data(), momentum ? item_vel.row(item).data() : nullptr,
                    row_grads.row(static_cast<Eigen::Index>(k)).data(), hidden, lr, beta);
        AdagradStep(&biases_(item), &bias_acc[item], momentum ? &bias_vel[item] : nullptr, &bias_grads[k], 1, lr, beta);
        slot_of[item] = -1;
      }
      for (size_t i = 0; i < gru_params_.size(); ++i) {
        AdagradStep(gru_params_[i].data(), gru_acc[i].data(), momentum ? gru_vel[i].data() : nullptr,
                    gru_grads[i].data(), gru_params_[i].size(), lr, beta);
      }

      // The state carries over; finished sequences make room for new ones.
      h.topRows(b) = hn.topRows(b);
      Eigen::Index active = b;
      for (Eigen::Index r = 0; r < active;) {
        Slot& s = slots[static_cast<size_t>(r)];
        if (++s.position + 1 < sequences.Training(s.sequence).size()) {
          ++r;
          continue;
        }
        if (next_sequence < order.size()) {
          s = {order[next_sequence++], 0};
          h.row(r).setZero();
          ++r;
        } else {
          --active;
          s = slots[static_cast<size_t>(active)];
          h.row(r) = h.row(active);
          slots.pop_back();
        }
      }
    }
    EpochLog log;
    log.loss = epoch_events == 0 ? 0 : epoch_loss / static_cast<double>(epoch_events);
    log.validation_ndcg = validate();
    log.seconds = Seconds(start);
    epochs_.push_back(log);
    if (o.verbose) {
      std::fprintf(stderr, "gru4rec: epoch %d loss %.4f validation ndcg@10 %.4f (%.1f s)\n", epoch + 1, log.loss,
                   log.validation_ndcg, log.seconds);
    }
    if (fit.progress) fit.progress(static_cast<double>(epoch + 1) / o.max_epochs);
    if (sequences.validated.empty()) continue;
    if (log.validation_ndcg > best_ndcg) {
      best_ndcg = log.validation_ndcg;
      best_epoch_ = epoch;
      best_items = items_;
      best_biases = biases_;
      best_gru.clear();
      for (size_t i = 0; i < gru_params_.size(); ++i) best_gru.push_back(gru_params_[i]);
    } else if (epoch - best_epoch_ >= o.patience) {
      break;
    }
  }
  if (best_epoch_ >= 0) {
    items_ = std::move(best_items);
    biases_ = std::move(best_biases);
    for (size_t i = 0; i < gru_params_.size(); ++i) gru_params_[i] = std::move(best_gru[i]);
  } else {
    best_epoch_ = static_cast<int>(epochs_.size()) - 1;
  }
  BuildIndex(fit.threads, fit.seed);
  if (fit.progress) fit.progress(1);
  return Status::OK();
}

bool Gru4RecRecommender::FinalState(std::span<const HistoryEntry> history, nn::RowVec<float>* encoded) const {
  const size_t n = num_items();
  if (n == 0) return false;
  const std::vector<uint32_t> sequence = LatestItems(history, static_cast<size_t>(options_.max_length), n);
  if (sequence.empty()) return false;
  nn::GruCell<float>::Cache cache;
  Mat<float> state, next;
  encoded->resize(items_.cols());
  Encode(sequence, &cache, &state, &next, *encoded);
  return true;
}

void Gru4RecRecommender::Score(std::span<const HistoryEntry> history, Relation /*relation*/,
                               std::span<float> scores) const {
  nn::RowVec<float> encoded;
  if (!FinalState(history, &encoded)) {
    std::fill(scores.begin(), scores.end(), 0.0f);
    return;
  }
  Eigen::Map<Eigen::VectorXf> out(scores.data(), static_cast<Eigen::Index>(num_items()));
  out.noalias() = items_ * encoded.transpose();
  out += biases_.transpose();
  const float max = out.maxCoeff();
  out = (out.array() - max).exp();
}

void Gru4RecRecommender::TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
                              const std::function<bool(uint32_t)>& skip,
                              std::vector<std::pair<uint32_t, float>>* top) const {
  nn::RowVec<float> encoded;
  if (index_ == nullptr || !FinalState(history, &encoded)) {
    Recommender::TopK(history, relation, k, floor, skip, top);
    return;
  }
  // The index rows are [item embedding, bias]: the query is [state, 1].
  thread_local std::vector<float> query;
  query.assign(encoded.data(), encoded.data() + encoded.size());
  query.push_back(1.0f);
  index_->Search(query, k, skip, top);
  ToSoftmaxScale(floor, top);
}

void Gru4RecRecommender::BuildIndex(int threads, uint64_t seed) {
  index_.reset();
  if (!WantsIndex(num_items(), ann_)) return;
  const size_t dim = static_cast<size_t>(items_.cols()) + 1;
  std::vector<float> rows(num_items() * dim);
  for (size_t i = 0; i < num_items(); ++i) {
    std::copy_n(items_.row(static_cast<Eigen::Index>(i)).data(), dim - 1, rows.data() + i * dim);
    rows[i * dim + dim - 1] = biases_[static_cast<Eigen::Index>(i)];
  }
  index_ = InnerProductIndex::Build(rows, dim, ann_, threads, seed);
}

int Gru4RecRecommender::Explain(std::span<const HistoryEntry> history, uint32_t item) const {
  return ClosestHistoryItem(items_, history, static_cast<size_t>(options_.max_length), item);
}

Status Gru4RecRecommender::Save(const std::string& path) const {
  VITRINA_ASSIGN_OR_RETURN(BinaryWriter writer, BinaryWriter::Create(path, name(), kFormatVersion));
  writer.Put<int32_t>(static_cast<int32_t>(items_.cols()));
  writer.Put<double>(options_.elu);
  writer.Put<int32_t>(options_.max_length);
  writer.Put<uint64_t>(static_cast<uint64_t>(items_.rows()));
  writer.Write(items_.data(), sizeof(float) * static_cast<size_t>(items_.size()));
  writer.Write(biases_.data(), sizeof(float) * static_cast<size_t>(biases_.size()));
  for (size_t i = 0; i < gru_params_.size(); ++i) {
    writer.Write(gru_params_[i].data(), sizeof(float) * static_cast<size_t>(gru_params_[i].size()));
  }
  VITRINA_RETURN_IF_ERROR(writer.Close());
  return SaveIndexBeside(index_.get(), path);
}

Status Gru4RecRecommender::Load(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(BinaryReader reader, BinaryReader::Open(path, name(), kFormatVersion));
  int32_t hidden = 0, max_length = 0;
  double elu = 0;
  uint64_t n = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&hidden));
  VITRINA_RETURN_IF_ERROR(reader.Get(&elu));
  VITRINA_RETURN_IF_ERROR(reader.Get(&max_length));
  VITRINA_RETURN_IF_ERROR(reader.Get(&n));
  if (hidden <= 0 || hidden > 4096 || !(elu >= 0 && elu < 100) || max_length < 1 || n > (uint64_t{1} << 32)) {
    return Status::Corruption(path + ": model shape out of range");
  }
  const Eigen::Index rows = static_cast<Eigen::Index>(n);
  Mat<float> items(rows, hidden);
  nn::RowVec<float> biases(rows);
  VITRINA_RETURN_IF_ERROR(reader.Read(items.data(), sizeof(float) * static_cast<size_t>(items.size())));
  VITRINA_RETURN_IF_ERROR(reader.Read(biases.data(), sizeof(float) * static_cast<size_t>(biases.size())));
  nn::Parameters<float> params;
  nn::GruCell<float> cell(&params, "gru", hidden, hidden);
  for (size_t i = 0; i < params.size(); ++i) {
    VITRINA_RETURN_IF_ERROR(reader.Read(params[i].data(), sizeof(float) * static_cast<size_t>(params[i].size())));
  }
  VITRINA_RETURN_IF_ERROR(reader.ExpectEnd());
  items_ = std::move(items);
  biases_ = std::move(biases);
  gru_params_ = std::move(params);
  cell_ = cell;
  options_.hidden = hidden;
  options_.elu = elu;
  options_.max_length = max_length;
  VITRINA_ASSIGN_OR_RETURN(index_, LoadIndexBeside(path, num_items(), static_cast<size_t>(hidden) + 1, ann_));
  if (index_ == nullptr) BuildIndex(IndexBuildThreads(), kIndexSeed);  // saved without one
  return Status::OK();
}

}  // namespace vitrina
