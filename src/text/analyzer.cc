#include "text/analyzer.h"

#include <libstemmer.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <memory>

namespace vitrina {
namespace {

constexpr std::array<std::string_view, 30> kEnglishStopWords = {
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "its",
    "of", "on", "or", "that", "the", "this", "to", "with", "without", "your", "you", "our", "not", "no", "&"};
constexpr std::array<std::string_view, 30> kRussianStopWords = {
    "а", "без", "в", "во", "да", "для", "до", "же", "за", "и", "из", "или", "к", "ко", "на",
    "над", "не", "но", "о", "об", "от", "по", "под", "при", "про", "с", "со", "у", "это", "как"};

// QWERTY key -> the ЙЦУКЕН letter on the same key (lower case).
constexpr std::array<std::pair<char32_t, char32_t>, 33> kLayout = {{
    {U'q', U'й'}, {U'w', U'ц'}, {U'e', U'у'}, {U'r', U'к'}, {U't', U'е'}, {U'y', U'н'}, {U'u', U'г'},
    {U'i', U'ш'}, {U'o', U'щ'}, {U'p', U'з'}, {U'[', U'х'}, {U']', U'ъ'}, {U'a', U'ф'}, {U's', U'ы'},
    {U'd', U'в'}, {U'f', U'а'}, {U'g', U'п'}, {U'h', U'р'}, {U'j', U'о'}, {U'k', U'л'}, {U'l', U'д'},
    {U';', U'ж'}, {U'\'', U'э'}, {U'z', U'я'}, {U'x', U'ч'}, {U'c', U'с'}, {U'v', U'м'}, {U'b', U'и'},
    {U'n', U'т'}, {U'm', U'ь'}, {U',', U'б'}, {U'.', U'ю'}, {U'`', U'ё'},
}};

// а..я in order, as shoppers write them in Latin.
constexpr std::array<std::string_view, 32> kLatinOfCyrillic = {
    "a", "b", "v", "g", "d", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p",
    "r", "s", "t", "u", "f", "h", "ts", "ch", "sh", "sch", "", "y", "", "e", "yu", "ya"};

UScriptCode ScriptCode(UChar32 c) {
  UErrorCode status = U_ZERO_ERROR;
  const UScriptCode code = uscript_getScript(c, &status);
  return U_FAILURE(status) ? USCRIPT_INVALID_CODE : code;
}

bool IsLatin(UChar32 c) { return ScriptCode(c) == USCRIPT_LATIN; }

void AppendUtf8(UChar32 c, std::string* out) {
  char buffer[4];
  int32_t length = 0;
  UBool error = false;
  U8_APPEND(reinterpret_cast<uint8_t*>(buffer), length, 4, c, error);
  if (!error) out->append(buffer, static_cast<size_t>(length));
}

bool IsWordChar(UChar32 c) { return u_isalnum(c) || u_charType(c) == U_NON_SPACING_MARK; }
bool IsApostrophe(UChar32 c) { return c == U'\'' || c == 0x2019; }

bool IsStopWord(std::string_view word, Script script) {
  if (script == Script::kLatin) {
    return std::find(kEnglishStopWords.begin(), kEnglishStopWords.end(), word) != kEnglishStopWords.end();
  }
  if (script == Script::kCyrillic) {
    return std::find(kRussianStopWords.begin(), kRussianStopWords.end(), word) != kRussianStopWords.end();
  }
  return false;
}

// One Snowball stemmer per language and thread (they keep state).
class Stemmers {
 public:
  Stemmers() : english_(sb_stemmer_new("english", "UTF_8")), russian_(sb_stemmer_new("russian", "UTF_8")) {}
  ~Stemmers() {
    if (english_ != nullptr) sb_stemmer_delete(english_);
    if (russian_ != nullptr) sb_stemmer_delete(russian_);
  }
  Stemmers(const Stemmers&) = delete;
  Stemmers& operator=(const Stemmers&) = delete;

