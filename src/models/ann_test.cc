#include "models/ann.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "models/gru4rec.h"
#include "models/sasrec.h"

namespace vitrina {
namespace {

// Clustered vectors with varied norms, as trained item embeddings are:
// 40 centres, each row a centre plus noise, scaled by 0.5..2.
std::vector<float> ClusteredRows(size_t count, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> scale(0.5f, 2.0f);
  std::vector<float> centres(40 * dim);
  for (float& x : centres) x = normal(rng);
  std::vector<float> rows(count * dim);
  for (size_t r = 0; r < count; ++r) {
    const float* centre = centres.data() + (rng() % 40) * dim;
    const float s = scale(rng);
    for (size_t d = 0; d < dim; ++d) rows[r * dim + d] = s * (centre[d] + 0.6f * normal(rng));
  }
  return rows;
}

std::vector<uint32_t> ExactTop(const std::vector<float>& rows, size_t dim, std::span<const float> query, size_t k) {
  const size_t count = rows.size() / dim;
  std::vector<std::pair<float, uint32_t>> scored(count);
  for (size_t r = 0; r < count; ++r) {
    float dot = 0;
    for (size_t d = 0; d < dim; ++d) dot += rows[r * dim + d] * query[d];
    scored[r] = {-dot, static_cast<uint32_t>(r)};
  }
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(k), scored.end());
  std::vector<uint32_t> top;
  for (size_t i = 0; i < k; ++i) top.push_back(scored[i].second);
  return top;
}

double Overlap(const std::vector<uint32_t>& exact, const std::vector<std::pair<uint32_t, float>>& found) {
  size_t hits = 0;
  for (const auto& [item, score] : found) hits += std::find(exact.begin(), exact.end(), item) != exact.end();
  return static_cast<double>(hits) / static_cast<double>(exact.size());
}

class AnnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("vitrina_ann_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(AnnTest, FindsTheExactTopTenAndSkipsWhatItIsTold) {
  const size_t count = 6000, dim = 32;
  const std::vector<float> rows = ClusteredRows(count, dim, 1);
  auto index = InnerProductIndex::Build(rows, dim, AnnOptions{}, 2, 7);
  ASSERT_EQ(index->size(), count);
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal;
  double recall = 0;
  const int queries = 200;
  std::vector<std::pair<uint32_t, float>> found;
  std::vector<float> query(dim);
  for (int q = 0; q < queries; ++q) {
    for (float& x : query) x = normal(rng);
    index->Search(query, 10, nullptr, &found);
    ASSERT_EQ(found.size(), 10u);
    for (size_t i = 1; i < found.size(); ++i) EXPECT_GE(found[i - 1].second, found[i].second);
    // The reported score is the inner product itself.
    float dot = 0;
    for (size_t d = 0; d < dim; ++d) dot += rows[found[0].first * dim + d] * query[d];
    EXPECT_NEAR(found[0].second, dot, 1e-3f * std::max(1.0f, std::abs(dot)));
    recall += Overlap(ExactTop(rows, dim, query, 10), found);
  }
  EXPECT_GE(recall / queries, 0.95);

  // Skipping the exact top 30 still yields 10 items, none of them skipped.
  const std::vector<uint32_t> exact = ExactTop(rows, dim, query, 30);
  auto skip = [&](uint32_t item) { return std::find(exact.begin(), exact.end(), item) != exact.end(); };
  index->Search(query, 10, skip, &found);
  ASSERT_EQ(found.size(), 10u);
  for (const auto& [item, score] : found) EXPECT_FALSE(skip(item));
}

TEST_F(AnnTest, SmallIndexReturnsEveryRowBestFirst) {
  const std::vector<float> rows = {1, 0, 0, 1, 2, 2, -1, -1};  // four 2-d rows
  auto index = InnerProductIndex::Build(rows, 2, AnnOptions{}, 1, 1);
  std::vector<std::pair<uint32_t, float>> found;
  const std::vector<float> query = {1, 0.5f};
  index->Search(query, 10, nullptr, &found);
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[0].first, 2u);
  EXPECT_FLOAT_EQ(found[0].second, 3.0f);
  EXPECT_EQ(found[3].first, 3u);
  EXPECT_FLOAT_EQ(found[3].second, -1.5f);
  index->Search(query, 10, [](uint32_t item) { return item != 1; }, &found);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].first, 1u);
}

