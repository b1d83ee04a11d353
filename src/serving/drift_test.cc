#include "serving/drift_monitor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

namespace vitrina {
namespace {

constexpr int64_t kDay = 86400000;
constexpr int64_t kStart = 1'764'000'000'000;

TEST(DataProfileTest, PopulationStabilityIndexByHand) {
  const double expected[] = {0.5, 0.5}, actual[] = {0.6, 0.4};
  // 0.1 ln(1.2) + (-0.1) ln(0.8) = 0.0182322 + 0.0223144
  EXPECT_NEAR(PopulationStabilityIndex(expected, actual), 0.0405465, 1e-6);
  EXPECT_DOUBLE_EQ(PopulationStabilityIndex(expected, expected), 0);
  const double empty_bin[] = {1.0, 0.0};
  EXPECT_TRUE(std::isfinite(PopulationStabilityIndex(expected, empty_bin)));
  EXPECT_GT(PopulationStabilityIndex(expected, empty_bin), 2.0);
  EXPECT_EQ(ActivityBin(1), 0u);
  EXPECT_EQ(ActivityBin(2), 1u);
  EXPECT_EQ(ActivityBin(4), 2u);
  EXPECT_EQ(ActivityBin(100), 5u);
}

// A shop of cheap home items (prices 1..20) and a few garden ones.
class DriftTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("vitrina-drift-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    clock_.Set(kStart);
    store_ = NewMemoryStore(&clock_);
    WriteBatch batch;
    for (int i = 0; i < 40; ++i) {
      const bool garden = i >= 30;
      batch.UpsertItem(Item{.id = "i" + std::to_string(i), .title = "Item", .category = {garden ? "Garden" : "Home"},
                            .price = garden ? 500.0 + i : 1.0 + i % 20});
    }
    // 300 shoppers, each on two days in a row, viewing three different items a day.
    for (int u = 0; u < 300; ++u) {
      const int64_t first = kStart - (5 - u % 5) * kDay;
      for (int day = 0; day < 2; ++day) {
        for (int k = 0; k < 3; ++k) {
          batch.AppendEvent(Event{.type = EventType::kView, .user_id = "u" + std::to_string(u),
                                  .item_id = "i" + std::to_string((u * 7 + day * 3 + k) % 33),
                                  .timestamp_ms = first + day * kDay + k * 1000});
        }
      }
    }
    Write(&batch);
    ModelManagerOptions options{.dir = dir_};
    options.train.models = {"trending"};
    manager_ = std::make_unique<ModelManager>(store_.get(), &clock_, options);
    ASSERT_TRUE(manager_->Open().ok());
    ASSERT_TRUE(manager_->TrainNow(nullptr).ok());
    monitor_ = std::make_unique<DriftMonitor>(store_.get(), manager_.get(), &clock_,
                                              DriftOptions{.threshold = 0.2, .min_interactions = 100});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(WriteBatch* batch) {
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(store_->Write(batch, &outcomes).ok());
    if (monitor_) monitor_->OnCommitted(*batch, outcomes);
  }

  // A day of views, three each, by 50 returning shoppers and 50 new ones,
  // on items drawn from [first, last).
  void LiveDay(int first, int last, uint64_t seed) {
    std::mt19937_64 rng(seed);
    WriteBatch batch;
    for (int u = 0; u < 100; ++u) {
      const std::string user = u < 50 ? "u" + std::to_string(u) : "new" + std::to_string(seed) + "-" + std::to_string(u);
      for (int k = 0; k < 3; ++k) {
        batch.AppendEvent(Event{.event_id = "live" + std::to_string(seed) + "-" + std::to_string(u * 3 + k),
                                .type = EventType::kView, .user_id = user,
                                .item_id = "i" + std::to_string(first + static_cast<int>(rng() % (last - first))),
                                .timestamp_ms = clock_.NowMillis()});
      }
    }
    Write(&batch);
    clock_.Advance(10000);  // past the report's few seconds of caching
  }

  std::string dir_;
  ManualClock clock_{0};
  std::unique_ptr<Store> store_;
  std::unique_ptr<ModelManager> manager_;
  std::unique_ptr<DriftMonitor> monitor_;
};

TEST_F(DriftTest, TheSnapshotKeepsItsTrainingProfile) {
  const DataProfile& profile = manager_->current()->info().profile;
  EXPECT_EQ(profile.interactions, 1800u);
  ASSERT_FALSE(profile.categories.empty());
  EXPECT_EQ(profile.categories[0], "Home");
  EXPECT_NEAR(profile.category[0], 30.0 / 33, 0.05);
  EXPECT_EQ(profile.activity[2], 1.0);  // 3 interactions on each shopper-day
  EXPECT_EQ(profile.shopper_days, 600u);
  EXPECT_DOUBLE_EQ(profile.new_share, 0.5);
  // Read back from disk the same.
  auto info = ReadSnapshotInfo(dir_ + "/" + manager_->current()->info().id);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->profile.price, profile.price);
  EXPECT_EQ(info->profile.categories, profile.categories);
}

TEST_F(DriftTest, ALikeDayIsCalmAShiftedDayRaisesTheAlert) {
  clock_.Set(kStart + 2 * kDay);
  DriftReport report = monitor_->Report();
  EXPECT_FALSE(report.judged) << "no traffic yet";
  EXPECT_FALSE(report.alert);

  LiveDay(0, 33, 7);
  report = monitor_->Report();
  ASSERT_TRUE(report.judged);
  EXPECT_EQ(report.interactions, 300u);
  EXPECT_FALSE(report.alert);
  for (const DriftFeature& feature : report.features) EXPECT_LT(feature.psi, 0.2) << feature.name;

  // The next day everyone looks at garden furniture (another category, 25x the price).
  clock_.Set(kStart + 3 * kDay + 3600000);
  LiveDay(30, 40, 8);
  report = monitor_->Report();
  ASSERT_TRUE(report.judged);
  EXPECT_EQ(report.interactions, 300u) << "yesterday has left the window";
  EXPECT_TRUE(report.alert);
  for (const DriftFeature& feature : report.features) {
    if (feature.name == "price" || feature.name == "category") {
      EXPECT_GT(feature.psi, 1.0) << feature.name;
    }
  }
}

TEST_F(DriftTest, NewShoppersAreThoseWithoutEarlierActivity) {
  clock_.Set(kStart + 2 * kDay);
  WriteBatch batch;
  for (int u = 0; u < 50; ++u) {
    batch.AppendEvent(Event{.event_id = "n" + std::to_string(u), .type = EventType::kView,
                            .user_id = "newcomer" + std::to_string(u), .item_id = "i1", .timestamp_ms = kStart + 2 * kDay});
    batch.AppendEvent(Event{.event_id = "r" + std::to_string(u), .type = EventType::kView,
                            .user_id = "u" + std::to_string(u + 5), .item_id = "i1", .timestamp_ms = kStart + 2 * kDay});
  }
  Write(&batch);
  clock_.Advance(10000);
  EXPECT_DOUBLE_EQ(monitor_->Report().current.new_share, 0.5);
}

}  // namespace
}  // namespace vitrina
