#include "experiments/experiment.h"

#include <gtest/gtest.h>

#include <map>

#include "experiments/experiment_book.h"
#include "storage/store.h"

namespace vitrina {
namespace {

const std::vector<std::string> kScenarios = {"for_you", "similar", "trending"};
const std::vector<std::string> kModels = {"pipeline", "als", "trending"};
constexpr int64_t kNow = 1'764'000'000'000;

std::optional<Experiment> Parse(std::string_view json, FieldError* error) {
  return ParseExperiment(json, kScenarios, kModels, kNow, error);
}

constexpr std::string_view kGood = R"({"id":"ranker-vs-pop","name":"ranker vs popularity","scenarios":["for_you"],
  "holdout":0.1,"variants":[{"name":"control","share":1,"settings":{"for_you":{"model":"trending"}}},
  {"name":"ranker","share":1,"settings":{"for_you":{"model":"pipeline","rules":false}}}]})";

TEST(ExperimentTest, ParsesAndWritesBack) {
  FieldError error;
  std::optional<Experiment> experiment = Parse(kGood, &error);
  ASSERT_TRUE(experiment) << error.field << ": " << error.message;
  EXPECT_EQ(experiment->id, "ranker-vs-pop");
  EXPECT_EQ(experiment->start_ms, kNow);
  ASSERT_EQ(experiment->variants.size(), 2u);
  EXPECT_DOUBLE_EQ(experiment->variants[0].share, 0.5);  // normalized
  EXPECT_EQ(experiment->variants[0].settings.at("for_you").model, "trending");
  EXPECT_EQ(experiment->variants[1].settings.at("for_you").rules, false);
  EXPECT_FALSE(experiment->variants[1].settings.at("for_you").ranker.has_value());

  experiment->created_ms = kNow + 5;
  experiment->stopped_ms = kNow + 1000;
  std::string json;
  JsonWriter w(&json);
  WriteExperimentJson(*experiment, &w);
  std::optional<Experiment> back = ReadStoredExperiment(json, &error);
  ASSERT_TRUE(back) << error.field << ": " << error.message << " in " << json;
  EXPECT_EQ(*back, *experiment);
  EXPECT_EQ(back->StatusAt(kNow + 999), "running");
  EXPECT_EQ(back->StatusAt(kNow + 1000), "stopped");
  EXPECT_EQ(back->StatusAt(kNow - 1), "scheduled");
}

TEST(ExperimentTest, BadDefinitionsNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([1])", ""},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b"}],"holdot":0.1})", "holdot"},
      {R"({"scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b"}]})", "name"},
      {R"({"name":"x","variants":[{"name":"a"},{"name":"b"}]})", "scenarios"},
      {R"({"name":"x","scenarios":["for_you","nope"],"variants":[{"name":"a"},{"name":"b"}]})", "scenarios[1]"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"}]})", "variants"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"a"}]})", "variants[1].name"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b","share":-1}]})", "variants[1].share"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"holdout"}]})", "variants[1].name"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b","settings":{"similar":{}}}]})",
       "variants[1].settings.similar"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b","settings":{"for_you":{"model":"gpt"}}}]})",
       "variants[1].settings.for_you.model"},
      {R"({"name":"x","scenarios":["similar"],"variants":[{"name":"a"},{"name":"b","settings":{"similar":{"model":"als"}}}]})",
       "variants[1].settings.similar.model"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b","settings":{"for_you":{"rankr":true}}}]})",
       "variants[1].settings.for_you.rankr"},
      {R"({"name":"x","scenarios":["for_you"],"holdout":1,"variants":[{"name":"a"},{"name":"b"}]})", "holdout"},
      {R"({"name":"x","scenarios":["for_you"],"unit":"device","variants":[{"name":"a"},{"name":"b"}]})", "unit"},
      {R"({"name":"x","scenarios":["for_you"],"start":"2026-12-02T00:00:00Z","stop":"2026-12-01T00:00:00Z",
          "variants":[{"name":"a"},{"name":"b"}]})", "stop"},
      {R"({"name":"x","scenarios":["for_you"],"start":"soon","variants":[{"name":"a"},{"name":"b"}]})", "start"},
      {R"({"name":"x","scenarios":["for_you"],"cuped_days":2.5,"variants":[{"name":"a"},{"name":"b"}]})", "cuped_days"},
      {R"({"name":"x","scenarios":["for_you"],"stop":"2020-01-01T00:00:00Z","variants":[{"name":"a"},{"name":"b"}]})",
       "stop"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a","share":1e300},{"name":"b"}]})", "variants[0].share"},
      {R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b","settings":{"for_you":{"model":"pipeline","ranker":false}}}]})",
       "variants[1].settings.for_you.ranker"},
  };
  for (const auto& [json, field] : cases) {
    FieldError error;
    EXPECT_FALSE(Parse(json, &error)) << json;
    EXPECT_EQ(error.field, field) << json << " -> " << error.message;
    EXPECT_FALSE(error.message.empty());
  }
  FieldError error;
  Parse(R"({"name":"x","scenarios":["for_you"],"variants":[{"name":"a"},{"name":"b"}],"holdot":0.1})", &error);
  EXPECT_NE(error.message.find("did you mean 'holdout'"), std::string::npos) << error.message;
  // One variant against a holdout is a test of personalization itself.
  EXPECT_TRUE(Parse(R"({"name":"x","scenarios":["for_you"],"holdout":0.2,"variants":[{"name":"a"}]})", &error));
}

