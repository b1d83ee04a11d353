#include <gtest/gtest.h>

#include <random>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "ranking/pipeline.h"
#include "serving/model_manager.h"
#include "serving/recommend.h"

namespace vitrina {
namespace {

constexpr int64_t kDay = 86400000;
constexpr int64_t kStart = 1700000000000;

TEST(MergeActivityTest, EventsInBothListsCountOnceAndTheRestInterleaveByTime) {
  // B and A carry both ids (in both lists); C and D only the session's; D
  // happened at the same moment as A but is another item.
  RecentActivity user, session;
  user.lines = {{.timestamp_ms = 30, .item_id = "B"}, {.timestamp_ms = 10, .item_id = "A"}};
  session.lines = {{.timestamp_ms = 30, .item_id = "B"},
                   {.timestamp_ms = 20, .type = EventType::kAddToCart, .item_id = "C"},
                   {.timestamp_ms = 10, .item_id = "A"},
                   {.timestamp_ms = 10, .item_id = "D"}};
  std::vector<std::string> merged;
  for (const ActivityLine* line : MergeActivity(user, session)) merged.emplace_back(line->item_id);
  EXPECT_EQ(merged, (std::vector<std::string>{"B", "C", "A", "D"}));
  // The same item and time but another type is another action.
  session.lines = {{.timestamp_ms = 30, .type = EventType::kClick, .item_id = "B"}};
  EXPECT_EQ(MergeActivity(user, session).size(), 3u);
  EXPECT_EQ(MergeActivity(user, RecentActivity{}).size(), 2u);
  EXPECT_EQ(MergeActivity(RecentActivity{}, session).size(), 1u);
}

class ServingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("vitrina-serving-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    clock_.Set(kStart + 60 * kDay);
    store_ = NewMemoryStore(&clock_);
    // Two kinds of things: mugs (m0..m5) and tents (t0..t5), priced 10..60.
    WriteBatch batch;
    for (int i = 0; i < 6; ++i) {
      batch.UpsertItem(Item{.id = "m" + std::to_string(i), .title = "Mug " + std::to_string(i), .category = {"Home", "Mugs"},
                            .brand = "Acme", .price = 10.0 * (i + 1), .stock = 5});
      batch.UpsertItem(Item{.id = "t" + std::to_string(i), .title = "Tent " + std::to_string(i), .category = {"Outdoor", "Tents"},
                            .brand = "Trek", .price = 10.0 * (i + 1), .stock = 5});
    }
    // Shoppers view m0 -> m1 -> m2 and t0 -> t1 -> t2, and buy m0 with m3.
    for (int u = 0; u < 20; ++u) {
      std::string kind = u % 2 == 0 ? "m" : "t";
      std::string user = "u" + std::to_string(u);
      for (int step = 0; step < 3; ++step) {
        batch.AppendEvent(Event{.type = EventType::kView, .user_id = user, .session_id = "s" + user,
                                .item_id = kind + std::to_string(step), .timestamp_ms = kStart + u * kDay + step});
      }
      batch.AppendEvent(Event{.type = EventType::kPurchase, .user_id = user, .session_id = "s" + user,
                              .lines = {{.item_id = kind + "0", .price = 10}, {.item_id = kind + "3", .price = 40}},
                              .timestamp_ms = kStart + u * kDay + 10});
    }
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(store_->Write(&batch, &outcomes).ok());
    ModelManagerOptions options;
    options.dir = dir_;
    options.train.models = {"trending", "cooccurrence", "als", "content"};
    options.train.model_options.als.factors = 8;
    options.train.model_options.content.max_document_frequency = 0.6;
    manager_ = std::make_unique<ModelManager>(store_.get(), &clock_, options);
    ASSERT_TRUE(manager_->Open().ok());
    service_ = std::make_unique<RecommendationService>(store_.get(), manager_.get(), &clock_, RecommendOptions{});
  }
  void TearDown() override {
    manager_.reset();
    std::filesystem::remove_all(dir_);
  }


 public:
  const std::string& dir() const { return dir_; }
  Store* store() { return store_.get(); }
  ManualClock* clock() { return &clock_; }
  void View(const std::string& user, const std::string& item, int64_t at) {
    WriteBatch batch;
    batch.AppendEvent(Event{.type = EventType::kView, .user_id = user, .item_id = item, .timestamp_ms = at});
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(store_->Write(&batch, &outcomes).ok());
  }


 protected:
  std::vector<std::string> Ids(const RecommendResponse& response) {
    std::vector<std::string> ids;
    for (const auto& item : response.items) ids.push_back(item.item_id);
    return ids;
  }

