#include "search/lexical_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace vitrina {
namespace {

class LexicalIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Add({.id = "hp1", .title = "Наушники Sony WH-1000XM4", .category = {"Электроника", "Наушники"}, .brand = "Sony"});
    Add({.id = "hp2", .title = "Беспроводные наушники JBL", .category = {"Электроника", "Наушники"}, .brand = "JBL"});
    Add({.id = "mug1", .title = "Red ceramic mug", .description = "A mug for tea and coffee",
         .category = {"Home", "Mugs"}, .brand = "Acme"});
    Add({.id = "mug2", .title = "Blue enamel mug", .category = {"Home", "Mugs"}, .brand = "Acme"});
    Add({.id = "shirt", .title = "Red cotton shirt", .description = "Goes well with a mug of coffee",
         .category = {"Clothes", "Shirts"}, .brand = "Basic"});
    Add({.id = "shoes", .title = "Кроссовки для бега Nike", .category = {"Обувь", "Кроссовки"}, .brand = "Nike",
         .attributes = {{"color", std::string("чёрный")}}});
    index_.Commit();
  }
  uint32_t KeyOf(const std::string& id) {
    auto it = std::find(ids_.begin(), ids_.end(), id);
    if (it != ids_.end()) return static_cast<uint32_t>(it - ids_.begin());
    ids_.push_back(id);
    return static_cast<uint32_t>(ids_.size() - 1);
  }
  void Add(Item item) { index_.Upsert(KeyOf(item.id), item); }
  void Remove(const std::string& id) { index_.Remove(KeyOf(id)); }
  std::vector<std::string> Ids(const LexicalResult& result) {
    std::vector<std::string> ids;
    for (const LexicalHit& hit : result.hits) ids.push_back(ids_[hit.key]);
    return ids;
  }

  std::vector<std::string> ids_;  // key -> item id
  LexicalIndex index_;
};

TEST_F(LexicalIndexTest, EveryWordMustMatchAndTitlesOutweighDescriptions) {
  LexicalResult red_mug = index_.Search("red mug", 10);
  EXPECT_EQ(Ids(red_mug), (std::vector<std::string>{"mug1", "shirt"}));  // the shirt's mug is in its description
  EXPECT_FALSE(red_mug.relaxed);
  EXPECT_EQ(red_mug.query_words, 2u);
  // "mug" is in two titles and one description: the titles first.
  LexicalResult mug = index_.Search("mug", 10);
  ASSERT_EQ(mug.total, 3u);
  EXPECT_EQ(Ids(mug).back(), "shirt");
  // Stop words are not searched for; the brand and category count.
  EXPECT_EQ(Ids(index_.Search("the mugs of Acme", 10)), (std::vector<std::string>{"mug1", "mug2"}));
  EXPECT_EQ(index_.Search("mug", 2).hits.size(), 2u);
  EXPECT_EQ(index_.Search("mug", 2).total, 3u);
}

TEST_F(LexicalIndexTest, WordFormsTyposTransliterationAndPrefixes) {
  EXPECT_EQ(Ids(index_.Search("кроссовками", 10)), std::vector<std::string>{"shoes"});   // word form
  EXPECT_EQ(Ids(index_.Search("черные кроссовки", 10)), std::vector<std::string>{"shoes"});  // ё, attributes
  EXPECT_EQ(Ids(index_.Search("наушнеки sony", 10)), (std::vector<std::string>{"hp1"}));  // a typo
  EXPECT_EQ(Ids(index_.Search("ceramik", 10)), std::vector<std::string>{"mug1"});
  EXPECT_EQ(Ids(index_.Search("naushniki jbl", 10)), std::vector<std::string>{"hp2"});  // transliterated
  EXPECT_EQ(Ids(index_.Search("red cer", 10)), std::vector<std::string>{"mug1"});        // as you type
  EXPECT_TRUE(index_.Search("cer", 10).hits.size() == 1);
  // An exact word ranks above a typo's match.
  Add({.id = "mag", .title = "Magazine rack", .category = {"Home"}});
  Add({.id = "mug3", .title = "Travel mug", .category = {"Home"}});
  index_.Commit();
  LexicalResult mugs = index_.Search("travel mug", 10);
  ASSERT_FALSE(mugs.hits.empty());
  EXPECT_EQ(ids_[mugs.hits[0].key], "mug3");
}

TEST_F(LexicalIndexTest, WrongLayoutIsRetypedAndMissingWordsRelax) {
  LexicalResult retyped = index_.Search("yfeiybrb", 10);
  std::vector<std::string> ids = Ids(retyped);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"hp1", "hp2"}));
  EXPECT_EQ(retyped.layout_corrected, "наушники");
  // No item is both red and enamel: the items with one of the words, said so.
  LexicalResult relaxed = index_.Search("red enamel", 10);
  EXPECT_TRUE(relaxed.relaxed);
  EXPECT_EQ(relaxed.total, 3u);  // mug1, mug2, shirt
  EXPECT_EQ(relaxed.hits[0].matched_words, 1u);
  EXPECT_TRUE(index_.Search("zzzz", 10).hits.empty());
  EXPECT_TRUE(index_.Search("", 10).hits.empty());
}

