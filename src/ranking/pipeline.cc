#include "ranking/pipeline.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/strings.h"
#include "models/binary_io.h"

namespace vitrina {
namespace {

constexpr uint32_t kFormatVersion = 2;  // 2: per-country item shares, served-list training
constexpr int64_t kMillisPerDay = 86400000;
constexpr size_t kMaxHistory = 200;

std::vector<std::string> ParseNames(const std::string& text) {
  std::vector<std::string> names;
  for (std::string_view name : Split(text, ",")) {
    name = TrimWhitespace(name);
    if (!name.empty()) names.emplace_back(name);
  }
  return names;
}

// Sequence models score in logits (any sign); the others score 0 for "no
// evidence", which must not make an item a candidate.
float CandidateFloor(std::string_view source) {
  return source == "sasrec" || source == "gru4rec" ? -std::numeric_limits<float>::infinity() : 0.0f;
}

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// One shopper the ranker learns from: what they had done before, and what
// they took afterwards (from everything, or from one served list).
struct Group {
  uint32_t actor = 0;
  std::vector<HistoryEntry> history;
  std::vector<uint32_t> targets;  // sorted, distinct
  int64_t now_ms = 0;             // 0: the history's newest time
  std::vector<uint32_t> shown;    // a served list: its items are the candidates
};

struct LabelSplit {
  Dataset before;  // what the pre-cut sources train on
  std::vector<Group> groups;
  bool temporal = false;
  bool from_served = false;  // the groups are served lists
};

LabelSplit SplitForLabels(const Dataset& data, const ModelOptions::Pipeline& options, uint64_t seed) {
  LabelSplit split;
  std::vector<uint32_t> keep(data.num_actors());
  const std::string mode = options.split;
  const int64_t cut = data.MaxTime() - static_cast<int64_t>(options.label_days) * kMillisPerDay;
  if (mode != "loo") {
    for (uint32_t a = 0; a < data.num_actors(); ++a) {
      auto interactions = data.ActorInteractions(a);
      const uint32_t before = CountBefore(interactions, cut);
      keep[a] = before;
      if (before == 0 || before == interactions.size()) continue;
      Group group{.actor = a, .history = HistoryOf(interactions.first(before), kMaxHistory), .now_ms = cut};
      for (const Interaction& interaction : interactions.subspan(before)) group.targets.push_back(interaction.item);
      split.groups.push_back(std::move(group));
    }
    // Enough shoppers came back after the cut to learn from: a real timeline.
    const size_t needed = std::max<size_t>(20, data.num_actors() / 100);
    split.temporal = mode == "temporal" || split.groups.size() >= needed;
  }
  if (!split.temporal) {
    split.groups.clear();
    for (uint32_t a = 0; a < data.num_actors(); ++a) {
      auto interactions = data.ActorInteractions(a);
      keep[a] = static_cast<uint32_t>(interactions.size());
      if (interactions.size() < 2) continue;
      keep[a] -= 1;
      split.groups.push_back({.actor = a,
                              .history = HistoryOf(interactions.first(keep[a]), kMaxHistory),
                              .targets = {interactions.back().item}});
    }
  }
  // Served lists in the label window, and what was taken from them, teach
  // the ranker directly when there are enough.
  if (split.temporal) {
    std::vector<Group> served;
    for (const ServedImpression& impression : data.impressions) {
      if (impression.time_ms < cut || impression.taken.empty()) continue;
      auto interactions = data.ActorInteractions(impression.actor);
      const size_t before = CountBefore(interactions, impression.time_ms);
      if (before == 0) continue;
      served.push_back({.actor = impression.actor,
                        .history = HistoryOf(interactions.first(before), kMaxHistory),
                        .targets = impression.taken,
                        .now_ms = impression.time_ms,
                        .shown = impression.shown});
    }
    if (served.size() >= static_cast<size_t>(std::max(1, options.min_served_lists))) {
      split.groups = std::move(served);
      split.from_served = true;
    }
  }
  for (Group& group : split.groups) {
    std::sort(group.targets.begin(), group.targets.end());
    group.targets.erase(std::unique(group.targets.begin(), group.targets.end()), group.targets.end());
  }
  // A fixed sample of at most max_groups shoppers.
  if (split.groups.size() > static_cast<size_t>(options.max_groups)) {
    auto key = [&](const Group& g) { return Mix(g.actor ^ (seed << 32) ^ (static_cast<uint64_t>(g.now_ms) << 8)); };
    std::nth_element(split.groups.begin(), split.groups.begin() + options.max_groups, split.groups.end(),
                     [&](const Group& x, const Group& y) { return key(x) < key(y); });
    split.groups.resize(options.max_groups);
    std::sort(split.groups.begin(), split.groups.end(), [](const Group& x, const Group& y) {
      return x.actor != y.actor ? x.actor < y.actor : x.now_ms < y.now_ms;
    });
  }
  split.before = KeepPrefixes(data, keep);
  return split;
}

}  // namespace

PipelineRecommender::PipelineRecommender(const ModelOptions& options)
    : options_(options), source_names_(ParseNames(options.pipeline.sources)) {
  feature_names_ = FeatureNames(source_names_);
}

Status PipelineRecommender::UseSources(const std::vector<const Recommender*>& sources) {
  if (sources.empty()) return Status::InvalidArgument("pipeline: no candidate sources");
  std::vector<std::string> names;
  for (const Recommender* source : sources) {
    if (source == nullptr) return Status::InvalidArgument("pipeline: a candidate source is missing");
    names.emplace_back(source->name());
  }
  if (ranker_.trained() && names != source_names_) {
    return Status::InvalidArgument("pipeline: its ranker was trained on the sources " + Join(source_names_, ",") +
                                   ", not " + Join(names, ","));
  }
  source_names_ = std::move(names);
  feature_names_ = FeatureNames(source_names_);
  sources_ = sources;
  owned_.clear();
  sources_given_ = true;
  return Status::OK();
}

Status PipelineRecommender::TrainSources(const Dataset& data, const FitOptions& options, double progress_from,
                                         double progress_to, std::vector<std::unique_ptr<Recommender>>* out) const {
  out->clear();
  const double step = (progress_to - progress_from) / static_cast<double>(std::max<size_t>(1, source_names_.size()));
  for (size_t s = 0; s < source_names_.size(); ++s) {
    VITRINA_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> model, CreateRecommender(source_names_[s], options_));
    FitOptions fit = options;
    const double from = progress_from + step * static_cast<double>(s);
    fit.progress = options.progress ? std::function<void(double)>([&, from](double f) { options.progress(from + step * f); })
                                    : nullptr;
    Status status = model->Fit(data, fit);
    if (!status.ok()) return status.WithPrefix("pipeline source " + source_names_[s] + ": ");
    out->push_back(std::move(model));
  }
  return Status::OK();
}

