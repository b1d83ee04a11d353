// Vitrina's configuration: every parameter declared once (config.cc), with
// its description, default and check. Values come from, in rising order of
// precedence: defaults, a TOML file, VITRINA_* environment variables, and
// command-line flags. docs/CONFIG.md is generated from the declarations.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/http_server.h"
#include "api/router.h"
#include "api/service.h"
#include "api/web_routes.h"
#include "common/status.h"
#include "ingest/ingestor.h"
#include "models/recommender.h"
#include "serving/model_manager.h"
#include "storage/rocksdb_store.h"

namespace vitrina {

struct Config {
  std::string data_dir = "./vitrina-data";
  std::string log_level = "info";
  HttpServerOptions server;
  std::string cors_origins_text = "*";  // server.cors_origins as written
  CorsOptions cors;                      // ... parsed
  AuthKeys auth;
  RocksDbOptions storage = {.recent_events_mb = 1024};  // storage.path follows data_dir
  ApiOptions api;
  std::string public_attributes_text;   // search.public_attributes as written
  IngestorOptions ingest;
  ModelOptions models;
  ModelManagerOptions training;
  RecommendOptions recommend;  // dir follows data_dir; train.model_options follows models
  std::string training_models_text = "trending,category_popular,cooccurrence,als,content";  // training.models as written
  ExplorationOptions exploration;
  FreshItemsOptions fresh_items;        // exploration.fresh_*
  std::string exploration_shares_text;  // exploration.shares as written
  ServedLogOptions served_log;          // dir follows data_dir
  AttributionOptions attribution;      // window_ms follows attribution_window_hours
  double attribution_window_hours = 24;
  DriftOptions drift;
  WebOptions web;
};

// One declared parameter.
struct ConfigParam {
  std::string key;          // "server.port"
  std::string env;          // "VITRINA_SERVER_PORT"
  std::string flag;         // "--server.port"
  std::string type;         // "integer", "string", "fsync|os", ...
  std::string description;
  bool secret = false;      // masked by `config --print`
};

const std::vector<ConfigParam>& ConfigParams();

// Where the effective value of each key came from.
enum class ConfigSource { kDefault, kFile, kEnv, kFlag };

struct LoadedConfig {
  Config config;
  std::map<std::string, ConfigSource> sources;  // by key
  std::vector<std::string> warnings;            // e.g. unknown VITRINA_* variables
};

struct ConfigInputs {
  std::optional<std::string> file;                          // TOML path
  std::vector<std::pair<std::string, std::string>> env;     // all environment variables
  std::vector<std::pair<std::string, std::string>> flags;   // (key, value) from the command line
};

// Applies the inputs in order and validates every value. Errors name the
// key, the source (file:line, variable or flag) and what was expected.
Result<LoadedConfig> LoadConfig(const ConfigInputs& inputs);

// The effective configuration as TOML, each value commented with its
// source; secrets are masked.
std::string PrintConfig(const LoadedConfig& loaded);

// Markdown reference of all parameters (docs/CONFIG.md).
std::string ConfigReference();

// Checks what `vitrina serve` additionally needs (an admin key).
Status ValidateForServing(const Config& config);

}  // namespace vitrina
