#include "search/lexical_index.h"

#include <gtest/gtest.h>

#include <algorithm>

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
  void Add(Item item) { index_.Upsert(item); }
  std::vector<std::string> Ids(const LexicalResult& result) {
    std::vector<std::string> ids;
    for (const LexicalHit& hit : result.hits) ids.emplace_back(hit.item_id);
    return ids;
  }

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
  EXPECT_EQ(mugs.hits[0].item_id, "mug3");
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
  index_.Remove("mug1");
  EXPECT_EQ(Ids(index_.Search("ceramic", 10)), std::vector<std::string>{});
  Add({.id = "shirt", .title = "Red cotton shirt", .active = false});
  EXPECT_TRUE(index_.Search("shirt", 10).hits.empty());
  EXPECT_EQ(index_.size(), 4u);
  // Many removals compact the postings; what is left is still found.
  for (int i = 0; i < 3000; ++i) Add({.id = "tmp" + std::to_string(i), .title = "Temporary lamp"});
  for (int i = 0; i < 3000; ++i) index_.Remove("tmp" + std::to_string(i));
  EXPECT_TRUE(index_.Search("lamp", 10).hits.empty());
  EXPECT_EQ(Ids(index_.Search("bowl", 10)), std::vector<std::string>{"mug2"});
  EXPECT_EQ(index_.size(), 4u);
}

}  // namespace
}  // namespace vitrina