Status PipelineRecommender::Fit(const Dataset& data, const FitOptions& options) {
  if (source_names_.empty()) return Status::InvalidArgument("pipeline: no candidate sources (models.pipeline.sources)");
  if (sources_given_) {
    for (const Recommender* source : sources_) {
      if (source->num_items() != data.num_items()) {
        return Status::InvalidArgument("pipeline: source " + std::string(source->name()) +
                                       " was trained on another catalog");
      }
    }
  }
  const ModelOptions::Pipeline& settings = options_.pipeline;
  LabelSplit split = SplitForLabels(data, settings, options.seed);
  if (split.groups.empty()) return Status::FailedPrecondition("pipeline: no shopper to learn from (too little data)");

  // Sources trained on what came before the labels, as they would have served then.
  std::vector<std::unique_ptr<Recommender>> before;
  const double train_share = sources_given_ ? 0.6 : 0.35;
  VITRINA_RETURN_IF_ERROR(TrainSources(split.before, options, 0.0, train_share, &before));
  std::vector<const Recommender*> before_sources;
  for (const auto& model : before) before_sources.push_back(model.get());
  const ItemStats before_stats = ItemStats::Compute(split.before);
  const size_t width = feature_names_.size();

  // Candidates, features and labels per group, in parallel.
  std::vector<std::vector<float>> rows(split.groups.size()), labels(split.groups.size());
  const int threads = std::max(1, options.threads);
#pragma omp parallel num_threads(threads)
  {
    RankScratch scratch;
#pragma omp for schedule(dynamic, 16)
    for (size_t g = 0; g < split.groups.size(); ++g) {
      const Group& group = split.groups[g];
      // Half the groups without their country, so the ranker also learns to
      // rank for shoppers whose country the request does not give.
      const uint16_t country = group.actor < data.actor_countries.size() ? data.actor_countries[group.actor] : 0;
      const bool masked = Mix(group.actor ^ 0x636f756e747279ULL) % 2 == 0;
      const RankContext context{.now_ms = group.now_ms,
                                .country = masked ? std::string_view() : std::string_view(data.countries[country]),
                                .has_clock = split.temporal};
      const size_t count = Gather(before_sources, before_stats, group.history, context, nullptr, &scratch, group.shown);
      size_t positives = 0;
      labels[g].resize(count);
      for (size_t r = 0; r < count; ++r) {
        const bool hit = std::binary_search(group.targets.begin(), group.targets.end(), scratch.items[r]);
        labels[g][r] = hit ? 1.0f : 0.0f;
        positives += hit;
      }
      // A group whose candidates hold no target (or only targets) teaches nothing.
      if (positives == 0 || positives == count) {
        labels[g].clear();
        continue;
      }
      rows[g].assign(scratch.features.begin(), scratch.features.begin() + count * width);
    }
  }
  RankingData train, validation;
  train.num_features = validation.num_features = width;
  const uint64_t validation_cut = static_cast<uint64_t>(settings.validation_share * 1000);
  for (size_t g = 0; g < split.groups.size(); ++g) {
    if (labels[g].empty()) continue;
    RankingData& target = Mix(split.groups[g].actor ^ (options.seed * 31 + 7)) % 1000 < validation_cut ? validation : train;
    target.features.insert(target.features.end(), rows[g].begin(), rows[g].end());
    target.labels.insert(target.labels.end(), labels[g].begin(), labels[g].end());
    target.EndGroup(static_cast<uint32_t>(labels[g].size()));
    std::vector<float>().swap(rows[g]);
  }
  if (train.group_sizes.empty()) {
    return Status::FailedPrecondition("pipeline: no shopper's candidates held what they took next (too little data)");
  }
  training_groups_ = train.group_sizes.size() + validation.group_sizes.size();
  training_rows_ = train.num_rows() + validation.num_rows();
  before.clear();

  const LambdaMartOptions ranker_options{.rounds = settings.rounds,
                                         .learning_rate = settings.learning_rate,
                                         .max_depth = settings.max_depth,
                                         .early_stopping_rounds = settings.early_stopping_rounds,
                                         .threads = threads,
                                         .seed = options.seed};
  VITRINA_ASSIGN_OR_RETURN(report_, ranker_.Train(train, validation, ranker_options));
  if (options.progress) options.progress(train_share + 0.1);

  // What serves: the sources on all the data.
  if (!sources_given_) {
    VITRINA_RETURN_IF_ERROR(TrainSources(data, options, train_share + 0.1, 1.0, &owned_));
    sources_.clear();
    for (const auto& model : owned_) sources_.push_back(model.get());
  }
  stats_ = ItemStats::Compute(data);
  fit_end_ms_ = data.MaxTime();
  real_time_ = split.temporal;
  from_served_ = split.from_served;
  if (options.progress) options.progress(1.0);
  return Status::OK();
}

