#include "text/analyzer.h"

#include <gtest/gtest.h>

namespace vitrina {
namespace {

std::vector<std::string> Stems(std::string_view text) {
  std::vector<std::string> out;
  for (const Token& token : Analyze(text)) {
    if (!token.stop) out.push_back(token.stem);
  }
  return out;
}

TEST(NormalizeTextTest, FoldsCaseDiacriticsAndYoButKeepsShortI) {
  EXPECT_EQ(NormalizeText("Café CRÈME Brûlée"), "cafe creme brulee");
  EXPECT_EQ(NormalizeText("ЁЛКА ёжик"), "елка ежик");
  EXPECT_EQ(NormalizeText("Чайник Йогурт"), "чайник йогурт");  // й is a letter of its own
  EXPECT_EQ(NormalizeText("Straße"), "strasse");
  EXPECT_EQ(NormalizeText("ｆｕｌｌ－ｗｉｄｔｈ"), "full-width");  // NFKC
  EXPECT_EQ(NormalizeText("bad \xff byte"), "bad \xef\xbf\xbd byte");  // U+FFFD
  EXPECT_EQ(NormalizeText(""), "");
}

TEST(AnalyzeTest, SplitsWordsAndStemsEachByItsScript) {
  const std::vector<Token> tokens = Analyze("Кроссовки Nike для бега, running shoes!");
  ASSERT_EQ(tokens.size(), 6u);
  EXPECT_EQ(tokens[0].text, "кроссовки");
  EXPECT_EQ(tokens[0].script, Script::kCyrillic);
  EXPECT_EQ(tokens[1].script, Script::kLatin);
  EXPECT_TRUE(tokens[2].stop);  // для
  EXPECT_EQ(tokens[2].position, 2u);
  EXPECT_EQ(tokens[4].stem, "run");
  EXPECT_EQ(tokens[5].stem, "shoe");
  // Word forms share a stem, in both languages.
  EXPECT_EQ(Stems("кроссовками"), Stems("кроссовки"));
  EXPECT_EQ(Stems("кроссовками")[0], "кроссовк");
  EXPECT_EQ(Stems("наушники"), Stems("наушников"));
  EXPECT_EQ(Stems("batteries"), Stems("battery"));
  EXPECT_EQ(Stems("Men's Jackets"), (std::vector<std::string>{"men", "jacket"}));
  // Stop words are marked, not dropped.
  EXPECT_EQ(Stems("the cup of tea"), (std::vector<std::string>{"cup", "tea"}));
  EXPECT_EQ(Analyze("the cup of tea").size(), 4u);
}

TEST(AnalyzeTest, WordsWithDigitsOrMixedScriptsAreNotStemmed) {
  const std::vector<Token> tokens = Analyze("iPhone15 128gb чехолы-case");
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[0].stem, "iphone15");
  EXPECT_EQ(tokens[0].script, Script::kOther);
  EXPECT_EQ(tokens[1].stem, "128gb");
  EXPECT_EQ(tokens[2].text, "чехолы");  // the hyphen splits
  EXPECT_EQ(tokens[3].text, "case");
  EXPECT_EQ(ScriptOf("cтол"), Script::kOther);  // a Latin c among Cyrillic letters
  EXPECT_EQ(ScriptOf("стол"), Script::kCyrillic);
}

TEST(KeyboardLayoutTest, SwitchesBothWays) {
  EXPECT_EQ(SwitchKeyboardLayout("yfeiybrb"), "наушники");
  EXPECT_EQ(SwitchKeyboardLayout("ьфсищщл"), "macbook");
  EXPECT_EQ(SwitchKeyboardLayout("hf,jnf"), "работа");  // a comma key inside a word is б
  EXPECT_EQ(SwitchKeyboardLayout("yj;"), "нож");         // ; at the end is ж
  EXPECT_EQ(SwitchKeyboardLayout("xfq , rjathf"), "чай , кофера");  // a lone comma stays
  EXPECT_EQ(SwitchKeyboardLayout("2024"), "2024");
  EXPECT_EQ(SwitchKeyboardLayout(SwitchKeyboardLayout("gjkjntywt")), "gjkjntywt");
}

TEST(TransliterationTest, WritesCyrillicTheWayShoppersTypeIt) {
  EXPECT_EQ(TransliterateToLatin("наушники"), "naushniki");
  EXPECT_EQ(TransliterateToLatin(NormalizeText("Щётка")), "schetka");
  EXPECT_EQ(TransliterateToLatin("чайник 2л"), "chaynik 2l");
  EXPECT_EQ(TransliterateToLatin("объектив"), "obektiv");
  EXPECT_EQ(TransliterateToLatin("iphone"), "iphone");
}

}  // namespace
}  // namespace vitrina
