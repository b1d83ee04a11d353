// Online backup (POST /v1/admin/backup) under write load, and `vitrina
// restore` into a directory a new server starts on.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "harness.h"

namespace vitrina::e2e {
namespace {

namespace fs = std::filesystem;

class BackupTest : public ::testing::Test {
 protected:
  simdjson::dom::element Json(const HttpResult& result) { return json_.Parse(result); }

  HttpResult Backup(Server& server, const std::string& to) {
    return server.Request("POST", "/v1/admin/backup", R"({"to":")" + to + R"("})");
  }

  std::set<std::string> RuleIds(Server& server) {
    HttpResult rules = server.Request("GET", "/v1/rules");
    EXPECT_EQ(rules.status, 200) << rules.body;
    std::set<std::string> ids;
    for (auto rule : Json(rules)["rules"].get_array()) ids.emplace(std::string_view(rule["id"]));
    return ids;
  }

  JsonBodies json_;
};

// A shop small enough to train in a moment: two kinds of items, shoppers
// who view and buy within one kind.
void SeedShop(Server& server) {
  std::string items = "[";
  for (int i = 0; i < 6; ++i) {
    items += std::string(i ? "," : "") + R"({"id":"m)" + std::to_string(i) + R"(","title":"Mug )" + std::to_string(i) +
             R"(","price":10},{"id":"t)" + std::to_string(i) + R"(","title":"Tent )" + std::to_string(i) +
             R"(","price":90})";
  }
  ASSERT_EQ(server.Request("POST", "/v1/items", items + "]").status, 200);
  std::string events = "[";
  for (int u = 0; u < 20; ++u) {
    const std::string kind = u % 2 == 0 ? "m" : "t", user = "shopper-" + std::to_string(u);
    for (int step = 0; step < 3; ++step) {
      events += std::string(events.size() > 1 ? "," : "") + R"({"type":"view","user_id":")" + user +
                R"(","item_id":")" + kind + std::to_string(step) + R"(","timestamp":"2024-03-1)" +
                std::to_string(step) + R"(T10:00:00Z"})";
    }
  }
  HttpResult posted = server.Request("POST", "/v1/events", events + "]");
  ASSERT_EQ(posted.status, 200) << posted.body;
}