size_t PipelineRecommender::Gather(const std::vector<const Recommender*>& sources, const ItemStats& stats,
                                   std::span<const HistoryEntry> history, const RankContext& context,
                                   const std::function<bool(uint32_t)>& skip, RankScratch* scratch,
                                   std::span<const uint32_t> only) const {
  const size_t n = stats.size();
  const size_t width = feature_names_.size();
  const size_t fixed_offset = kFeaturesPerSource * sources.size();
  auto skipped = [&](uint32_t item) { return skip && skip(item); };
  scratch->profile.Build(history, stats, context.now_ms, context.country);
  if (scratch->slot.size() != n) scratch->slot.assign(n, -1);
  scratch->items.clear();
  scratch->best_source.clear();
  scratch->features.clear();
  auto row_of = [&](uint32_t item) {
    int32_t& slot = scratch->slot[item];
    if (slot < 0) {
      slot = static_cast<int32_t>(scratch->items.size());
      scratch->items.push_back(item);
      scratch->best_source.push_back(-1);
      scratch->features.resize(scratch->features.size() + width, NAN);
    }
    return static_cast<size_t>(slot);
  };

  for (uint32_t item : only) {
    if (item < n && !skipped(item)) row_of(item);
  }
  const size_t depth = static_cast<size_t>(options_.pipeline.candidates_per_source);
  for (size_t s = 0; s < sources.size(); ++s) {
    const Recommender* model = sources[s];
    // Each source's own top-k (ALS and co-occurrence without scoring every item).
    model->TopK(history, Relation::kAny, depth, CandidateFloor(model->name()), skip, &scratch->top);
    for (size_t rank = 0; rank < scratch->top.size(); ++rank) {
      const auto [item, score] = scratch->top[rank];
      if (!only.empty() && scratch->slot[item] < 0) continue;  // a served list: its items only
      const size_t row = row_of(item);
      float* values = &scratch->features[row * width + kFeaturesPerSource * s];
      values[0] = score;
      values[1] = static_cast<float>(rank);
      const int best = scratch->best_source[row];
      if (best < 0 || static_cast<float>(rank) < scratch->features[row * width + kFeaturesPerSource * best + 1]) {
        scratch->best_source[row] = static_cast<int>(s);
      }
    }
  }
  // The shopper's own latest items: in many shops people buy again.
  size_t from_history = 0;
  for (uint32_t item : scratch->profile.recent_items()) {
    if (!only.empty() || from_history >= static_cast<size_t>(options_.pipeline.history_candidates)) break;
    if (skipped(item)) continue;
    row_of(item);
    ++from_history;
  }

  // Every source's score for every candidate (an indexed source scores only
  // what its index returned: scoring the whole catalog is what it avoids).
  const size_t rows = scratch->items.size();
  for (size_t s = 0; s < sources.size(); ++s) {
    if (sources[s]->index() != nullptr) continue;
    scratch->predictions.resize(rows);
    sources[s]->ScoreItems(history, Relation::kAny, scratch->items, std::span<float>(scratch->predictions.data(), rows));
    for (size_t row = 0; row < rows; ++row) scratch->features[row * width + kFeaturesPerSource * s] = scratch->predictions[row];
  }
  for (size_t row = 0; row < rows; ++row) {
    const uint32_t item = scratch->items[row];
    scratch->profile.Fill(item, stats, context, std::span<float>(&scratch->features[row * width + fixed_offset], kFixedFeatures));
    scratch->slot[item] = -1;
  }
  return rows;
}

