// vitrina bench: tools for the figures in docs/BENCHMARKS.md.
//
//   generate-events  a deterministic synthetic event stream as JSONL
//   gen              a synthetic shop: catalog, shoppers' events and a
//                    request mix (evaluation/synthetic.h)
//   http-load        an open-loop HTTP load at a fixed request rate,
//                    with latency measured from each request's scheduled
//                    send time (so a stalled server cannot hide queueing)
//   score            the latency of one model's Score (all items for one
//                    shopper's latest events) on one thread; with --ann,
//                    the approximate index's top k: latency and recall
#include <utility>  // before Asio under C++20 with Boost 1.74

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <memory>
#include <random>
#include <thread>

#include "apps/commands.h"
#include "common/json_writer.h"
#include "common/time_util.h"
#include "evaluation/evaluation.h"
#include "evaluation/synthetic.h"
#include "models/recommender.h"
#include "schema/json.h"

namespace vitrina {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct GenerateFlags {
  uint64_t count = 1'000'000;
  uint64_t users = 100'000;
  uint64_t items = 20'000;
  uint64_t seed = 42;
  std::string out = "-";
};

// Zipf-like item popularity via inverse-CDF sampling of a power law.
int RunGenerate(const GenerateFlags& flags) {
  std::FILE* out = flags.out == "-" ? stdout : std::fopen(flags.out.c_str(), "w");
  if (out == nullptr) {
    std::cerr << "vitrina bench: cannot write " << flags.out << "\n";
    return kExitFailure;
  }
  std::mt19937_64 rng(flags.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const int64_t start = *ParseTimestampMillis("2024-01-01T00:00:00Z");
  const int64_t span = 300LL * kMillisPerDay;
  static constexpr const char* kTypes[] = {"view", "view", "view", "view", "view", "view", "click", "click",
                                           "add_to_cart", "purchase"};
  std::string line;
  for (uint64_t i = 0; i < flags.count; ++i) {
    const uint64_t user = static_cast<uint64_t>(std::pow(unit(rng), 2.0) * flags.users);
    const uint64_t item = static_cast<uint64_t>(std::pow(unit(rng), 3.0) * flags.items);
    const int64_t ts = start + static_cast<int64_t>(i * (span / std::max<uint64_t>(flags.count, 1)));
    const char* type = kTypes[rng() % 10];
    line = "{\"event_id\":\"g" + std::to_string(i) + "\",\"type\":\"" + type + "\",\"user_id\":\"u" +
           std::to_string(user) + "\",\"session_id\":\"s" + std::to_string(user) + "-" +
           std::to_string(ts / kMillisPerDay) + "\",\"item_id\":\"i" + std::to_string(item) + "\"";
    if (type[0] == 'p' || type[0] == 'a') {
      line += ",\"quantity\":" + std::to_string(1 + rng() % 3) + ",\"price\":" + std::to_string(1 + item % 97) + ".5";
    }
    line += ",\"timestamp\":\"" + FormatTimestampMillis(ts) + "\",\"context\":{\"device\":\"" +
            (rng() % 3 == 0 ? "desktop" : "mobile") + "\"}}\n";
    std::fwrite(line.data(), 1, line.size(), out);
  }
  if (out != stdout) std::fclose(out);
  return kExitOk;
}

struct ShopFlags {
  SyntheticShopOptions shop;
  std::string out;
  uint64_t requests = 100'000;
  std::string format = "jsonl";
};

// Buffered writer of one output file.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "w")) {}
  ~OutputFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  bool ok() const { return file_ != nullptr && !failed_; }
  const std::string& path() const { return path_; }
  std::string& buffer() { return buffer_; }
  // Writes the buffer out once it is large (or always, when `force`).
  void Flush(bool force = false) {
    if (file_ == nullptr || (!force && buffer_.size() < (1 << 20))) return;
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) failed_ = true;
    buffer_.clear();
    if (force && std::fflush(file_) != 0) failed_ = true;
  }

