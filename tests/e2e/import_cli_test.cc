// `vitrina import` and `vitrina config` as a user runs them.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

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
  // Every shopper's recent events are loaded into memory in the background.
  for (int i = 0; i < 200 && stats.body.find("\"loaded\":true") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    stats = server.Request("GET", "/v1/stats");
  }
  // 300 customers and 17 guest invoices (sessions).
  EXPECT_NE(stats.body.find("\"loaded\":true,\"complete\":true,\"actors\":317,"), std::string::npos) << stats.body;
  HttpResult item = server.Request("GET", "/v1/items/85123A");
  EXPECT_EQ(item.status, 200);
  EXPECT_NE(item.body.find("WHITE HANGING HEART T-LIGHT HOLDER"), std::string::npos) << item.body;

  // The store is locked while the server runs: import says so.
  CommandResult locked =
      RunVitrina({"import", "--data", dir.path() + "/data", "--format", "online-retail", "--no-progress", sample});
  EXPECT_EQ(locked.exit_code, 1) << locked.out;
  EXPECT_NE(locked.out.find("in use by another Vitrina process"), std::string::npos) << locked.out;
}

// A generated shop is valid input for import, train and evaluate.
TEST(BenchGenCliTest, GeneratedShopImportsTrainsAndEvaluates) {
  TempDir dir("bench_gen");
  const std::string shop = dir.path() + "/shop";
  CommandResult gen = RunVitrina({"bench", "gen", "--out", shop, "--items", "400", "--users", "300", "--categories",
                                  "20", "--brands", "50", "--requests", "50", "--seed", "3"});
  ASSERT_EQ(gen.exit_code, 0) << gen.out;
  EXPECT_NE(gen.out.find("400 items, 300 shoppers"), std::string::npos) << gen.out;
  const std::string data = dir.path() + "/data";
  CommandResult items = RunVitrina(
      {"import", "--data", data, "--format", "jsonl", "--kind", "items", "--no-progress", shop + "/items.jsonl"});
  ASSERT_EQ(items.exit_code, 0) << items.out;
  EXPECT_NE(items.out.find("items       400 new"), std::string::npos) << items.out;
  CommandResult events =
      RunVitrina({"import", "--data", data, "--format", "jsonl", "--no-progress", shop + "/events.jsonl"});
  ASSERT_EQ(events.exit_code, 0) << events.out;  // nothing rejected
  EXPECT_NE(events.out.find("rejected    0"), std::string::npos) << events.out;
  CommandResult train = RunVitrina({"train", "--data", data, "--no-progress"});
  ASSERT_EQ(train.exit_code, 0) << train.out;
  EXPECT_NE(train.out.find("400 items"), std::string::npos) << train.out;
  // The request mix names generated shoppers.
  std::ifstream paths(shop + "/for_you.paths");
  std::string line;
  int lines = 0;
  while (std::getline(paths, line)) {
    ++lines;
    EXPECT_EQ(line.rfind("/v1/recommendations/for_you?user_id=u", 0), 0u) << line;
  }
  EXPECT_EQ(lines, 50);

  // The S3-Rec layout loads in evaluate.
  CommandResult s3rec = RunVitrina({"bench", "gen", "--out", dir.path() + "/seq", "--format", "s3rec", "--items",
                                    "300", "--users", "200", "--categories", "10"});
  ASSERT_EQ(s3rec.exit_code, 0) << s3rec.out;
  CommandResult evaluate = RunVitrina({"evaluate", "--dataset", dir.path() + "/seq/sequences.txt", "--format", "s3rec",
                                       "--protocol", "loo", "--models", "cooccurrence", "--json"});
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.out;
  EXPECT_NE(evaluate.out.find("\"model\":\"cooccurrence\""), std::string::npos) << evaluate.out;
}

TEST(BenchGenCliTest, BadFlagsExit2AndAnUnwritableDirectoryExits1) {
  TempDir dir("bench_gen_bad");
  EXPECT_EQ(RunVitrina({"bench", "gen", "--out", dir.path(), "--format", "csv"}).exit_code, 2);
  EXPECT_EQ(RunVitrina({"bench", "gen", "--out", dir.path(), "--items", "0"}).exit_code, 2);
  std::ofstream(dir.path() + "/file") << "x";
  CommandResult blocked = RunVitrina({"bench", "gen", "--out", dir.path() + "/file/shop", "--items", "10"});
  EXPECT_EQ(blocked.exit_code, 1) << blocked.out;
  EXPECT_NE(blocked.out.find("cannot create"), std::string::npos) << blocked.out;
}

