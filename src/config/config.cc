#include "config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <toml++/toml.h>

#include <algorithm>
#include <functional>
#include <map>
#include <limits>
#include <thread>
#include <type_traits>

#include "common/json_writer.h"
#include "common/strings.h"
#include "ranking/pipeline.h"

namespace vitrina {
namespace {

struct ParamImpl {
  ConfigParam info;
  std::string default_value;
  // Parses and stores `value`; returns a reason when it is not acceptable.
  std::function<std::optional<std::string>(Config*, const std::string&)> set;
  std::function<std::string(const Config&)> get;
  bool quoted = false;  // printed as a TOML string
};

std::string EnvName(const std::string& key) {
  std::string env = "VITRINA_" + AsciiUpper(key);
  for (char& c : env) {
    if (c == '.') c = '_';
  }
  return env;
}

template <typename Access>
ParamImpl Integer(std::string key, int64_t min, int64_t max, std::string description, Access access) {
  ParamImpl p;
  p.info = {key, EnvName(key), "--" + key, "integer", std::move(description)};
  p.set = [min, max, access](Config* config, const std::string& value) -> std::optional<std::string> {
    auto number = ParseInt64(TrimWhitespace(value));
    if (!number) return "expected a whole number, got \"" + value + "\"";
    if (*number < min || *number > max) {
      return "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + value;
    }
    using T = std::remove_reference_t<decltype(access(*config))>;
    access(*config) = static_cast<T>(*number);
    return std::nullopt;
  };
  p.get = [access](const Config& config) { return std::to_string(access(const_cast<Config&>(config))); };
  return p;
}

template <typename Access>
ParamImpl Boolean(std::string key, std::string description, Access access) {
  ParamImpl p;
  p.info = {key, EnvName(key), "--" + key, "boolean", std::move(description)};
  p.set = [access](Config* config, const std::string& value) -> std::optional<std::string> {
    const std::string text = AsciiLower(TrimWhitespace(value));
    if (text != "true" && text != "false") return "expected true or false, got \"" + value + "\"";
    access(*config) = text == "true";
    return std::nullopt;
  };
  p.get = [access](const Config& config) -> std::string {
    return access(const_cast<Config&>(config)) ? "true" : "false";
  };
  return p;
}

template <typename Access>
ParamImpl Number(std::string key, double min, double max, std::string description, Access access) {
  ParamImpl p;
  p.info = {key, EnvName(key), "--" + key, "number", std::move(description)};
  p.set = [min, max, access](Config* config, const std::string& value) -> std::optional<std::string> {
    auto number = ParseDouble(TrimWhitespace(value));
    if (!number) return "expected a number, got \"" + value + "\"";
    if (*number < min || *number > max) {
      return "must be between " + FormatDouble(min) + " and " + FormatDouble(max) + ", got " + value;
    }
    access(*config) = *number;
    return std::nullopt;
  };
  p.get = [access](const Config& config) { return FormatDouble(access(const_cast<Config&>(config))); };
  return p;
}

template <typename Access>
ParamImpl String(std::string key, std::string description, Access access,
                 std::function<std::optional<std::string>(const std::string&)> check = nullptr) {
  ParamImpl p;
  p.info = {key, EnvName(key), "--" + key, "string", std::move(description)};
  p.quoted = true;
  p.set = [access, check](Config* config, const std::string& value) -> std::optional<std::string> {
    if (check) {
      if (auto problem = check(value)) return problem;
    }
    access(*config) = value;
    return std::nullopt;
  };
  p.get = [access](const Config& config) { return access(const_cast<Config&>(config)); };
  return p;
}

ParamImpl Choice(std::string key, std::vector<std::string> choices, std::string description,
                 std::function<void(Config&, const std::string&)> store, std::function<std::string(const Config&)> load) {
  ParamImpl p;
  std::string type;
  for (const auto& c : choices) type += (type.empty() ? "" : "|") + c;
  p.info = {key, EnvName(key), "--" + key, type, std::move(description)};
  p.quoted = true;
  p.set = [choices, type, store](Config* config, const std::string& value) -> std::optional<std::string> {
    for (const auto& c : choices) {
      if (c == value) {
        store(*config, value);
        return std::nullopt;
      }
    }
    return "expected one of " + type + ", got \"" + value + "\"";
  };
  p.get = std::move(load);
  return p;
}

std::optional<std::string> CheckKey(const std::string& value) {
  if (!value.empty() && value.size() < 16) return "API keys must be at least 16 characters";
  if (HasControlChar(value) || value.find(' ') != std::string::npos) {
    return "API keys must not contain spaces or control characters";
  }
  return std::nullopt;
}

std::vector<ParamImpl> BuildParams() {
  std::vector<ParamImpl> params;
  // clang-format off
  params.push_back(String("data_dir", "Directory of the embedded store (RocksDB). Created when missing.",
      [](Config& c) -> std::string& { return c.data_dir; },
      [](const std::string& v) -> std::optional<std::string> {
        if (v.empty()) return "must not be empty";
        return std::nullopt;
      }));
  params.back().info.env = "VITRINA_DATA";
  params.back().info.flag = "--data";
  params.push_back(Choice("log.level", {"trace", "debug", "info", "warn", "error", "off"},
      "Log verbosity (logs go to stderr).",
      [](Config& c, const std::string& v) { c.log_level = v; }, [](const Config& c) { return c.log_level; }));

  params.push_back(String("server.host",
      "Address to listen on: 127.0.0.1 (or localhost) for this machine only, 0.0.0.0 or :: for all interfaces.",
      [](Config& c) -> std::string& { return c.server.host; },
      [](const std::string& v) -> std::optional<std::string> {
        unsigned char buffer[sizeof(struct in6_addr)];
        if (v == "localhost" || ::inet_pton(AF_INET, v.c_str(), buffer) == 1 ||
            ::inet_pton(AF_INET6, v.c_str(), buffer) == 1) {
          return std::nullopt;
        }
        return "expected an IP address such as 127.0.0.1, 0.0.0.0 or ::, got \"" + v + "\"";
      }));
  params.push_back(Integer("server.port", 0, 65535, "TCP port; 0 picks a free one (printed at start).",
      [](Config& c) -> uint16_t& { return c.server.port; }));
  params.back().info.flag = "--port";
  params.push_back(Integer("server.threads", 0, 256, "HTTP worker threads; 0 means one per CPU core.",
      [](Config& c) -> int& { return c.server.threads; }));
  params.push_back(Integer("server.max_body_bytes", 1024, int64_t{1} << 30,
      "Largest request body accepted; larger requests get 413.",
      [](Config& c) -> size_t& { return c.server.max_body_bytes; }));
  params.push_back(Integer("server.idle_timeout_s", 1, 3600,
      "A connection waiting this many seconds for its next request, or stalled this long in a request body, is "
      "closed (checked every second).",
      [](Config& c) -> int& { return c.server.idle_timeout_s; }));
  params.push_back(Integer("server.header_timeout_s", 1, 3600,
      "From the first byte of a request, its headers must arrive within this many seconds, or the connection is "
      "closed; also the time a TLS handshake may take.",
      [](Config& c) -> int& { return c.server.header_timeout_s; }));
  params.push_back(Integer("server.max_connections", 1, 1000000,
      "Open connections at most; more are closed at once. `serve` raises its open-file limit to fit, or lowers this.",
      [](Config& c) -> size_t& { return c.server.max_connections; }));
  params.push_back(Integer("server.max_connections_per_client", 0, 1000000,
      "Open connections per client IP address at most; more are closed at once (0: no cap). Behind a reverse proxy "
      "all clients share the proxy's address: raise it or set 0 there.",
      [](Config& c) -> size_t& { return c.server.max_connections_per_client; }));
  params.push_back(String("server.tls_cert",
      "PEM certificate file (then any intermediates) for HTTPS; with server.tls_key the port speaks HTTPS only "
      "(TLS 1.2 or later). Empty: plain HTTP.",
      [](Config& c) -> std::string& { return c.server.tls_cert; }));
  params.push_back(String("server.tls_key",
      "PEM private key file of server.tls_cert, unencrypted; set both or neither.",
      [](Config& c) -> std::string& { return c.server.tls_key; }));
  {
    ParamImpl cors = String("server.cors_origins",
        "Web origins whose pages may call the API from a browser (CORS), comma-separated, e.g. "
        "\"https://shop.example,https://www.shop.example\"; \"*\" allows any; empty allows none. Keys are never "
        "cookies, so an origin gains nothing without a key.",
        [](Config& c) -> std::string& { return c.cors_origins_text; },
        [](const std::string& v) -> std::optional<std::string> {
          for (std::string_view origin : Split(v, ",")) {
            origin = TrimWhitespace(origin);
            if (origin.empty() || origin == "*") continue;
            if (origin.rfind("http://", 0) != 0 && origin.rfind("https://", 0) != 0) {
              return "origins look like https://shop.example, got \"" + std::string(origin) + "\"";
            }
            if (origin.back() == '/') return "origins have no path or trailing slash: \"" + std::string(origin) + "\"";
          }
          return std::nullopt;
        });
    params.push_back(std::move(cors));
  }

  params.push_back(String("auth.admin_key", "Bearer key for every endpoint. Required by `serve`; 16+ characters.",
      [](Config& c) -> std::string& { return c.auth.admin_key; }, CheckKey));
  params.back().info.env = "VITRINA_ADMIN_KEY";
  params.back().info.secret = true;
  params.push_back(String("auth.public_key",
      "Bearer key safe to embed in shop pages: posts events and reads recommendations, search and the public catalog; "
      "never item attributes beyond search.public_attributes, stock counts, rule names or any admin route.",
      [](Config& c) -> std::string& { return c.auth.public_key; }, CheckKey));
  params.back().info.env = "VITRINA_PUBLIC_KEY";
  params.back().info.secret = true;

  params.push_back(Choice("storage.durability", {"fsync", "os"},
      "fsync: a write is acknowledged after the write-ahead log is fsynced (group commit shares one fsync across "
      "concurrent requests). os: acknowledged once written to the operating system; survives kill -9 but not power loss.",
      [](Config& c, const std::string& v) { c.storage.durability = *ParseDurability(v); },
      [](const Config& c) { return std::string(DurabilityName(c.storage.durability)); }));
  params.push_back(Integer("storage.fsync_interval_ms", 0, 3600000,
      "With durability = os: fsync the log in the background this often (0: never), bounding what power loss can take.",
      [](Config& c) -> int64_t& { return c.storage.fsync_interval_ms; }));
  params.push_back(Integer("storage.block_cache_mb", 8, 1 << 20, "RocksDB block cache size.",
      [](Config& c) -> size_t& { return c.storage.block_cache_mb; }));
  params.push_back(Integer("storage.recent_events_mb", 0, 1 << 20,
      "serve keeps every user's and session's latest 100 events in memory, within this budget, so that "
      "recommendations read no disk; loaded in the background at start (0: always read them from disk).",
      [](Config& c) -> size_t& { return c.storage.recent_events_mb; }));
  params.push_back(Integer("storage.write_buffer_mb", 4, 4096,
      "RocksDB memtable size per column family; the write-ahead log is capped at 4x this, which bounds restart time.",
      [](Config& c) -> size_t& { return c.storage.write_buffer_mb; }));

  params.push_back(Integer("ingest.max_batch_records", 1, 100000, "Records per POST /v1/items, /v1/users or /v1/events at most.",
      [](Config& c) -> size_t& { return c.api.max_batch_records; }));
  params.push_back(Integer("ingest.max_future_skew_s", 0, 365 * 86400,
      "Events timestamped more than this many seconds ahead of the server clock are rejected.",
      [](Config& c) -> int64_t& { return c.api.limits.max_future_skew_ms; }));
  params.push_back(Integer("ingest.max_group_records", 1, 1000000,
      "Records the commit thread merges into one storage write (group commit) at most.",
      [](Config& c) -> size_t& { return c.ingest.max_group_records; }));
  params.push_back(Integer("ingest.max_queued_records", 1, 100000000,
      "Records waiting for the commit thread at most; beyond it writes get 503 with Retry-After.",
      [](Config& c) -> size_t& { return c.ingest.max_queued_records; }));
  params.push_back(Integer("ingest.max_queued_bytes", 1 << 20, int64_t{1} << 40,
      "Request bytes waiting for the commit thread at most; beyond it writes get 503 with Retry-After.",
      [](Config& c) -> size_t& { return c.ingest.max_queued_bytes; }));

  params.push_back(String("training.models",
      "Models each snapshot trains (comma-separated): trending, category_popular, cooccurrence, ease, als, content, "
      "sasrec, gru4rec, "
      "pipeline. Serving uses trending for new shoppers, sasrec/gru4rec/cooccurrence/als/ease for for_you, content for "
      "similar and new items, category_popular as one more source of pipeline; pipeline (trained last, on the others) "
      "ranks for_you's candidates when present.",
      [](Config& c) -> std::string& { return c.training_models_text; },
      [](const std::string& v) -> std::optional<std::string> {
        for (std::string_view name : Split(v, ",")) {
          auto created = CreateModel(TrimWhitespace(name), {});
          if (!created.ok()) return created.status().message();
        }
        return std::nullopt;
      }));
  params.push_back(Integer("training.interval_s", 0, 30 * 86400,
      "`serve` retrains in the background this often (0: only on POST /v1/models/train); it also trains at start "
      "when there is no snapshot yet.",
      [](Config& c) -> int64_t& { return c.training.train_interval_s; }));
  params.push_back(Number("training.max_quality_drop", 0, 1,
      "Quality guard: a new snapshot whose NDCG@10 (the learned ranker's, else its best model's among those both "
      "have) falls below (1 - this) x the serving snapshot's, both measured on the same test shoppers (those of the "
      "holdout with events after the serving snapshot's data), is kept on disk but not put in service; 1 turns it "
      "off.",
      [](Config& c) -> double& { return c.training.max_quality_drop; }));
  params.push_back(Integer("training.guard_min_test_shoppers", 1, 100000000,
      "The quality guard compares snapshots only on at least this many test shoppers; with fewer it proves nothing, "
      "and the new snapshot serves (the log and /v1/models say why).",
      [](Config& c) -> size_t& { return c.training.train.guard_min_test_shoppers; }));
  params.push_back(Integer("training.keep_snapshots", 1, 1000, "Snapshots kept on disk; older ones are deleted.",
      [](Config& c) -> size_t& { return c.training.keep_snapshots; }));
  params.push_back(Integer("training.eval_days", 1, 365,
      "Each snapshot's offline metrics come from holding out this many last days (leave-one-out if that is empty).",
      [](Config& c) -> int& { return c.training.train.eval_days; }));
  params.push_back(Integer("training.threads", 0, 256, "Training threads; 0: one per CPU core.",
      [](Config& c) -> int& { return c.training.train.threads; }));

  params.push_back(Number("exploration.share", 0, 1,
      "Share of each recommendation list's slots given to exploration (a source chosen by Thompson sampling), in "
      "scenarios that exploration.shares does not name; 0 turns exploration off.",
      [](Config& c) -> double& { return c.exploration.share; }));
  params.push_back(String("exploration.shares",
      "Per-scenario exploration shares, e.g. \"for_you=0.1,trending=0\"; scenarios not named use exploration.share.",
      [](Config& c) -> std::string& { return c.exploration_shares_text; },
      [](const std::string& v) -> std::optional<std::string> {
        std::map<std::string, double> shares;
        if (Status status = ParseExplorationShares(v, &shares); !status.ok()) return status.message();
        const std::vector<std::string> scenarios = ScenarioNames();
        for (const auto& [scenario, share] : shares) {
          if (std::find(scenarios.begin(), scenarios.end(), scenario) == scenarios.end()) {
            return "unknown scenario \"" + scenario + "\" (one of " + Join(scenarios, ", ") + ")";
          }
        }
        return std::nullopt;
      }));
  params.push_back(Number("exploration.half_life_hours", 0, 24 * 3650,
      "Clicks and impressions that exploration learns from lose half their weight in this many hours (0: never).",
      [](Config& c) -> double& { return c.exploration.half_life_hours; }));
  params.push_back(Number("exploration.fresh_days", 0, 3650,
      "Exploration may also show the catalog's new items (the arm \"fresh\"): those created at most this many days "
      "ago, in the shopper's categories first; 0: no such arm.",
      [](Config& c) -> double& { return c.fresh_items.days; }));
  params.push_back(Integer("exploration.fresh_items", 0, 100000,
      "The newest this many items at most make exploration's fresh arm.",
      [](Config& c) -> size_t& { return c.fresh_items.max_items; }));
  params.push_back(Number("exploration.fresh_refresh_seconds", 1, 86400,
      "How often the list of new items is read again from the catalog.",
      [](Config& c) -> double& { return c.fresh_items.refresh_seconds; }));
  params.push_back(Number("exploration.fresh_max_popularity", 0, 1,
      "A new item leaves the fresh arm once its decayed popularity in the serving snapshot exceeds this share of the "
      "bestseller's.",
      [](Config& c) -> double& { return c.fresh_items.max_popularity; }));
  params.push_back(Integer("served_log.retention_days", 0, 3650,
      "Every served list (items, sources, exploration propensities) is written to <data_dir>/logs/served-DAY.jsonl "
      "and kept this many days, longer while an experiment that served them is not over (its results are rebuilt "
      "from them at start); 0 writes none, and experiment results then start afresh at every start.",
      [](Config& c) -> int& { return c.served_log.retention_days; }));
  params.push_back(Integer("served_log.memory_lists", 0, 100000000,
      "Recent served lists kept in memory, so that a click carrying a recommendation_id rewards the source that "
      "showed the item.",
      [](Config& c) -> size_t& { return c.served_log.memory_lists; }));

  params.push_back(Number("attribution.window_hours", 0, 24 * 90,
      "A click, add-to-cart or purchase counts for a recommendation that showed the item to the same user or "
      "session at most this many hours before (events carrying a recommendation_id too); 0: only tagged events "
      "within the same instant.",
      [](Config& c) -> double& { return c.attribution_window_hours; }));
  params.push_back(Integer("attribution.memory_lists", 1000, 100000000,
      "Recent served lists kept in memory for attribution (about 0.7 KB each; rebuilt at start from the served log "
      "in about 2 s per 200,000); the oldest are forgotten first.",
      [](Config& c) -> size_t& { return c.attribution.max_lists; }));

  params.push_back(Number("recommendations.upsell_max_ratio", 1.01, 100,
      "upsell offers items of the anchor item's leaf category priced above it and at most this many times its price "
      "(or 1.25 x the dearest item the shopper paid for, when that is higher), in stock.",
      [](Config& c) -> double& { return c.recommend.upsell_max_ratio; }));

  params.push_back(String("search.public_attributes",
      "Item attributes shop pages may filter and facet on with the public key (comma-separated, e.g. "
      "\"color,size\"); the others (margins, costs) never reach a public response. The admin key sees all.",
      [](Config& c) -> std::string& { return c.public_attributes_text; },
      [](const std::string& v) -> std::optional<std::string> {
        for (std::string_view name : Split(v, ",")) {
          name = TrimWhitespace(name);
          if (name.size() > 128 || HasControlChar(name)) return "attribute names are 1 to 128 bytes of text";
        }
        return std::nullopt;
      }));

  params.push_back(Boolean("web.dashboard",
      "Serve the dashboard at /dashboard (the page carries no data: it asks for the admin key and calls the API).",
      [](Config& c) -> bool& { return c.web.dashboard; }));
  params.push_back(Boolean("web.demo",
      "Serve the demo storefront at /demo over the catalog; it is handed the public key, which is meant for shop "
      "pages anyway.",
      [](Config& c) -> bool& { return c.web.demo; }));

  params.push_back(Number("drift.threshold", 0, 100,
      "Data drift: a population stability index above this, between the serving snapshot's training data and the "
      "last day, on prices, categories, interactions per shopper or the share of new shoppers, raises the "
      "data_drift flag in /health and vitrina_drift_alert in /metrics (0.1: a moderate shift, 0.25: a large one).",
      [](Config& c) -> double& { return c.drift.threshold; }));
  params.push_back(Integer("drift.min_interactions", 0, 1000000000,
      "Drift is judged only when the last day has at least this many interactions.",
      [](Config& c) -> uint64_t& { return c.drift.min_interactions; }));

  params.push_back(Number("models.trending.half_life_days", 0, 3650,
      "trending: popularity halves every this many days before the latest event (0: no decay).",
      [](Config& c) -> double& { return c.models.trending.half_life_days; }));
  params.push_back(Number("models.category_popular.half_life_days", 0, 3650,
      "category_popular: popularity halves every this many days before the latest event (0: no decay).",
      [](Config& c) -> double& { return c.models.category_popular.half_life_days; }));
  params.push_back(Number("models.category_popular.recency_decay", 0, 1,
      "category_popular: the k-th most recent history item weighs decay^k in the shopper's category shares.",
      [](Config& c) -> double& { return c.models.category_popular.recency_decay; }));
  params.push_back(Integer("models.cooccurrence.window", 0, 1000,
      "cooccurrence: items at most this many positions apart in a session are viewed together (0: whole session).",
      [](Config& c) -> int& { return c.models.cooccurrence.window; }));
  params.push_back(Number("models.cooccurrence.backward_weight", 0, 1,
      "cooccurrence: in a session, j viewed before i counts this much towards i -> j (i before j counts 1).",
      [](Config& c) -> double& { return c.models.cooccurrence.backward_weight; }));
  params.push_back(Number("models.cooccurrence.shrinkage", 0, 1e6,
      "cooccurrence: similarity = count / (sqrt(n_i * n_j) + shrinkage); damps pairs seen rarely.",
      [](Config& c) -> double& { return c.models.cooccurrence.shrinkage; }));
  params.push_back(Integer("models.cooccurrence.neighbors", 1, 10000, "cooccurrence: neighbours kept per item and graph.",
      [](Config& c) -> int& { return c.models.cooccurrence.neighbors; }));
  params.push_back(Number("models.cooccurrence.recency_decay", 0, 1,
      "cooccurrence: weight of the k-th most recent history item is decay^k.",
      [](Config& c) -> double& { return c.models.cooccurrence.recency_decay; }));
  params.push_back(Number("models.ease.lambda", 0, 1e9, "ease: L2 regularization.",
      [](Config& c) -> double& { return c.models.ease.lambda; }));
  params.push_back(Integer("models.ease.max_items", 1, 1000000,
      "ease: larger catalogs are refused; training needs 8 * items^2 bytes (25,000 items: 5 GB).",
      [](Config& c) -> int& { return c.models.ease.max_items; }));
  params.push_back(Integer("models.als.factors", 1, 1024, "als: latent factors.",
      [](Config& c) -> int& { return c.models.als.factors; }));
  params.push_back(Integer("models.als.iterations", 1, 1000, "als: alternating sweeps.",
      [](Config& c) -> int& { return c.models.als.iterations; }));
  params.push_back(Number("models.als.regularization", 0, 1e6, "als: L2 regularization.",
      [](Config& c) -> double& { return c.models.als.regularization; }));
  params.push_back(Number("models.als.alpha", 0, 1e6, "als: confidence = 1 + alpha * interaction weight.",
      [](Config& c) -> double& { return c.models.als.alpha; }));
  params.push_back(Integer("models.als.cg_steps", 1, 100, "als: conjugate-gradient steps per row and sweep.",
      [](Config& c) -> int& { return c.models.als.cg_steps; }));
  params.push_back(Integer("models.content.neighbors", 1, 10000, "content: neighbours kept per item.",
      [](Config& c) -> int& { return c.models.content.neighbors; }));
  params.push_back(Number("models.content.max_document_frequency", 0, 1,
      "content: tokens found in more than this share of items (and in more than 100) are ignored.",
      [](Config& c) -> double& { return c.models.content.max_document_frequency; }));
  params.push_back(Integer("models.sasrec.dim", 1, 1024, "sasrec: embedding and hidden size.",
      [](Config& c) -> int& { return c.models.sasrec.dim; }));
  params.push_back(Integer("models.sasrec.blocks", 0, 16, "sasrec: transformer blocks.",
      [](Config& c) -> int& { return c.models.sasrec.blocks; }));
  params.push_back(Integer("models.sasrec.heads", 1, 64, "sasrec: attention heads (dim must be a multiple).",
      [](Config& c) -> int& { return c.models.sasrec.heads; }));
  params.push_back(Integer("models.sasrec.max_length", 2, 1000, "sasrec: latest items read per shopper.",
      [](Config& c) -> int& { return c.models.sasrec.max_length; }));
  params.push_back(Number("models.sasrec.dropout", 0, 0.9, "sasrec: dropout rate on embeddings and block outputs.",
      [](Config& c) -> double& { return c.models.sasrec.dropout; }));
  params.push_back(Number("models.sasrec.learning_rate", 0, 1, "sasrec: Adam learning rate.",
      [](Config& c) -> double& { return c.models.sasrec.learning_rate; }));
  params.push_back(Number("models.sasrec.weight_decay", 0, 10, "sasrec: decoupled weight decay (AdamW).",
      [](Config& c) -> double& { return c.models.sasrec.weight_decay; }));
  params.push_back(Integer("models.sasrec.batch_size", 1, 100000, "sasrec: shoppers per training step.",
      [](Config& c) -> int& { return c.models.sasrec.batch_size; }));
  params.push_back(Integer("models.sasrec.max_epochs", 1, 100000, "sasrec: epochs at most.",
      [](Config& c) -> int& { return c.models.sasrec.max_epochs; }));
  params.push_back(Integer("models.sasrec.patience", 1, 100000,
      "sasrec: stop after this many epochs without a better validation NDCG@10.",
      [](Config& c) -> int& { return c.models.sasrec.patience; }));
  params.push_back(Integer("models.sasrec.validation_users", 0, 100000000,
      "sasrec: shoppers whose last item is held out to pick the best epoch (0: none, train every epoch).",
      [](Config& c) -> int& { return c.models.sasrec.validation_users; }));
  params.push_back(Boolean("models.sasrec.item_features",
      "sasrec: add learned vectors of each item's category levels, brand and attribute tags (those shared by 2+ "
      "items) to its embedding.",
      [](Config& c) -> bool& { return c.models.sasrec.item_features; }));
  params.push_back(Integer("models.sasrec.negatives", 0, 10000000,
      "sasrec: 0 trains the softmax over the whole catalog; n > 0 over each step's targets plus n items drawn "
      "uniformly (logQ-corrected), for catalogs where the full softmax is too slow.",
      [](Config& c) -> int& { return c.models.sasrec.negatives; }));
  params.push_back(Integer("models.gru4rec.hidden", 1, 4096, "gru4rec: GRU size (also the item embedding size).",
      [](Config& c) -> int& { return c.models.gru4rec.hidden; }));
  params.push_back(Integer("models.gru4rec.batch_size", 1, 100000, "gru4rec: sequences trained side by side.",
      [](Config& c) -> int& { return c.models.gru4rec.batch_size; }));
  params.push_back(Integer("models.gru4rec.samples", 0, 1000000,
      "gru4rec: extra negatives per step, shared by the mini-batch (0: only the batch's other targets).",
      [](Config& c) -> int& { return c.models.gru4rec.samples; }));
  params.push_back(Number("models.gru4rec.sample_alpha", 0, 1,
      "gru4rec: negatives are drawn with probability proportional to popularity^alpha.",
      [](Config& c) -> double& { return c.models.gru4rec.sample_alpha; }));
  params.push_back(Choice("models.gru4rec.loss", {"cross-entropy", "bpr-max"}, "gru4rec: training loss.",
      [](Config& c, const std::string& v) { c.models.gru4rec.loss = v; },
      [](const Config& c) { return c.models.gru4rec.loss; }));
  params.push_back(Number("models.gru4rec.bpreg", 0, 100, "gru4rec: bpr-max score regularization.",
      [](Config& c) -> double& { return c.models.gru4rec.bpreg; }));
  params.push_back(Number("models.gru4rec.logq", 0, 10,
      "gru4rec: cross-entropy subtracts logq * log(sampling probability) from each score.",
      [](Config& c) -> double& { return c.models.gru4rec.logq; }));
  params.push_back(Number("models.gru4rec.elu", 0, 10, "gru4rec: final activation, 0 linear, > 0 ELU with this alpha.",
      [](Config& c) -> double& { return c.models.gru4rec.elu; }));
  params.push_back(Number("models.gru4rec.dropout_embed", 0, 0.9, "gru4rec: dropout on the input embedding.",
      [](Config& c) -> double& { return c.models.gru4rec.dropout_embed; }));
  params.push_back(Number("models.gru4rec.dropout_hidden", 0, 0.9, "gru4rec: dropout on the GRU output.",
      [](Config& c) -> double& { return c.models.gru4rec.dropout_hidden; }));
  params.push_back(Number("models.gru4rec.learning_rate", 0, 10, "gru4rec: Adagrad learning rate.",
      [](Config& c) -> double& { return c.models.gru4rec.learning_rate; }));
  params.push_back(Number("models.gru4rec.momentum", 0, 1, "gru4rec: momentum of the Adagrad updates (0: none).",
      [](Config& c) -> double& { return c.models.gru4rec.momentum; }));
  params.push_back(Integer("models.gru4rec.max_length", 1, 100000, "gru4rec: latest items read when scoring a shopper.",
      [](Config& c) -> int& { return c.models.gru4rec.max_length; }));
  params.push_back(Integer("models.gru4rec.max_epochs", 1, 100000, "gru4rec: epochs at most.",
      [](Config& c) -> int& { return c.models.gru4rec.max_epochs; }));
  params.push_back(Integer("models.gru4rec.patience", 1, 100000,
      "gru4rec: stop after this many epochs without a better validation NDCG@10.",
      [](Config& c) -> int& { return c.models.gru4rec.patience; }));
  params.push_back(Integer("models.gru4rec.validation_users", 0, 100000000,
      "gru4rec: shoppers whose last item is held out to pick the best epoch (0: none, train every epoch).",
      [](Config& c) -> int& { return c.models.gru4rec.validation_users; }));
  params.push_back(String("models.pipeline.sources",
      "pipeline: the models whose candidates it ranks (comma-separated). In a snapshot, those of training.models.",
      [](Config& c) -> std::string& { return c.models.pipeline.sources; },
      [](const std::string& v) -> std::optional<std::string> {
        for (std::string_view name : Split(v, ",")) {
          name = TrimWhitespace(name);
          if (name == "pipeline") return "the pipeline cannot be its own source";
          if (auto created = CreateRecommender(name, {}); !created.ok()) return created.status().message();
        }
        return std::nullopt;
      }));
  params.push_back(Integer("models.pipeline.candidates_per_source", 1, 100000,
      "pipeline: each source's top items that become candidates.",
      [](Config& c) -> int& { return c.models.pipeline.candidates_per_source; }));
  params.push_back(Integer("models.pipeline.history_candidates", 0, 100000,
      "pipeline: the shopper's latest distinct items are candidates too (re-orders), at most this many.",
      [](Config& c) -> int& { return c.models.pipeline.history_candidates; }));
  params.push_back(Choice("models.pipeline.split", {"auto", "temporal", "loo"},
      "pipeline: what the ranker learns from: what shoppers took in the last label_days (temporal), each shopper's "
      "last item (loo), or temporal when at least 1% of shoppers came back in that window (auto).",
      [](Config& c, const std::string& v) { c.models.pipeline.split = v; },
      [](const Config& c) { return c.models.pipeline.split; }));
  params.push_back(Integer("models.pipeline.label_days", 1, 3650,
      "pipeline: temporal labels are the last this many days before the training data ends.",
      [](Config& c) -> int& { return c.models.pipeline.label_days; }));
  params.push_back(Integer("models.pipeline.max_groups", 10, 100000000,
      "pipeline: shoppers the ranker learns from at most (a fixed sample beyond).",
      [](Config& c) -> int& { return c.models.pipeline.max_groups; }));
  params.push_back(Integer("models.pipeline.min_served_lists", 1, 100000000,
      "pipeline: with at least this many served lists clicked in the label window (served_log), the ranker learns "
      "from those lists and what was taken from them; otherwise from what shoppers took next.",
      [](Config& c) -> int& { return c.models.pipeline.min_served_lists; }));
  params.push_back(Number("models.pipeline.validation_share", 0, 0.9,
      "pipeline: share of those shoppers held out to stop boosting when NDCG@10 no longer improves (0: none).",
      [](Config& c) -> double& { return c.models.pipeline.validation_share; }));
  params.push_back(Integer("models.pipeline.rounds", 1, 100000, "pipeline: boosting rounds at most.",
      [](Config& c) -> int& { return c.models.pipeline.rounds; }));
  params.push_back(Number("models.pipeline.learning_rate", 0.0001, 1, "pipeline: shrinkage of each tree (eta).",
      [](Config& c) -> double& { return c.models.pipeline.learning_rate; }));
  params.push_back(Integer("models.pipeline.max_depth", 1, 20, "pipeline: depth of each tree.",
      [](Config& c) -> int& { return c.models.pipeline.max_depth; }));
  params.push_back(Integer("models.pipeline.early_stopping_rounds", 1, 100000,
      "pipeline: stop after this many rounds without a better validation NDCG@10.",
      [](Config& c) -> int& { return c.models.pipeline.early_stopping_rounds; }));
  params.push_back(Integer("models.ann.exact_up_to", 0, 2000000000,
      "sasrec, gru4rec: catalogs with more items than this get an approximate (HNSW) index, searched instead of "
      "scoring every item.",
      [](Config& c) -> int& { return c.models.ann.exact_up_to; }));
  params.push_back(Integer("models.ann.links", 2, 256, "ann: HNSW links per item and layer (M).",
      [](Config& c) -> int& { return c.models.ann.links; }));
  params.push_back(Integer("models.ann.ef_construction", 1, 100000, "ann: candidates kept while building the index.",
      [](Config& c) -> int& { return c.models.ann.ef_construction; }));
  params.push_back(Integer("models.ann.ef_search", 1, 100000,
      "ann: candidates kept while searching (at least the number of items asked for); higher is slower and closer "
      "to exact.",
      [](Config& c) -> int& { return c.models.ann.ef_search; }));
  // clang-format on

  // The skew is stored in milliseconds but configured in seconds.
  for (ParamImpl& p : params) {
    if (p.info.key != "ingest.max_future_skew_s") continue;
    auto set = p.set;
    p.set = [set](Config* config, const std::string& value) -> std::optional<std::string> {
      auto problem = set(config, value);
      if (!problem) config->api.limits.max_future_skew_ms *= 1000;
      return problem;
    };
    p.get = [](const Config& c) { return std::to_string(c.api.limits.max_future_skew_ms / 1000); };
  }
  const Config defaults;
  for (ParamImpl& p : params) p.default_value = p.get(defaults);
  return params;
}

const std::vector<ParamImpl>& Params() {
  static const std::vector<ParamImpl> params = BuildParams();
  return params;
}

const ParamImpl* FindParam(const std::string& key) {
  for (const ParamImpl& p : Params()) {
    if (p.info.key == key) return &p;
  }
  return nullptr;
}

std::string Suggest(const std::string& key) {
  std::string best;
  size_t best_distance = 4;
  for (const ParamImpl& p : Params()) {
    size_t d = LevenshteinDistance(key, p.info.key);
    if (d < best_distance) {
      best_distance = d;
      best = p.info.key;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

std::string_view SourceName(ConfigSource source) {
  switch (source) {
    case ConfigSource::kDefault: return "default";
    case ConfigSource::kFile: return "file";
    case ConfigSource::kEnv: return "env";
    case ConfigSource::kFlag: return "flag";
  }
  return "?";
}

Status Apply(LoadedConfig* loaded, const ParamImpl& param, const std::string& value, ConfigSource source,
             const std::string& where) {
  if (auto problem = param.set(&loaded->config, value)) {
    return Status::InvalidArgument(param.info.key + " (" + where + "): " + *problem);
  }
  loaded->sources[param.info.key] = source;
  return Status::OK();
}

Status ApplyFile(const std::string& path, LoadedConfig* loaded) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    return Status::InvalidArgument(path + ":" + std::to_string(begin.line) + ":" + std::to_string(begin.column) +
                                   ": " + std::string(error.description()));
  }
  Status status;
  auto visit = [&](const std::string& key, const toml::node& node) -> Status {
    const std::string where = "file " + path + ":" + std::to_string(node.source().begin.line);
    const ParamImpl* param = FindParam(key);
    if (param == nullptr) return Status::InvalidArgument(where + ": unknown key '" + key + "'" + Suggest(key));
    std::string value;
    if (auto s = node.value<std::string>()) {
      value = *s;
    } else if (auto i = node.value<int64_t>()) {
      value = std::to_string(*i);
    } else if (auto b = node.value<bool>()) {
      value = *b ? "true" : "false";
    } else if (auto d = node.value<double>()) {
      value = FormatDouble(*d);
    } else {
      return Status::InvalidArgument(key + " (" + where + "): expected a string or a number");
    }
    return Apply(loaded, *param, value, ConfigSource::kFile, where);
  };
  for (const auto& [section, node] : root) {
    const std::string name(section.str());
    if (const toml::table* table = node.as_table()) {
      for (const auto& [key, value] : *table) {
        if (value.is_table()) {
          return Status::InvalidArgument("file " + path + ":" + std::to_string(value.source().begin.line) +
                                         ": unexpected table [" + name + "." + std::string(key.str()) + "]");
        }
        VITRINA_RETURN_IF_ERROR(visit(name + "." + std::string(key.str()), value));
      }
    } else {
      VITRINA_RETURN_IF_ERROR(visit(name, node));
    }
  }
  return Status::OK();
}

std::string TomlValue(const ParamImpl& param, const std::string& value) {
  if (!param.quoted) return value;
  std::string out;
  AppendJsonString(&out, value);  // JSON string escapes are valid TOML basic-string escapes
  return out;
}

}  // namespace

const std::vector<ConfigParam>& ConfigParams() {
  static const std::vector<ConfigParam> infos = [] {
    std::vector<ConfigParam> out;
    for (const ParamImpl& p : Params()) out.push_back(p.info);
    return out;
  }();
  return infos;
}

Result<LoadedConfig> LoadConfig(const ConfigInputs& inputs) {
  LoadedConfig loaded;
  for (const ParamImpl& p : Params()) loaded.sources[p.info.key] = ConfigSource::kDefault;
  if (inputs.file) VITRINA_RETURN_IF_ERROR(ApplyFile(*inputs.file, &loaded));

  for (const auto& [name, value] : inputs.env) {
    if (name.rfind("VITRINA_", 0) != 0 || name == "VITRINA_CONFIG") continue;
    const ParamImpl* param = nullptr;
    for (const ParamImpl& p : Params()) {
      if (p.info.env == name) param = &p;
    }
    if (param == nullptr) {
      loaded.warnings.push_back("ignoring unknown environment variable " + name);
      continue;
    }
    VITRINA_RETURN_IF_ERROR(Apply(&loaded, *param, value, ConfigSource::kEnv, "env " + name));
  }
  for (const auto& [key, value] : inputs.flags) {
    const ParamImpl* param = FindParam(key);
    if (param == nullptr) return Status::InvalidArgument("unknown setting '" + key + "'" + Suggest(key));
    VITRINA_RETURN_IF_ERROR(Apply(&loaded, *param, value, ConfigSource::kFlag, "flag " + param->info.flag));
  }
  loaded.config.storage.path = loaded.config.data_dir;
  loaded.config.training.dir = loaded.config.data_dir + "/models";
  loaded.config.attribution.window_ms = static_cast<int64_t>(loaded.config.attribution_window_hours * 3600000.0);
  loaded.config.served_log.dir =
      loaded.config.served_log.retention_days > 0 ? loaded.config.data_dir + "/logs" : std::string();
  loaded.config.training.served_log_dir = loaded.config.served_log.dir;
  VITRINA_RETURN_IF_ERROR(ParseExplorationShares(loaded.config.exploration_shares_text, &loaded.config.exploration.shares));
  loaded.config.training.train.model_options = loaded.config.models;
  loaded.config.training.train.models.clear();
  for (std::string_view name : Split(loaded.config.training_models_text, ",")) {
    name = TrimWhitespace(name);
    if (!name.empty()) loaded.config.training.train.models.emplace_back(name);
  }
  if (loaded.config.training.train.threads == 0) {
    loaded.config.training.train.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  loaded.config.api.public_attributes.clear();
  for (std::string_view name : Split(loaded.config.public_attributes_text, ",")) {
    name = TrimWhitespace(name);
    if (!name.empty()) loaded.config.api.public_attributes.emplace_back(name);
  }
  if (loaded.config.server.host == "localhost") loaded.config.server.host = "127.0.0.1";
  loaded.config.cors.allowed_origins.clear();
  for (std::string_view origin : Split(loaded.config.cors_origins_text, ",")) {
    origin = TrimWhitespace(origin);
    if (!origin.empty()) loaded.config.cors.allowed_origins.emplace_back(origin);
  }
  if (!loaded.config.auth.public_key.empty() && loaded.config.auth.public_key == loaded.config.auth.admin_key) {
    return Status::InvalidArgument("auth.public_key must differ from auth.admin_key");
  }
  return loaded;
}

Status ValidateForServing(const Config& config) {
  if (config.auth.admin_key.empty()) {
    return Status::InvalidArgument(
        "auth.admin_key is not set: set VITRINA_ADMIN_KEY (16+ characters), auth.admin_key in the config file, or "
        "--auth.admin_key");
  }
  return Status::OK();
}

std::string PrintConfig(const LoadedConfig& loaded) {
  std::string out = "# Effective Vitrina configuration (value  # source)\n";
  std::string section;
  for (const ParamImpl& p : Params()) {
    const std::string& key = p.info.key;
    size_t dot = key.find('.');
    std::string this_section = dot == std::string::npos ? "" : key.substr(0, dot);
    if (this_section != section) {
      out += "\n[" + this_section + "]\n";
      section = this_section;
    }
    std::string value = p.get(loaded.config);
    if (p.info.secret && !value.empty()) value = "****" + value.substr(value.size() - 4);
    const ConfigSource source = loaded.sources.at(key);
    std::string origin(SourceName(source));
    if (source == ConfigSource::kEnv) origin += " " + p.info.env;
    if (source == ConfigSource::kFlag) origin += " " + p.info.flag;
    std::string line = (dot == std::string::npos ? key : key.substr(dot + 1)) + " = " + TomlValue(p, value);
    if (line.size() < 40) line.resize(40, ' ');
    out += line + "  # " + origin + "\n";
  }
  return out;
}

std::string ConfigReference() {
  std::string out =
      "# Configuration reference\n\n"
      "Generated from the parameter declarations in `src/config/config.cc` (`vitrina config --reference`).\n\n"
      "Sources, later ones winning: defaults, the TOML file given with `--config FILE` (or `VITRINA_CONFIG`),\n"
      "`VITRINA_*` environment variables, command-line flags. Every value is checked at start-up; an error\n"
      "names the key, where the value came from (file and line, variable, or flag) and what was expected.\n"
      "`vitrina config --print` shows the effective configuration and the source of each value.\n\n"
      "In the file, `section.key` is written as `key` under `[section]`.\n\n"
      "| key | environment | flag | type | default | description |\n"
      "|---|---|---|---|---|---|\n";
  for (const ParamImpl& p : Params()) {
    std::string shown = p.info.secret ? "(none)" : p.default_value.empty() ? "(empty)" : p.default_value;
    out += "| `" + p.info.key + "` | `" + p.info.env + "` | `" + p.info.flag + "` | " + p.info.type + " | `" + shown +
           "` | " + p.info.description + " |\n";
  }
  return out;
}

}  // namespace vitrina