TEST_F(AnnTest, SavesLoadsAndRejectsDamagedFiles) {
  const size_t count = 2000, dim = 16;
  const std::vector<float> rows = ClusteredRows(count, dim, 2);
  auto index = InnerProductIndex::Build(rows, dim, AnnOptions{}, 2, 7);
  const std::string path = Path("index.ann");
  ASSERT_TRUE(index->Save(path).ok());
  auto loaded = InnerProductIndex::Load(path, count, dim, AnnOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  std::vector<float> query(rows.begin(), rows.begin() + dim);
  std::vector<std::pair<uint32_t, float>> before, after;
  index->Search(query, 20, nullptr, &before);
  loaded.value()->Search(query, 20, nullptr, &after);
  EXPECT_EQ(before, after);

  EXPECT_EQ(InnerProductIndex::Load(path, count + 1, dim, AnnOptions{}).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(InnerProductIndex::Load(path, count, dim + 1, AnnOptions{}).status().code(), StatusCode::kCorruption);

  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(Path(name), std::ios::binary) << content;
    return Path(name);
  };
  auto load = [&](const std::string& file) { return InnerProductIndex::Load(file, count, dim, AnnOptions{}).status(); };
  EXPECT_EQ(load(write("truncated.ann", bytes.substr(0, bytes.size() / 2))).code(), StatusCode::kCorruption);
  EXPECT_EQ(load(write("short.ann", bytes.substr(0, 20))).code(), StatusCode::kCorruption);
  EXPECT_EQ(load(write("trailing.ann", bytes + "x")).code(), StatusCode::kCorruption);
  // A base-layer link pointing past the catalog (the first link of the
  // first element, right after the header and its link count).
  const size_t header = 8 * 6 + 4 + 4 + 8 * 3 + 8 + 8;
  std::string bad_link = bytes;
  const uint32_t far = 1u << 30;
  std::memcpy(bad_link.data() + header + 4, &far, 4);
  Status damaged = load(write("bad_link.ann", bad_link));
  EXPECT_EQ(damaged.code(), StatusCode::kCorruption) << damaged.message();
  EXPECT_NE(damaged.message().find("link out of range"), std::string::npos) << damaged.message();
  EXPECT_EQ(InnerProductIndex::Load(Path("absent.ann"), count, dim, AnnOptions{}).status().code(), StatusCode::kIOError);
}

// Items in 20 groups; each shopper keeps to one group.
Dataset GroupedDataset(size_t items, size_t actors, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Dataset data;
  for (size_t i = 0; i < items; ++i) data.items.push_back({.id = "i" + std::to_string(i)});
  for (size_t a = 0; a < actors; ++a) {
    data.actor_ids.push_back("u" + std::to_string(a));
    const size_t group = rng() % 20;
    for (int t = 0; t < 12; ++t) {
      const uint32_t item = static_cast<uint32_t>((group + 20 * (rng() % (items / 20))) % items);
      data.interactions.push_back({.item = item, .time_ms = t});
    }
    data.offsets.push_back(static_cast<uint32_t>(data.interactions.size()));
  }
  return data;
}

// For each model with an index: TopK through it agrees with exact ranking,
// and the index survives Save/Load beside the model file.
template <typename Model, typename Options>
void CheckIndexedModel(const Options& options, const std::string& dir) {
  const Dataset data = GroupedDataset(3000, 3000, 5);
  AnnOptions indexed;
  indexed.exact_up_to = 1000;
  Model model(options, indexed);
  ASSERT_TRUE(model.Fit(data, {.threads = 2, .seed = 3}).ok());
  ASSERT_TRUE(model.index() != nullptr);
  Model exact(options, AnnOptions{});  // 3,000 items: ranked exactly
  const std::string path = dir + "/model.bin";
  ASSERT_TRUE(model.Save(path).ok());
  ASSERT_TRUE(std::filesystem::exists(IndexPath(path)));
  ASSERT_TRUE(exact.Load(path).ok());  // loads the index that is there
  EXPECT_TRUE(exact.index() != nullptr);
  {
    // Saved without an index, a model that wants one builds it on Load.
    const std::string bare = dir + "/bare.bin";
    ASSERT_TRUE(model.Save(bare).ok());
    std::filesystem::remove(IndexPath(bare));
    Model reloaded(options, indexed);
    ASSERT_TRUE(reloaded.Load(bare).ok());
    ASSERT_TRUE(reloaded.index() != nullptr);
    EXPECT_EQ(reloaded.index()->size(), data.num_items());
  }

  double overlap = 0;
  const int shoppers = 100;
  std::vector<std::pair<uint32_t, float>> approximate, full;
  for (int a = 0; a < shoppers; ++a) {
    std::vector<HistoryEntry> history;
    for (uint32_t i = data.offsets[a + 1]; i-- > data.offsets[a];) history.push_back({.item = data.interactions[i].item});
    auto skip = [&](uint32_t item) { return item == history.front().item; };
    model.TopK(history, Relation::kAny, 20, 0.0f, skip, &approximate);
    model.Recommender::TopK(history, Relation::kAny, 20, 0.0f, skip, &full);
    ASSERT_EQ(full.size(), 20u);
    ASSERT_EQ(approximate.size(), 20u);
    std::vector<uint32_t> exact_items;
    for (const auto& [item, score] : full) exact_items.push_back(item);
    overlap += Overlap(exact_items, approximate);
    for (const auto& [item, score] : approximate) EXPECT_FALSE(skip(item));
  }
  EXPECT_GE(overlap / shoppers, 0.95);

  // Saved again without an index, the stale file goes.
  Model small(options, AnnOptions{});
  ASSERT_TRUE(small.Fit(GroupedDataset(200, 300, 6), {.threads = 1, .seed = 3}).ok());
  EXPECT_FALSE(small.index() != nullptr);
  ASSERT_TRUE(small.Save(path).ok());
  EXPECT_FALSE(std::filesystem::exists(IndexPath(path)));
}

TEST_F(AnnTest, SasRecTopKThroughTheIndexMatchesExactRanking) {
  ModelOptions::SasRec options;
  options.dim = 16;
  options.blocks = 1;
  options.max_length = 12;
  options.max_epochs = 2;
  options.validation_users = 0;
  CheckIndexedModel<SasRecRecommender>(options, dir_.string());
}

TEST_F(AnnTest, Gru4RecTopKThroughTheIndexMatchesExactRanking) {
  ModelOptions::Gru4Rec options;
  options.hidden = 16;
  options.max_epochs = 2;
  options.validation_users = 0;
  options.samples = 256;
  CheckIndexedModel<Gru4RecRecommender>(options, dir_.string());
}

}  // namespace
}  // namespace vitrina
