#include "text/fuzzy.h"

#include <gtest/gtest.h>

#include <random>

namespace vitrina {
namespace {

std::vector<std::string> Terms(const FuzzyDictionary& dictionary, const std::vector<std::pair<uint32_t, int>>& found) {
  std::vector<std::string> out;
  for (const auto& [id, edits] : found) out.push_back(dictionary.term(id) + ":" + std::to_string(edits));
  return out;
}

TEST(EditDistanceTest, CountsEditsAndSwapsAndStopsPastTheLimit) {
  EXPECT_EQ(EditDistance(U"kitten", U"sitting", 3), 3);
  EXPECT_EQ(EditDistance(U"kitten", U"sitting", 2), 3);  // over the limit: limit + 1
  EXPECT_EQ(EditDistance(U"chair", U"chiar", 2), 1);      // neighbours swapped
  EXPECT_EQ(EditDistance(ToCodePoints("наушники"), ToCodePoints("нашуники"), 2), 1);
  EXPECT_EQ(EditDistance(U"", U"abc", 5), 3);
  EXPECT_EQ(EditDistance(U"abc", U"abc", 0), 0);
  EXPECT_EQ(EditDistance(U"abcdefgh", U"ab", 2), 3);  // lengths alone rule it out
  EXPECT_EQ(ToCodePoints("ёж").size(), 2u);
}

TEST(FuzzyDictionaryTest, AllowsOneEditFromFourLettersAndTwoFromEight) {
  EXPECT_EQ(FuzzyDictionary::AllowedEdits(3), 0);
  EXPECT_EQ(FuzzyDictionary::AllowedEdits(4), 1);
  EXPECT_EQ(FuzzyDictionary::AllowedEdits(7), 1);
  EXPECT_EQ(FuzzyDictionary::AllowedEdits(8), 2);
  EXPECT_EQ(FuzzyDictionary::AllowedEdits(6, 8), 2);  // the longer word's allowance...
  EXPECT_EQ(FuzzyDictionary::AllowedEdits(8, 5), 2);
  EXPECT_EQ(FuzzyDictionary::AllowedEdits(3, 4), 0);  // ...but never for a word below 4 letters

  FuzzyDictionary dictionary;
  for (const char* term : {"наушники", "наушник", "ноутбук", "chair", "chairs", "charm", "hair", "cat", "cart"}) {
    dictionary.Add(term);
  }
  EXPECT_EQ(dictionary.Add("chair"), 3u);  // the same term, the same id
  dictionary.Build();
  std::vector<std::pair<uint32_t, int>> found;
  dictionary.Similar("наушнеки", &found);  // 8 letters: 2 edits
  EXPECT_EQ(Terms(dictionary, found), (std::vector<std::string>{"наушники:1", "наушник:2"}));
  dictionary.Similar("chiar", &found);  // 5 letters: 1 edit
  EXPECT_EQ(Terms(dictionary, found), (std::vector<std::string>{"chair:1"}));
  dictionary.Similar("hair", &found);
  EXPECT_EQ(Terms(dictionary, found), (std::vector<std::string>{"hair:0", "chair:1"}));
  dictionary.Similar("charis", &found);  // 6 letters, yet "chairs" allows 1 edit
  EXPECT_EQ(Terms(dictionary, found), (std::vector<std::string>{"chairs:1"}));
  dictionary.Similar("наушнк", &found);  // 6 letters, 2 short of "наушники" (8): 2 edits
  EXPECT_EQ(Terms(dictionary, found), (std::vector<std::string>{"наушник:1", "наушники:2"}));
  dictionary.Similar("cot", &found);  // 3 letters: exact only
  EXPECT_TRUE(found.empty());
  dictionary.Similar("cat", &found);
  EXPECT_EQ(Terms(dictionary, found), (std::vector<std::string>{"cat:0"}));

  // Terms added later are found after the next Build.
  dictionary.Add("ноутбуки");
  dictionary.Similar("ноутбукы", &found);
  EXPECT_EQ(Terms(dictionary, found), (std::vector<std::string>{"ноутбук:1"}));
  dictionary.Build();
  dictionary.Similar("ноутбукы", &found);
  EXPECT_EQ(Terms(dictionary, found), (std::vector<std::string>{"ноутбук:1", "ноутбуки:1"}));
}

TEST(FuzzyDictionaryTest, FindsExactlyWhatComparingWithEveryTermFinds) {
  // Words over a 4-letter alphabet, so that many are within an edit or two.
  std::mt19937 rng(17);
  auto word = [&] {
    std::string out;
    const int length = std::uniform_int_distribution<int>(2, 10)(rng);
    for (int i = 0; i < length; ++i) out.push_back("abcd"[rng() % 4]);
    return out;
  };
  FuzzyDictionary dictionary;
  for (int i = 0; i < 3000; ++i) dictionary.Add(word());
  dictionary.Build();
  std::vector<std::pair<uint32_t, int>> found;
  size_t total = 0;
  for (int q = 0; q < 300; ++q) {
    const std::string query = word();
    const std::u32string letters = ToCodePoints(query);
    std::vector<std::pair<uint32_t, int>> expected;
    for (uint32_t id = 0; id < dictionary.size(); ++id) {
      const std::u32string term = ToCodePoints(dictionary.term(id));
      const int allowed = FuzzyDictionary::AllowedEdits(letters.size(), term.size());
      const int edits = EditDistance(letters, term, allowed);
      if (edits <= allowed) expected.emplace_back(id, edits);
    }
    std::sort(expected.begin(), expected.end(), [&](const auto& a, const auto& b) {
      return a.second != b.second ? a.second < b.second : dictionary.term(a.first) < dictionary.term(b.first);
    });
    dictionary.Similar(query, &found);
    ASSERT_EQ(found, expected) << query;
    total += found.size();
  }
  EXPECT_GT(total, 1000u);  // the case is not trivially empty
}

TEST(FuzzyDictionaryTest, ListsTermsByPrefix) {
  FuzzyDictionary dictionary;
  for (const char* term : {"наушники", "наушник", "нож", "ноутбук", "iphone", "ipad", "ip"}) dictionary.Add(term);
  dictionary.Build();
  std::vector<uint32_t> found;
  auto terms = [&] {
    std::vector<std::string> out;
    for (uint32_t id : found) out.push_back(dictionary.term(id));
    return out;
  };
  dictionary.WithPrefix("нау", 10, &found);
  EXPECT_EQ(terms(), (std::vector<std::string>{"наушник", "наушники"}));
  dictionary.WithPrefix("ip", 2, &found);
  EXPECT_EQ(terms(), (std::vector<std::string>{"ip", "ipad"}));
  dictionary.WithPrefix("x", 10, &found);
  EXPECT_TRUE(found.empty());
}

}  // namespace
}  // namespace vitrina