RankContext PipelineRecommender::DefaultContext(std::span<const HistoryEntry> history) const {
  RankContext context{.has_clock = real_time_};
  if (real_time_) {
    int64_t newest = 0;
    for (const HistoryEntry& entry : history) newest = std::max(newest, entry.time_ms);
    context.now_ms = std::max(fit_end_ms_, newest);
  }
  return context;
}

void PipelineRecommender::Rank(std::span<const HistoryEntry> history, const RankContext& context, size_t k,
                               const std::function<bool(uint32_t)>& skip, RankScratch* scratch,
                               std::vector<RankedCandidate>* out) const {
  out->clear();
  if (sources_.empty() || !ranker_.trained()) return;
  const size_t rows = Gather(sources_, stats_, history, context, skip, scratch);
  scratch->predictions.resize(rows);
  if (!ranker_.Predict(std::span<const float>(scratch->features.data(), rows * feature_names_.size()),
                       scratch->predictions)
           .ok()) {
    // Cannot happen with a loaded model and matching rows; rank by the best source rank rather than fail.
    for (size_t r = 0; r < rows; ++r) scratch->predictions[r] = scratch->best_source[r] < 0 ? -1e9f : 0.0f;
  }
  out->reserve(rows);
  for (size_t r = 0; r < rows; ++r) {
    out->push_back({.item = scratch->items[r], .score = scratch->predictions[r], .source = scratch->best_source[r],
                    .row = static_cast<uint32_t>(r)});
  }
  auto better = [](const RankedCandidate& a, const RankedCandidate& b) {
    return a.score != b.score ? a.score > b.score : a.item < b.item;
  };
  if (out->size() > k) {
    std::partial_sort(out->begin(), out->begin() + static_cast<ptrdiff_t>(k), out->end(), better);
    out->resize(k);
  } else {
    std::sort(out->begin(), out->end(), better);
  }
}