  std::string dir_;
  ManualClock clock_{0};
  std::unique_ptr<Store> store_;
  std::unique_ptr<ModelManager> manager_;
  std::unique_ptr<RecommendationService> service_;
};

TEST_F(ServingTest, NoSnapshotMeansUnavailableExceptRecentlyViewed) {
  auto result = service_->Recommend({.scenario = Scenario::kTrending});
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  View("new", "m1", kStart + 61 * kDay);
  auto recent = service_->Recommend({.scenario = Scenario::kRecentlyViewed, .user_id = "new"});
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(Ids(*recent), std::vector<std::string>{"m1"});
}

TEST_F(ServingTest, ScenariosAnswerWithReasons) {
  auto trained = manager_->TrainNow(nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status().message();
  EXPECT_EQ(trained->items, 12u);
  EXPECT_FALSE(trained->metrics.empty());

  // A shopper who just viewed m1 gets m2 next, because of m1.
  View("fresh", "m1", kStart + 61 * kDay);
  auto for_you = service_->Recommend({.scenario = Scenario::kForYou, .user_id = "fresh", .n = 3});
  ASSERT_TRUE(for_you.ok()) << for_you.status().message();
  ASSERT_FALSE(for_you->items.empty());
  // What follows m1 (m2) or sells with it (m0), explained by m1.
  std::vector<std::string> ids = Ids(*for_you);
  EXPECT_TRUE(ids[0] == "m2" || (ids.size() > 1 && ids[1] == "m2")) << ids[0];
  EXPECT_EQ(for_you->items[0].item_id[0], 'm');
  EXPECT_EQ(for_you->items[0].reason, "often viewed with Mug 1, which you viewed");
  EXPECT_EQ(for_you->items[0].reason_item_id, "m1");
  EXPECT_EQ(for_you->recommendation_id.size(), 36u);
  for (const auto& item : for_you->items) EXPECT_NE(item.item_id, "m1");  // seen already

  // Real time: one more view changes the next answer.
  View("fresh", "t1", kStart + 61 * kDay + 5);
  for_you = service_->Recommend({.scenario = Scenario::kForYou, .user_id = "fresh", .n = 3});
  ASSERT_TRUE(for_you.ok());
  // What follows the tent just viewed joins the list, explained by it.
  auto t2 = std::find_if(for_you->items.begin(), for_you->items.end(),
                         [](const RecommendedItem& item) { return item.item_id == "t2"; });
  ASSERT_NE(t2, for_you->items.end());
  EXPECT_EQ(t2->reason, "often viewed with Tent 1, which you viewed");
  EXPECT_EQ(t2->reason_item_id, "t1");

  // A new shopper gets trending, optionally per category.
  auto cold = service_->Recommend({.scenario = Scenario::kForYou, .session_id = "nobody", .n = 2});
  ASSERT_TRUE(cold.ok());
  ASSERT_EQ(cold->items.size(), 2u);
  EXPECT_EQ(cold->items[0].model, "trending");
  EXPECT_EQ(cold->items[0].reason, "popular this week");
  auto tents = service_->Recommend({.scenario = Scenario::kTrending, .n = 3, .category = "tents"});
  ASSERT_TRUE(tents.ok());
  ASSERT_EQ(tents->items.size(), 3u);
  for (const auto& item : tents->items) EXPECT_EQ(item.item_id[0], 't');
  EXPECT_EQ(tents->items[0].reason, "popular in tents this week");

  // Bought together: m0 goes with m3; the cart never repeats its items.
  auto together = service_->Recommend({.scenario = Scenario::kBoughtTogether, .item_id = "m0", .n = 1});
  ASSERT_TRUE(together.ok());
  ASSERT_EQ(Ids(*together), std::vector<std::string>{"m3"});
  EXPECT_EQ(together->items[0].reason, "often bought with Mug 0");
  auto cart = service_->Recommend({.scenario = Scenario::kCart, .cart_items = {"m0", "m3"}, .n = 5});
  ASSERT_TRUE(cart.ok());
  for (const auto& item : cart->items) EXPECT_TRUE(item.item_id != "m0" && item.item_id != "m3");

  // Similar: the same kind of thing.
  auto similar = service_->Recommend({.scenario = Scenario::kSimilar, .item_id = "t4", .n = 3});
  ASSERT_TRUE(similar.ok());
  ASSERT_EQ(similar->items.size(), 3u);
  for (const auto& item : similar->items) EXPECT_EQ(item.item_id[0], 't');

  // Upsell: a pricier mug, within the band of a shopper who paid up to 40.
  auto upsell = service_->Recommend({.scenario = Scenario::kUpsell, .user_id = "u0", .item_id = "m1", .n = 5});
  ASSERT_TRUE(upsell.ok());
  ASSERT_FALSE(upsell->items.empty());
  for (const auto& item : upsell->items) {
    EXPECT_EQ(item.item_id[0], 'm');
    EXPECT_GT(*item.price, 20);
    EXPECT_LE(*item.price, 50);  // 1.25 * 40
    EXPECT_NE(item.item_id, "m3");  // u0 bought it
  }

  // Filters.
  auto cheap = service_->Recommend({.scenario = Scenario::kTrending, .n = 12, .max_price = 20});
  ASSERT_TRUE(cheap.ok());
  for (const auto& item : cheap->items) EXPECT_LE(*item.price, 20);

  // Errors name the field.
  auto missing = service_->Recommend({.scenario = Scenario::kSimilar});
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message().rfind("item_id:", 0), 0u);
  // An item the catalog does not hold: an empty list that says so.
  auto unknown = service_->Recommend({.scenario = Scenario::kSimilar, .item_id = "nope"});
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->items.empty());
  ASSERT_TRUE(unknown->empty_reason.has_value());
  EXPECT_EQ(unknown->empty_reason->code, "unknown_item");
}