TEST(SequenceModelsCliTest, EvaluateTrainsSasRecAndGru4RecAndBenchScoreTimesThem) {
  TempDir dir("sequence_models");
  ASSERT_EQ(RunVitrina({"bench", "gen", "--out", dir.path(), "--format", "s3rec", "--items", "300", "--users", "300",
                        "--categories", "10", "--sessions-per-user", "4"})
                .exit_code,
            0);
  CommandResult evaluate = RunVitrina(
      {"evaluate", "--dataset", dir.path() + "/sequences.txt", "--format", "s3rec", "--protocol", "loo", "--models",
       "sasrec,gru4rec", "--json", "--models.sasrec.max_epochs", "3", "--models.sasrec.dim", "16",
       "--models.gru4rec.max_epochs", "3", "--models.gru4rec.hidden", "16", "--models.gru4rec.samples", "50"});
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.out;
  for (const char* model : {"\"model\":\"sasrec\"", "\"model\":\"gru4rec\""}) {
    EXPECT_NE(evaluate.out.find(model), std::string::npos) << evaluate.out;
  }
  EXPECT_EQ(evaluate.out.find("\"error\""), std::string::npos) << evaluate.out;
  EXPECT_NE(evaluate.out.find("sasrec: epoch 3"), std::string::npos) << evaluate.out;  // progress per epoch

  CommandResult score = RunVitrina({"bench", "score", "--model", "gru4rec", "--items", "200", "--history", "10",
                                    "--requests", "20"});
  ASSERT_EQ(score.exit_code, 0) << score.out;
  EXPECT_NE(score.out.find("score latency ms (one thread, 20 calls)"), std::string::npos) << score.out;
  CommandResult unknown = RunVitrina({"bench", "score", "--model", "nope", "--items", "10"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("unknown model 'nope'"), std::string::npos) << unknown.out;
  EXPECT_EQ(RunVitrina({"evaluate", "--dataset", dir.path() + "/sequences.txt", "--format", "s3rec", "--protocol",
                        "loo", "--models", "gru4rec", "--models.gru4rec.loss", "top1"})
                .exit_code,
            2);
}

// The number after `"key":` in a JSON text (the first occurrence).
double NumberAfter(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::stod(json.substr(at + key.size() + 3));
}

TEST(SequenceModelsCliTest, TheApproximateIndexRanksAsExactlyAsItIsMeasured) {
  TempDir dir("sequence_index");
  ASSERT_EQ(RunVitrina({"bench", "gen", "--out", dir.path(), "--format", "s3rec", "--items", "300", "--users", "300",
                        "--categories", "10", "--sessions-per-user", "4"})
                .exit_code,
            0);
  const std::vector<std::string> evaluate = {
      "evaluate", "--dataset", dir.path() + "/sequences.txt", "--format", "s3rec", "--protocol", "loo", "--models",
      "sasrec", "--json", "--models.sasrec.max_epochs", "10", "--models.sasrec.dim", "16"};
  CommandResult exact = RunVitrina(evaluate);
  ASSERT_EQ(exact.exit_code, 0) << exact.out;
  std::vector<std::string> indexed_args = evaluate;
  indexed_args.insert(indexed_args.end(), {"--models.ann.exact_up_to", "0"});
  CommandResult indexed = RunVitrina(indexed_args);
  ASSERT_EQ(indexed.exit_code, 0) << indexed.out;
  // 300 items and ef_search 384: the search sees every item, so the index
  // must rank as exact scoring does.
  const double exact_ndcg = NumberAfter(exact.out, "ndcg@10"), indexed_ndcg = NumberAfter(indexed.out, "ndcg@10");
  EXPECT_GT(exact_ndcg, 0.05) << exact.out;
  EXPECT_NEAR(indexed_ndcg, exact_ndcg, 0.005) << indexed.out;

  CommandResult bench = RunVitrina({"bench", "score", "--model", "gru4rec", "--items", "300", "--history", "10",
                                    "--requests", "50", "--ann", "--k", "10", "--models.gru4rec.hidden", "16"});
  ASSERT_EQ(bench.exit_code, 0) << bench.out;
  EXPECT_NE(bench.out.find("index: 300 x 17"), std::string::npos) << bench.out;  // [embedding, bias]
  const size_t at = bench.out.find("recall@10 of the index against exact ranking: mean ");
  ASSERT_NE(at, std::string::npos) << bench.out;
  EXPECT_GE(std::stod(bench.out.substr(at + 51)), 0.99) << bench.out;
  CommandResult missing = RunVitrina({"bench", "score", "--dataset", dir.path() + "/absent.txt"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("absent.txt"), std::string::npos) << missing.out;
  EXPECT_EQ(RunVitrina({"bench", "score", "--dataset", dir.path() + "/sequences.txt", "--format", "csv"}).exit_code, 2);
  CommandResult no_index = RunVitrina({"bench", "score", "--model", "cooccurrence", "--items", "50", "--ann"});
  EXPECT_EQ(no_index.exit_code, 2);
  EXPECT_NE(no_index.out.find("has no approximate index"), std::string::npos) << no_index.out;
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
