#include "serving/exploration.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "serving/served_log.h"

namespace vitrina {
namespace {

constexpr int64_t kHour = 3600000;
constexpr int64_t kNow = 1700000000000;

TEST(ExplorerTest, ExploresTheConfiguredShareOfSlots) {
  Explorer explorer({.share = 0.1, .shares = {{"for_you", 0.3}, {"trending", 0}}, .seed = 7});
  EXPECT_EQ(explorer.ShareFor("similar"), 0.1);
  EXPECT_EQ(explorer.ShareFor("for_you"), 0.3);
  size_t explored = 0, slots = 0;
  for (int request = 0; request < 2000; ++request) {
    for (bool explore : explorer.PickSlots("for_you", 10)) explored += explore;
    slots += 10;
  }
  EXPECT_NEAR(static_cast<double>(explored) / static_cast<double>(slots), 0.3, 0.015);
  for (bool explore : explorer.PickSlots("trending", 100)) EXPECT_FALSE(explore);
}

TEST(ExplorerTest, ThompsonSamplingFavoursTheArmThatGetsClicks) {
  Explorer explorer({.seed = 11});
  const std::vector<std::string_view> arms = {"als", "cooccurrence", "trending"};
  // Before any feedback every arm is as likely.
  std::map<size_t, int> wins;
  for (int i = 0; i < 3000; ++i) ++wins[explorer.ChooseArm("for_you", arms, kNow).arm];
  for (size_t a = 0; a < arms.size(); ++a) EXPECT_NEAR(wins[a] / 3000.0, 1.0 / 3, 0.05) << arms[a];
  // Each arm shown 200 times; cooccurrence clicked 40 times, the others 4.
  for (std::string_view arm : arms) explorer.RecordImpressions("for_you", arm, 200, kNow);
  for (int i = 0; i < 40; ++i) explorer.RecordReward("for_you", "cooccurrence", kNow);
  for (int i = 0; i < 4; ++i) {
    explorer.RecordReward("for_you", "als", kNow);
    explorer.RecordReward("for_you", "trending", kNow);
  }
  wins.clear();
  double probability = 0;
  for (int i = 0; i < 1000; ++i) {
    Explorer::Choice choice = explorer.ChooseArm("for_you", arms, kNow);
    ++wins[choice.arm];
    if (choice.arm == 1) probability = choice.probability;
  }
  EXPECT_GT(wins[1], 980);
  EXPECT_GT(probability, 0.95);
  EXPECT_LE(probability, 1.0);
  // Another scenario has its own arms.
  EXPECT_NEAR(explorer.ChooseArm("similar", {"als"}, kNow).probability, 1.0, 1e-9);
}

TEST(ExplorerTest, CountsDecayWithTheHalfLife) {
  Explorer explorer({.half_life_hours = 2, .seed = 3});
  explorer.RecordImpressions("cart", "ease", 100, kNow);
  for (int i = 0; i < 10; ++i) explorer.RecordReward("cart", "ease", kNow);
  std::vector<Explorer::ArmStats> stats = explorer.Stats(kNow + 2 * kHour);
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].scenario, "cart");
  EXPECT_EQ(stats[0].arm, "ease");
  EXPECT_NEAR(stats[0].impressions, 50, 1e-9);
  EXPECT_NEAR(stats[0].clicks, 5, 1e-9);
}

TEST(ExplorerTest, SharesParseOrSayWhatIsWrong) {
  std::map<std::string, double> shares;
  ASSERT_TRUE(ParseExplorationShares(" for_you=0.2, trending = 0 ", &shares).ok());
  EXPECT_EQ(shares.size(), 2u);
  EXPECT_EQ(shares["trending"], 0);
  EXPECT_FALSE(ParseExplorationShares("for_you", &shares).ok());
  EXPECT_FALSE(ParseExplorationShares("for_you=1.5", &shares).ok());
  EXPECT_FALSE(ParseExplorationShares("=0.1", &shares).ok());
  EXPECT_TRUE(ParseExplorationShares("", &shares).ok());
  EXPECT_TRUE(shares.empty());
}

TEST(ServedLogTest, RewardsOnceAndWritesEveryListWithPropensities) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("vitrina-served-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  ManualClock clock(kNow);
  {
    ServedLog log({.dir = dir, .memory_lists = 2, .retention_days = 3}, &clock);
    ASSERT_TRUE(log.Open().ok());
    // An old day's file, past the retention, is pruned.
    std::ofstream(dir + "/served-2020-01-01.jsonl") << "{}\n";
    log.Record({.recommendation_id = "rec_1", .at_ms = kNow, .scenario = "for_you", .user_id = "u1",
                .items = {{.item_id = "a", .source = "als"}, {.item_id = "b", .source = "trending", .explored = true, .propensity = 0.05}}});
    auto claim = log.ClaimReward("rec_1", "b");
    ASSERT_TRUE(claim.has_value());
    EXPECT_EQ(claim->scenario, "for_you");
    EXPECT_EQ(claim->source, "trending");
    EXPECT_FALSE(log.ClaimReward("rec_1", "b").has_value());  // once
    EXPECT_FALSE(log.ClaimReward("rec_1", "z").has_value());  // not shown
    EXPECT_FALSE(log.ClaimReward("rec_9", "a").has_value());  // unknown list
    log.Record({.recommendation_id = "rec_2", .at_ms = kNow, .scenario = "cart"});
    log.Record({.recommendation_id = "rec_3", .at_ms = kNow, .scenario = "cart"});
    EXPECT_FALSE(log.ClaimReward("rec_1", "a").has_value());  // evicted: memory holds 2 lists
    log.Flush();
    EXPECT_EQ(log.stats().recorded, 3u);
    EXPECT_EQ(log.stats().written, 3u);
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/served-2020-01-01.jsonl"));
  // The ranker's training reads them back, joined with what was taken.
  DatasetBuilder builder;
  builder.AddItem(ItemMeta{.id = "a"});
  builder.AddItem(ItemMeta{.id = "b"});
  builder.AddEvent(Event{.type = EventType::kView, .user_id = "u1", .item_id = "a", .timestamp_ms = kNow - 1000}, false);
  builder.AddEvent(Event{.type = EventType::kClick, .user_id = "u1", .item_id = "b", .timestamp_ms = kNow + 1000,
                         .recommendation_id = "rec_1"},
                   false);
  ASSERT_TRUE(ReadServedLists(dir, &builder).ok());
  const Dataset data = std::move(builder).Finish();
  ASSERT_EQ(data.impressions.size(), 1u);  // rec_2 and rec_3 have no shopper
  EXPECT_EQ(data.impressions[0].shown, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(data.impressions[0].taken, (std::vector<uint32_t>{1}));
  EXPECT_EQ(data.impressions[0].time_ms, kNow);
  EXPECT_TRUE(ReadServedLists(dir + "/missing", &builder).ok());

  std::ifstream file(dir + "/served-2023-11-14.jsonl");
  ASSERT_TRUE(file.good());
  std::stringstream text;
  text << file.rdbuf();
  const std::string lines = text.str();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 3);
  EXPECT_NE(lines.find(R"("recommendation_id":"rec_1")"), std::string::npos) << lines;
  EXPECT_NE(lines.find(R"({"item_id":"b","position":2,"source":"trending","explored":true,"propensity":0.05)"),
            std::string::npos)
      << lines;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vitrina