 private:
  std::string path_;
  std::FILE* file_;
  std::string buffer_;
  bool failed_ = false;
};

// Writes the shop as JSONL (items, events and a for_you request mix) or,
// with --format s3rec, as one "user item item ..." line per signed-in
// shopper (items numbered from 1), which `vitrina evaluate` loads fast.
int RunShop(const ShopFlags& flags) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(flags.out, ec);
  if (ec) {
    std::cerr << "vitrina bench gen: cannot create " << flags.out << ": " << ec.message() << "\n";
    return kExitFailure;
  }
  const auto started = std::chrono::steady_clock::now();
  const bool jsonl = flags.format == "jsonl";
  SyntheticShop shop(flags.shop);
  std::vector<std::unique_ptr<OutputFile>> files;
  auto open = [&](const char* name) {
    files.push_back(std::make_unique<OutputFile>((fs::path(flags.out) / name).string()));
    return files.back().get();
  };
  OutputFile* items = jsonl ? open("items.jsonl") : nullptr;
  OutputFile* events = jsonl ? open("events.jsonl") : nullptr;
  OutputFile* requests = jsonl ? open("for_you.paths") : nullptr;
  OutputFile* sequences = jsonl ? nullptr : open("sequences.txt");
  if (items != nullptr) {
    for (const Item& item : shop.items()) {
      JsonWriter w(&items->buffer());
      WriteItemJson(item, &w);
      items->buffer() += '\n';
      items->Flush();
    }
  }

  std::string user;  // of the sequence being collected
  std::vector<uint32_t> sequence;
  auto end_user = [&] {
    if (sequence.size() >= 2) {
      std::string& out = sequences->buffer();
      out += user.substr(1);
      for (uint32_t item : sequence) {
        out += ' ';
        out += std::to_string(item + 1);
      }
      out += '\n';
      sequences->Flush();
    }
    sequence.clear();
  };
  auto index_of = [](const std::string& item_id) { return static_cast<uint32_t>(std::stoul(item_id.substr(1))); };
  SyntheticShopStats stats = shop.GenerateEvents([&](const Event& e) {
    if (events != nullptr) {
      JsonWriter w(&events->buffer());
      WriteEventJson(e, &w);
      events->buffer() += '\n';
      events->Flush();
    }
    if (sequences == nullptr || e.user_id.empty()) return;
    if (e.user_id != user) {
      end_user();
      user = e.user_id;
    }
    if (!e.item_id.empty()) sequence.push_back(index_of(e.item_id));
    for (const EventLine& line : e.lines) sequence.push_back(index_of(line.item_id));
  });
  if (sequences != nullptr) end_user();

  // The request mix: signed-in shoppers, each as often as they have sessions.
  if (requests != nullptr) {
    std::vector<double> cumulative(stats.sessions_per_user.size());
    double total = 0;
    for (size_t u = 0; u < cumulative.size(); ++u) cumulative[u] = total += stats.sessions_per_user[u];
    std::mt19937_64 rng(flags.shop.seed);
    for (uint64_t r = 0; r < flags.requests && total > 0; ++r) {
      double x = std::uniform_real_distribution<double>(0.0, total)(rng);
      size_t u = std::upper_bound(cumulative.begin(), cumulative.end(), x) - cumulative.begin();
      requests->buffer() += "/v1/recommendations/for_you?user_id=u" +
                            std::to_string(std::min(u, cumulative.size() - 1)) + "&n=10\n";
      requests->Flush();
    }
  }
  for (const auto& file : files) {
    file->Flush(true);
    if (!file->ok()) {
      std::cerr << "vitrina bench gen: cannot write " << file->path() << "\n";
      return kExitFailure;
    }
  }

  std::vector<uint64_t> views = stats.views_per_item;
  std::sort(views.rbegin(), views.rend());
  uint64_t top = 0;
  for (size_t i = 0; i < std::max<size_t>(1, views.size() / 100); ++i) top += views[i];
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%zu items, %u shoppers, %llu sessions (%llu anonymous), %llu events in %.1f s\n", shop.items().size(),
              flags.shop.users, static_cast<unsigned long long>(stats.sessions),
              static_cast<unsigned long long>(stats.anonymous_sessions), static_cast<unsigned long long>(stats.events),
              seconds);
  std::printf("  views %llu, add-to-carts %llu, purchases %llu, searches %llu\n",
              static_cast<unsigned long long>(stats.views), static_cast<unsigned long long>(stats.carts),
              static_cast<unsigned long long>(stats.purchases), static_cast<unsigned long long>(stats.searches));
  std::printf("  the top 1%% of items get %.0f%% of views; the busiest shopper has %u sessions\n",
              100.0 * static_cast<double>(top) / std::max<uint64_t>(1, stats.views),
              stats.sessions_per_user.empty()
                  ? 0u
                  : *std::max_element(stats.sessions_per_user.begin(), stats.sessions_per_user.end()));
  std::printf("wrote");
  for (const auto& file : files) std::printf(" %s", file->path().c_str());
  std::printf("\n");
  return kExitOk;
}

