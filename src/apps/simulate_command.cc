// `vitrina simulate`: plays a real dataset as a live shop, to see
// attribution and an A/B test work end to end. The data before the last
// --test-days trains a snapshot; an experiment starts; then every order of
// the test days is a visit, in time order: the shopper asks for for_you,
// looks down the list (slot k is examined with probability 1/k^bias), and
// clicks and buys at once what they really bought within --horizon-days
// (that later line is then not bought again). Their real order follows,
// untagged. Results come from the same attribution and statistics the
// server uses (GET /v1/experiments/{id}/results).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "api/experimentation.h"
#include "apps/commands.h"
#include "common/byte_source.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "experiments/results.h"
#include "ingest/importer.h"
#include "serving/model_manager.h"

namespace vitrina {
namespace {

constexpr int64_t kDay = 86400000;

struct SimulateFlags {
  std::string dataset;
  std::string format = "online-retail";
  int test_days = 30;
  int horizon_days = 30;
  double position_bias = 1.0;
  size_t list_size = 10;
  double holdout = 0.1;
  std::string control_model = "trending";
  std::string treatment_model = "pipeline";
  std::string models = "trending,category_popular,cooccurrence,als,pipeline";
  size_t max_visits = 0;
  uint64_t seed = 42;
  double window_hours = 24;
  std::string output;
};

// One line a shopper will buy: which order, which line.
struct Pending {
  int64_t at_ms = 0;
  size_t event = 0, line = 0;
};

Status Write(Store* store, Attributor* attributor, WriteBatch* batch) {
  std::vector<WriteOutcome> outcomes;
  VITRINA_RETURN_IF_ERROR(store->Write(batch, &outcomes));
  if (attributor != nullptr) attributor->OnCommitted(*batch, outcomes);
  batch->Clear();
  return Status::OK();
}

void PrintResults(const ExperimentResults& results) {
  std::printf("\n%-10s %6s %8s %7s %7s %8s %11s %8s %9s %8s\n", "group", "users", "shown", "clicks", "CTR", "p(CTR)",
              "attr.rev/u", "p(attr)", "rev/user", "p(rev)");
  for (const GroupResult& group : results.groups) {
    auto p = [](const MetricResult& m) { return m.vs_control ? m.vs_control->p_value : NAN; };
    std::printf("%-10s %6llu %8llu %7llu %6.2f%% %8.4f %11.2f %8.4f %9.2f %8.4f\n", group.name.c_str(),
                static_cast<unsigned long long>(group.units), static_cast<unsigned long long>(group.impressions),
                static_cast<unsigned long long>(group.clicks), 100 * group.ctr.estimate.value, p(group.ctr),
                group.attributed_revenue_per_user.estimate.value, p(group.attributed_revenue_per_user),
                group.revenue_per_user.estimate.value, p(group.revenue_per_user));
  }
  std::printf("\nsample ratio p = %.3f%s; CUPED variance reduction %.1f%%; %s\n", results.sample_ratio.p_value,
              results.sample_ratio_mismatch ? " (MISMATCH)" : "", 100 * results.cuped_variance_reduction,
              results.message.c_str());
}

int RunSimulate(const SimulateFlags& flags) {
  SetupLogging("warn");
  std::optional<ImportFormat> format = ParseImportFormat(flags.format);
  if (!format || *format == ImportFormat::kCsv) {
    std::fprintf(stderr, "vitrina: --format must be online-retail or jsonl (events)\n");
    return kExitUsage;
  }
  // 1. The whole dataset, read as `vitrina import` would.
  SystemClock wall;  // the import checks that events are not from the future
  std::unique_ptr<Store> source = NewMemoryStore(&wall);
  {
    auto bytes = OpenByteSource(flags.dataset);
    if (!bytes.ok()) {
      std::fprintf(stderr, "vitrina: %s\n", bytes.status().message().c_str());
      return kExitFailure;
    }
    auto report = ImportFile(source.get(), bytes->get(), {.format = *format, .kind = RecordKind::kEvents}, &wall, nullptr);
    if (!report.ok()) {
      std::fprintf(stderr, "vitrina: %s\n", report.status().message().c_str());
      return kExitFailure;
    }
  }
  std::vector<Item> items;
  std::vector<Event> events;
  Status scanned = source->ScanItems([&](const Item& item) { items.push_back(item); return true; });
  if (scanned.ok()) scanned = source->ScanEvents([&](const Event& event) { events.push_back(event); return true; });
  source.reset();
  if (!scanned.ok() || events.empty()) {
    std::fprintf(stderr, "vitrina: %s: %s\n", flags.dataset.c_str(),
                 scanned.ok() ? "no events" : scanned.message().c_str());
    return kExitFailure;
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.timestamp_ms < b.timestamp_ms; });
  const int64_t end_ms = events.back().timestamp_ms;
  const int64_t split_ms = end_ms - flags.test_days * kDay;

