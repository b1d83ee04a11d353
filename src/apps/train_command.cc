// vitrina train: build a model snapshot from the data directory.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "apps/commands.h"
#include "serving/model_manager.h"
#include "storage/rocksdb_store.h"

namespace vitrina {
namespace {

struct TrainFlags {
  ConfigFlags config;
  bool no_progress = false;
};

int RunTrain(const TrainFlags& flags) {
  std::optional<LoadedConfig> loaded = flags.config.Load();
  if (!loaded) return kExitUsage;
  Config config = loaded->config;
  SetupLogging(config.log_level);
  SystemClock clock;
  config.storage.recent_events_mb = 0;  // serving state; not needed here
  auto store = OpenRocksDbStore(config.storage, &clock);
  if (!store.ok()) {
    std::cerr << "vitrina train: " << store.status().message()
              << "\n(with `vitrina serve` running, train through POST /v1/models/train instead)\n";
    return kExitFailure;
  }
  ModelManager models(store->get(), &clock, config.training);
  if (Status opened = models.Open(); !opened.ok()) {
    std::cerr << "vitrina train: " << opened.message() << "\n";
    return kExitFailure;
  }
  const bool show = !flags.no_progress;
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  std::string last_stage;
  auto progress = [&](std::string_view stage, double fraction) {
    if (!show) return;
    if (terminal) {
      std::fprintf(stderr, "\rtraining: %-14.*s %5.1f%%", static_cast<int>(stage.size()), stage.data(), 100 * fraction);
      std::fflush(stderr);
    } else if (stage != last_stage) {
      std::fprintf(stderr, "training: %.*s (%.0f%%)\n", static_cast<int>(stage.size()), stage.data(), 100 * fraction);
    }
    last_stage = std::string(stage);
  };
  auto trained = models.TrainNow(progress);
  if (show && terminal) std::fprintf(stderr, "\n");
  if (!trained.ok()) {
    std::cerr << "vitrina train: " << trained.status().message() << "\n";
    return kExitFailure;
  }
  std::printf("snapshot %s: %llu items, %llu shoppers, %llu interactions, trained in %.1f s\n", trained->id.c_str(),
              static_cast<unsigned long long>(trained->items), static_cast<unsigned long long>(trained->actors),
              static_cast<unsigned long long>(trained->interactions), trained->train_seconds);
  std::printf("offline metrics (%s):\n", trained->evaluation.c_str());
  for (const auto& [model, metrics] : trained->metrics) {
    std::printf("  %-13s recall@10 %.4f  ndcg@10 %.4f  coverage@10 %.4f\n", model.c_str(), metrics.at("recall@10"),
                metrics.at("ndcg@10"), metrics.at("coverage@10"));
  }
  std::printf("saved under %s/%s; `vitrina serve` on this data directory serves it\n", config.training.dir.c_str(),
              trained->id.c_str());
  return kExitOk;
}

}  // namespace

Command AddTrainCommand(CLI::App* app) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = app->add_subcommand("train", "Train a model snapshot from the data directory (server stopped)");
  cmd->add_flag("--no-progress", flags->no_progress, "Do not print progress");
  flags->config.Register(cmd);
  return {cmd, [flags] { return RunTrain(*flags); }};
}

}  // namespace vitrina