void PipelineRecommender::Score(std::span<const HistoryEntry> history, Relation relation,
                                std::span<float> scores) const {
  thread_local RankScratch scratch;
  thread_local std::vector<RankedCandidate> ranked;
  std::fill(scores.begin(), scores.end(), 0.0f);
  Rank(history, DefaultContext(history), std::numeric_limits<size_t>::max(), nullptr, &scratch, &ranked);
  if (ranked.empty()) return;
  const float lowest = ranked.back().score;
  for (const RankedCandidate& candidate : ranked) scores[candidate.item] = candidate.score - lowest + 1e-3f;
}

void PipelineRecommender::TopK(std::span<const HistoryEntry> history, Relation relation, size_t k, float floor,
                               const std::function<bool(uint32_t)>& skip,
                               std::vector<std::pair<uint32_t, float>>* top) const {
  thread_local RankScratch scratch;
  thread_local std::vector<RankedCandidate> ranked;
  top->clear();
  Rank(history, DefaultContext(history), std::numeric_limits<size_t>::max(), skip, &scratch, &ranked);
  if (ranked.empty()) return;
  // On Score's scale: the lowest candidate just above 0.
  const float lowest = ranked.back().score;
  for (const RankedCandidate& candidate : ranked) {
    if (top->size() >= k) break;
    const float score = candidate.score - lowest + 1e-3f;
    if (score > floor) top->emplace_back(candidate.item, score);
  }
}

int PipelineRecommender::Explain(std::span<const HistoryEntry> history, uint32_t item) const {
  for (const Recommender* source : sources_) {
    const int anchor = source->Explain(history, item);
    if (anchor >= 0) return anchor;
  }
  return -1;
}

Status PipelineRecommender::Save(const std::string& path) const {
  VITRINA_ASSIGN_OR_RETURN(std::string model, ranker_.Serialize());
  VITRINA_ASSIGN_OR_RETURN(BinaryWriter writer, BinaryWriter::Create(path, name(), kFormatVersion));
  writer.Put<uint32_t>(static_cast<uint32_t>(source_names_.size()));
  for (const std::string& source : source_names_) writer.PutString(source);
  writer.PutVector(stats_.popularity);
  writer.PutVector(stats_.shoppers);
  writer.PutVector(stats_.repeat_rate);
  writer.PutVector(stats_.first_seen_ms);
  writer.PutVector(stats_.category);
  writer.PutVector(stats_.brand);
  writer.PutVector(stats_.log_price);
  writer.Put<uint32_t>(static_cast<uint32_t>(stats_.countries.size()));
  for (const std::string& country : stats_.countries) writer.PutString(country);
  writer.PutVector(stats_.country_offsets);
  writer.PutVector(stats_.country_ids);
  writer.PutVector(stats_.country_shares);
  writer.Put<int64_t>(fit_end_ms_);
  writer.Put<uint8_t>(real_time_);
  writer.Put<uint8_t>(from_served_);
  writer.Put<uint64_t>(training_groups_);
  writer.Put<uint64_t>(training_rows_);
  writer.Put<int32_t>(report_.rounds);
  writer.Put<double>(report_.validation_ndcg);
  writer.Put<double>(report_.train_ndcg);
  writer.PutString(model);
  return writer.Close();
}

