// Text analysis for search: ICU normalization, tokenization, Snowball
// stemming per script (Russian for Cyrillic words, English for Latin ones),
// stop words, and the two ways shoppers mistype a whole word: the wrong
// keyboard layout ("yfeiybrb" for "наушники") and transliteration
// ("naushniki").
//
// Thread-safe: stemmers are kept per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vitrina {

enum class Script : uint8_t { kOther = 0, kLatin, kCyrillic };

struct Token {
  std::string text;    // normalized word
  std::string stem;    // its Snowball stem (== text for words of other scripts or with digits)
  Script script = Script::kOther;
  uint32_t position = 0;  // index among the text's words, stop words included
  bool stop = false;      // a stop word of its language
};

// Case folding (NFKC casefold), "ё" -> "е", diacritics off Latin letters
// ("Café" -> "cafe"), leaving the Cyrillic "й" as it is. Invalid UTF-8
// bytes become U+FFFD.
std::string NormalizeText(std::string_view utf8);

// Words of the normalized text: runs of letters and digits (an apostrophe
// between letters stays inside the word: "men's"), with their stems.
std::vector<Token> Analyze(std::string_view utf8);

// UTF-8 to code points (invalid bytes: U+FFFD).
std::u32string ToCodePoints(std::string_view utf8);

// The stem of one normalized word of `script`.
std::string Stem(std::string_view word, Script script);

// The script of a normalized word: Latin, Cyrillic, or other (digits,
// mixed scripts, anything else).
Script ScriptOf(std::string_view word);

// The same keys typed in the other layout (QWERTY <-> ЙЦУКЕН):
// "yfeiybrb" -> "наушники", "ьфсищщл" -> "macbook". Characters without a
// key in the other layout stay as they are. Expects normalized text.
std::string SwitchKeyboardLayout(std::string_view text);

// Cyrillic letters written in Latin the way shoppers type them
// ("наушники" -> "naushniki", "щётка" -> "schetka"); other characters stay.
// Expects normalized text.
std::string TransliterateToLatin(std::string_view text);

}  // namespace vitrina
