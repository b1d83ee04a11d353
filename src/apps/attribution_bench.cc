// `vitrina bench attribution`: how fast attribution takes served lists and
// events, what a list costs in memory, and how long the rebuild at start
// takes, on a synthetic day of traffic.
#include <chrono>
#include <cstdio>
#include <random>

#include "apps/commands.h"
#include "experiments/attribution.h"

namespace vitrina {
namespace {

struct AttributionBenchFlags {
  size_t lists = 1'000'000;
  size_t items_per_list = 10;
  size_t catalog = 50'000;
  size_t shoppers = 200'000;
  size_t events = 1'000'000;
  uint64_t seed = 42;
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int RunAttributionBench(const AttributionBenchFlags& flags) {
  constexpr int64_t kStart = 1'764'000'000'000;
  constexpr int64_t kDay = 86'400'000;
  std::mt19937_64 rng(flags.seed);
  // The lists of one day, spread evenly over it; shoppers with a user and a session id each.
  std::vector<ShownList> lists(flags.lists);
  for (size_t i = 0; i < flags.lists; ++i) {
    ShownList& list = lists[i];
    char id[40];
    std::snprintf(id, sizeof(id), "rec_%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    list.recommendation_id = id;
    list.at_ms = kStart + static_cast<int64_t>(i) * kDay / static_cast<int64_t>(flags.lists);
    list.scenario = i % 3 == 0 ? "similar" : "for_you";
    const uint64_t shopper = rng() % flags.shoppers;
    list.user_id = "user" + std::to_string(shopper);
    list.session_id = "session" + std::to_string(shopper);
    list.snapshot = "20261130T000000Z-abcdef";
    for (size_t k = 0; k < flags.items_per_list; ++k) list.items.push_back("item" + std::to_string(rng() % flags.catalog));
  }
  // Clicks after lists: half tagged with the list's id, half by the window.
  std::vector<Event> events(flags.events);
  for (size_t e = 0; e < flags.events; ++e) {
    const ShownList& list = lists[rng() % flags.lists];
    Event& event = events[e];
    event.event_id = "e" + std::to_string(e);
    event.type = EventType::kClick;
    event.user_id = list.user_id;
    event.item_id = list.items[rng() % list.items.size()];
    event.timestamp_ms = event.received_ms = list.at_ms + 30'000;
    if (e % 2 == 0) event.recommendation_id = list.recommendation_id;
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.received_ms < b.received_ms; });

  const size_t rss_before = ResidentBytes();
  Attributor attributor({.window_ms = kDay, .max_lists = flags.lists}, nullptr);
  auto start = std::chrono::steady_clock::now();
  size_t next_event = 0;
  double event_seconds = 0;
  for (const ShownList& list : lists) {
    attributor.OnServed(list);
    // Events as they come, interleaved with the lists in time.
    const size_t from = next_event;
    while (next_event < events.size() && events[next_event].received_ms <= list.at_ms) ++next_event;
    if (next_event > from) {
      const auto events_start = std::chrono::steady_clock::now();
      attributor.OnEvents(std::span(events.data() + from, next_event - from));
      event_seconds += SecondsSince(events_start);
    }
  }
  const double total = SecondsSince(start);
  const size_t rss_after = ResidentBytes();
  const AttributionStats stats = attributor.stats();
  std::printf("%zu lists of %zu items for %zu shoppers over a day; %zu clicks (half tagged)\n", flags.lists,
              flags.items_per_list, flags.shoppers, next_event);
  std::printf("lists: %.0f per second (one thread)\n", static_cast<double>(flags.lists) / (total - event_seconds));
  std::printf("events: %.0f per second; %llu credited (%llu by recommendation_id), %llu repeats refused\n",
              static_cast<double>(next_event) / event_seconds, static_cast<unsigned long long>(stats.credited),
              static_cast<unsigned long long>(stats.by_id), static_cast<unsigned long long>(stats.duplicates));
  std::printf("memory: %.0f MB resident for %llu lists in memory, %.0f B per list\n",
              static_cast<double>(rss_after - rss_before) / 1e6,
              static_cast<unsigned long long>(stats.lists_in_memory),
              static_cast<double>(rss_after - rss_before) / static_cast<double>(stats.lists_in_memory));

  // The rebuild at start: the same lists and the stored clicks.
  ManualClock clock(kStart + kDay);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  WriteBatch batch;
  for (Event& event : events) batch.AppendEvent(std::move(event));
  std::vector<WriteOutcome> outcomes;
  if (!store->Write(&batch, &outcomes).ok()) return kExitFailure;
  Attributor rebuilt({.window_ms = kDay, .max_lists = flags.lists}, nullptr);
  start = std::chrono::steady_clock::now();
  if (!rebuilt.Rebuild(*store, std::move(lists), kStart + kDay + 1).ok()) return kExitFailure;
  std::printf("rebuild from the lists and the store: %.2f s; %llu credited\n", SecondsSince(start),
              static_cast<unsigned long long>(rebuilt.stats().credited));
  return kExitOk;
}

}  // namespace

Command AddAttributionBenchCommand(CLI::App* bench) {
  auto flags = std::make_shared<AttributionBenchFlags>();
  CLI::App* command =
      bench->add_subcommand("attribution", "Attribution: lists and events per second, memory per list, rebuild time");
  command->add_option("--lists", flags->lists, "Served lists over one day")->check(CLI::Range(1, 100'000'000));
  command->add_option("--items-per-list", flags->items_per_list, "Items in each list")->check(CLI::Range(1, 100));
  command->add_option("--catalog", flags->catalog, "Distinct items")->check(CLI::Range(1, 100'000'000));
  command->add_option("--shoppers", flags->shoppers, "Distinct shoppers")->check(CLI::Range(1, 100'000'000));
  command->add_option("--events", flags->events, "Clicks")->check(CLI::Range(0, 100'000'000));
  command->add_option("--seed", flags->seed, "Random seed");
  return {command, [flags] { return RunAttributionBench(*flags); }};
}

}  // namespace vitrina