Status PipelineRecommender::Load(const std::string& path) {
  VITRINA_ASSIGN_OR_RETURN(BinaryReader reader, BinaryReader::Open(path, name(), kFormatVersion));
  uint32_t count = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&count));
  if (count == 0 || count > 64) return Status::Corruption(path + ": bad source count");
  std::vector<std::string> names(count);
  for (std::string& source : names) VITRINA_RETURN_IF_ERROR(reader.GetString(&source));
  ItemStats stats;
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.popularity));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.shoppers));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.repeat_rate));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.first_seen_ms));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.category));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.brand));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.log_price));
  uint32_t countries = 0;
  VITRINA_RETURN_IF_ERROR(reader.Get(&countries));
  if (countries > UINT16_MAX) return Status::Corruption(path + ": bad country count");
  stats.countries.resize(countries);
  for (std::string& country : stats.countries) VITRINA_RETURN_IF_ERROR(reader.GetString(&country));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.country_offsets));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.country_ids));
  VITRINA_RETURN_IF_ERROR(reader.GetVector(&stats.country_shares));
  const size_t n = stats.popularity.size();
  if (stats.country_offsets.size() != n + 1 || stats.country_ids.size() != stats.country_shares.size() ||
      stats.country_offsets.back() != stats.country_ids.size() ||
      std::any_of(stats.country_ids.begin(), stats.country_ids.end(), [&](uint16_t c) { return c >= countries; })) {
    return Status::Corruption(path + ": bad country statistics");
  }
  for (size_t size : {stats.shoppers.size(), stats.repeat_rate.size(), stats.first_seen_ms.size(),
                      stats.category.size(), stats.brand.size(), stats.log_price.size()}) {
    if (size != n) return Status::Corruption(path + ": item statistics disagree on the item count");
  }
  uint8_t real_time = 0, from_served = 0;
  uint64_t groups = 0, rows = 0;
  LambdaMartReport report;
  std::string model;
  VITRINA_RETURN_IF_ERROR(reader.Get(&fit_end_ms_));
  VITRINA_RETURN_IF_ERROR(reader.Get(&real_time));
  VITRINA_RETURN_IF_ERROR(reader.Get(&from_served));
  VITRINA_RETURN_IF_ERROR(reader.Get(&groups));
  VITRINA_RETURN_IF_ERROR(reader.Get(&rows));
  VITRINA_RETURN_IF_ERROR(reader.Get(&report.rounds));
  VITRINA_RETURN_IF_ERROR(reader.Get(&report.validation_ndcg));
  VITRINA_RETURN_IF_ERROR(reader.Get(&report.train_ndcg));
  VITRINA_RETURN_IF_ERROR(reader.GetString(&model));
  VITRINA_RETURN_IF_ERROR(reader.ExpectEnd());
  std::vector<std::string> features = FeatureNames(names);
  Status loaded = ranker_.Load(model, features.size());
  if (!loaded.ok()) return Status::Corruption(path + ": " + loaded.message());
  source_names_ = std::move(names);
  feature_names_ = std::move(features);
  stats_ = std::move(stats);
  real_time_ = real_time != 0;
  from_served_ = from_served != 0;
  training_groups_ = groups;
  training_rows_ = rows;
  report_ = report;
  sources_.clear();
  owned_.clear();
  sources_given_ = false;
  return Status::OK();
}

Result<std::unique_ptr<Recommender>> CreateModel(std::string_view name, const ModelOptions& options) {
  if (name == "pipeline") return std::unique_ptr<Recommender>(std::make_unique<PipelineRecommender>(options));
  auto created = CreateRecommender(name, options);
  if (!created.ok()) {
    return Status::InvalidArgument("unknown model '" + std::string(name) + "' (known: " + Join(ModelNames(), ", ") + ")");
  }
  return created;
}

const std::vector<std::string>& ModelNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all = RecommenderNames();
    all.push_back("pipeline");
    return all;
  }();
  return names;
}

}  // namespace vitrina
