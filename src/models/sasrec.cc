#include "models/sasrec.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "models/binary_io.h"
#include "models/sequences.h"

extern "C" void openblas_set_num_threads(int threads);

namespace vitrina {
namespace {

constexpr uint32_t kFormatVersion = 1;
using nn::Mat;
using nn::Segment;

// The rows a model reads for a sequence: its latest `max_length` items with
// their positions counted so that the latest item always sits at
// max_length - 1, as in SASRec's left-padded window.
void AppendWindow(std::span<const uint32_t> sequence, size_t max_length, std::vector<uint32_t>* inputs,
                  std::vector<uint32_t>* positions, std::vector<Segment>* segments) {
  const size_t m = std::min(sequence.size(), max_length);
  segments->push_back({static_cast<uint32_t>(inputs->size()), static_cast<uint32_t>(m)});
  for (size_t i = 0; i < m; ++i) {
    inputs->push_back(sequence[sequence.size() - m + i]);
    positions->push_back(static_cast<uint32_t>(max_length - m + i));
  }
}

// Sampled softmax for one training step (models.sasrec.negatives): the
// step's targets plus items drawn uniformly, each logit corrected by minus
// the log of the item's expected count among the candidates (logQ), so the
// sampled loss estimates the full-catalog one without favouring rare items.
struct SampledSoftmax {
  std::vector<uint32_t> candidates;  // item of each column
  std::vector<int32_t> column_of;    // per item: its column, or -1
  Mat<float> rows;                   // the candidates' embedding rows (capacity rows; the first candidates.size() used)
  std::vector<float> bias;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

// One worker's layers (indices into the shared parameters) and buffers.
struct SasRecRecommender::Network {
  Network(nn::Parameters<float>* params, const ModelOptions::SasRec& o, size_t num_items)
      : max_length(o.max_length),
        items(params->Add("items", static_cast<Eigen::Index>(num_items), o.dim)),
        positions(params->Add("positions", o.max_length, o.dim)),
        input_dropout(o.dropout) {
    for (int b = 0; b < o.blocks; ++b) {
      blocks.emplace_back(params, "block" + std::to_string(b), o.dim, o.heads, o.dropout);
    }
    final_norm = nn::LayerNorm<float>(params, "final_norm", o.dim);
  }

  void Reserve(Eigen::Index rows, Eigen::Index dim, Eigen::Index num_items, Eigen::Index loss_chunk) {
    input_dropout.Reserve(rows, dim);
    for (nn::TransformerBlock<float>& block : blocks) block.Reserve(rows, max_length);
    final_norm.Reserve(rows);
    for (Mat<float>* m : {&x, &dx, &h, &dh}) m->resize(rows, dim);
    if (loss_chunk > 0) loss.Reserve(loss_chunk, num_items);
    inputs.reserve(static_cast<size_t>(rows));
    positions_of.reserve(static_cast<size_t>(rows));
    targets.reserve(static_cast<size_t>(rows));
  }

  // h = the final hidden states of the packed rows in inputs/positions_of.
  void Forward(const nn::Parameters<float>& p, bool training, std::mt19937_64* rng) {
    const Eigen::Index n = static_cast<Eigen::Index>(inputs.size());
    auto xs = x.topRows(n);
    for (Eigen::Index r = 0; r < n; ++r) {
      xs.row(r) = p[items].row(inputs[static_cast<size_t>(r)]) + p[positions].row(positions_of[static_cast<size_t>(r)]);
    }
    input_dropout.Forward(xs, training, rng);
    for (nn::TransformerBlock<float>& block : blocks) block.Forward(p, xs, segments, training, rng);
    final_norm.Forward(p, xs, h.topRows(n));
  }