TEST_F(ServingTest, NewItemsGetContentNeighboursAlsoOnTheirPage) {
  ASSERT_TRUE(manager_->TrainNow(nullptr).ok());
  WriteBatch batch;
  batch.UpsertItem(Item{.id = "t9", .title = "Tent 9 ultralight", .category = {"Outdoor", "Tents"}, .brand = "Trek",
                        .price = 99});
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE(store_->Write(&batch, &outcomes).ok());
  auto similar = service_->Recommend({.scenario = Scenario::kSimilar, .item_id = "t9", .n = 3});
  ASSERT_TRUE(similar.ok()) << similar.status().message();
  ASSERT_EQ(similar->items.size(), 3u);
  for (const auto& item : similar->items) {
    EXPECT_EQ(item.item_id[0], 't');
    EXPECT_EQ(item.model, "content");
  }
  // for_you on its page too.
  auto page = service_->Recommend({.scenario = Scenario::kForYou, .item_id = "t9", .n = 3});
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->items.size(), 3u);
  for (const auto& item : page->items) {
    EXPECT_EQ(item.item_id[0], 't');
    EXPECT_EQ(item.model, "content");
    EXPECT_EQ(item.reason, "similar to Tent 9 ultralight, which you are viewing");
  }
}

TEST_F(ServingTest, ForYouReadsThePageItemAsTheNewestContext) {
  ASSERT_TRUE(manager_->TrainNow(nullptr).ok());
  // On Mug 1's page without any history: what goes with it, never the page's item.
  auto page = service_->Recommend({.scenario = Scenario::kForYou, .item_id = "m1", .n = 3});
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_EQ(page->items[0].item_id[0], 'm');
  EXPECT_EQ(page->items[0].reason, "often viewed with Mug 1, which you are viewing");
  EXPECT_EQ(page->items[0].reason_item_id, "m1");
  for (const auto& item : page->items) EXPECT_NE(item.item_id, "m1");

  // A shopper who browsed tents, now on a mug's page: the page comes first.
  View("camper", "t1", kStart + 61 * kDay);
  auto tents = service_->Recommend({.scenario = Scenario::kForYou, .user_id = "camper", .n = 1});
  ASSERT_TRUE(tents.ok());
  EXPECT_EQ(tents->items[0].item_id[0], 't');
  auto mug_page = service_->Recommend({.scenario = Scenario::kForYou, .user_id = "camper", .item_id = "m1", .n = 1});
  ASSERT_TRUE(mug_page.ok());
  EXPECT_EQ(mug_page->items[0].item_id[0], 'm');
  EXPECT_EQ(mug_page->items[0].reason_item_id, "m1");

  // A page item the catalog does not hold yet is no context: the shopper's own history answers.
  auto unknown = service_->Recommend({.scenario = Scenario::kForYou, .user_id = "camper", .item_id = "nope"});
  ASSERT_TRUE(unknown.ok());
  ASSERT_FALSE(unknown->items.empty());
  EXPECT_EQ(unknown->items[0].item_id[0], 't');
  // Without a page, for_you still needs a shopper.
  EXPECT_EQ(service_->Recommend({.scenario = Scenario::kForYou}).status().code(), StatusCode::kInvalidArgument);
}

TEST(SnapshotTest, TooLittleDataForTheRankerTrainsTheRestWithoutIt) {
  ManualClock clock(kStart);
  std::unique_ptr<Store> store = NewMemoryStore(&clock);
  WriteBatch batch;
  for (const char* id : {"a", "b", "c"}) batch.UpsertItem(Item{.id = id, .title = id});
  batch.AppendEvent(Event{.type = EventType::kView, .user_id = "only", .session_id = "s", .item_id = "a",
                          .timestamp_ms = kStart - 10});
  batch.AppendEvent(Event{.type = EventType::kView, .user_id = "only", .session_id = "s", .item_id = "b",
                          .timestamp_ms = kStart - 5});
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE(store->Write(&batch, &outcomes).ok());
  ModelManagerOptions options;
  options.dir = (std::filesystem::temp_directory_path() / ("vitrina-no-ranker-" + std::to_string(::getpid()))).string();
  options.train.models = {"trending", "cooccurrence", "pipeline"};
  {
    ModelManager manager(store.get(), &clock, options);
    ASSERT_TRUE(manager.Open().ok());
    auto trained = manager.TrainNow(nullptr);
    ASSERT_TRUE(trained.ok()) << trained.status().message();
    EXPECT_EQ(trained->models, (std::vector<std::string>{"trending", "cooccurrence"}));
    ASSERT_NE(manager.current(), nullptr);
    EXPECT_EQ(manager.current()->model("pipeline"), nullptr);
    RecommendationService service(store.get(), &manager, &clock, RecommendOptions{});
    auto for_you = service.Recommend({.scenario = Scenario::kForYou, .user_id = "only", .n = 1});
    ASSERT_TRUE(for_you.ok()) << for_you.status().message();
    EXPECT_FALSE(for_you->ranked);
    // A restart loads the snapshot as saved, without the ranker.
    ModelManager reopened(store.get(), &clock, options);
    ASSERT_TRUE(reopened.Open().ok());
    ASSERT_NE(reopened.current(), nullptr);
    EXPECT_EQ(reopened.current()->info().models, (std::vector<std::string>{"trending", "cooccurrence"}));
  }
  std::filesystem::remove_all(options.dir);
}