TEST_F(LexicalIndexTest, ChangedAndRemovedItemsAreSearchedAsTheyAreNow) {
  Add({.id = "mug2", .title = "Green enamel bowl", .category = {"Home", "Bowls"}});
  EXPECT_EQ(Ids(index_.Search("blue", 10)), std::vector<std::string>{});
  EXPECT_EQ(Ids(index_.Search("bowl", 10)), std::vector<std::string>{"mug2"});
  Remove("mug1");
  EXPECT_EQ(Ids(index_.Search("ceramic", 10)), std::vector<std::string>{});
  Add({.id = "shirt", .title = "Red cotton shirt", .active = false});
  EXPECT_TRUE(index_.Search("shirt", 10).hits.empty());
  EXPECT_EQ(index_.size(), 4u);
  // Many removals compact the postings; what is left is still found.
  for (int i = 0; i < 3000; ++i) Add({.id = "tmp" + std::to_string(i), .title = "Temporary lamp"});
  for (int i = 0; i < 3000; ++i) Remove("tmp" + std::to_string(i));
  EXPECT_TRUE(index_.Search("lamp", 10).hits.empty());
  EXPECT_EQ(Ids(index_.Search("bowl", 10)), std::vector<std::string>{"mug2"});
  EXPECT_EQ(index_.size(), 4u);
}

TEST(LexicalIndexScoresTest, LengthNormsFollowTheCatalogAsItGrows) {
  // Short titles first, then long ones: the average title length grows
  // after the first Commit, and scores must use the new average.
  std::vector<Item> items;
  for (int i = 0; i < 50; ++i) items.push_back({.id = "a" + std::to_string(i), .title = "lamp"});
  for (int i = 0; i < 100; ++i) {
    items.push_back({.id = "b" + std::to_string(i), .title = "lamp with a long shade and a brass stand"});
  }
  LexicalIndex index;
  for (size_t i = 0; i < items.size(); ++i) {
    index.Upsert(static_cast<uint32_t>(i), items[i]);
    if (i == 49) index.Commit();
  }
  index.Commit();
  // BM25F by hand: the title field only (weight 3, b 0.5), k1 1.2.
  auto words = [](const std::string& text) {
    size_t n = 0;
    for (const Token& token : Analyze(text)) n += token.stop ? 0 : 1;
    return static_cast<double>(n);
  };
  const double short_length = words(items[0].title), long_length = words(items[50].title);
  const double average = (50 * short_length + 100 * long_length) / 150;
  const double idf = std::log(1 + 0.5 / 150.5);
  auto expected = [&](double length) {
    const double tf = 3.0 / (0.5 + 0.5 * length / average);
    return idf * tf / (1.2 + tf);
  };
  const LexicalResult result = index.Search("lamp", 200);
  ASSERT_EQ(result.hits.size(), 150u);
  EXPECT_NEAR(result.hits.front().score, expected(short_length), 1e-5);  // short titles first
  EXPECT_LT(result.hits.front().key, 50u);
  EXPECT_NEAR(result.hits.back().score, expected(long_length), 1e-5);
}

class FixedSynonyms : public SynonymLookup {
 public:
  const std::vector<std::string>* Find(std::string_view stem) const override {
    static const std::vector<std::string> cup = {"cup"};
    return stem == "mug" ? &cup : nullptr;
  }
};

TEST_F(LexicalIndexTest, SynonymsCorrectionsAndOptions) {
  Add({.id = "cup", .title = "Porcelain cup", .category = {"Home", "Cups"}});
  index_.Commit();
  FixedSynonyms synonyms;
  std::vector<std::string> with = Ids(index_.Search("mug", 10, {.synonyms = &synonyms}));
  ASSERT_EQ(with.size(), 4u);
  EXPECT_EQ(with[2], "cup");  // a synonym counts less than the word in a title, more than in a description
  EXPECT_EQ(Ids(index_.Search("mug", 10)).size(), 3u);
  // A typo says what it was read as; a word being typed is not a typo.
  LexicalResult typo = index_.Search("ceramik mug", 10);
  ASSERT_EQ(typo.corrections.size(), 1u);
  EXPECT_EQ(typo.corrections[0].word, "ceramik");
  EXPECT_EQ(typo.corrections[0].corrected, "ceramic");
  EXPECT_TRUE(index_.Search("mug ceram", 10).corrections.empty());
  // Without typo tolerance, typos and the wrong layout find nothing.
  EXPECT_TRUE(index_.Search("ceramik", 10, {.typos = false}).hits.empty());
  EXPECT_TRUE(index_.Search("yfeiybrb", 10, {.typos = false}).hits.empty());
  // Without relaxation, a query no item fully matches finds nothing.
  EXPECT_TRUE(index_.Search("red enamel", 10, {.relax = false}).hits.empty());
  // Completion: the catalog's words that begin the prefix, the most frequent first.
  auto words = index_.Complete("Mu", 5);
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0], (std::pair<std::string, uint32_t>{"mug", 3}));  // two titles and a description
  EXPECT_EQ(words[1], (std::pair<std::string, uint32_t>{"mugs", 2}));  // two categories
  auto russian = index_.Complete("НАУ", 5);
  ASSERT_FALSE(russian.empty());
  EXPECT_EQ(russian[0].first, "наушники");
  EXPECT_EQ(russian[0].second, 2u);
}

}  // namespace
}  // namespace vitrina