  // After Forward(training): the loss at every row against `targets`, its
  // gradient (times `scale`) added to g. Returns the summed loss. With
  // `sampled`, the softmax runs over its candidates only.
  double Backward(const nn::Parameters<float>& p, nn::Gradients<float>* g, float scale,
                  const SampledSoftmax* sampled) {
    const Eigen::Index n = static_cast<Eigen::Index>(inputs.size());
    double total = 0;
    if (sampled == nullptr) {
      total = loss.ForwardBackward(h.topRows(n), targets, p[items], scale, dh.topRows(n), (*g)[items]);
    } else {
      columns.clear();
      for (uint32_t target : targets) columns.push_back(static_cast<uint32_t>(sampled->column_of[target]));
      const Eigen::Index count = static_cast<Eigen::Index>(sampled->candidates.size());
      auto dcandidates = candidate_grads.topRows(count);
      dcandidates.setZero();
      total = loss.ForwardBackward(h.topRows(n), columns, sampled->rows.topRows(count), scale, dh.topRows(n),
                                   dcandidates, sampled->bias);
      for (Eigen::Index c = 0; c < count; ++c) (*g)[items].row(sampled->candidates[c]) += dcandidates.row(c);
    }
    auto dxs = dx.topRows(n);
    final_norm.Backward(p, g, dh.topRows(n), dxs);
    for (auto block = blocks.rbegin(); block != blocks.rend(); ++block) block->Backward(p, g, dxs, segments);
    input_dropout.Backward(dxs);
    for (Eigen::Index r = 0; r < n; ++r) {
      (*g)[items].row(inputs[static_cast<size_t>(r)]) += dxs.row(r);
      (*g)[positions].row(positions_of[static_cast<size_t>(r)]) += dxs.row(r);
    }
    return total;
  }

  void Clear() {
    inputs.clear();
    positions_of.clear();
    targets.clear();
    segments.clear();
  }

  Eigen::Index max_length;
  size_t items, positions;
  nn::Dropout<float> input_dropout;
  std::vector<nn::TransformerBlock<float>> blocks;
  nn::LayerNorm<float> final_norm;
  nn::SoftmaxCrossEntropy<float> loss;
  Mat<float> x, dx, h, dh;
  Mat<float> candidate_grads;  // sampled softmax: gradient of the candidates' rows
  std::vector<uint32_t> inputs, positions_of, targets, columns;
  std::vector<Segment> segments;
};

SasRecRecommender::SasRecRecommender(ModelOptions::SasRec options, AnnOptions ann) : options_(options), ann_(ann) {}
SasRecRecommender::~SasRecRecommender() = default;

Status SasRecRecommender::Fit(const Dataset& data, const FitOptions& fit) {
  const ModelOptions::SasRec& o = options_;
  if (o.dim <= 0 || o.heads <= 0 || o.dim % o.heads != 0) {
    return Status::InvalidArgument("sasrec: dim must be a positive multiple of heads");
  }
  if (o.max_length < 2 || o.blocks < 0 || o.batch_size <= 0 || o.max_epochs <= 0) {
    return Status::InvalidArgument("sasrec: max_length >= 2, batch_size > 0 and max_epochs > 0 are required");
  }
  num_items_ = data.num_items();
  epochs_.clear();
  best_epoch_ = -1;
  params_ = nn::Parameters<float>();
  Network layout(&params_, o, num_items_);
  if (num_items_ == 0) return Status::OK();

  // Initial values: weights N(0, 1/sqrt(fan-in)), embeddings N(0, 1/sqrt(dim)).
  std::mt19937_64 rng(fit.seed);
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_.name(i);
    if (name == "items" || name == "positions") {
      nn::InitNormal(&params_[i], 1 / std::sqrt(static_cast<double>(o.dim)), &rng);
    } else if (name.ends_with(".weight")) {
      nn::InitNormal(&params_[i], 1 / std::sqrt(static_cast<double>(params_[i].rows())), &rng);
    }
  }

  // With side features the learned item embeddings E and feature table F
  // live in `side`; params_[items] holds E + M F, recomputed after every
  // step, and its gradient flows back to both (ItemFeatures).
  ItemFeatures features;
  if (o.item_features) features = BuildItemFeatures(data, 2);
  const bool with_features = features.num_features > 0;
  nn::Parameters<float> side;
  const size_t side_items = side.Add("items", static_cast<Eigen::Index>(num_items_), with_features ? o.dim : 0);
  const size_t side_table =
      side.Add("features", static_cast<Eigen::Index>(features.num_features), with_features ? o.dim : 0);
  if (with_features) {
    side[side_items] = params_[layout.items];
    nn::InitNormal(&side[side_table], 1 / std::sqrt(static_cast<double>(o.dim)), &rng);
  }
  nn::Gradients<float> side_grads = side.ZerosLike();
  nn::Adam<float> side_adam(side, {.learning_rate = o.learning_rate, .weight_decay = o.weight_decay});
  auto compose_items = [&] {
    if (with_features) features.Compose(side[side_items], side[side_table], &params_[layout.items]);
  };
  compose_items();