  std::string Stem(std::string_view word, Script script) {
    sb_stemmer* stemmer = script == Script::kLatin ? english_ : script == Script::kCyrillic ? russian_ : nullptr;
    if (stemmer == nullptr) return std::string(word);
    const sb_symbol* stem =
        sb_stemmer_stem(stemmer, reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
    if (stem == nullptr) return std::string(word);  // out of memory
    return std::string(reinterpret_cast<const char*>(stem), static_cast<size_t>(sb_stemmer_length(stemmer)));
  }

 private:
  sb_stemmer* english_;
  sb_stemmer* russian_;
};

}  // namespace

std::u32string ToCodePoints(std::string_view utf8) {
  std::u32string out;
  out.reserve(utf8.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(utf8.data());
  const auto length = static_cast<int32_t>(utf8.size());
  int32_t i = 0;
  while (i < length) {
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    out.push_back(static_cast<char32_t>(c < 0 ? 0xFFFD : c));
  }
  return out;
}

std::string NormalizeText(std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* fold = icu::Normalizer2::getNFKCCasefoldInstance(status);
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) return std::string(utf8);  // ICU data missing: leave the text as it is
  const icu::UnicodeString source =
      icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
  const icu::UnicodeString decomposed = nfd->normalize(fold->normalize(source, status), status);
  if (U_FAILURE(status)) return std::string(utf8);
  // Marks off Latin letters and ё's diaeresis go; й keeps its breve.
  icu::UnicodeString kept;
  UChar32 base = 0;
  for (int32_t i = 0; i < decomposed.length(); i = decomposed.moveIndex32(i, 1)) {
    const UChar32 c = decomposed.char32At(i);
    if (u_getCombiningClass(c) != 0 || u_charType(c) == U_NON_SPACING_MARK) {
      if (IsLatin(base) || (base == U'е' && c == 0x0308)) continue;
    } else {
      base = c;
    }
    kept.append(c);
  }
  std::string out;
  nfc->normalize(kept, status).toUTF8String(out);
  return U_FAILURE(status) ? std::string(utf8) : out;
}

Script ScriptOf(std::string_view word) {
  Script script = Script::kOther;
  for (UChar32 c : ToCodePoints(word)) {
    if (IsApostrophe(c) || u_charType(c) == U_NON_SPACING_MARK) continue;
    const UScriptCode code = ScriptCode(c);
    const Script here = code == USCRIPT_LATIN ? Script::kLatin : code == USCRIPT_CYRILLIC ? Script::kCyrillic : Script::kOther;
    if (here == Script::kOther || (script != Script::kOther && here != script)) return Script::kOther;
    script = here;
  }
  return script;
}

std::string Stem(std::string_view word, Script script) {
  thread_local Stemmers stemmers;
  return stemmers.Stem(word, script);
}

std::vector<Token> Analyze(std::string_view utf8) {
  const std::u32string chars = ToCodePoints(NormalizeText(utf8));
  std::vector<Token> tokens;
  uint32_t position = 0;
  size_t i = 0;
  while (i < chars.size()) {
    if (!IsWordChar(chars[i])) {
      ++i;
      continue;
    }
    std::string word;
    for (; i < chars.size(); ++i) {
      const UChar32 c = chars[i];
      const bool inner_apostrophe = IsApostrophe(c) && !word.empty() && i + 1 < chars.size() && u_isalpha(chars[i + 1]);
      if (!IsWordChar(c) && !inner_apostrophe) break;
      AppendUtf8(IsApostrophe(c) ? U'\'' : c, &word);
    }
    Token token{.text = std::move(word), .position = position++};
    token.script = ScriptOf(token.text);
    token.stop = IsStopWord(token.text, token.script);
    token.stem = Stem(token.text, token.script);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

std::string SwitchKeyboardLayout(std::string_view text) {
  const std::u32string chars = ToCodePoints(text);
  std::string out;
  out.reserve(text.size() * 2);
  auto letter_at = [&](size_t i) { return i < chars.size() && u_isalpha(chars[i]); };
  for (size_t i = 0; i < chars.size(); ++i) {
    const UChar32 c = chars[i];
    UChar32 mapped = c;
    for (const auto& [latin, cyrillic] : kLayout) {
      if (static_cast<UChar32>(latin) == c) mapped = static_cast<UChar32>(cyrillic);
      if (static_cast<UChar32>(cyrillic) == c) mapped = static_cast<UChar32>(latin);
    }
    // Punctuation keys are letters in the other layout only next to a letter.
    if (!u_isalpha(c) && mapped != c && !(i > 0 && letter_at(i - 1)) && !letter_at(i + 1)) mapped = c;
    AppendUtf8(mapped, &out);
  }
  return out;
}

std::string TransliterateToLatin(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (UChar32 c : ToCodePoints(text)) {
    if (c >= 0x0430 && c <= 0x044F) {  // а..я
      out += kLatinOfCyrillic[static_cast<size_t>(c - 0x0430)];
    } else if (c == 0x0451) {  // ё
      out += "e";
    } else {
      AppendUtf8(c, &out);
    }
  }
  return out;
}

}  // namespace vitrina