struct LoadFlags {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string method = "POST";
  std::string path = "/v1/events";
  std::string body_file;
  std::string paths_file;
  std::string key;
  double rate = 1000;
  double duration_s = 30;
  int connections = 16;
  double warmup_s = 2;
};

// Replaces every `placeholder` in `text` with `value`.
std::string ReplaceAll(const std::string& text, std::string_view placeholder, const std::string& value) {
  std::string out;
  out.reserve(text.size() + 16);
  size_t pos = 0;
  while (true) {
    size_t at = text.find(placeholder, pos);
    if (at == std::string::npos) break;
    out.append(text, pos, at - pos);
    out += value;
    pos = at + placeholder.size();
  }
  out.append(text, pos);
  return out;
}

int RunLoad(const LoadFlags& flags) {
  std::string body;
  if (!flags.body_file.empty()) {
    std::ifstream in(flags.body_file);
    if (!in) {
      std::cerr << "vitrina bench: cannot read " << flags.body_file << "\n";
      return kExitFailure;
    }
    body.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<std::string> paths;
  if (!flags.paths_file.empty()) {
    std::ifstream in(flags.paths_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) paths.push_back(line);
    }
    if (paths.empty()) {
      std::cerr << "vitrina bench: no request paths in " << flags.paths_file << "\n";
      return kExitFailure;
    }
  }
  const auto period = std::chrono::duration<double>(1.0 / flags.rate);
  const uint64_t total = static_cast<uint64_t>(flags.rate * (flags.warmup_s + flags.duration_s));
  const uint64_t warmup = static_cast<uint64_t>(flags.rate * flags.warmup_s);
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> errors{0};
  std::mutex mutex;
  std::vector<double> latencies_us;
  latencies_us.reserve(total);
  const auto t0 = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  const std::string run_id = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());

  const std::string body_for_run = ReplaceAll(body, "{run}", run_id);
  auto worker = [&] {
    net::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    beast::flat_buffer buffer;
    // Returns false when the server cannot be reached.
    auto connect = [&]() -> bool {
      beast::error_code ec;
      stream.socket().close(ec);
      buffer.clear();  // bytes of a broken response must not be read as the next one
      try {
        stream.connect(resolver.resolve(flags.host, std::to_string(flags.port)));
        stream.socket().set_option(tcp::no_delay(true));
        return true;
      } catch (const std::exception&) {
        return false;
      }
    };
    bool connected = connect();
    std::vector<double> mine;
    while (true) {
      const uint64_t i = next.fetch_add(1);
      if (i >= total) break;
      const auto scheduled = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(period * i);
      std::this_thread::sleep_until(scheduled);
      const std::string& path = paths.empty() ? flags.path : paths[i % paths.size()];
      http::request<http::string_body> request(http::string_to_verb(flags.method), path, 11);
      request.set(http::field::host, flags.host);
      request.set(http::field::content_type, "application/json");
      if (!flags.key.empty()) request.set(http::field::authorization, "Bearer " + flags.key);
      request.body() = ReplaceAll(body_for_run, "{seq}", std::to_string(i));
      request.prepare_payload();
      try {
        if (!connected) throw std::runtime_error("not connected");
        http::write(stream, request);
        http::response<http::string_body> response;
        http::read(stream, buffer, response);
        if (response.result_int() >= 300) ++errors;
        if (!response.keep_alive()) connected = connect();
      } catch (const std::exception&) {
        ++errors;
        connected = connect();
      }
      if (i >= warmup) {
        mine.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - scheduled).count());
      }
    }
    std::lock_guard lock(mutex);
    latencies_us.insert(latencies_us.end(), mine.begin(), mine.end());
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < flags.connections; ++c) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    if (latencies_us.empty()) return 0.0;
    return latencies_us[std::min(latencies_us.size() - 1, static_cast<size_t>(p * latencies_us.size()))] / 1000.0;
  };
  std::printf("requests %zu (after %.0f s warm-up) in %.1f s at a target of %.0f/s over %d connections, errors %llu\n",
              latencies_us.size(), flags.warmup_s, elapsed, flags.rate, flags.connections,
              static_cast<unsigned long long>(errors.load()));
  std::printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", pct(0.50), pct(0.90), pct(0.99),
              pct(0.999), latencies_us.empty() ? 0.0 : latencies_us.back() / 1000.0);
  return errors.load() == 0 ? kExitOk : kExitFailure;
}

