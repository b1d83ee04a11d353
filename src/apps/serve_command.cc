// vitrina serve: the HTTP API over the embedded store.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "api/experimentation.h"
#include "api/http_server.h"
#include "api/server_metrics.h"
#include "api/service.h"
#include "api/web_routes.h"
#include "apps/commands.h"
#include "ingest/ingestor.h"
#include "storage/rocksdb_store.h"

namespace vitrina {
namespace {

struct ServeFlags {
  ConfigFlags config;
  std::string port_file;
};

// Each connection is a file descriptor; so are the store's files. Raise the
// soft limit to the hard one, and keep max_connections within it.
void FitOpenFileLimit(HttpServerOptions* server) {
  constexpr rlim_t kReserve = 1024;  // the store, logs, listening socket
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
    (void)::getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > server->max_connections + kReserve) return;
  const size_t fits = limit.rlim_cur > 2 * kReserve ? limit.rlim_cur - kReserve : limit.rlim_cur / 2;
  spdlog::warn("the open-file limit is {}: serving at most {} connections instead of {} (raise `ulimit -n`)",
               static_cast<uint64_t>(limit.rlim_cur), fits, server->max_connections);
  server->max_connections = fits;
}

int RunServe(const ServeFlags& flags) {
  const auto start = std::chrono::steady_clock::now();
  std::optional<LoadedConfig> loaded = flags.config.Load();
  if (!loaded) return kExitUsage;
  Config config = loaded->config;
  Status valid = ValidateForServing(config);
  if (valid.ok()) valid = CheckTlsFiles(config.server);  // before the store opens: fail fast
  if (!valid.ok()) {
    std::cerr << "vitrina: configuration error: " << valid.message() << "\n";
    return kExitUsage;
  }
  SetupLogging(config.log_level);
  for (const std::string& warning : loaded->warnings) spdlog::warn("{}", warning);
  FitOpenFileLimit(&config.server);
  config.server.handle_signals = true;

  SystemClock clock;
  config.storage.recent_events_per_actor = config.recommend.history_events;
  auto opened = OpenRocksDbStore(config.storage, &clock);
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().message());
    return kExitFailure;
  }
  std::unique_ptr<Store> store = std::move(opened).value();
  // Background work (training, feed syncs, backups) runs here, stopped in order at the end.
  Scheduler scheduler(&clock);
  auto models = std::make_unique<ModelManager>(store.get(), &clock, config.training);
  if (Status status = models->Open(); !status.ok()) {
    spdlog::error("{} (move the models directory aside to start from scratch)", status.message());
    return kExitFailure;
  }
  std::vector<std::string> rule_scopes = ScenarioNames();
  rule_scopes.emplace_back("search");
  RuleBook rules(store.get(), &clock, rule_scopes);
  // A stored document that cannot be read is set aside and reported; the
  // server starts with the rest (a store error still stops it).
  std::vector<std::string> unreadable;
  if (Status status = rules.Load(&unreadable); !status.ok()) {
    spdlog::error("business rules: {}", status.message());
    return kExitFailure;
  }
  SynonymBook synonyms(store.get(), &clock);
  if (Status status = synonyms.Load(&unreadable); !status.ok()) {
    spdlog::error("search synonyms: {}", status.message());
    return kExitFailure;
  }
  SearchEngine search(store.get(), models.get(), &rules, &synonyms, &clock);
  const auto index_start = std::chrono::steady_clock::now();
  if (Status status = search.Build(); !status.ok()) {
    spdlog::error("search index: {}", status.message());
    return kExitFailure;
  }
  spdlog::info("search index: {} items in {:.0f} ms", search.stats().items,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - index_start).count());
  ExperimentBook experiments(store.get(), &clock);
  if (Status status = experiments.Load(&unreadable); !status.ok()) {
    spdlog::error("experiments: {}", status.message());
    return kExitFailure;
  }
  for (const std::string& problem : unreadable) spdlog::error("{}", problem);
  Attributor attribution(config.attribution, &experiments, &clock);
  const auto attribution_start = std::chrono::steady_clock::now();
  if (Status status = RebuildAttribution(config.served_log.dir, *store, clock.NowMillis(), &attribution); !status.ok()) {
    spdlog::error("attribution: {}", status.message());
    return kExitFailure;
  }
  spdlog::info("attribution: {} served lists of the last {} h replayed in {:.0f} ms", attribution.stats().lists_in_memory,
               config.attribution.window_ms / 3600000,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - attribution_start).count());
  // The live catalog by category, for cold start, upsell and the fresh arm.
  CatalogIndex catalog;
  if (Status status = catalog.Build(*store); !status.ok()) {
    spdlog::error("catalog index: {}", status.message());
    return kExitFailure;
  }
  DriftMonitor drift(store.get(), models.get(), &clock, config.drift);
  ServerMetrics metrics({.clock = &clock, .store = store.get(), .models = models.get(), .attribution = &attribution,
                         .search = &search, .drift = &drift});
  // Every stored write reaches the search index, attribution, drift and the
  // metrics before its response is sent.
  auto ingestor = std::make_unique<Ingestor>(
      store.get(), config.ingest,
      [&search, &catalog, &attribution, &drift, &metrics](WriteBatch& batch, const std::vector<WriteOutcome>& outcomes) {
        search.Apply(batch, outcomes);
        catalog.Apply(batch, outcomes);
        attribution.OnCommitted(batch, outcomes);
        drift.OnCommitted(batch, outcomes);
        metrics.ObserveCommitted(batch, outcomes);
      });
  Explorer explorer(config.exploration);
  // The served log keeps what experiments not yet over (or over within the
  // retention) served, so their results can be rebuilt at the next start.
  config.served_log.keep_since = [&experiments, &clock, retention = config.served_log.retention_days] {
    const int64_t horizon = clock.NowMillis() - static_cast<int64_t>(retention) * 86400000;
    int64_t since = INT64_MAX;
    for (const Experiment& experiment : experiments.current()->experiments()) {
      if (experiment.end_ms() == 0 || experiment.end_ms() > horizon) since = std::min(since, experiment.start_ms);
    }
    return since;
  };
  ServedLog served(config.served_log, &clock);
  if (Status status = served.Open(); !status.ok()) {
    spdlog::error("served log: {}", status.message());
    return kExitFailure;
  }
  FreshItems fresh(&catalog, &clock, config.fresh_items);
  RecommendationService recommender(store.get(), models.get(), &clock, config.recommend, &rules, &explorer, &served,
                                    &fresh, &catalog);
  Router router(config.auth, config.cors);
  router.SetObserver([&metrics](const RequestRecord& record) { metrics.ObserveRequest(record); });
  ApiService service(store.get(), ingestor.get(), &clock, config.api,
                     {.models = models.get(), .recommender = &recommender, .rules = &rules, .search = &search,
                      .synonyms = &synonyms, .experiments = &experiments, .attribution = &attribution,
                      .metrics = &metrics, .drift = &drift, .scheduler = &scheduler});
  service.RegisterRoutes(&router);
  RegisterWebRoutes(&router, config.web, config.auth.public_key);
  auto server = std::make_unique<HttpServer>(config.server, &router);
  if (Status status = server->Start(); !status.ok()) {
    spdlog::error("{}", status.message());
    return kExitFailure;
  }
  const StoreCounts counts = store->Counts();
  const double ready_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("vitrina {} listening on {}://{}:{} (data {}: {} items, {} users, {} events; durability {}; "
               "ready in {:.0f} ms)",
               VITRINA_VERSION, config.server.tls_cert.empty() ? "http" : "https", config.server.host, server->port(),
               config.data_dir, counts.items, counts.users, counts.events, DurabilityName(config.storage.durability),
               ready_ms);
  if (!flags.port_file.empty()) {
    // Written after the socket listens, so a script can wait for it.
    const std::string tmp = flags.port_file + ".tmp";
    std::ofstream out(tmp);
    out << server->port() << "\n";
    out.close();
    if (!out || std::rename(tmp.c_str(), flags.port_file.c_str()) != 0) {
      spdlog::error("cannot write the port file {}", flags.port_file);
      server->Stop();
      return kExitFailure;
    }
  }

  models->Schedule(&scheduler);
  scheduler.Start();
  server->WaitForStopRequest();
  // Order matters. Stop taking connections; end the background jobs (a
  // training run or a backup in progress finishes first); commit what is
  // queued while the HTTP threads still run, so those requests get their
  // answers (new writes on open connections get 503); then close
  // connections and the store.
  server->StopAccepting();
  scheduler.Stop();
  models->Stop();
  ingestor->Close();
  server->Stop();
  server.reset();
  ingestor.reset();
  models.reset();
  store.reset();  // flushes memtables: the next start replays no log
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
