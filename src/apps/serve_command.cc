// vitrina serve: the HTTP API over the embedded store.
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "api/http_server.h"
#include "api/service.h"
#include "apps/commands.h"
#include "ingest/ingestor.h"
#include "storage/rocksdb_store.h"

namespace vitrina {
namespace {

struct ServeFlags {
  ConfigFlags config;
  std::string port_file;
};

int RunServe(const ServeFlags& flags) {
  const auto start = std::chrono::steady_clock::now();
  std::optional<LoadedConfig> loaded = flags.config.Load();
  if (!loaded) return kExitUsage;
  const Config& config = loaded->config;
  if (Status status = ValidateForServing(config); !status.ok()) {
    std::cerr << "vitrina: configuration error: " << status.message() << "\n";
    return kExitUsage;
  }
  SetupLogging(config.log_level);
  for (const std::string& warning : loaded->warnings) spdlog::warn("{}", warning);

  SystemClock clock;
  auto opened = OpenRocksDbStore(config.storage, &clock);
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().message());
    return kExitFailure;
  }
  std::unique_ptr<Store> store = std::move(opened).value();
  auto ingestor = std::make_unique<Ingestor>(store.get(), config.ingest);
  Router router(config.auth);
  ApiService service(store.get(), ingestor.get(), &clock, config.api);
  service.RegisterRoutes(&router);
  auto server = std::make_unique<HttpServer>(config.server, &router);
  if (Status status = server->Start(); !status.ok()) {
    spdlog::error("{}", status.message());
    return kExitFailure;
  }
  const StoreCounts counts = store->Counts();
  const double ready_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("vitrina {} listening on http://{}:{} (data {}: {} items, {} users, {} events; durability {}; "
               "ready in {:.0f} ms)",
               VITRINA_VERSION, config.server.host, server->port(), config.data_dir, counts.items, counts.users,
               counts.events, DurabilityName(config.storage.durability), ready_ms);
  if (!flags.port_file.empty()) {
    // Written after the socket listens, so a test can poll for it.
    std::string tmp = flags.port_file + ".tmp";
    std::ofstream(tmp) << server->port() << "\n";
    std::rename(tmp.c_str(), flags.port_file.c_str());
  }

  server->Wait(/*handle_signals=*/true);
  // Order matters: stop serving, commit what is queued (its responses are
  // dropped; clients retry and get "duplicate"), then close the store.
  server->Stop();
  ingestor.reset();
  server.reset();
  if (Status status = store->Sync(); !status.ok()) spdlog::error("final sync failed: {}", status.message());
  store.reset();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace

Command AddServeCommand(CLI::App* app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* command = app->add_subcommand("serve", "Run the HTTP API on the data directory");
  flags->config.Register(command);
  command->add_option("--port-file", flags->port_file, "Write the listening port to this file once ready");
  return {command, [flags] { return RunServe(*flags); }};
}

}  // namespace vitrina