TEST_F(ServingTest, SnapshotsPersistListAndRestore) {
  auto first = manager_->TrainNow(nullptr);
  ASSERT_TRUE(first.ok());
  clock_.Set(kStart + 61 * kDay);
  auto second = manager_->TrainNow(nullptr);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(manager_->current()->info().id, second->id);
  auto list = manager_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, second->id);  // newest first
  EXPECT_EQ((*list)[1].metrics, first->metrics);

  ASSERT_TRUE(manager_->Restore(first->id).ok());
  EXPECT_EQ(manager_->current()->info().id, first->id);
  EXPECT_EQ(manager_->Restore("no-such").code(), StatusCode::kNotFound);

  // A restart serves the restored snapshot.
  ModelManager reopened(store_.get(), &clock_, ModelManagerOptions{.dir = dir_});
  ASSERT_TRUE(reopened.Open().ok());
  ASSERT_NE(reopened.current(), nullptr);
  EXPECT_EQ(reopened.current()->info().id, first->id);
  EXPECT_EQ(reopened.current()->num_items(), 12u);
}

TEST(QualityGuardTest, ComparesTheRankerElseEachSnapshotsBestModel) {
  using Ndcg = std::map<std::string, double>;
  // The leader changed (trending faded, content rose): best against best.
  auto quality = CompareQuality(Ndcg{{"trending", 0.002}, {"content", 0.103}, {"als", 0.04}},
                                Ndcg{{"trending", 0.078}, {"content", 0.06}, {"als", 0.05}});
  ASSERT_TRUE(quality);
  EXPECT_EQ(quality->model, "content");
  EXPECT_EQ(quality->serving_model, "trending");
  EXPECT_DOUBLE_EQ(quality->candidate, 0.103);
  EXPECT_DOUBLE_EQ(quality->serving, 0.078);
  // Only the models both have count.
  quality = CompareQuality(Ndcg{{"sasrec", 0.5}, {"als", 0.01}}, Ndcg{{"als", 0.04}, {"ease", 0.09}});
  ASSERT_TRUE(quality);
  EXPECT_EQ(quality->model, "als");
  EXPECT_EQ(quality->serving_model, "als");
  EXPECT_DOUBLE_EQ(quality->serving, 0.04);
  // The learned ranker, when both have it, whatever the rest.
  quality = CompareQuality(Ndcg{{"pipeline", 0.2}, {"als", 0.9}}, Ndcg{{"pipeline", 0.3}, {"als", 0.1}});
  ASSERT_TRUE(quality);
  EXPECT_EQ(quality->model, "pipeline");
  EXPECT_DOUBLE_EQ(quality->candidate, 0.2);
  EXPECT_FALSE(CompareQuality(Ndcg{{"als", 0.1}}, Ndcg{{"ease", 0.1}}));
}