TEST(ExperimentTest, AssignmentIsStableAndFollowsTheShares) {
  FieldError error;
  std::optional<Experiment> experiment = Parse(kGood, &error);  // holdout 0.1, then 45% / 45%
  ASSERT_TRUE(experiment);
  std::map<std::string, int> counts;
  constexpr int kUnits = 100000;
  for (int i = 0; i < kUnits; ++i) {
    const std::string unit = UnitId(ExperimentUnit::kUser, "user" + std::to_string(i), "");
    const Assignment first = Assign(*experiment, unit);
    const Assignment again = Assign(*experiment, unit);
    ASSERT_EQ(first.group, again.group);
    ++counts[std::string(first.group_name())];
  }
  // Binomial sd at n=100k is under 0.0016; 0.006 is about four of them.
  EXPECT_NEAR(counts["holdout"] / double(kUnits), 0.10, 0.006);
  EXPECT_NEAR(counts["control"] / double(kUnits), 0.45, 0.006);
  EXPECT_NEAR(counts["ranker"] / double(kUnits), 0.45, 0.006);
  // Shops often number their customers: consecutive numeric ids split as evenly.
  counts.clear();
  for (int i = 0; i < kUnits; ++i) ++counts[std::string(Assign(*experiment, "u:" + std::to_string(12346 + i)).group_name())];
  EXPECT_NEAR(counts["holdout"] / double(kUnits), 0.10, 0.006);
  EXPECT_NEAR(counts["control"] / double(kUnits), 0.45, 0.006);

  // Another salt reshuffles: about half the units change group between two
  // 50/50 experiments, as independent splits should.
  Experiment other = *experiment;
  other.salt = "another";
  other.holdout = 0;
  Experiment same = other;
  same.salt = experiment->id;
  int moved = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string unit = "u:user" + std::to_string(i);
    moved += Assign(other, unit).group != Assign(same, unit).group;
  }
  EXPECT_NEAR(moved / 10000.0, 0.5, 0.03);
}

TEST(ExperimentTest, UnitIsTheUserElseTheSession) {
  EXPECT_EQ(UnitId(ExperimentUnit::kUser, "u1", "s1"), "u:u1");
  EXPECT_EQ(UnitId(ExperimentUnit::kUser, "", "s1"), "s:s1");
  EXPECT_EQ(UnitId(ExperimentUnit::kSession, "u1", "s1"), "s:s1");
  EXPECT_EQ(UnitId(ExperimentUnit::kSession, "u1", ""), "");
}

TEST(ExperimentBookTest, CreatesRefusesOverlapsStopsAndReloads) {
  ManualClock clock(kNow);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  ExperimentBook book(store.get(), &clock);
  ASSERT_TRUE(book.Load().ok());
  FieldError error;
  std::optional<Experiment> first = Parse(kGood, &error);
  ASSERT_TRUE(first);
  ASSERT_TRUE(book.Create(*first).ok());
  EXPECT_EQ(book.Create(*first).status().code(), StatusCode::kAlreadyExists);

  Experiment overlapping = *first;
  overlapping.id = "second";
  auto refused = book.Create(overlapping);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("ranker-vs-pop"), std::string::npos);
  overlapping.scenarios = {"similar"};
  overlapping.variants[0].settings.clear();
  overlapping.variants[1].settings.clear();
  auto created = book.Create(overlapping);
  ASSERT_TRUE(created.ok()) << created.status().message();

  auto assigned = book.Assign("for_you", "alice", "", kNow + 1);
  ASSERT_TRUE(assigned);
  EXPECT_EQ(assigned->assignment.experiment->id, "ranker-vs-pop");
  EXPECT_EQ(assigned->unit_id, "u:alice");
  EXPECT_FALSE(book.Assign("trending", "alice", "", kNow + 1));
  EXPECT_FALSE(book.Assign("for_you", "", "", kNow + 1));

  clock.Set(kNow + 60000);
  auto stopped = book.Stop("ranker-vs-pop");
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->stopped_ms, kNow + 60000);
  EXPECT_EQ(book.Stop("ranker-vs-pop").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(book.Stop("nope").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(book.Assign("for_you", "alice", "", kNow + 60000));
  // After the stop, for_you is free again.
  Experiment next = *first;
  next.id = "next";
  next.start_ms = kNow + 60000;
  EXPECT_TRUE(book.Create(next).ok());

  ExperimentBook reloaded(store.get(), &clock);
  ASSERT_TRUE(reloaded.Load().ok());
  ASSERT_EQ(reloaded.current()->experiments().size(), 3u);
  EXPECT_EQ(*reloaded.current()->Find("ranker-vs-pop"), *stopped);
  EXPECT_EQ(reloaded.current()->Serving("for_you", kNow + 70000)->id, "next");
}

// One experiment document that cannot be read is moved aside; the others run.
TEST(ExperimentBookTest, AnUnreadableExperimentIsMovedAsideAndTheOthersLoad) {
  ManualClock clock(kNow);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  {
    ExperimentBook book(store.get(), &clock);
    ASSERT_TRUE(book.Load().ok());
    FieldError error;
    std::optional<Experiment> first = Parse(kGood, &error);
    ASSERT_TRUE(first);
    ASSERT_TRUE(book.Create(*first).ok());
  }
  ASSERT_TRUE(store->PutDocuments({{"experiments/broken", "{\"id\":\"broken\",\"name\":"}}).ok());
  ExperimentBook book(store.get(), &clock);
  std::vector<std::string> problems;
  ASSERT_TRUE(book.Load(&problems).ok());
  ASSERT_EQ(book.current()->experiments().size(), 1u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("experiments/broken"), std::string::npos) << problems[0];
  EXPECT_TRUE(store->GetDocument("experiments/broken").status().IsNotFound());
  EXPECT_TRUE(store->GetDocument("unreadable/experiments/broken@" + std::to_string(kNow)).ok());
}

}  // namespace
}  // namespace vitrina
