// `vitrina import` and `vitrina config` as a user runs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "harness.h"

namespace vitrina::e2e {
namespace {

std::string Write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ImportCliTest, RejectedRowsAreListedWithFileAndLineAndExitCode3) {
  TempDir dir("import_bad");
  std::string file = Write(dir, "events.jsonl",
                           "{\"event_id\":\"a\",\"type\":\"view\",\"user_id\":\"u\",\"item_id\":\"i\"}\n"
                           "{\"event_id\":\"b\",\"type\":\"view\",\"user_id\":\"u\",\"item_id\":\"i\",\"quantity\":-1}\n"
                           "{\"event_id\":\"a\",\"type\":\"view\",\"user_id\":\"u\",\"item_id\":\"i\"}\n"
                           "not json\n");
  CommandResult result =
      RunVitrina({"import", "--data", dir.path() + "/data", "--format", "jsonl", "--no-progress", file});
  EXPECT_EQ(result.exit_code, 3) << result.out;
  EXPECT_NE(result.out.find("accepted    1"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("duplicates  1"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("rejected    2"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(file + ":2: quantity:"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(file + ":4: malformed JSON"), std::string::npos) << result.out;
}

TEST(ImportCliTest, FatalErrorsExit1AndUsageErrorsExit2) {
  TempDir dir("import_fatal");
  CommandResult missing =
      RunVitrina({"import", "--data", dir.path() + "/data", "--format", "csv", dir.path() + "/missing.csv"});
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find(dir.path() + "/missing.csv"), std::string::npos) << missing.out;

  std::string bad_header = Write(dir, "items.csv", "id,titel\nsku,Mug\n");
  CommandResult header = RunVitrina(
      {"import", "--data", dir.path() + "/data", "--format", "csv", "--kind", "items", "--no-progress", bad_header});
  EXPECT_EQ(header.exit_code, 1) << header.out;
  EXPECT_NE(header.out.find(bad_header + ":1: unknown column \"titel\""), std::string::npos) << header.out;

  CommandResult format = RunVitrina({"import", "--data", dir.path() + "/data", "--format", "xml", bad_header});
  EXPECT_EQ(format.exit_code, 2) << format.out;
}

TEST(ImportCliTest, ReadsStdinAndCsvItems) {
  TempDir dir("import_stdin");
  CommandResult result = RunVitrina(
      {"import", "--data", dir.path() + "/data", "--format", "csv", "--kind", "items", "--no-progress", "-"}, {},
      "id,title,price,currency,category\nsku-1,Mug,4.5,EUR,Home > Kitchen\nsku-2,Pot,9,EUR,Home\n");
  EXPECT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find("items       2 new"), std::string::npos) << result.out;
}

TEST(ImportCliTest, DemoSampleImportsAndServes) {
  TempDir dir("import_demo");
  const std::string sample = std::string(VITRINA_SOURCE_DIR) + "/demo/online_retail_sample.csv.zst";
  CommandResult result =
      RunVitrina({"import", "--data", dir.path() + "/data", "--format", "online-retail", "--no-progress", sample});
  ASSERT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find("rows        16,272"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("rejected    0"), std::string::npos) << result.out;

  Server server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.log();
  HttpResult stats = server.Request("GET", "/v1/stats");
  EXPECT_NE(stats.body.find("\"users\":300"), std::string::npos) << stats.body;
  HttpResult item = server.Request("GET", "/v1/items/85123A");
  EXPECT_EQ(item.status, 200);
  EXPECT_NE(item.body.find("WHITE HANGING HEART T-LIGHT HOLDER"), std::string::npos) << item.body;

  // The store is locked while the server runs: import says so.
  CommandResult locked =
      RunVitrina({"import", "--data", dir.path() + "/data", "--format", "online-retail", "--no-progress", sample});
  EXPECT_EQ(locked.exit_code, 1) << locked.out;
  EXPECT_NE(locked.out.find("in use by another Vitrina process"), std::string::npos) << locked.out;
}

TEST(ConfigCliTest, PrintShowsSourcesAndMasksSecrets) {
  TempDir dir("config");
  std::string file = Write(dir, "vitrina.toml", "[server]\nport = 9001\n[storage]\ndurability = \"os\"\n");
  CommandResult result = RunVitrina({"config", "--print", "--config", file, "--server.threads", "3"},
                                    {{"VITRINA_ADMIN_KEY", kAdminKey}});
  ASSERT_EQ(result.exit_code, 0) << result.out;
  EXPECT_NE(result.out.find("port = 9001"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("# file"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("threads = 3"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("# env VITRINA_ADMIN_KEY"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find(kAdminKey), std::string::npos) << "the admin key must be masked";

  std::string typo = Write(dir, "typo.toml", "[server]\nprot = 1\n");
  CommandResult bad = RunVitrina({"config", "--config", typo});
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("did you mean 'server.port'"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace vitrina::e2e