  // 2. The shop before the test days, and its snapshot.
  ManualClock clock(split_ms);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  WriteBatch batch;
  for (Item& item : items) batch.UpsertItem(std::move(item));
  size_t first_test = 0;
  while (first_test < events.size() && events[first_test].timestamp_ms < split_ms) {
    Event event = events[first_test++];
    event.received_ms = event.timestamp_ms;
    batch.AppendEvent(std::move(event));
    if (batch.size() >= 5000 && !Write(store.get(), nullptr, &batch).ok()) return kExitFailure;
  }
  if (!Write(store.get(), nullptr, &batch).ok()) return kExitFailure;
  std::printf("%zu items; %zu events before %s train the snapshot; %zu in the %d test days\n", items.size(),
              first_test, FormatTimestampMillis(split_ms).c_str(), events.size() - first_test, flags.test_days);
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("vitrina-simulate-" + std::to_string(::getpid()))).string();
  ModelManagerOptions model_options{.dir = dir, .max_quality_drop = 1};
  model_options.train.models.clear();
  for (std::string_view name : Split(flags.models, ",")) model_options.train.models.emplace_back(name);
  ModelManager models(store.get(), &clock, model_options);
  Status trained = models.Open();
  if (trained.ok()) trained = models.TrainNow(nullptr).status();
  std::filesystem::remove_all(dir);
  if (!trained.ok()) {
    std::fprintf(stderr, "vitrina: training: %s\n", trained.message().c_str());
    return kExitFailure;
  }
  std::printf("snapshot trained in %.1f s (%s)\n", models.current()->info().train_seconds,
              flags.models.c_str());

  // 3. The experiment, as POST /v1/experiments would take it.
  RecommendationService recommender(store.get(), &models, &clock, RecommendOptions{});
  auto setting = [](const std::string& model) {
    return model.empty() ? std::string("{}") : R"({"for_you":{"model":")" + model + R"("}})";
  };
  const std::string definition =
      R"({"id":"simulated","name":"for_you: )" + flags.treatment_model + " vs " + flags.control_model +
      R"(","scenarios":["for_you"],"holdout":)" + FormatDouble(flags.holdout) +
      R"(,"variants":[{"name":"control","settings":)" + setting(flags.control_model) +
      R"(},{"name":"treatment","settings":)" + setting(flags.treatment_model) + "}]}";
  FieldError error;
  std::optional<Experiment> parsed =
      ParseExperiment(definition, ScenarioNames(), recommender.ForYouModelNames(), split_ms, &error);
  if (!parsed) {
    std::fprintf(stderr, "vitrina: experiment: %s: %s\n", error.field.c_str(), error.message.c_str());
    return kExitUsage;
  }
  ExperimentBook book(store.get(), &clock);
  auto created = book.Create(*parsed);
  Attributor attributor({.window_ms = static_cast<int64_t>(flags.window_hours * 3600000)}, &book);
  if (!created.ok() || !attributor.AddExperiment(*store, *created, split_ms).ok()) {
    std::fprintf(stderr, "vitrina: experiment: %s\n", created.status().message().c_str());
    return kExitFailure;
  }

  // 4. The test days, visit by visit.
  std::map<std::string, std::vector<Pending>> pending;  // by user: lines still to buy, in time order
  for (size_t e = first_test; e < events.size(); ++e) {
    if (events[e].type != EventType::kPurchase || events[e].user_id.empty()) continue;
    for (size_t l = 0; l < events[e].lines.size(); ++l) {
      pending[events[e].user_id].push_back({.at_ms = events[e].timestamp_ms, .event = e, .line = l});
    }
  }
  std::vector<std::vector<bool>> bought_early(events.size());  // by event and line
  for (size_t e = first_test; e < events.size(); ++e) bought_early[e].assign(events[e].lines.size(), false);
  std::mt19937_64 rng(flags.seed);
  std::uniform_real_distribution<double> uniform;
  size_t visits = 0, clicks = 0, failed = 0;
  for (size_t e = first_test; e < events.size(); ++e) {
    Event event = events[e];
    const int64_t at = event.timestamp_ms;
    if (event.type == EventType::kPurchase && !event.user_id.empty() &&
        (flags.max_visits == 0 || visits < flags.max_visits)) {
      ++visits;
      clock.Set(at - 60000);
      RecommendRequest request{.scenario = Scenario::kForYou, .user_id = event.user_id, .n = flags.list_size};
      auto served = RecommendUnderExperiments(recommender, &book, &attributor, clock.NowMillis(), request);
      if (served.ok()) {
        Event order{.event_id = "sim-order-" + std::to_string(e), .type = EventType::kPurchase,
                    .user_id = event.user_id, .timestamp_ms = at - 30000, .received_ms = at - 30000,
                    .recommendation_id = served->recommendation_id, .currency = event.currency};
        std::vector<Pending>& future = pending[event.user_id];
        for (size_t k = 0; k < served->items.size(); ++k) {
          if (uniform(rng) >= std::pow(1.0 / static_cast<double>(k + 1), flags.position_bias)) continue;
          auto wanted = std::find_if(future.begin(), future.end(), [&](const Pending& p) {
            return p.at_ms >= at && p.at_ms <= at + flags.horizon_days * kDay && !bought_early[p.event][p.line] &&
                   events[p.event].lines[p.line].item_id == served->items[k].item_id;
          });
          if (wanted == future.end()) continue;
          bought_early[wanted->event][wanted->line] = true;
          order.lines.push_back(events[wanted->event].lines[wanted->line]);
          batch.AppendEvent(Event{.event_id = "sim-click-" + std::to_string(e) + "-" + std::to_string(k),
                                  .type = EventType::kClick, .user_id = event.user_id,
                                  .item_id = served->items[k].item_id, .timestamp_ms = at - 45000,
                                  .received_ms = at - 45000, .recommendation_id = served->recommendation_id});
          ++clicks;
        }
        if (!order.lines.empty()) batch.AppendEvent(std::move(order));
      } else {
        ++failed;
        spdlog::warn("for_you for {}: {}", event.user_id, served.status().message());
      }
    }
    // The real order, less what was already bought from a recommendation.
    if (std::find(bought_early[e].begin(), bought_early[e].end(), true) != bought_early[e].end()) {
      std::vector<EventLine> rest;
      for (size_t l = 0; l < event.lines.size(); ++l) {
        if (!bought_early[e][l]) rest.push_back(event.lines[l]);
      }
      event.lines = std::move(rest);
    }
    event.received_ms = at;
    clock.Set(at);
    if (event.type != EventType::kPurchase || !event.lines.empty()) batch.AppendEvent(std::move(event));
    if (!Write(store.get(), &attributor, &batch).ok()) return kExitFailure;
  }
  std::printf("%zu visits (%zu requests failed), %zu recommended items clicked and bought (position bias %.2f, "
              "horizon %d days)\n",
              visits, failed, clicks, flags.position_bias, flags.horizon_days);

  clock.Set(end_ms + 1);
  const ExperimentResults results = ComputeResults(*created, attributor.Data(*created));
  PrintResults(results);
  if (!flags.output.empty()) {
    std::string json;
    JsonWriter w(&json);
    WriteResultsJson(*created, results, clock.NowMillis(), &w);
    std::ofstream out(flags.output);
    out << json << "\n";
    if (!out) {
      std::fprintf(stderr, "vitrina: cannot write %s\n", flags.output.c_str());
      return kExitFailure;
    }
  }
  return kExitOk;
}

}  // namespace