// Bots flood the training data with a pattern no shopper follows (they view
// m0 then t3, over and over); the real shoppers who come back after the
// serving snapshot still go from m0 to m1. Scored on those same shoppers,
// the new snapshot falls short and stays out of service.
TEST_F(ServingTest, QualityGuardKeepsAWorseSnapshotOutOfService) {
  auto first = manager_->TrainNow(nullptr);
  ASSERT_TRUE(first.ok());
  std::vector<WriteOutcome> outcomes;
  WriteBatch batch;
  for (int b = 0; b < 400; ++b) {
    const std::string bot = "bot" + std::to_string(b);
    for (int step = 0; step < 6; ++step) {
      batch.AppendEvent(Event{.type = EventType::kView, .user_id = bot, .session_id = bot,
                              .item_id = step % 2 == 0 ? "m0" : "t3", .timestamp_ms = kStart + 40 * kDay + b * 1000 + step});
    }
  }
  for (int u = 0; u < 60; ++u) {
    const std::string user = "back" + std::to_string(u);
    batch.AppendEvent(Event{.type = EventType::kView, .user_id = user, .item_id = "m0",
                            .timestamp_ms = kStart + 45 * kDay + u});
    batch.AppendEvent(Event{.type = EventType::kView, .user_id = user, .item_id = "m1",
                            .timestamp_ms = kStart + 58 * kDay + u});
  }
  ASSERT_TRUE(store_->Write(&batch, &outcomes).ok());
  clock_.Set(kStart + 61 * kDay);
  ModelManagerOptions options{.dir = dir_, .train = {.models = {"trending", "cooccurrence", "als"},
                                                     .guard_min_test_shoppers = 50}};
  options.train.model_options.als.factors = 8;
  manager_.reset();
  manager_ = std::make_unique<ModelManager>(store_.get(), &clock_, options);
  ASSERT_TRUE(manager_->Open().ok());
  auto second = manager_->TrainNow(nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("quality guard"), std::string::npos) << second.status().message();
  EXPECT_NE(second.status().message().find("on the same 60 test shoppers"), std::string::npos)
      << second.status().message();
  EXPECT_EQ(manager_->current()->info().id, first->id) << "the better snapshot keeps serving";
  const TrainingStatus status = manager_->status();
  EXPECT_EQ(status.rejected, 1u);
  ASSERT_FALSE(status.last_rejected.empty());
  auto list = manager_->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u) << "the refused snapshot stays on disk";
  const SnapshotInfo& refused = (*list)[0];
  EXPECT_EQ(refused.guard.serving, first->id);
  EXPECT_EQ(refused.guard.test_shoppers, 60u);
  const auto quality = CompareQuality(refused.guard.candidate, refused.guard.reference);
  ASSERT_TRUE(quality);
  EXPECT_LT(quality->candidate, 0.8 * quality->serving);
  // It can still be put in service by hand.
  ASSERT_TRUE(manager_->Restore(status.last_rejected).ok());
  EXPECT_EQ(manager_->current()->info().id, status.last_rejected);

  // With the guard off the same drop is accepted.
  ModelManagerOptions unguarded_options{.dir = dir_ + "-unguarded", .max_quality_drop = 1};
  unguarded_options.train.models = {"trending", "cooccurrence"};
  ModelManager unguarded(store_.get(), &clock_, unguarded_options);
  ASSERT_TRUE(unguarded.Open().ok());
  ASSERT_TRUE(unguarded.TrainNow(nullptr).ok());
  EXPECT_TRUE(unguarded.TrainNow(nullptr).ok());
  std::filesystem::remove_all(dir_ + "-unguarded");
}

// The demo's case: a year-old history, then a few events today. The new
// holdout has a handful of shoppers: too few to judge, so the new snapshot
// serves, and the status says why (it once answered "0.0000 < 80% of 0.0780"
// and kept the old snapshot).
TEST_F(ServingTest, QualityGuardServesWhenTooFewTestShoppersCanJudge) {
  auto first = manager_->TrainNow(nullptr);
  ASSERT_TRUE(first.ok());
  const int64_t today = kStart + 400 * kDay;
  View("u0", "m5", today - 10 * kDay);
  View("u0", "t5", today);
  View("newcomer", "t4", today);
  clock_.Set(today + 1000);
  auto second = manager_->TrainNow(nullptr);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(manager_->current()->info().id, second->id);
  EXPECT_EQ(second->guard.serving, first->id);
  EXPECT_EQ(second->guard.test_shoppers, 1u);
  const std::string said = manager_->status().last_guard;
  EXPECT_NE(said.find("serves without a comparison: 1 test shopper had events after"), std::string::npos) << said;
}

// An empty store has nothing to train on: that is no failed run.
TEST_F(ServingTest, NothingToTrainOnIsNotAFailure) {
  std::unique_ptr<Store> empty = NewMemoryStore(&clock_);
  ModelManagerOptions options{.dir = dir_ + "-empty"};
  ModelManager manager(empty.get(), &clock_, options);
  ASSERT_TRUE(manager.Open().ok());
  EXPECT_EQ(manager.TrainNow(nullptr).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager.status().failed, 0u);
  EXPECT_EQ(manager.status().skipped, 1u);
  std::filesystem::remove_all(dir_ + "-empty");
}