  // Sequences; the last item of up to validation_users shoppers is held out.
  const TrainingSequences sequences = BuildTrainingSequences(data, o.validation_users, &rng);
  const std::vector<uint32_t>& eligible = sequences.validated;
  auto training_sequence = [&](size_t s) { return sequences.Training(s); };

  const int workers = std::max(1, fit.threads);
  openblas_set_num_threads(1);  // each worker calls BLAS on its own share
  const size_t share = (static_cast<size_t>(o.batch_size) + workers - 1) / workers;
  const Eigen::Index rows = static_cast<Eigen::Index>(share * static_cast<size_t>(o.max_length));
  // Sampled softmax when asked for and smaller than the catalog.
  const size_t step_targets = static_cast<size_t>(o.batch_size) * static_cast<size_t>(o.max_length);
  const size_t max_candidates = std::min(num_items_, step_targets + static_cast<size_t>(std::max(0, o.negatives)));
  const bool sampled = o.negatives > 0 && max_candidates < num_items_;
  const size_t softmax_width = sampled ? max_candidates : num_items_;
  const Eigen::Index chunk = std::clamp<Eigen::Index>(
      static_cast<Eigen::Index>(8'000'000 / std::max<size_t>(1, softmax_width)), 16, 256);
  std::vector<std::unique_ptr<Network>> networks;
  std::vector<nn::Gradients<float>> grads;
  std::vector<Mat<float>> scores(static_cast<size_t>(workers));
  for (int w = 0; w < workers; ++w) {
    nn::Parameters<float> names(/*allocate=*/false);
    networks.push_back(std::make_unique<Network>(&names, o, num_items_));
    networks.back()->Reserve(rows, o.dim, static_cast<Eigen::Index>(softmax_width), chunk);
    if (sampled) networks.back()->candidate_grads.resize(static_cast<Eigen::Index>(max_candidates), o.dim);
    grads.push_back(params_.ZerosLike());
    scores[static_cast<size_t>(w)].resize(static_cast<Eigen::Index>(share), static_cast<Eigen::Index>(num_items_));
  }
  nn::Adam<float> adam(params_, {.learning_rate = o.learning_rate, .weight_decay = o.weight_decay});
  std::vector<std::mt19937_64> worker_rngs;
  for (int w = 0; w < workers; ++w) worker_rngs.emplace_back(fit.seed + 1000003ULL * static_cast<uint64_t>(w + 1));

  // Validation NDCG@10 with full ranking over all items.
  auto validate = [&]() -> double {
    if (eligible.empty()) return 0;
    double total = 0;
    const size_t parts = (eligible.size() + share - 1) / share;
#pragma omp parallel for num_threads(workers) schedule(dynamic, 1) reduction(+ : total)
    for (size_t part = 0; part < parts; ++part) {
      const int w = omp_get_thread_num();
      Network& net = *networks[static_cast<size_t>(w)];
      net.Clear();
      const size_t begin = part * share, end = std::min(eligible.size(), begin + share);
      for (size_t j = begin; j < end; ++j) {
        AppendWindow(training_sequence(eligible[j]), static_cast<size_t>(o.max_length), &net.inputs, &net.positions_of,
                     &net.segments);
      }
      net.Forward(params_, false, nullptr);
      const Eigen::Index count = static_cast<Eigen::Index>(end - begin);
      Mat<float>& logits = scores[static_cast<size_t>(w)];
      for (Eigen::Index j = 0; j < count; ++j) {
        const Segment& segment = net.segments[static_cast<size_t>(j)];
        net.dh.row(j) = net.h.row(segment.start + segment.length - 1);  // dh is free outside training
      }
      nn::MultiplyByTranspose(net.dh.topRows(count), params_[net.items], logits.topRows(count));
      for (Eigen::Index j = 0; j < count; ++j) {
        total += NdcgAt10({logits.row(j).data(), num_items_},
                          static_cast<uint32_t>(sequences.validation[eligible[begin + static_cast<size_t>(j)]]));
      }
    }
    return total / static_cast<double>(eligible.size());
  };

