#include "ranking/lambdamart.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>

namespace vitrina {
namespace {

Status XgbError(std::string_view what) {
  return Status::Internal("xgboost: " + std::string(what) + ": " + XGBGetLastError());
}

#define VITRINA_XGB(call, what) \
  do {                          \
    if ((call) != 0) return XgbError(what); \
  } while (false)

// Owns a DMatrix.
class Matrix {
 public:
  Matrix() = default;
  Matrix(const Matrix&) = delete;
  Matrix& operator=(const Matrix&) = delete;
  ~Matrix() {
    if (handle_ != nullptr) XGDMatrixFree(handle_);
  }
  DMatrixHandle* out() { return &handle_; }
  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

Status BuildMatrix(const RankingData& data, Matrix* matrix) {
  if (data.features.size() != data.num_rows() * data.num_features) {
    return Status::InvalidArgument("ranking data: features and labels disagree on the row count");
  }
  uint64_t grouped = std::accumulate(data.group_sizes.begin(), data.group_sizes.end(), uint64_t{0});
  if (grouped != data.num_rows()) return Status::InvalidArgument("ranking data: groups do not cover every row");
  VITRINA_XGB(XGDMatrixCreateFromMat(data.features.data(), data.num_rows(), data.num_features, NAN, matrix->out()),
              "creating a matrix");
  VITRINA_XGB(XGDMatrixSetFloatInfo(matrix->get(), "label", data.labels.data(), data.num_rows()), "setting labels");
  VITRINA_XGB(XGDMatrixSetUIntInfo(matrix->get(), "group", data.group_sizes.data(), data.group_sizes.size()),
              "setting groups");
  return Status::OK();
}

// The value of `name` ("valid-ndcg@10") in an evaluation line such as
// "[12]\ttrain-ndcg@10:0.61\tvalid-ndcg@10:0.52"; NaN when absent.
double EvalValue(std::string_view line, std::string_view name) {
  std::string key = std::string(name) + ":";
  size_t at = line.find(key);
  if (at == std::string_view::npos) return NAN;
  std::string rest(line.substr(at + key.size()));
  return std::strtod(rest.c_str(), nullptr);
}

std::string ArrayInterface(std::span<const float> rows, size_t num_features) {
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer), R"({"data":[%llu,true],"shape":[%zu,%zu],"typestr":"<f4","version":3})",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(rows.data())), rows.size() / num_features,
                num_features);
  return buffer;
}

// Predictions read only the trees: one thread per call, so that concurrent
// requests do not share OpenMP teams.
Status SetPredictionThreads(BoosterHandle booster) {
  VITRINA_XGB(XGBoosterSetParam(booster, "nthread", "1"), "setting nthread");
  return Status::OK();
}

}  // namespace

LambdaMartRanker::LambdaMartRanker(LambdaMartRanker&& other) noexcept
    : booster_(std::exchange(other.booster_, nullptr)), num_features_(other.num_features_) {}

LambdaMartRanker& LambdaMartRanker::operator=(LambdaMartRanker&& other) noexcept {
  if (this != &other) {
    if (booster_ != nullptr) XGBoosterFree(booster_);
    booster_ = std::exchange(other.booster_, nullptr);
    num_features_ = other.num_features_;
  }
  return *this;
}

LambdaMartRanker::~LambdaMartRanker() {
  if (booster_ != nullptr) XGBoosterFree(booster_);
}

Result<LambdaMartReport> LambdaMartRanker::Train(const RankingData& train, const RankingData& validation,
                                                 const LambdaMartOptions& options) {
  if (train.num_rows() == 0) return Status::InvalidArgument("ranking data: no training rows");
  if (validation.num_rows() > 0 && validation.num_features != train.num_features) {
    return Status::InvalidArgument("ranking data: validation has another feature count");
  }
  Matrix train_matrix, validation_matrix;
  VITRINA_RETURN_IF_ERROR(BuildMatrix(train, &train_matrix));
  const bool validate = validation.num_rows() > 0;
  if (validate) VITRINA_RETURN_IF_ERROR(BuildMatrix(validation, &validation_matrix));

  DMatrixHandle cache[2] = {train_matrix.get(), validation_matrix.get()};
  BoosterHandle booster = nullptr;
  VITRINA_XGB(XGBoosterCreate(cache, validate ? 2 : 1, &booster), "creating a booster");
  // Frees the booster on every early return below.
  struct Guard {
    BoosterHandle* handle;
    ~Guard() {
      if (*handle != nullptr) XGBoosterFree(*handle);
    }
  } guard{&booster};

  const std::pair<std::string, std::string> params[] = {
      {"objective", "rank:ndcg"},
      {"eval_metric", "ndcg@10"},
      {"tree_method", "hist"},
      {"eta", std::to_string(options.learning_rate)},
      {"max_depth", std::to_string(options.max_depth)},
      {"min_child_weight", std::to_string(options.min_child_weight)},
      {"subsample", std::to_string(options.subsample)},
      {"colsample_bytree", std::to_string(options.colsample)},
      {"lambda", std::to_string(options.l2)},
      {"nthread", std::to_string(std::max(1, options.threads))},
      {"seed", std::to_string(options.seed)},
      {"verbosity", "0"},
  };
  for (const auto& [name, value] : params) {
    VITRINA_XGB(XGBoosterSetParam(booster, name.c_str(), value.c_str()), "setting " + name);
  }

  LambdaMartReport report;
  double best = -1;
  int best_round = 0, since_best = 0;
  const char* names[2] = {"train", "valid"};
  for (int round = 0; round < options.rounds; ++round) {
    VITRINA_XGB(XGBoosterUpdateOneIter(booster, round, train_matrix.get()), "training a round");
    const char* line = nullptr;
    VITRINA_XGB(XGBoosterEvalOneIter(booster, round, cache, names, validate ? 2 : 1, &line), "evaluating");
    double train_ndcg = EvalValue(line, "train-ndcg@10");
    double score = validate ? EvalValue(line, "valid-ndcg@10") : train_ndcg;
    if (score > best) {
      best = score;
      best_round = round;
      since_best = 0;
      report.validation_ndcg = validate ? score : 0;
      report.train_ndcg = train_ndcg;
    } else if (validate && ++since_best >= options.early_stopping_rounds) {
      break;
    }
  }
  if (!validate) best_round = options.rounds - 1;
  report.rounds = best_round + 1;

  BoosterHandle kept = nullptr;
  VITRINA_XGB(XGBoosterSlice(booster, 0, best_round + 1, 1, &kept), "keeping the best rounds");
  if (booster_ != nullptr) XGBoosterFree(booster_);
  booster_ = kept;
  num_features_ = train.num_features;
  VITRINA_RETURN_IF_ERROR(SetPredictionThreads(booster_));
  return report;
}