TEST_F(ServingTest, PipelineTrainsLastOnTheSnapshotsModelsAndReloads) {
  ModelManagerOptions options;
  options.dir = dir_ + "-pipeline";
  // Listed first, trained last; ease is not in the snapshot, so it is not a source.
  options.train.models = {"pipeline", "trending", "cooccurrence", "content"};
  options.train.model_options.pipeline.sources = "trending,cooccurrence,ease";
  options.train.model_options.pipeline.rounds = 20;
  // Later views, so that what shoppers take last is also what others took before.
  for (int u = 0; u < 20; ++u) {
    const std::string kind = u % 2 == 0 ? "m" : "t";
    View("u" + std::to_string(u), kind + std::to_string(3 + u % 3), kStart + (40 + u) * kDay);
    View("u" + std::to_string(u), kind + std::to_string(3 + (u + 1) % 3), kStart + (40 + u) * kDay + 1);
  }
  ModelManager manager(store_.get(), &clock_, options);
  ASSERT_TRUE(manager.Open().ok());
  auto trained = manager.TrainNow(nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status().message();
  EXPECT_EQ(trained->models, (std::vector<std::string>{"trending", "cooccurrence", "content", "pipeline"}));
  EXPECT_TRUE(trained->metrics.contains("pipeline"));
  const auto* pipeline = static_cast<const PipelineRecommender*>(manager.current()->model("pipeline"));
  ASSERT_NE(pipeline, nullptr);
  EXPECT_EQ(pipeline->source_names(), (std::vector<std::string>{"trending", "cooccurrence"}));
  EXPECT_EQ(pipeline->source(1), manager.current()->model("cooccurrence"));  // the snapshot's own model

  const std::vector<HistoryEntry> history = {{.item = static_cast<uint32_t>(manager.current()->FindItem("m0"))}};
  std::vector<std::pair<uint32_t, float>> before, after;
  pipeline->TopK(history, Relation::kAny, 5, -INFINITY, nullptr, &before);
  ASSERT_FALSE(before.empty());
  auto loaded = LoadSnapshot(options.dir + "/" + trained->id, options.train.model_options);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const auto* reloaded = static_cast<const PipelineRecommender*>((*loaded)->model("pipeline"));
  EXPECT_EQ(reloaded->source(0), (*loaded)->model("trending"));
  reloaded->TopK(history, Relation::kAny, 5, -INFINITY, nullptr, &after);
  EXPECT_EQ(before, after);

  // for_you is the ranker's order, every item with its sources and, on
  // request, the ranker's features whose contributions add up to its score.
  RecommendationService service(store_.get(), &manager, &clock_, RecommendOptions{});
  auto ranked = service.Recommend({.scenario = Scenario::kForYou, .user_id = "u0", .n = 4, .device = "mobile",
                                   .explain = true});
  ASSERT_TRUE(ranked.ok()) << ranked.status().message();
  EXPECT_TRUE(ranked->ranked);
  ASSERT_FALSE(ranked->items.empty());
  for (const RecommendedItem& item : ranked->items) {
    EXPECT_FALSE(item.sources.empty()) << item.item_id;
    EXPECT_EQ(item.sources[0], item.model) << item.item_id;
    EXPECT_FALSE(item.reason.empty());
    ASSERT_EQ(item.features.size(), pipeline->feature_names().size());
    double sum = item.ranker_bias;
    for (const FeatureContribution& feature : item.features) sum += feature.contribution;
    EXPECT_NEAR(sum, item.score, 1e-3) << item.item_id;
    auto device = std::find_if(item.features.begin(), item.features.end(),
                               [](const FeatureContribution& f) { return f.name == "context_device"; });
    EXPECT_EQ(device->value, 1.0f);
  }
  // Without explain, no features; with another model, no ranker.
  auto plain = service.Recommend({.scenario = Scenario::kForYou, .user_id = "u0", .n = 4});
  EXPECT_TRUE(plain->items[0].features.empty());
  auto alone = service.Recommend({.scenario = Scenario::kForYou, .user_id = "u0", .n = 4, .model = "cooccurrence"});
  ASSERT_TRUE(alone.ok()) << alone.status().message();
  EXPECT_FALSE(alone->ranked);

  options.train.models = {"trending", "pipeline"};
  options.train.model_options.pipeline.sources = "ease,als";
  ModelManager without_sources(store_.get(), &clock_, options);
  auto refused = without_sources.TrainNow(nullptr);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("none of its sources"), std::string::npos) << refused.status().message();
  std::filesystem::remove_all(options.dir);
}

TEST_F(ServingTest, ExplorationTakesItsShareLogsPropensitiesAndLearnsFromClicks) {
  ASSERT_TRUE(manager_->TrainNow(nullptr).ok());
  Explorer explorer({.share = 0.25, .seed = 5});
  ServedLog served({}, &clock_);
  RecommendationService service(store_.get(), manager_.get(), &clock_, RecommendOptions{}, nullptr, &explorer, &served);
  size_t slots = 0, explored = 0;
  std::optional<RecommendResponse> with_exploration;
  for (int request = 0; request < 400; ++request) {
    // n = 2: this shop leaves about four candidates per shopper, two in reserve.
    auto result = service.Recommend({.scenario = Scenario::kForYou, .user_id = "u" + std::to_string(request % 20), .n = 2});
    ASSERT_TRUE(result.ok()) << result.status().message();
    for (const RecommendedItem& item : result->items) {
      ++slots;
      if (item.explored) {
        ++explored;
        EXPECT_GT(item.propensity, 0);
        EXPECT_LE(item.propensity, 0.25);
        if (!with_exploration) with_exploration = *result;
      } else {
        EXPECT_DOUBLE_EQ(item.propensity, 0.75);
      }
    }
  }
  EXPECT_NEAR(static_cast<double>(explored) / static_cast<double>(slots), 0.25, 0.04);
  EXPECT_EQ(served.stats().recorded, 400u);

  // A click on an explored item, carrying the list's id, rewards its source once.
  ASSERT_TRUE(with_exploration.has_value());
  auto item = std::find_if(with_exploration->items.begin(), with_exploration->items.end(),
                           [](const RecommendedItem& i) { return i.explored; });
  const Event click{.type = EventType::kClick, .user_id = "u0", .item_id = item->item_id,
                    .recommendation_id = with_exploration->recommendation_id};
  service.Observe(std::vector<Event>{click, click});
  double clicks = 0;
  for (const Explorer::ArmStats& arm : explorer.Stats(clock_.NowMillis())) {
    if (arm.scenario == "for_you") clicks += arm.clicks;
    if (arm.scenario == "for_you" && arm.clicks > 0) {
      EXPECT_EQ(arm.arm, item->model);
    }
  }
  EXPECT_EQ(clicks, 1);

  // Without exploration every item's propensity is 1.
  Explorer off({.share = 0});
  RecommendationService plain(store_.get(), manager_.get(), &clock_, RecommendOptions{}, nullptr, &off, &served);
  auto unexplored = plain.Recommend({.scenario = Scenario::kForYou, .user_id = "u1", .n = 4});
  ASSERT_TRUE(unexplored.ok());
  for (const RecommendedItem& i : unexplored->items) {
    EXPECT_FALSE(i.explored);
    EXPECT_EQ(i.propensity, 1);
  }
}