  std::vector<uint32_t> order;
  for (size_t s = 0; s < sequences.size(); ++s) {
    if (training_sequence(s).size() >= 2) order.push_back(static_cast<uint32_t>(s));
  }
  SampledSoftmax softmax;
  std::vector<double> target_share;  // each item's share of all training targets
  if (sampled) {
    softmax.column_of.assign(num_items_, -1);
    softmax.candidates.reserve(max_candidates);
    softmax.rows.resize(static_cast<Eigen::Index>(max_candidates), o.dim);
    softmax.bias.reserve(max_candidates);
    target_share.assign(num_items_, 0.0);
    double total = 0;
    for (uint32_t s : order) {
      auto sequence = training_sequence(s);
      const size_t m = std::min(sequence.size() - 1, static_cast<size_t>(o.max_length));
      for (size_t i = sequence.size() - m; i < sequence.size(); ++i) target_share[sequence[i]] += 1;
      total += static_cast<double>(m);
    }
    for (double& share : target_share) share /= std::max(1.0, total);
  }
  std::uniform_int_distribution<uint32_t> any_item(0, static_cast<uint32_t>(num_items_ - 1));
  // The step's candidates: its targets, then `negatives` uniform draws.
  auto choose_candidates = [&](size_t begin, size_t end, size_t batch_targets) {
    for (uint32_t item : softmax.candidates) softmax.column_of[item] = -1;
    softmax.candidates.clear();
    auto add = [&](uint32_t item) {
      if (softmax.column_of[item] >= 0) return;
      softmax.column_of[item] = static_cast<int32_t>(softmax.candidates.size());
      softmax.candidates.push_back(item);
    };
    for (size_t j = begin; j < end; ++j) {
      auto sequence = training_sequence(order[j]);
      const size_t m = std::min(sequence.size() - 1, static_cast<size_t>(o.max_length));
      for (size_t i = sequence.size() - m; i < sequence.size(); ++i) add(sequence[i]);
    }
    for (int k = 0; k < o.negatives; ++k) add(any_item(rng));
    // Expected count of item j among the candidates: as a target of this
    // step, plus as a uniform draw.
    const double drawn = static_cast<double>(o.negatives) / static_cast<double>(num_items_);
    softmax.bias.clear();
    for (size_t c = 0; c < softmax.candidates.size(); ++c) {
      const uint32_t item = softmax.candidates[c];
      softmax.rows.row(static_cast<Eigen::Index>(c)) = params_[layout.items].row(item);
      const double expected = static_cast<double>(batch_targets) * target_share[item] + drawn;
      softmax.bias.push_back(static_cast<float>(-std::log(expected)));
    }
  };
  std::vector<Mat<float>> best;
  double best_ndcg = -1;
  for (int epoch = 0; epoch < o.max_epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    std::shuffle(order.begin(), order.end(), rng);
    double epoch_loss = 0;
    size_t epoch_targets = 0;
    for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(o.batch_size)) {
      const size_t end = std::min(order.size(), begin + static_cast<size_t>(o.batch_size));
      // Every position predicts the next item of its window.
      size_t batch_targets = 0;
      for (size_t j = begin; j < end; ++j) {
        batch_targets += std::min(training_sequence(order[j]).size() - 1, static_cast<size_t>(o.max_length));
      }
      const float scale = 1.0f / static_cast<float>(batch_targets);
      if (sampled) choose_candidates(begin, end, batch_targets);
      double batch_loss = 0;
#pragma omp parallel for num_threads(workers) schedule(static, 1) reduction(+ : batch_loss)
      for (int w = 0; w < workers; ++w) {
        Network& net = *networks[static_cast<size_t>(w)];
        nn::Gradients<float>& g = grads[static_cast<size_t>(w)];
        for (Mat<float>& m : g) m.setZero();
        net.Clear();
        const size_t from = begin + static_cast<size_t>(w) * share, to = std::min(end, from + share);
        for (size_t j = from; j < to; ++j) {
          auto sequence = training_sequence(order[j]);
          const size_t m = std::min(sequence.size() - 1, static_cast<size_t>(o.max_length));
          AppendWindow(sequence.first(sequence.size() - 1), static_cast<size_t>(o.max_length), &net.inputs,
                       &net.positions_of, &net.segments);
          for (size_t i = sequence.size() - m; i < sequence.size(); ++i) net.targets.push_back(sequence[i]);
        }
        if (net.inputs.empty()) continue;
        net.Forward(params_, true, &worker_rngs[static_cast<size_t>(w)]);
        batch_loss += net.Backward(params_, &g, scale, sampled ? &softmax : nullptr);
      }
      for (int w = 1; w < workers; ++w) {
        for (size_t i = 0; i < grads[0].size(); ++i) grads[0][i] += grads[static_cast<size_t>(w)][i];
      }
      if (with_features) {
        Mat<float>& item_grad = grads[0][layout.items];
        side_grads[side_items] = item_grad;
        features.Backpropagate(item_grad, &side_grads[side_table]);
        side_adam.Step(&side, side_grads);
        item_grad.setZero();  // params_[items] is derived: Adam leaves it alone
      }
      adam.Step(&params_, grads[0]);
      compose_items();
      epoch_loss += batch_loss;
      epoch_targets += batch_targets;
    }
    EpochLog log;
    log.loss = epoch_targets == 0 ? 0 : epoch_loss / static_cast<double>(epoch_targets);
    log.validation_ndcg = validate();
    log.seconds = Seconds(start);
    epochs_.push_back(log);
    if (o.verbose) {
      std::fprintf(stderr, "sasrec: epoch %d loss %.4f validation ndcg@10 %.4f (%.1f s)\n", epoch + 1, log.loss,
                   log.validation_ndcg, log.seconds);
    }
    if (fit.progress) fit.progress(static_cast<double>(epoch + 1) / o.max_epochs);
    if (eligible.empty()) continue;  // no early stopping: train every epoch
    if (log.validation_ndcg > best_ndcg) {
      best_ndcg = log.validation_ndcg;
      best_epoch_ = epoch;
      best.clear();
      for (size_t i = 0; i < params_.size(); ++i) best.push_back(params_[i]);
    } else if (epoch - best_epoch_ >= o.patience) {
      break;
    }
  }
  if (!best.empty()) {
    for (size_t i = 0; i < params_.size(); ++i) params_[i] = std::move(best[i]);
  } else {
    best_epoch_ = static_cast<int>(epochs_.size()) - 1;
  }
  BuildIndex(fit.threads, fit.seed);
  if (fit.progress) fit.progress(1);
  return Status::OK();
}

void SasRecRecommender::BuildIndex(int threads, uint64_t seed) {
  index_.reset();
  if (!WantsIndex(num_items_, ann_)) return;
  index_ = InnerProductIndex::Build(std::span<const float>(params_[0].data(), static_cast<size_t>(params_[0].size())),
                                    static_cast<size_t>(options_.dim), ann_, threads, seed);  // [0]: "items"
}

bool SasRecRecommender::FinalState(std::span<const HistoryEntry> history, Eigen::VectorXf* state) const {
  if (num_items_ == 0) return false;
  const std::vector<uint32_t> sequence = LatestItems(history, static_cast<size_t>(options_.max_length), num_items_);
  if (sequence.empty()) return false;
  nn::Parameters<float> names(/*allocate=*/false);
  Network net(&names, options_, num_items_);
  net.Reserve(options_.max_length, options_.dim, static_cast<Eigen::Index>(num_items_), 0);
  AppendWindow(sequence, static_cast<size_t>(options_.max_length), &net.inputs, &net.positions_of, &net.segments);
  net.Forward(params_, false, nullptr);
  *state = net.h.row(static_cast<Eigen::Index>(sequence.size()) - 1).transpose();
  return true;
}

void SasRecRecommender::Score(std::span<const HistoryEntry> history, Relation /*relation*/,
                              std::span<float> scores) const {
  Eigen::VectorXf state;
  if (!FinalState(history, &state)) {
    std::fill(scores.begin(), scores.end(), 0.0f);
    return;
  }
  Eigen::Map<Eigen::VectorXf> out(scores.data(), static_cast<Eigen::Index>(num_items_));
  out.noalias() = params_[0] * state;  // [0]: "items", the tied output layer
  const float max = out.maxCoeff();
  out = (out.array() - max).exp();
}

void SasRecRecommender::TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
                             const std::function<bool(uint32_t)>& skip,
                             std::vector<std::pair<uint32_t, float>>* top) const {
  Eigen::VectorXf state;
  if (index_ == nullptr || !FinalState(history, &state)) {
    Recommender::TopK(history, relation, k, floor, skip, top);
    return;
  }
  index_->Search(std::span<const float>(state.data(), static_cast<size_t>(state.size())), k, skip, top);
  ToSoftmaxScale(floor, top);
}