struct ScoreFlags {
  std::string model = "sasrec";
  uint64_t items = 20'000;
  uint64_t history = 50;
  uint64_t requests = 2'000;
  int epochs = 1;
  uint64_t seed = 42;
  // --ann: also build the approximate index and compare TopK through it
  // with exact ranking.
  bool ann = false;
  uint64_t k = 50;
  ConfigFlags config;  // --models.* (the index: --models.ann.*)
  // A real dataset instead of random walks: its shoppers' histories.
  std::string dataset;
  std::string format = "s3rec";
  // Loads the model from this file when it exists (no training), else
  // saves it there after training.
  std::string model_file;
};

struct LatencySummary {
  double p50 = 0, p99 = 0, mean = 0, max = 0;
};

LatencySummary Summarize(std::vector<double> latencies) {
  LatencySummary summary;
  if (latencies.empty()) return summary;
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) { return latencies[std::min(latencies.size() - 1, static_cast<size_t>(q * latencies.size()))]; };
  double sum = 0;
  for (double l : latencies) sum += l;
  return {at(0.5), at(0.99), sum / static_cast<double>(latencies.size()), latencies.back()};
}

// Trains `model` briefly on random walks over the catalog (the weights'
// quality does not change the cost of scoring), or on --dataset, then
// times Score for the latest `history` events of the walkers (shoppers),
// one call at a time on this thread. With --ann the model also builds its
// approximate index, and the top `k` through it are timed and compared
// with exact ranking.
int RunScore(const ScoreFlags& flags) {
  std::mt19937_64 rng(flags.seed);
  Dataset data;
  if (!flags.dataset.empty()) {
    auto format = ParseDatasetFormat(flags.format);
    if (!format) {
      std::fprintf(stderr, "error: --format: unknown format '%s'\n", flags.format.c_str());
      return kExitUsage;
    }
    auto loaded = LoadDataset(flags.dataset, *format);
    if (!loaded.ok()) {
      std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
      return kExitFailure;
    }
    data = std::move(loaded).value();
  } else {
    for (uint64_t i = 0; i < flags.items; ++i) data.items.push_back({.id = "i" + std::to_string(i)});
    const uint64_t walkers = std::max<uint64_t>(1000, flags.items / 5);
    for (uint64_t a = 0; a < walkers; ++a) {
      data.actor_ids.push_back("u" + std::to_string(a));
      uint32_t item = static_cast<uint32_t>(rng() % flags.items);
      for (uint64_t t = 0; t < flags.history + 10; ++t) {
        data.interactions.push_back({.item = item, .time_ms = static_cast<int64_t>(t)});
        item = static_cast<uint32_t>(rng() % 4 == 0 ? rng() % flags.items : (item + 1 + rng() % 3) % flags.items);
      }
      data.offsets.push_back(static_cast<uint32_t>(data.interactions.size()));
    }
  }
  const uint64_t actors = data.num_actors();
  if (actors == 0) {
    std::fprintf(stderr, "error: %s: no shoppers\n", flags.dataset.c_str());
    return kExitFailure;
  }
  std::optional<LoadedConfig> loaded = flags.config.Load();
  if (!loaded) return kExitUsage;
  ModelOptions options = loaded->config.models;
  options.sasrec.max_epochs = options.gru4rec.max_epochs = flags.epochs;
  options.sasrec.validation_users = options.gru4rec.validation_users = 0;
  options.als.iterations = std::max(1, flags.epochs);
  options.ann.exact_up_to = flags.ann ? 0 : std::numeric_limits<int>::max();
  auto created = CreateModel(flags.model, options);
  if (!created.ok()) {
    std::fprintf(stderr, "error: %s\n", created.status().message().c_str());
    return kExitUsage;
  }
  std::unique_ptr<Recommender> model = std::move(created).value();
  auto start = std::chrono::steady_clock::now();
  const bool reuse = !flags.model_file.empty() && std::filesystem::exists(flags.model_file);
  if (reuse) {
    if (Status loaded = model->Load(flags.model_file); !loaded.ok()) {
      std::fprintf(stderr, "error: %s\n", loaded.message().c_str());
      return kExitFailure;
    }
    if (model->num_items() != data.num_items()) {
      std::fprintf(stderr, "error: %s scores %zu items, the data has %zu\n", flags.model_file.c_str(),
                   model->num_items(), data.num_items());
      return kExitFailure;
    }
  } else if (Status fitted = model->Fit(data, {.threads = 2, .seed = flags.seed}); !fitted.ok()) {
    std::fprintf(stderr, "error: training %s: %s\n", flags.model.c_str(), fitted.message().c_str());
    return kExitFailure;
  }
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!reuse && !flags.model_file.empty()) {
    if (Status saved = model->Save(flags.model_file); !saved.ok()) {
      std::fprintf(stderr, "error: %s\n", saved.message().c_str());
      return kExitFailure;
    }
  }
  if (flags.ann && model->index() == nullptr) {
    std::fprintf(stderr, "error: %s has no approximate index (sasrec and gru4rec do)\n", flags.model.c_str());
    return kExitUsage;
  }
  std::vector<float> scores(model->num_items());
  std::vector<HistoryEntry> history;
  std::vector<double> score_ms, exact_ms, index_ms;
  std::vector<std::pair<uint32_t, float>> exact, approximate;
  double recall_sum = 0, recall_min = 1;
  const uint64_t warmup = std::min<uint64_t>(100, flags.requests);
  for (uint64_t r = 0; r < warmup + flags.requests; ++r) {
    // The walker's latest events, newest first.
    const uint64_t actor = rng() % actors;
    history.clear();
    for (uint32_t i = data.offsets[actor + 1]; i > data.offsets[actor] && history.size() < flags.history; --i) {
      history.push_back({.item = data.interactions[i - 1].item});
    }
    auto t0 = std::chrono::steady_clock::now();
    model->Score(history, Relation::kAny, scores);
    auto t1 = std::chrono::steady_clock::now();
    if (r >= warmup) score_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (!flags.ann) continue;
    const float floor = -std::numeric_limits<float>::infinity();
    t0 = std::chrono::steady_clock::now();
    model->Recommender::TopK(history, Relation::kAny, flags.k, floor, nullptr, &exact);
    t1 = std::chrono::steady_clock::now();
    model->TopK(history, Relation::kAny, flags.k, floor, nullptr, &approximate);
    auto t2 = std::chrono::steady_clock::now();
    if (r < warmup) continue;
    exact_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    index_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    size_t hits = 0;
    for (const auto& [item, score] : approximate) {
      hits += std::any_of(exact.begin(), exact.end(), [&](const auto& e) { return e.first == item; });
    }
    const double recall = exact.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(exact.size());
    recall_sum += recall;
    recall_min = std::min(recall_min, recall);
  }
  if (reuse) {
    std::printf("%s: %zu items, %s histories of at most %llu events, loaded from %s in %.1f s\n", flags.model.c_str(),
                data.num_items(), flags.dataset.empty() ? "random-walk" : flags.dataset.c_str(),
                static_cast<unsigned long long>(flags.history), flags.model_file.c_str(), train_s);
  } else {
    std::printf("%s: %zu items, %s histories of at most %llu events, trained %d epoch(s) in %.1f s\n",
                flags.model.c_str(), data.num_items(), flags.dataset.empty() ? "random-walk" : flags.dataset.c_str(),
                static_cast<unsigned long long>(flags.history), flags.epochs, train_s);
  }
  const LatencySummary s = Summarize(score_ms);
  std::printf("score latency ms (one thread, %zu calls): p50 %.3f  p99 %.3f  mean %.3f  max %.3f\n",
              score_ms.size(), s.p50, s.p99, s.mean, s.max);
  if (flags.ann) {
    const InnerProductIndex& index = *model->index();
    std::printf("index: %zu x %zu, built in %.1f s (links %d, ef_construction %d, ef_search %d)\n",
                index.size(), index.dim(), index.build_seconds(), options.ann.links, options.ann.ef_construction,
                options.ann.ef_search);
    const LatencySummary e = Summarize(exact_ms), a = Summarize(index_ms);
    std::printf("top-%llu latency ms: exact p50 %.3f  p99 %.3f  mean %.3f | index p50 %.3f  p99 %.3f  mean %.3f\n",
                static_cast<unsigned long long>(flags.k), e.p50, e.p99, e.mean, a.p50, a.p99, a.mean);
    std::printf("recall@%llu of the index against exact ranking: mean %.4f  min %.4f\n",
                static_cast<unsigned long long>(flags.k), recall_sum / static_cast<double>(exact_ms.size()),
                recall_min);
  }
  return kExitOk;
}

}  // namespace