// SASRec as a for_you source, scored item by item or (indexed) through the
// approximate index, which a reopened manager loads from the snapshot.
void CheckSasRecServesForYou(ServingTest* test, bool indexed) {
  {
    ModelManagerOptions options;
    options.dir = test->dir() + (indexed ? "-sasrec-indexed" : "-sasrec");
    options.train.models = {"trending", "cooccurrence", "sasrec"};
    ModelOptions::SasRec& sasrec = options.train.model_options.sasrec;
    sasrec.dim = 16;
    sasrec.blocks = 1;
    sasrec.max_length = 10;
    sasrec.learning_rate = 1e-2;
    sasrec.max_epochs = 60;
    sasrec.validation_users = 0;  // every epoch: 20 shoppers are too few to hold any out
    if (indexed) options.train.model_options.ann.exact_up_to = 0;
    auto opened = std::make_unique<ModelManager>(test->store(), test->clock(), options);
    ASSERT_TRUE(opened->Open().ok());
    auto trained = opened->TrainNow(nullptr);
    ASSERT_TRUE(trained.ok()) << trained.status().message();
    if (indexed) {
      opened = std::make_unique<ModelManager>(test->store(), test->clock(), options);
      ASSERT_TRUE(opened->Open().ok());
    }
    const ModelManager& manager = *opened;
    ASSERT_NE(manager.current(), nullptr);
    EXPECT_EQ(manager.current()->model("sasrec")->index() != nullptr, indexed);
    RecommendationService service(test->store(), &manager, test->clock(), RecommendOptions{});

    // Every shopper viewed m0, m1, m2 (or t0, t1, t2) in this order.
    test->View("fresh", "m0", kStart + 61 * kDay);
    test->View("fresh", "m1", kStart + 61 * kDay + 1);
    auto alone = service.Recommend({.scenario = Scenario::kForYou, .user_id = "fresh", .n = 3, .model = "sasrec"});
    ASSERT_TRUE(alone.ok()) << alone.status().message();
    ASSERT_FALSE(alone->items.empty());
    EXPECT_EQ(alone->items[0].item_id, "m2");
    EXPECT_EQ(alone->items[0].model, "sasrec");
    EXPECT_EQ(alone->items[0].reason_item_id.substr(0, 1), "m");
    for (const auto& item : alone->items) EXPECT_TRUE(item.model == "sasrec" || item.model == "trending");

    // Blended with the other sources by default.
    auto blended = service.Recommend({.scenario = Scenario::kForYou, .user_id = "fresh", .n = 3});
    ASSERT_TRUE(blended.ok());
    EXPECT_EQ(blended->items[0].item_id, "m2");

    auto missing = service.Recommend({.scenario = Scenario::kForYou, .user_id = "fresh", .model = "als"});
    EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(missing.status().message().substr(0, 6), "model:");
    EXPECT_NE(missing.status().message().find("sasrec"), std::string::npos) << missing.status().message();
    auto wrong_scenario = service.Recommend({.scenario = Scenario::kTrending, .model = "sasrec"});
    EXPECT_EQ(wrong_scenario.status().code(), StatusCode::kInvalidArgument);
    opened.reset();
    std::filesystem::remove_all(options.dir);
  }
}