int SasRecRecommender::Explain(std::span<const HistoryEntry> history, uint32_t item) const {
  if (params_.size() == 0) return -1;
  return ClosestHistoryItem(params_[0], history, static_cast<size_t>(options_.max_length), item);  // [0]: "items"
}

Status SasRecRecommender::Save(const std::string& path) const {
  VITRINA_ASSIGN_OR_RETURN(BinaryWriter writer, BinaryWriter::Create(path, name(), kFormatVersion));
  for (int value : {options_.dim, options_.blocks, options_.heads, options_.max_length}) writer.Put<int32_t>(value);
  writer.Put<uint64_t>(num_items_);
  writer.Put<uint64_t>(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    writer.Put<int64_t>(params_[i].rows());
    writer.Put<int64_t>(params_[i].cols());
    writer.Write(params_[i].data(), sizeof(float) * static_cast<size_t>(params_[i].size()));
  }
  VITRINA_RETURN_IF_ERROR(writer.Close());
  return SaveIndexBeside(index_.get(), path);
}

Status SasRecRecommender::Load(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(BinaryReader reader, BinaryReader::Open(path, name(), kFormatVersion));
  int32_t shape[4];
  for (int32_t& value : shape) VITRINA_RETURN_IF_ERROR(reader.Get(&value));
  uint64_t items = 0, count = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&items));
  VITRINA_RETURN_IF_ERROR(reader.Get(&count));
  if (shape[0] <= 0 || shape[0] > 4096 || shape[2] <= 0 || shape[0] % shape[2] != 0 || shape[1] < 0 ||
      shape[1] > 64 || shape[3] < 2 || shape[3] > 100000 || items > (uint64_t{1} << 32)) {
    return Status::Corruption(path + ": model shape out of range");
  }
  options_.dim = shape[0];
  options_.blocks = shape[1];
  options_.heads = shape[2];
  options_.max_length = shape[3];
  nn::Parameters<float> params;
  Network layout(&params, options_, items);
  if (count != params.size()) return Status::Corruption(path + ": parameter count does not match the shape");
  for (size_t i = 0; i < params.size(); ++i) {
    int64_t rows = 0, cols = 0;
    VITRINA_RETURN_IF_ERROR(reader.Get(&rows));
    VITRINA_RETURN_IF_ERROR(reader.Get(&cols));
    if (rows != params[i].rows() || cols != params[i].cols()) {
      return Status::Corruption(path + ": parameter " + params.name(i) + " has the wrong shape");
    }
    VITRINA_RETURN_IF_ERROR(reader.Read(params[i].data(), sizeof(float) * static_cast<size_t>(params[i].size())));
  }
  VITRINA_RETURN_IF_ERROR(reader.ExpectEnd());
  params_ = std::move(params);
  num_items_ = items;
  VITRINA_ASSIGN_OR_RETURN(index_, LoadIndexBeside(path, num_items_, static_cast<size_t>(options_.dim), ann_));
  if (index_ == nullptr) BuildIndex(IndexBuildThreads(), kIndexSeed);  // saved without one
  return Status::OK();
}

}  // namespace vitrina