TEST_F(BackupTest, BackupUnderWriteLoadRestoresEveryAcknowledgedWrite) {
  TempDir dir("backup_load");
  const std::string data = dir.path() + "/data";
  Server server(data, {"--training.interval_s", "0"});
  ASSERT_TRUE(server.Start()) << server.log();
  ASSERT_NO_FATAL_FAILURE(SeedShop(server));
  const std::string snapshot = TrainAndWait(server, "");
  ASSERT_FALSE(snapshot.empty());
  ASSERT_EQ(server.Request("POST", "/v1/rules", R"({"id":"pin-m1","kind":"pin","items":["m1"]})").status, 201);
  // A served list, so that the served-list log has a file to back up.
  ASSERT_EQ(server.Request("GET", "/v1/recommendations/trending", "", kPublicKey).status, 200);
  auto logged = [&] {
    std::error_code error;
    return fs::exists(data + "/logs", error) && !fs::is_empty(data + "/logs", error);
  };
  for (int i = 0; i < 250 && !logged(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  // Writers post events with unique ids all along. An event acknowledged
  // before the backup request was sent must be in the backup.
  constexpr int kWriters = 4;
  std::atomic<bool> backup_sent{false}, stop{false};
  std::atomic<int> acknowledged_during{0};
  std::mutex mutex;
  std::map<std::string, std::set<std::string>> before;  // by user
  size_t before_count = 0;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        // Users of at most 500 events: GET .../events returns up to 1000.
        const std::string user = "writer-" + std::to_string(w) + "-" + std::to_string(i / 500);
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
        HttpResult r = server.Request(
            "POST", "/v1/events",
            R"({"event_id":")" + id + R"(","type":"click","user_id":")" + user + R"(","item_id":"m2"})", kPublicKey);
        if (r.status != 200) continue;
        if (backup_sent) {
          ++acknowledged_during;
          continue;
        }
        std::lock_guard lock(mutex);
        before[user].insert(id);
        ++before_count;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::string backup = dir.path() + "/backups/first";
  backup_sent = true;
  const auto backup_start = std::chrono::steady_clock::now();
  HttpResult backed_up = Backup(server, backup);
  const double backup_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - backup_start).count();
  const int during = acknowledged_during;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (auto& writer : writers) writer.join();
  ASSERT_EQ(backed_up.status, 200) << backed_up.body;
  EXPECT_GT(before_count, 50u) << "the writers should have had a fair number of events acknowledged first";
  EXPECT_GT(acknowledged_during.load(), during) << "writes go on after the backup";
  std::cout << before_count << " events acknowledged before the backup, " << during << " during its " << backup_ms
            << " ms, " << acknowledged_during.load() - during << " in the 300 ms after\n";

  auto report = Json(backed_up);
  EXPECT_EQ(std::string_view(report["path"]), backup);
  EXPECT_GE(uint64_t(report["snapshots"]), 1u);
  EXPECT_GE(uint64_t(report["log_files"]), 1u);
  EXPECT_GT(uint64_t(report["store"]["bytes"]), 0u);
  const uint64_t backed_up_events = uint64_t(report["store"]["events"]);
  EXPECT_GE(backed_up_events, before_count + 60);  // the seeded shop's events too
  EXPECT_TRUE(fs::exists(backup + "/vitrina-backup.json"));
  // Made after the backup: not in it.
  ASSERT_EQ(server.Request("POST", "/v1/rules", R"({"id":"later","kind":"pin","items":["m2"]})").status, 201);

  const std::string restored_dir = dir.path() + "/restored";
  CommandResult restored = RunVitrina({"restore", "--from", backup, "--data", restored_dir});
  ASSERT_EQ(restored.exit_code, 0) << restored.out;
  EXPECT_NE(restored.out.find(std::to_string(backed_up_events) + " events"), std::string::npos) << restored.out;
  EXPECT_NE(restored.out.find("serving " + snapshot), std::string::npos) << restored.out;
  EXPECT_FALSE(fs::exists(restored_dir + "/vitrina-backup.json"));

  // The source keeps running; the restored copy serves beside it.
  Server copy(restored_dir, {"--training.interval_s", "0"});
  ASSERT_TRUE(copy.Start()) << copy.log();
  HttpResult stats = copy.Request("GET", "/v1/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  EXPECT_EQ(uint64_t(Json(stats)["events"]), backed_up_events);
  for (const auto& [user, ids] : before) {
    HttpResult events = copy.Request("GET", "/v1/users/" + user + "/events?limit=1000");
    ASSERT_EQ(events.status, 200) << events.body;
    std::set<std::string> stored;
    for (auto event : Json(events)["events"].get_array()) stored.emplace(std::string_view(event["event_id"]));
    for (const std::string& id : ids) EXPECT_TRUE(stored.count(id)) << "acknowledged event " << id << " not restored";
  }
  EXPECT_EQ(RuleIds(copy), std::set<std::string>{"pin-m1"});
  HttpResult models = copy.Request("GET", "/v1/models");
  ASSERT_EQ(models.status, 200) << models.body;
  EXPECT_EQ(std::string_view(Json(models)["current"]), snapshot);
  HttpResult trending = copy.Request("GET", "/v1/recommendations/trending", "", kPublicKey);
  ASSERT_EQ(trending.status, 200) << trending.body;
  EXPECT_EQ(std::string_view(Json(trending)["snapshot"]), snapshot);

  // restore refuses a data directory that holds anything, and a directory
  // that is not a backup; neither is touched.
  CommandResult again = RunVitrina({"restore", "--from", backup, "--data", restored_dir});
  EXPECT_EQ(again.exit_code, 2) << again.out;
  EXPECT_NE(again.out.find("exists and is not empty"), std::string::npos) << again.out;
  CommandResult not_backup = RunVitrina({"restore", "--from", data, "--data", dir.path() + "/other"});
  EXPECT_EQ(not_backup.exit_code, 2) << not_backup.out;
  EXPECT_NE(not_backup.out.find("not a Vitrina backup"), std::string::npos) << not_backup.out;
  EXPECT_FALSE(fs::exists(dir.path() + "/other"));
  EXPECT_EQ(copy.Request("GET", "/v1/stats").status, 200);
}

TEST_F(BackupTest, BadTargetsAreRefusedNamingTo) {
  TempDir dir("backup_bad");
  const std::string data = dir.path() + "/data";
  Server server(data);
  ASSERT_TRUE(server.Start()) << server.log();
  const std::string full = dir.path() + "/full";
  fs::create_directories(full);
  std::ofstream(full + "/notes.txt") << "mine";
  struct Case {
    const char* name;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"relative path", R"({"to":"backups/today"})"},
      {"existing directory with files", R"({"to":")" + full + R"("})"},
      {"inside the data directory", R"({"to":")" + data + R"(/backup"})"},
      {"missing", R"({})"},
      {"not text", R"({"to":42})"},
      {"misspelt", R"({"too":"/tmp/x"})"},
  };
  for (const Case& c : cases) {
    HttpResult result = server.Request("POST", "/v1/admin/backup", c.body);
    EXPECT_EQ(result.status, 400) << c.name << ": " << result.body;
    auto error = Json(result)["error"];
    const std::string_view field = error["field"].is_null() ? "" : std::string_view(error["field"]);
    const std::string_view expected = c.name == std::string("misspelt") ? "too" : "to";
    EXPECT_EQ(field, expected) << c.name << ": " << result.body;
  }
  EXPECT_EQ(server.Request("POST", "/v1/admin/backup", "not json").status, 400);
  EXPECT_EQ(server.Request("POST", "/v1/admin/backup", R"({"to":"/tmp/x"})", kPublicKey).status, 403);
  std::ifstream notes(full + "/notes.txt");
  std::string text;
  notes >> text;
  EXPECT_EQ(text, "mine");
  EXPECT_EQ(std::distance(fs::directory_iterator(full), fs::directory_iterator()), 1);
  EXPECT_FALSE(fs::exists(data + "/backup"));
}

}  // namespace
}  // namespace vitrina::e2e