Command AddSimulateCommand(CLI::App* app) {
  auto flags = std::make_shared<SimulateFlags>();
  CLI::App* cmd = app->add_subcommand(
      "simulate", "Replay a dataset as a live shop: shoppers get for_you, click and buy what they really bought; "
                  "prints the A/B results of two for_you variants");
  cmd->add_option("--dataset", flags->dataset, "Events file (.csv, .jsonl, optionally .zst)")->required();
  cmd->add_option("--format", flags->format, "online-retail or jsonl (events)")
      ->check(CLI::IsMember({"online-retail", "jsonl"}));
  cmd->add_option("--test-days", flags->test_days, "The last days, replayed; the rest trains")->check(CLI::Range(1, 3650));
  cmd->add_option("--horizon-days", flags->horizon_days, "A recommended item is taken if the shopper bought it within this many days")
      ->check(CLI::Range(0, 3650));
  cmd->add_option("--position-bias", flags->position_bias, "Slot k is examined with probability 1/k^bias (0: every slot)")
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("-n", flags->list_size, "Items per list")->check(CLI::Range(1, 100));
  cmd->add_option("--holdout", flags->holdout, "Share of shoppers held out on bestsellers")->check(CLI::Range(0.0, 0.9));
  cmd->add_option("--control", flags->control_model, "The control's for_you model (empty: the default blend)");
  cmd->add_option("--treatment", flags->treatment_model, "The treatment's for_you model (empty: the default blend)");
  cmd->add_option("--models", flags->models, "Models to train, comma-separated");
  cmd->add_option("--max-visits", flags->max_visits, "Stop recommending after this many visits (0: all)");
  cmd->add_option("--seed", flags->seed, "Seed of the simulated shoppers' choices");
  cmd->add_option("--window-hours", flags->window_hours, "Attribution window")->check(CLI::Range(0.0, 2160.0));
  cmd->add_option("--output", flags->output, "Write the results JSON (as GET /v1/experiments/{id}/results) here");
  return {cmd, [flags] { return RunSimulate(*flags); }};
}

}  // namespace vitrina