Status LambdaMartRanker::Predict(std::span<const float> rows, std::span<float> scores) const {
  if (booster_ == nullptr) return Status::FailedPrecondition("ranker: not trained");
  if (rows.size() != scores.size() * num_features_) {
    return Status::InvalidArgument("ranker: rows do not match the feature count");
  }
  if (scores.empty()) return Status::OK();
  const std::string data = ArrayInterface(rows, num_features_);
  static const char kConfig[] =
      R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"cache_id":0,"missing":NaN})";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* out = nullptr;
  VITRINA_XGB(XGBoosterPredictFromDense(booster_, data.c_str(), kConfig, nullptr, &shape, &dims, &out), "predicting");
  std::copy(out, out + scores.size(), scores.begin());
  return Status::OK();
}

Status LambdaMartRanker::Contributions(std::span<const float> rows, std::vector<float>* contributions) const {
  if (booster_ == nullptr) return Status::FailedPrecondition("ranker: not trained");
  if (num_features_ == 0 || rows.size() % num_features_ != 0) {
    return Status::InvalidArgument("ranker: rows do not match the feature count");
  }
  const size_t count = rows.size() / num_features_;
  contributions->clear();
  if (count == 0) return Status::OK();
  Matrix matrix;
  VITRINA_XGB(XGDMatrixCreateFromMat(rows.data(), count, num_features_, NAN, matrix.out()), "creating a matrix");
  static const char kConfig[] =
      R"({"type":2,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* out = nullptr;
  VITRINA_XGB(XGBoosterPredictFromDMatrix(booster_, matrix.get(), kConfig, &shape, &dims, &out), "explaining");
  contributions->assign(out, out + count * (num_features_ + 1));
  return Status::OK();
}

Result<std::string> LambdaMartRanker::Serialize() const {
  if (booster_ == nullptr) return Status::FailedPrecondition("ranker: not trained");
  bst_ulong length = 0;
  const char* buffer = nullptr;
  VITRINA_XGB(XGBoosterSaveModelToBuffer(booster_, R"({"format":"json"})", &length, &buffer), "saving");
  return std::string(buffer, length);
}

Status LambdaMartRanker::Load(std::string_view model, size_t num_features) {
  BoosterHandle booster = nullptr;
  VITRINA_XGB(XGBoosterCreate(nullptr, 0, &booster), "creating a booster");
  if (XGBoosterLoadModelFromBuffer(booster, model.data(), model.size()) != 0) {
    Status error = XgbError("loading");
    XGBoosterFree(booster);
    return error;
  }
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(booster, &features) != 0 || features != num_features) {
    XGBoosterFree(booster);
    return Status::Corruption("ranker: the model has " + std::to_string(features) + " features, expected " +
                              std::to_string(num_features));
  }
  if (booster_ != nullptr) XGBoosterFree(booster_);
  booster_ = booster;
  num_features_ = num_features;
  return SetPredictionThreads(booster_);
}

double GroupNdcg(std::span<const float> scores, std::span<const float> labels, size_t k) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  auto dcg = [&](const std::vector<size_t>& ranking) {
    double sum = 0;
    for (size_t r = 0; r < std::min(k, ranking.size()); ++r) {
      sum += (std::exp2(labels[ranking[r]]) - 1) / std::log2(static_cast<double>(r) + 2);
    }
    return sum;
  };
  std::vector<size_t> ideal(labels.size());
  std::iota(ideal.begin(), ideal.end(), 0);
  std::stable_sort(ideal.begin(), ideal.end(), [&](size_t a, size_t b) { return labels[a] > labels[b]; });
  double best = dcg(ideal);
  return best == 0 ? 1.0 : dcg(order) / best;
}

}  // namespace vitrina