TEST_F(ServingTest, ExplorationShowsNewItemsInTheShoppersCategoriesFirst) {
  ASSERT_TRUE(manager_->TrainNow(nullptr).ok());
  // Five days on, two new items (after the snapshot) and an inactive one.
  clock_.Set(kStart + 65 * kDay);
  const int64_t now = clock_.NowMillis();
  WriteBatch batch;
  batch.UpsertItem(Item{.id = "n0", .title = "New tent", .category = {"Outdoor", "Tents"}, .created_ms = now - 1000});
  batch.UpsertItem(Item{.id = "n1", .title = "New bowl", .category = {"Home", "Bowls"}, .created_ms = now});
  batch.UpsertItem(Item{.id = "n2", .title = "Gone", .category = {"Outdoor", "Tents"}, .active = false, .created_ms = now});
  // Re-created, but a bestseller already: not new to shoppers.
  batch.UpsertItem(Item{.id = "m0", .title = "Mug 0", .category = {"Home", "Mugs"}, .price = 10, .created_ms = now - 500});
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE(store_->Write(&batch, &outcomes).ok());

  CatalogIndex catalog;
  ASSERT_TRUE(catalog.Build(*store_).ok());
  FreshItems fresh(&catalog, &clock_, {.days = 1});
  std::vector<std::string> ids;
  for (const FreshItems::Entry& entry : *fresh.Current()) ids.push_back(entry.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"n1", "m0", "n0"}));  // newest first; older and inactive items left out
  FreshItems newest(&catalog, &clock_, {.days = 1, .max_items = 1});
  ASSERT_EQ(newest.Current()->size(), 1u);
  EXPECT_EQ(newest.Current()->front().id, "n1");

  Explorer explorer({.share = 0.5, .seed = 11});
  RecommendationService service(store_.get(), manager_.get(), &clock_, RecommendOptions{}, nullptr, &explorer, nullptr,
                                &fresh);
  int tents = 0, bowls = 0;
  for (int request = 0; request < 300; ++request) {
    // u1 viewed tents: the new tent is its first fresh candidate, the bowl the next.
    auto result = service.Recommend({.scenario = Scenario::kForYou, .user_id = "u1", .n = 2});
    ASSERT_TRUE(result.ok()) << result.status().message();
    int tent_at = -1;
    for (int k = 0; k < static_cast<int>(result->items.size()); ++k) {
      const RecommendedItem& item = result->items[k];
      if (item.model != "fresh") continue;
      EXPECT_TRUE(item.explored);
      EXPECT_GT(item.propensity, 0);
      EXPECT_LE(item.propensity, 0.5);
      if (item.item_id == "n0") {
        EXPECT_EQ(item.reason, "new in Tents");
        tent_at = k;
        ++tents;
      } else {
        EXPECT_EQ(item.item_id, "n1");
        EXPECT_EQ(item.reason, "new in Bowls");
        EXPECT_GE(tent_at, 0) << "the bowl came before the tent";
        ++bowls;
      }
    }
  }
  EXPECT_GT(tents, 20);
  EXPECT_LT(bowls, tents);

  // Every slot exploring (similar has no trending arm to show m0 first):
  // the two new items, never the bestseller m0.
  Explorer always({.share = 1, .seed = 3});
  RecommendationService exploring(store_.get(), manager_.get(), &clock_, RecommendOptions{}, nullptr, &always, nullptr,
                                  &fresh);
  int new_items = 0;
  for (int request = 0; request < 50; ++request) {
    auto result = exploring.Recommend({.scenario = Scenario::kSimilar, .item_id = "t4", .n = 8});
    ASSERT_TRUE(result.ok());
    for (const RecommendedItem& item : result->items) {
      if (item.model != "fresh") continue;
      EXPECT_NE(item.item_id, "m0");
      ++new_items;
    }
  }
  EXPECT_GT(new_items, 10);
  bool fresh_arm = false;
  for (const Explorer::ArmStats& arm : explorer.Stats(clock_.NowMillis())) fresh_arm |= arm.arm == "fresh";
  EXPECT_TRUE(fresh_arm);
}

TEST_F(ServingTest, CategoryPopularServesTheShoppersCategoriesWithTheirReason) {
  ModelManagerOptions options;
  options.dir = dir() + "-category";
  options.train.models = {"trending", "category_popular"};
  {
    ModelManager manager(store(), clock(), options);
    ASSERT_TRUE(manager.Open().ok());
    auto trained = manager.TrainNow(nullptr);
    ASSERT_TRUE(trained.ok()) << trained.status().message();
    RecommendationService service(store(), &manager, clock(), RecommendOptions{});
    View("camper", "t4", kStart + 61 * kDay);
    auto tents = service.Recommend({.scenario = Scenario::kForYou, .user_id = "camper", .n = 3,
                                    .model = "category_popular"});
    ASSERT_TRUE(tents.ok()) << tents.status().message();
    ASSERT_EQ(tents->items.size(), 3u);
    // The most bought and viewed tents first (t0, then t1 and t2, t3), never t4 (seen).
    EXPECT_EQ(tents->items[0].item_id, "t0");
    for (const auto& item : tents->items) {
      EXPECT_EQ(item.item_id[0], 't');
      EXPECT_NE(item.item_id, "t4");
      EXPECT_EQ(item.model, "category_popular");
      EXPECT_EQ(item.reason, "popular in Tents, a category you browse");
    }
  }
  std::filesystem::remove_all(options.dir);
}

TEST_F(ServingTest, SasRecIsAForYouSourceAndServesAloneThroughTheModelParameter) {
  CheckSasRecServesForYou(this, /*indexed=*/false);
}

TEST_F(ServingTest, SasRecServesThroughItsApproximateIndexAfterARestart) {
  CheckSasRecServesForYou(this, /*indexed=*/true);
}

}  // namespace
}  // namespace vitrina