Command AddBenchCommand(CLI::App* app) {
  CLI::App* command = app->add_subcommand("bench", "Benchmark tools (docs/BENCHMARKS.md)");
  command->require_subcommand(1);

  auto generate = std::make_shared<GenerateFlags>();
  CLI::App* gen = command->add_subcommand("generate-events", "Write a synthetic event stream as JSONL");
  gen->add_option("--count", generate->count, "Events");
  gen->add_option("--users", generate->users, "Distinct users");
  gen->add_option("--items", generate->items, "Distinct items");
  gen->add_option("--seed", generate->seed, "Random seed");
  gen->add_option("--out", generate->out, "Output file (- for stdout)");

  auto shop = std::make_shared<ShopFlags>();
  CLI::App* gen_shop = command->add_subcommand(
      "gen", "Write a synthetic shop (catalog, events, a for_you request mix) into a directory");
  gen_shop->add_option("--out", shop->out, "Output directory")->required();
  gen_shop->add_option("--items", shop->shop.items, "Catalog items")->check(CLI::PositiveNumber);
  gen_shop->add_option("--users", shop->shop.users, "Signed-in shoppers")->check(CLI::PositiveNumber);
  gen_shop->add_option("--categories", shop->shop.categories, "Leaf categories")->check(CLI::PositiveNumber);
  gen_shop->add_option("--brands", shop->shop.brands, "Brands")->check(CLI::PositiveNumber);
  gen_shop->add_option("--sessions-per-user", shop->shop.sessions_per_user, "Mean sessions per shopper (Pareto)")
      ->check(CLI::Range(1.0, 1000.0));
  gen_shop->add_option("--views-per-session", shop->shop.views_per_session, "Mean product views per session")
      ->check(CLI::Range(1.0, 1000.0));
  gen_shop->add_option("--popularity-exponent", shop->shop.popularity_exponent, "Zipf exponent of item popularity")
      ->check(CLI::Range(0.0, 3.0));
  gen_shop->add_option("--days", shop->shop.days, "Days the events span")->check(CLI::Range(1, 3650));
  gen_shop->add_option("--seed", shop->shop.seed, "Random seed");
  gen_shop->add_option("--requests", shop->requests, "Lines of for_you.paths");
  gen_shop->add_option("--format", shop->format,
                       "jsonl: items.jsonl, events.jsonl, for_you.paths; s3rec: sequences.txt (for vitrina evaluate)")
      ->check(CLI::IsMember({"jsonl", "s3rec"}));

  auto load = std::make_shared<LoadFlags>();
  CLI::App* http_load = command->add_subcommand("http-load", "Open-loop HTTP load at a fixed rate");
  http_load->add_option("--host", load->host, "Server address");
  http_load->add_option("--port", load->port, "Server port");
  http_load->add_option("--method", load->method, "HTTP method");
  http_load->add_option("--path", load->path, "Request path");
  http_load->add_option("--body-file", load->body_file, "Request body; {seq} becomes the request number, {run} a run id");
  http_load->add_option("--paths-file", load->paths_file,
                        "Request paths, one per line, used in turn (instead of --path)");
  http_load->add_option("--key", load->key, "Bearer API key");
  http_load->add_option("--rate", load->rate, "Requests per second")->check(CLI::PositiveNumber);
  http_load->add_option("--duration", load->duration_s, "Measured seconds")->check(CLI::PositiveNumber);
  http_load->add_option("--warmup", load->warmup_s, "Unmeasured seconds first");
  http_load->add_option("--connections", load->connections, "Concurrent keep-alive connections")
      ->check(CLI::Range(1, 1024));

  auto score = std::make_shared<ScoreFlags>();
  CLI::App* score_command =
      command->add_subcommand("score", "Time one model's Score (every item, one shopper) on one thread");
  score_command->add_option("--model", score->model, "Model name (sasrec, gru4rec, als, ...)");
  score_command->add_option("--items", score->items, "Catalog items")->check(CLI::Range(2, 100'000'000));
  score_command->add_option("--history", score->history, "Events in each shopper's history")
      ->check(CLI::Range(1, 100'000));
  score_command->add_option("--requests", score->requests, "Timed calls")->check(CLI::Range(1, 100'000'000));
  score_command->add_option("--epochs", score->epochs, "Training epochs (iterations) first")->check(CLI::Range(1, 1000));
  score_command->add_option("--seed", score->seed, "Random seed");
  score_command->add_option("--dataset", score->dataset, "Train on this dataset and use its shoppers' histories");
  score_command->add_option("--format", score->format, "Dataset format: s3rec, online-retail, jsonl");
  score_command->add_option("--model-file", score->model_file,
                            "Load the model from this file if it exists (no training), else save it there");
  score_command->add_flag("--ann", score->ann, "Also build the approximate index and compare its top k with exact ranking");
  score_command->add_option("--k", score->k, "Items per top-k list (--ann)")->check(CLI::Range(1, 100'000));
  score->config.Register(score_command);

  std::vector<Command> search = AddSearchBenchCommands(command);
  search.push_back(AddAttributionBenchCommand(command));

  return {command, [generate, shop, load, score, gen, gen_shop, http_load, score_command, search] {
            for (const Command& sub : search) {
              if (sub.cli->parsed()) return sub.run();
            }
            if (gen->parsed()) return RunGenerate(*generate);
            if (gen_shop->parsed()) return RunShop(*shop);
            if (http_load->parsed()) return RunLoad(*load);
            if (score_command->parsed()) return RunScore(*score);
            return kExitUsage;
          }};
}

}  // namespace vitrina
