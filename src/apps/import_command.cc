// vitrina import: bulk-load JSONL, CSV or Online Retail files.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "apps/commands.h"
#include "ingest/importer.h"
#include "storage/rocksdb_store.h"

namespace vitrina {
namespace {

struct ImportFlags {
  ConfigFlags config;
  std::string format;
  std::string kind = "events";
  std::string file;
  size_t batch = 5000;
  size_t max_errors = 20;
  bool no_progress = false;
};

int RunImport(const ImportFlags& flags) {
  std::optional<LoadedConfig> loaded = flags.config.Load();
  if (!loaded) return kExitUsage;
  Config config = loaded->config;
  SetupLogging(config.log_level);
  for (const std::string& warning : loaded->warnings) spdlog::warn("{}", warning);

  ImportOptions options;
  options.format = *ParseImportFormat(flags.format);
  options.kind = *ParseRecordKind(flags.kind);
  options.batch_records = flags.batch;
  options.max_reported_errors = flags.max_errors;
  options.limits = config.api.limits;

  auto source = OpenByteSource(flags.file);
  if (!source.ok()) {
    std::cerr << "vitrina import: " << source.status().message() << "\n";
    return kExitFailure;
  }
  // A bulk load skips the write-ahead log and flushes its memtables to
  // table files at the end (Store::Sync): faster, and the next start has no
  // log to replay. If it is interrupted, running it again is safe: events
  // keep their ids and are stored once.
  config.storage.disable_wal = true;
  SystemClock clock;
  config.storage.recent_events_mb = 0;  // serving state; not needed here
  auto store = OpenRocksDbStore(config.storage, &clock);
  if (!store.ok()) {
    std::cerr << "vitrina import: " << store.status().message() << "\n";
    if (store.status().code() == StatusCode::kUnavailable) {
      std::cerr << "vitrina import: stop the server first, or send the data to its HTTP API\n";
    }
    return kExitFailure;
  }
  std::string label = "importing " + (*source)->name();
  std::unique_ptr<ProgressBar> progress;
  if (!flags.no_progress) progress = std::make_unique<ProgressBar>(stderr, label, (*source)->raw_size());
  auto report = ImportFile(store->get(), source->get(), options, &clock, progress.get());
  if (!report.ok()) {
    if (progress) std::cerr << "\n";
    std::cerr << "vitrina import: " << report.status().message() << "\n";
    return kExitFailure;
  }
  const StoreCounts counts = (*store)->Counts();
  std::cout << FormatImportReport(*report, options);
  std::cout << "data directory " << config.data_dir << " now holds " << counts.items << " items, " << counts.users
            << " users, " << counts.events << " events\n";
  return report->rejected > 0 ? kExitRejected : kExitOk;
}

}  // namespace

Command AddImportCommand(CLI::App* app) {
  auto flags = std::make_shared<ImportFlags>();
  CLI::App* command = app->add_subcommand("import", "Bulk-load a JSONL, CSV or Online Retail file (.zst or - for stdin)");
  flags->config.Register(command);
  command->add_option("--format", flags->format, "Input format")
      ->required()
      ->check(CLI::IsMember({"jsonl", "csv", "online-retail"}));
  command->add_option("--kind", flags->kind, "What the jsonl/csv rows are (default events)")
      ->check(CLI::IsMember({"events", "items", "users"}));
  command->add_option("--batch", flags->batch, "Records per storage write")->check(CLI::Range(1, 1000000));
  command->add_option("--max-errors", flags->max_errors, "Rejected rows to list with their reasons");
  command->add_flag("--no-progress", flags->no_progress, "Do not draw the progress bar");
  command->add_option("file", flags->file, "Input file; - reads stdin")->required();
  return {command, [flags] { return RunImport(*flags); }};
}

}  // namespace vitrina
