#include "normalizer.h"

#include <atomic>
#include <unicode/normalizer2.h>
#include <unicode/translit.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "status_util.h"

namespace callguard {
namespace {

// What a code point (after folding) becomes in the output.
enum class Kind : uint8_t {
  kLetter,      // word character: letters, non-ASCII digits, spacing marks
  kDigit,       // ASCII 0-9
  kCjk,         // written without spaces
  kSpace,       // white space, or punctuation/symbol that separates words
  kClause,      // . , ! ? ; : and CJK forms: become the clause marker ","
  kKeep,        // $ % ¥ € £: kept as themselves
  kApostrophe,  // resolved to kDrop or kSpace by context
  kDrop,        // contributes nothing: combining marks, format characters, separators
};

bool IsWordKind(Kind k) { return k == Kind::kLetter || k == Kind::kDigit; }

constexpr std::array<Kind, 128> MakeAsciiKinds() {
  std::array<Kind, 128> kinds{};
  for (int c = 0; c < 128; ++c) kinds[c] = Kind::kSpace;
  for (int c = 'a'; c <= 'z'; ++c) kinds[c] = Kind::kLetter;
  for (int c = 'A'; c <= 'Z'; ++c) kinds[c] = Kind::kLetter;
  for (int c = '0'; c <= '9'; ++c) kinds[c] = Kind::kDigit;
  for (char c : {'.', ',', '!', '?', ';', ':'}) kinds[static_cast<int>(c)] = Kind::kClause;
  kinds['$'] = Kind::kKeep;
  kinds['%'] = Kind::kKeep;
  kinds['\''] = Kind::kApostrophe;
  kinds['`'] = Kind::kApostrophe;
  return kinds;
}
constexpr std::array<Kind, 128> kAsciiKinds = MakeAsciiKinds();

struct AsciiFold {
  char lower;
  Kind kind;
};
constexpr std::array<AsciiFold, 128> MakeAsciiFolds() {
  std::array<AsciiFold, 128> folds{};
  for (int c = 0; c < 128; ++c) {
    folds[c] = {static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c), kAsciiKinds[c]};
  }
  return folds;
}
constexpr std::array<AsciiFold, 128> kAsciiFolds = MakeAsciiFolds();

// Apostrophe look-alikes. Mapped to '\'' before folding: NFKC turns U+00B4 into a space plus
// a combining mark, which would split "don´t".
bool IsApostropheLike(uint32_t cp) {
  return cp == 0x2019 || cp == 0x2018 || cp == 0x02BC || cp == 0x00B4 || cp == 0x2032;
}

// Class of a code point as it appears in folded text. Used to build the tables and for the
// rare supplementary-plane code points at run time.
Kind ClassifyFolded(uint32_t cp) {
  if (cp < 0x80) return kAsciiKinds[cp];
  switch (cp) {
    case 0x3001:  // 、
    case 0x3002:  // 。
    case 0x22EF:  // ⋯ (used as an ellipsis in Chinese)
      return Kind::kClause;
    case 0x00A5:  // ¥
    case 0x00A3:  // £
    case 0x20AC:  // €
      return Kind::kKeep;
    default:
      break;
  }
  const int8_t type = u_charType(static_cast<UChar32>(cp));
  switch (type) {
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_FORMAT_CHAR:
      return Kind::kDrop;
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
    case U_CONTROL_CHAR:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
    case U_UNASSIGNED:
      return Kind::kSpace;
    default:
      break;
  }
  if (IsCjkCodePoint(cp)) return Kind::kCjk;
  return Kind::kLetter;  // letters, digits, letter-like numbers, spacing marks
}

// The main Han blocks: NFKC leaves them alone, so only the Traditional->Simplified table applies.
inline bool IsHanFastPath(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF);
}

constexpr uint32_t kT2sBegin = 0x3400;
constexpr uint32_t kT2sEnd = 0xA000;

// Per-code-point NFKC_Casefold results for the whole BMP, computed once with ICU. Latin
// letters also lose their accents, so that precomposed "é" and "e" + U+0301 (whose mark is
// dropped code point by code point) end up the same.
struct FoldTables {
  static constexpr uint32_t kIdentity = 0xFFFFFFFFu;
  std::vector<uint32_t> index;  // per BMP code point: kIdentity or (pool offset << 5) | length
  std::vector<char32_t> pool;
  std::vector<Kind> kind;       // per BMP code point, its class as folded output
  const icu::Normalizer2* nfkc_cf = nullptr;
  absl::Status status;

  Kind KindOf(uint32_t cp) const { return cp < 0x10000 ? kind[cp] : ClassifyFolded(cp); }
};

uint32_t StripLatinAccent(const icu::Normalizer2* nfd, uint32_t cp) {
  if (cp < 0x80 || !u_isalpha(static_cast<UChar32>(cp))) return cp;
  UErrorCode status = U_ZERO_ERROR;
  if (uscript_getScript(static_cast<UChar32>(cp), &status) != USCRIPT_LATIN || U_FAILURE(status)) return cp;
  icu::UnicodeString decomposed;
  nfd->normalize(icu::UnicodeString(static_cast<UChar32>(cp)), decomposed, status);
  if (U_FAILURE(status) || decomposed.countChar32() < 2) return cp;
  const UChar32 base = decomposed.char32At(0);
  for (int32_t i = U16_LENGTH(base); i < decomposed.length();) {
    const UChar32 mark = decomposed.char32At(i);
    if (u_charType(mark) != U_NON_SPACING_MARK) return cp;
    i += U16_LENGTH(mark);
  }
  return static_cast<uint32_t>(base);
}

const FoldTables& GetFoldTables() {
  static const FoldTables* const tables = [] {
    auto* t = new FoldTables;
    UErrorCode status = U_ZERO_ERROR;
    t->nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
    const icu::Normalizer2* nfd = U_SUCCESS(status) ? icu::Normalizer2::getNFDInstance(status) : nullptr;
    if (U_FAILURE(status) || t->nfkc_cf == nullptr || nfd == nullptr) {
      t->status = absl::InternalError(absl::StrCat("ICU normalizer data unavailable: ", u_errorName(status)));
      return t;
    }
    t->index.assign(0x10000, FoldTables::kIdentity);
    t->kind.resize(0x10000);
    for (uint32_t cp = 0; cp < 0x10000; ++cp) t->kind[cp] = ClassifyFolded(cp);
    std::vector<char32_t> folded;
    for (uint32_t cp = 0x80; cp < 0x10000; ++cp) {
      if ((cp >= 0xD800 && cp <= 0xDFFF) || IsHanFastPath(cp)) continue;
      folded.clear();
      if (IsApostropheLike(cp)) {
        folded.push_back(U'\'');
      } else {
        icu::UnicodeString out;
        t->nfkc_cf->normalize(icu::UnicodeString(static_cast<UChar32>(cp)), out, status);
        if (U_FAILURE(status)) {
          t->status = absl::InternalError(absl::StrCat("ICU NFKC_Casefold failed: ", u_errorName(status)));
          return t;
        }
        for (int32_t i = 0; i < out.length();) {
          const UChar32 c = out.char32At(i);
          i += U16_LENGTH(c);
          const uint32_t stripped = StripLatinAccent(nfd, static_cast<uint32_t>(c));
          if (t->KindOf(stripped) == Kind::kDrop) continue;
          folded.push_back(static_cast<char32_t>(stripped));
        }
      }
      if (folded.size() == 1 && folded[0] == cp) continue;
      if (folded.size() > 31) {
        t->status = absl::InternalError("NFKC_Casefold expansion longer than the table allows");
        return t;
      }
      t->index[cp] = (static_cast<uint32_t>(t->pool.size()) << 5) | static_cast<uint32_t>(folded.size());
      t->pool.insert(t->pool.end(), folded.begin(), folded.end());
    }
    return t;
  }();
  return *tables;
}

// Traditional -> Simplified for [kT2sBegin, kT2sEnd), one code point at a time.
struct T2sTable {
  std::vector<char16_t> map;  // identity where nothing changes
  absl::Status status;
};

const T2sTable& GetT2sTable() {
  static const T2sTable* const table = [] {
    auto* t = new T2sTable;
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::Transliterator> translit(
        icu::Transliterator::createInstance("Hant-Hans", UTRANS_FORWARD, status));
    if (U_FAILURE(status) || translit == nullptr) {
      status = U_ZERO_ERROR;
      translit.reset(icu::Transliterator::createInstance("Traditional-Simplified", UTRANS_FORWARD, status));
    }
    if (U_FAILURE(status) || translit == nullptr) {
      t->status = absl::FailedPreconditionError(absl::StrCat(
          "ICU transliterator Hant-Hans is not in this ICU's data (", u_errorName(status),
          "); create the normalizer with fold_traditional_to_simplified = false"));
      return t;
    }
    t->map.resize(kT2sEnd - kT2sBegin);
    for (uint32_t cp = kT2sBegin; cp < kT2sEnd; ++cp) {
      icu::UnicodeString s(static_cast<UChar32>(cp));
      translit->transliterate(s);
      const bool single_bmp = s.length() == 1 && !U16_IS_SURROGATE(s.charAt(0));
      t->map[cp - kT2sBegin] = single_bmp ? static_cast<char16_t>(s.charAt(0)) : static_cast<char16_t>(cp);
    }
    // One lookup must suffice: follow chains a -> b -> c.
    for (uint32_t i = 0; i < t->map.size(); ++i) {
      for (int hops = 0; hops < 4; ++hops) {
        const uint32_t next = t->map[i];
        if (next < kT2sBegin || next >= kT2sEnd || t->map[next - kT2sBegin] == next) break;
        t->map[i] = t->map[next - kT2sBegin];
      }
    }
    return t;
  }();
  return *table;
}

// One folded code point with the original bytes it came from.
struct Atom {
  char32_t cp;
  uint32_t orig_begin;
  uint32_t orig_end;
  Kind kind;
};

// Read-only view of the atoms (absl::Span's operator[] is bounds-checked in hardened builds).
// Every look past the last atom goes through Has(), which records that the answer depended on
// where the text ends: a growing text may only reuse output that did not.
struct AtomView {
  const Atom* data;
  size_t count;
  bool* reached_end;
  const Atom& operator[](size_t i) const { return data[i]; }
  bool Has(size_t i) const {
    if (i < count) return true;
    *reached_end = true;
    return false;
  }
};

// Decodes one code point; on invalid UTF-8 returns false, sets U+FFFD and consumes one byte.
inline bool DecodeChecked(const unsigned char* s, size_t n, size_t* pos, char32_t* cp) {
  const size_t i = *pos;
  const unsigned char c = s[i];
  if (c < 0x80) {
    *cp = c;
    *pos = i + 1;
    return true;
  }
  int len;
  char32_t value;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    value = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    value = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    value = c & 0x07;
  } else {
    len = 0;
    value = 0;
  }
  bool ok = len != 0 && i + len <= n;
  for (int k = 1; ok && k < len; ++k) {
    const unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) ok = false;
    value = (value << 6) | (cc & 0x3F);
  }
  if (ok) {
    const bool overlong = (len == 2 && value < 0x80) || (len == 3 && value < 0x800) || (len == 4 && value < 0x10000);
    if (overlong || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) ok = false;
  }
  if (!ok) {
    *cp = 0xFFFD;
    *pos = i + 1;
    return false;
  }
  *cp = value;
  *pos = i + len;
  return true;
}

// Output written through raw pointers into per-thread buffers that are sized beforehand.
struct Writer {
  char* text;
  uint32_t* orig_begin;
  uint32_t* orig_end;
  size_t len = 0;

  [[gnu::always_inline]] void Byte(char c, uint32_t ob, uint32_t oe) {
    text[len] = c;
    orig_begin[len] = ob;
    orig_end[len] = oe;
    ++len;
  }
  [[gnu::always_inline]] void CodePoint(char32_t cp, uint32_t ob, uint32_t oe) {
    if (cp < 0x80) {
      Byte(static_cast<char>(cp), ob, oe);
    } else if (cp < 0x800) {
      Byte(static_cast<char>(0xC0 | (cp >> 6)), ob, oe);
      Byte(static_cast<char>(0x80 | (cp & 0x3F)), ob, oe);
    } else if (cp < 0x10000) {
      Byte(static_cast<char>(0xE0 | (cp >> 12)), ob, oe);
      Byte(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), ob, oe);
      Byte(static_cast<char>(0x80 | (cp & 0x3F)), ob, oe);
    } else {
      Byte(static_cast<char>(0xF0 | (cp >> 18)), ob, oe);
      Byte(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)), ob, oe);
      Byte(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), ob, oe);
      Byte(static_cast<char>(0x80 | (cp & 0x3F)), ob, oe);
    }
  }
};

// ---- English number words ----------------------------------------------------------------

enum class NumType : uint8_t { kNone, kZero, kUnit, kTeen, kTens, kHundred, kScale, kAnd, kA, kDigits };

struct NumWordEntry {
  const char* word;
  uint8_t length;
  NumType type;
  uint64_t value;
};

constexpr NumWordEntry kNumWords[] = {
    {"a", 1, NumType::kA, 1},
    {"and", 3, NumType::kAnd, 0},
    {"billion", 7, NumType::kScale, 1000000000ull},
    {"eight", 5, NumType::kUnit, 8},
    {"eleven", 6, NumType::kTeen, 11},
    {"eighteen", 8, NumType::kTeen, 18},
    {"eighty", 6, NumType::kTens, 80},
    {"five", 4, NumType::kUnit, 5},
    {"four", 4, NumType::kUnit, 4},
    {"fourteen", 8, NumType::kTeen, 14},
    {"fifteen", 7, NumType::kTeen, 15},
    {"forty", 5, NumType::kTens, 40},
    {"fifty", 5, NumType::kTens, 50},
    {"hundred", 7, NumType::kHundred, 100},
    {"million", 7, NumType::kScale, 1000000ull},
    {"nine", 4, NumType::kUnit, 9},
    {"nineteen", 8, NumType::kTeen, 19},
    {"ninety", 6, NumType::kTens, 90},
    {"one", 3, NumType::kUnit, 1},
    {"six", 3, NumType::kUnit, 6},
    {"seven", 5, NumType::kUnit, 7},
    {"sixteen", 7, NumType::kTeen, 16},
    {"seventeen", 9, NumType::kTeen, 17},
    {"sixty", 5, NumType::kTens, 60},
    {"seventy", 7, NumType::kTens, 70},
    {"two", 3, NumType::kUnit, 2},
    {"three", 5, NumType::kUnit, 3},
    {"ten", 3, NumType::kTeen, 10},
    {"twelve", 6, NumType::kTeen, 12},
    {"thirteen", 8, NumType::kTeen, 13},
    {"twenty", 6, NumType::kTens, 20},
    {"thirty", 6, NumType::kTens, 30},
    {"thousand", 8, NumType::kScale, 1000},
    {"trillion", 8, NumType::kScale, 1000000000000ull},
    {"zero", 4, NumType::kZero, 0},
};

// [begin, end) of kNumWords entries starting with each letter; entries are grouped by letter.
struct NumWordIndex {
  std::array<uint8_t, 26> begin{};
  std::array<uint8_t, 26> end{};
};

constexpr NumWordIndex MakeNumWordIndex() {
  NumWordIndex index;
  constexpr int n = sizeof(kNumWords) / sizeof(kNumWords[0]);
  for (int i = n - 1; i >= 0; --i) index.begin[kNumWords[i].word[0] - 'a'] = static_cast<uint8_t>(i);
  for (int i = 0; i < n; ++i) index.end[kNumWords[i].word[0] - 'a'] = static_cast<uint8_t>(i + 1);
  return index;
}
constexpr NumWordIndex kNumWordIndex = MakeNumWordIndex();

// For each first letter, a bit per second letter that some number word starts with.
constexpr std::array<uint32_t, 26> MakeNumWordPrefixes() {
  std::array<uint32_t, 26> prefixes{};
  for (const NumWordEntry& e : kNumWords) {
    if (e.length >= 2) prefixes[e.word[0] - 'a'] |= 1u << (e.word[1] - 'a');
  }
  return prefixes;
}
constexpr std::array<uint32_t, 26> kNumWordPrefixes = MakeNumWordPrefixes();

// Cheap test run at every word start, before the full parse.
bool MayStartNumber(AtomView atoms, size_t i) {
  const Atom& a = atoms[i];
  if (a.kind == Kind::kDigit) return true;
  if (a.cp < U'a' || a.cp > U'z') return false;
  const bool has_second = atoms.Has(i + 1) && atoms[i + 1].kind == Kind::kLetter;
  if (!has_second) return a.cp == U'a';  // "a hundred"
  const char32_t second = atoms[i + 1].cp;
  if (second < U'a' || second > U'z') return false;
  return (kNumWordPrefixes[a.cp - U'a'] >> (second - U'a')) & 1u;
}

struct NumWord {
  NumType type = NumType::kNone;
  uint64_t value = 0;
  size_t end = 0;  // atom index just past the word
  bool is_one = false;
};

// Reads the word starting at atoms[start] and says whether it is a number word.
NumWord ReadNumWord(AtomView atoms, size_t start) {
  NumWord word;
  char buf[10];
  size_t len = 0;
  bool all_digits = true;
  bool all_ascii_letters = true;
  size_t i = start;
  for (; atoms.Has(i) && IsWordKind(atoms[i].kind); ++i) {
    if (len == sizeof(buf)) return word;  // longer than any number word
    const char32_t cp = atoms[i].cp;
    if (atoms[i].kind != Kind::kDigit) all_digits = false;
    if (cp < 'a' || cp > 'z') all_ascii_letters = false;
    buf[len++] = static_cast<char>(cp);
  }
  word.end = i;
  if (all_digits) {
    if (len > 3) return word;
    uint64_t value = 0;
    for (size_t k = 0; k < len; ++k) value = value * 10 + static_cast<uint64_t>(buf[k] - '0');
    word.type = NumType::kDigits;
    word.value = value;
    return word;
  }
  if (!all_ascii_letters || len > 9) return word;
  const int letter = buf[0] - 'a';
  for (int k = kNumWordIndex.begin[letter]; k < kNumWordIndex.end[letter]; ++k) {
    const NumWordEntry& e = kNumWords[k];
    if (e.length == len && std::memcmp(e.word, buf, len) == 0) {
      word.type = e.type;
      word.value = e.value;
      word.is_one = e.type == NumType::kUnit && e.value == 1;
      return word;
    }
  }
  return word;
}

// Reads the Latin word starting at atoms[start] into `buf` (lowercase ASCII letters only, at
// most `size` of them); returns its length, or 0 if it is anything else. *end: past the word.
size_t ReadAsciiWord(AtomView atoms, size_t start, char* buf, size_t size, size_t* end) {
  size_t len = 0;
  size_t i = start;
  for (; atoms.Has(i) && IsWordKind(atoms[i].kind); ++i) {
    const char32_t cp = atoms[i].cp;
    if (len == size || cp < U'a' || cp > U'z') len = size + 1;  // not a candidate; read on to its end
    if (len <= size) buf[len++] = static_cast<char>(cp);
  }
  *end = i;
  return len <= size ? len : 0;
}

size_t NextWordAfterSpaces(AtomView atoms, size_t pos);

// True if the Latin word starting at atoms[start] repeats the word just written to `out`
// (a stutter: "have the the police"); sets *end past it. Only lowercase ASCII words.
bool RepeatsPreviousWord(AtomView atoms, size_t start, const char* out, size_t out_len, size_t* end) {
  size_t k = out_len;
  while (k > 0 && out[k - 1] >= 'a' && out[k - 1] <= 'z') --k;
  if (k == out_len || (k > 0 && out[k - 1] != ' ')) return false;  // a letter word, after a space
  if (atoms[start].cp != static_cast<unsigned char>(out[k])) return false;  // the common case, cheaply
  char buf[16];
  const size_t len = ReadAsciiWord(atoms, start, buf, sizeof(buf), end);
  if (len != out_len - k || std::memcmp(buf, out + k, len) != 0) return false;
  // Spoken digits repeat on purpose ("five five five one one two", "oh oh seven").
  const absl::string_view word(buf, len);
  return word != "oh" && word != "o" && ReadNumWord(atoms, start).type == NumType::kNone;
}

// Hesitations as recognizers spell them. Each begins with 'u' or 'e', which lets the emitter
// skip the check for every other word (MayBeFiller).
constexpr std::array<absl::string_view, 7> kFillerWords = {"uh", "um", "umm", "uhm", "uhh", "er", "erm"};
constexpr bool MayBeFiller(char32_t first) { return first == U'u' || first == U'e'; }
static_assert([] {
  for (absl::string_view w : kFillerWords) {
    if (!MayBeFiller(static_cast<char32_t>(w.front()))) return false;
  }
  return true;
}());

// A hesitation sound the recognizer wrote as a word ("we will have the uh police come"): it
// carries no meaning and would split a phrase in two. Not "mm", "hmm" nor "uh" before "huh":
// "mm hmm" and "uh huh" are answers. Sets *end past the word (and its trailing spaces are
// left for the caller).
bool IsFillerWord(AtomView atoms, size_t start, size_t* end) {
  char buf[4];
  const size_t len = ReadAsciiWord(atoms, start, buf, sizeof(buf), end);
  const absl::string_view word(buf, len);
  if (std::find(kFillerWords.begin(), kFillerWords.end(), word) == kFillerWords.end()) return false;
  // Not next to Chinese, where it would join what it separates ("十 um 两"), nor next to
  // digits, which Chinese numerals become: the output must normalize to itself.
  auto blocks = [](Kind kind) { return kind == Kind::kCjk || kind == Kind::kDigit; };
  size_t before = start;
  while (before > 0 && (atoms[before - 1].kind == Kind::kSpace || atoms[before - 1].kind == Kind::kDrop)) --before;
  if (before > 0 && blocks(atoms[before - 1].kind)) return false;
  size_t after = *end;
  while (atoms.Has(after) && (atoms[after].kind == Kind::kSpace || atoms[after].kind == Kind::kDrop)) ++after;
  if (atoms.Has(after) && blocks(atoms[after].kind)) return false;
  if (word != "uh") return true;
  const size_t next = NextWordAfterSpaces(atoms, *end);
  if (next == std::string::npos) return true;
  size_t next_end;
  char next_buf[4];
  return absl::string_view(next_buf, ReadAsciiWord(atoms, next, next_buf, sizeof(next_buf), &next_end)) != "huh";
}

// Index of the next word start after the spaces following atom index `pos`, or npos.
size_t NextWordAfterSpaces(AtomView atoms, size_t pos) {
  size_t i = pos;
  while (atoms.Has(i)) {
    const Kind kind = atoms[i].kind;
    if (kind == Kind::kApostrophe) {
      // Inside a word ("one's") it is no separator.
      if (i > 0 && IsWordKind(atoms[i - 1].kind) && atoms.Has(i + 1) && atoms[i + 1].kind == Kind::kLetter) break;
    } else if (kind == Kind::kClause) {
      // Only a period between two letters ("one.thousand") is written as a space.
      if (atoms[i].cp != U'.' || i == 0 || atoms[i - 1].kind != Kind::kLetter || !atoms.Has(i + 1) ||
          atoms[i + 1].kind != Kind::kLetter) {
        break;
      }
    } else if (kind != Kind::kSpace && kind != Kind::kDrop) {
      break;
    }
    ++i;
  }
  if (i == pos || !atoms.Has(i) || !IsWordKind(atoms[i].kind)) return std::string::npos;
  return i;
}

// The next word after `pos` that could go on a number: hesitations in between are skipped
// ("two uh hundred" is 200), so that a number reads the same with the fillers dropped or not.
size_t NextNumberWordCandidate(AtomView atoms, size_t pos) {
  size_t next = NextWordAfterSpaces(atoms, pos);
  size_t end;
  while (next != std::string::npos && IsFillerWord(atoms, next, &end)) next = NextWordAfterSpaces(atoms, end);
  return next;
}

// Parses "three hundred eighty", "twelve thousand three hundred", "a hundred", "5 thousand"...
// starting at a word start. On success sets *end (atom index past the number) and *value.
// With a non-zero `seed` (a number already read, ending at `start`), only a continuation by
// "hundred"/"thousand"/... is parsed, from the word after `start`.
bool ParseEnglishNumber(AtomView atoms, size_t start, uint64_t seed, size_t* end, uint64_t* value) {
  enum class State { kStart, kOnes, kTens, kTensOnes, kNeedsScale, kHundred, kHundredAnd, kHundredTens,
                     kHundredDone, kScaled, kScaledAnd, kScaledTens };
  State state = State::kStart;
  uint64_t total = 0;
  uint64_t segment = 0;
  uint64_t last_scale = std::numeric_limits<uint64_t>::max();
  size_t best_end = 0;
  uint64_t best_value = 0;
  int words = 0;
  int best_words = 0;
  bool first_is_one = false;
  constexpr uint64_t kMax = 1000000000000000ull;

  size_t pos = start;
  if (seed > 0) {
    state = State::kNeedsScale;
    segment = seed;
    words = 1;
    pos = NextNumberWordCandidate(atoms, start);
  }
  while (pos != std::string::npos) {
    const NumWord w = ReadNumWord(atoms, pos);
    if (w.type == NumType::kNone) break;
    const NumType t = w.type;
    auto apply_scale = [&]() -> bool {
      if (w.value >= last_scale || segment == 0 || segment >= 1000000) return false;
      total += segment * w.value;
      segment = 0;
      last_scale = w.value;
      state = State::kScaled;
      return total <= kMax;
    };
    bool accepted = true;
    bool stop_after = false;
    switch (state) {
      case State::kStart:
        if (t == NumType::kZero) {
          segment = 0;
          state = State::kOnes;
          stop_after = true;
        } else if (t == NumType::kUnit || t == NumType::kTeen) {
          segment = w.value;
          state = State::kOnes;
          first_is_one = w.is_one;
        } else if (t == NumType::kTens) {
          segment = w.value;
          state = State::kTens;
        } else if (t == NumType::kA || (t == NumType::kDigits && w.value > 0)) {
          segment = w.value;
          state = State::kNeedsScale;
        } else {
          accepted = false;
        }
        break;
      case State::kOnes:
      case State::kTensOnes:
      case State::kNeedsScale:
        // Like the words: "twelve hundred", "twenty five hundred", not "forty hundred".
        if (t == NumType::kHundred && segment < 100 && (segment < 20 || segment % 10 != 0)) {
          segment *= 100;
          state = State::kHundred;
        } else if (t == NumType::kScale) {
          accepted = apply_scale();
        } else {
          accepted = false;
        }
        break;
      case State::kTens:
      case State::kScaledTens:
        if (t == NumType::kUnit) {
          segment += w.value;
          state = state == State::kTens ? State::kTensOnes : State::kHundredDone;
        } else if (t == NumType::kScale) {
          accepted = apply_scale();
        } else {
          accepted = false;
        }
        break;
      case State::kHundred:
        if (t == NumType::kAnd) {
          state = State::kHundredAnd;
        } else if (t == NumType::kUnit || t == NumType::kTeen) {
          segment += w.value;
          state = State::kHundredDone;
        } else if (t == NumType::kTens) {
          segment += w.value;
          state = State::kHundredTens;
        } else if (t == NumType::kScale) {
          accepted = apply_scale();
        } else {
          accepted = false;
        }
        break;
      case State::kHundredAnd:
      case State::kScaledAnd:
        if (t == NumType::kUnit || t == NumType::kTeen) {
          segment += w.value;
          state = State::kHundredDone;
        } else if (t == NumType::kTens) {
          segment += w.value;
          state = State::kHundredTens;
        } else {
          accepted = false;
        }
        break;
      case State::kHundredTens:
        if (t == NumType::kUnit) {
          segment += w.value;
          state = State::kHundredDone;
        } else if (t == NumType::kScale) {
          accepted = apply_scale();
        } else {
          accepted = false;
        }
        break;
      case State::kHundredDone:
        accepted = t == NumType::kScale && apply_scale();
        break;
      case State::kScaled:
        if (t == NumType::kAnd) {
          state = State::kScaledAnd;
        } else if (t == NumType::kUnit || t == NumType::kTeen) {
          segment = w.value;
          state = State::kOnes;
        } else if (t == NumType::kTens) {
          segment = w.value;
          state = State::kScaledTens;
        } else {
          accepted = false;
        }
        break;
    }
    if (!accepted) break;
    ++words;
    const bool complete = state != State::kNeedsScale && state != State::kHundredAnd && state != State::kScaledAnd;
    if (complete) {
      best_end = w.end;
      best_value = total + segment;
      best_words = words;
    }
    if (stop_after) break;
    pos = NextNumberWordCandidate(atoms, w.end);
  }
  if (best_words == 0) return false;
  if (best_words == 1 && first_is_one) return false;  // "no one", "one of those"
  *end = best_end;
  *value = best_value;
  return true;
}

// ---- Chinese numerals ---------------------------------------------------------------------

// Chinese numeral characters: digit value 0-9, or a unit, or kNotNumeral.
constexpr int kNotNumeral = -1;
constexpr int kUnitTen = 10, kUnitHundred = 11, kUnitThousand = 12, kUnitWan = 13, kUnitYi = 14;

constexpr char32_t kZhNumerals[] = {U'零', U'〇', U'一', U'二', U'两', U'三', U'四', U'五', U'六',
                                    U'七', U'八', U'九', U'十', U'百', U'千', U'万', U'亿'};

// Bit (cp & 255) set for each numeral: rejects almost every other character in one test.
constexpr std::array<uint64_t, 4> MakeZhNumeralFilter() {
  std::array<uint64_t, 4> filter{};
  for (char32_t cp : kZhNumerals) filter[(cp & 255) >> 6] |= uint64_t{1} << (cp & 63);
  return filter;
}
constexpr std::array<uint64_t, 4> kZhNumeralFilter = MakeZhNumeralFilter();

int ZhNumeral(char32_t cp) {
  if (((kZhNumeralFilter[(cp & 255) >> 6] >> (cp & 63)) & 1) == 0) return kNotNumeral;
  switch (cp) {
    case U'零':
    case U'〇':
      return 0;
    case U'一':
      return 1;
    case U'二':
    case U'两':
      return 2;
    case U'三':
      return 3;
    case U'四':
      return 4;
    case U'五':
      return 5;
    case U'六':
      return 6;
    case U'七':
      return 7;
    case U'八':
      return 8;
    case U'九':
      return 9;
    case U'十':
      return kUnitTen;
    case U'百':
      return kUnitHundred;
    case U'千':
      return kUnitThousand;
    case U'万':
      return kUnitWan;
    case U'亿':
      return kUnitYi;
    default:
      return kNotNumeral;
  }
}

int ZhDigit(char32_t cp) {
  const int v = ZhNumeral(cp);
  return v <= 9 ? v : -1;
}

uint64_t ZhUnit(char32_t cp) {
  switch (ZhNumeral(cp)) {
    case kUnitTen:
      return 10;
    case kUnitHundred:
      return 100;
    case kUnitThousand:
      return 1000;
    case kUnitWan:
      return 10000;
    case kUnitYi:
      return 100000000;
    default:
      return 0;
  }
}

bool IsZhNumeral(char32_t cp) { return ZhNumeral(cp) != kNotNumeral; }
bool IsZhNumberStart(char32_t cp) {
  const int v = ZhNumeral(cp);
  return (v >= 1 && v <= 9) || v == kUnitTen;
}

// Writes the value of a Chinese numeral run into buf (ASCII digits) and returns its length, or
// 0 if the run is not a number we convert. Colloquial "一千三百四" is 1340: a digit right after
// 千/百/万/亿 stands for the next lower unit.
size_t ParseChineseNumber(const char32_t* run, size_t n, char* buf, size_t buf_size) {
  bool has_unit = false;
  bool has_liang = false;
  for (size_t i = 0; i < n; ++i) {
    has_unit |= ZhUnit(run[i]) != 0;
    has_liang |= run[i] == U'两';
  }
  if (!has_unit) {
    // Digit by digit ("一三八"): short runs are idioms or ranges ("三四个", "一二", "三三两两").
    if (n < 3 || has_liang || n > buf_size) return 0;
    for (size_t i = 0; i < n; ++i) buf[i] = static_cast<char>('0' + ZhDigit(run[i]));
    return n;
  }
  uint64_t total = 0;       // complete 亿 part
  uint64_t wan_part = 0;    // complete 万 part below 亿
  uint64_t current = 0;     // below 万
  int digit = -1;           // pending digit
  uint64_t digit_after_unit = 0;  // the unit right before the pending digit (0: start or 零)
  uint64_t last_small = 10000;    // last of 千/百/十 used in `current`, for order
  bool wan_done = false;
  bool yi_done = false;
  uint64_t prev_unit = 0;  // unit of the previous character, 0 if it was a digit
  for (size_t i = 0; i < n; ++i) {
    const char32_t cp = run[i];
    const int d = ZhDigit(cp);
    if (d == 0) {
      if (digit > 0) return 0;  // "五零"
      prev_unit = 0;
      continue;
    }
    if (d > 0) {
      if (digit >= 0) return 0;  // two digits in a row: "四五十" is a range
      digit = d;
      digit_after_unit = prev_unit;
      prev_unit = 0;
      continue;
    }
    const uint64_t unit = ZhUnit(cp);
    if (unit <= 1000) {
      if (unit >= last_small) return 0;
      uint64_t multiplier;
      if (digit > 0) {
        multiplier = static_cast<uint64_t>(digit);
      } else if (unit == 10 && i == 0) {
        multiplier = 1;  // "十二"
      } else {
        return 0;  // a unit without its digit: "百", "一百十"
      }
      current += multiplier * unit;
      last_small = unit;
      digit = -1;
    } else if (unit == 10000) {
      const uint64_t section = current + (digit > 0 ? static_cast<uint64_t>(digit) : 0);
      if (section == 0 || wan_done) return 0;
      wan_part = section * 10000;
      current = 0;
      digit = -1;
      last_small = 10000;
      wan_done = true;
    } else {  // 亿
      const uint64_t section = wan_part + current + (digit > 0 ? static_cast<uint64_t>(digit) : 0);
      if (section == 0 || yi_done) return 0;
      total = section * 100000000ull;
      wan_part = 0;
      current = 0;
      digit = -1;
      last_small = 10000;
      wan_done = false;
      yi_done = true;
    }
    prev_unit = unit;
  }
  if (digit > 0) {
    if (digit_after_unit >= 100) {
      current += static_cast<uint64_t>(digit) * (digit_after_unit / 10);
    } else {
      current += static_cast<uint64_t>(digit);
    }
  }
  const uint64_t value = total + wan_part + current;
  const auto result = std::to_chars(buf, buf + buf_size, value);
  if (result.ec != std::errc()) return 0;
  return static_cast<size_t>(result.ptr - buf);
}

}  // namespace

// ---- Public free functions ----------------------------------------------------------------

bool IsCjkCodePoint(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) ||    // CJK Unified Ideographs
         (cp >= 0x3400 && cp <= 0x4DBF) ||    // Extension A
         (cp >= 0xF900 && cp <= 0xFAFF) ||    // Compatibility Ideographs
         (cp >= 0x3005 && cp <= 0x3007) ||    // 々 〆 〇
         (cp >= 0x3040 && cp <= 0x30FF) ||    // Hiragana, Katakana
         (cp >= 0x31F0 && cp <= 0x31FF) ||    // Katakana phonetic extensions
         (cp >= 0xAC00 && cp <= 0xD7A3) ||    // Hangul syllables
         (cp >= 0x20000 && cp <= 0x2FA1F) ||  // Extensions B-F, compatibility supplement
         (cp >= 0x30000 && cp <= 0x3134F);    // Extension G
}

uint32_t DecodeUtf8(absl::string_view text, size_t* pos) {
  if (*pos >= text.size()) return 0xFFFD;
  char32_t cp;
  DecodeChecked(reinterpret_cast<const unsigned char*>(text.data()), text.size(), pos, &cp);
  return static_cast<uint32_t>(cp);
}

int32_t CodePointOffset(absl::string_view text, size_t byte_offset) {
  const size_t end = std::min(byte_offset, text.size());
  int32_t count = 0;
  for (size_t i = 0; i < end; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++count;
  }
  return count;
}

std::pair<uint32_t, uint32_t> NormalizedText::ToOriginal(size_t begin, size_t end) const {
  end = std::min(end, text.size());
  if (begin >= end) return {0, 0};
  uint32_t lo = orig_begin[begin];
  uint32_t hi = orig_end[begin];
  for (size_t i = begin + 1; i < end; ++i) {
    lo = std::min(lo, orig_begin[i]);
    hi = std::max(hi, orig_end[i]);
  }
  return {lo, hi};
}

void NormalizedText::Clear() {
  text.clear();
  orig_begin.clear();
  orig_end.clear();
}

// ---- Normalizer ---------------------------------------------------------------------------

namespace {

// Whether the word ending just before atoms[dot] is a title written with a period ("Ms.").
bool IsTitleAbbreviation(AtomView atoms, size_t dot) {
  static constexpr absl::string_view kTitles[] = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "mt", "vs"};
  size_t start = dot;
  while (start > 0 && atoms[start - 1].kind == Kind::kLetter && dot - start <= 4) --start;
  if (start == dot || dot - start > 4 || (start > 0 && IsWordKind(atoms[start - 1].kind))) return false;
  char word[4];
  for (size_t k = start; k < dot; ++k) {
    if (atoms[k].cp < U'a' || atoms[k].cp > U'z') return false;
    word[k - start] = static_cast<char>(atoms[k].cp);
  }
  const absl::string_view w(word, dot - start);
  for (absl::string_view title : kTitles) {
    if (w == title) return true;
  }
  return false;
}

// The last period of an initialism such as "u.s." or "p.m.".
bool EndsInitialism(AtomView atoms, size_t dot) {
  return dot >= 3 && atoms[dot - 1].kind == Kind::kLetter && atoms[dot - 2].cp == U'.' &&
         atoms[dot - 3].kind == Kind::kLetter;
}

enum class Last : uint8_t { kNone, kCjk, kOther };

// Where Emit stands between two tokens: enough to go on from there.
struct EmitState {
  size_t atom = 0;     // the next atom to read
  size_t out_len = 0;  // output bytes written
  Last last = Last::kNone;
  bool pending_space = false;
  bool pending_clause = false;
  bool prev_word = false;
  bool attached = false;
  uint32_t space_begin = 0, space_end = 0;
  uint32_t clause_begin = 0, clause_end = 0;
};

// Per-thread working memory, reused by every call: no heap allocation in steady state.
struct Scratch {
  std::vector<Atom> atoms;
  std::vector<char> text;
  std::vector<uint32_t> orig_begin;
  std::vector<uint32_t> orig_end;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

struct Normalizer::Impl {
  NormalizerOptions options;
  const FoldTables* fold = nullptr;
  const char16_t* t2s = nullptr;  // null when not folding Traditional to Simplified

  char32_t Simplify(char32_t cp) const {
    if (t2s != nullptr && cp >= kT2sBegin && cp < kT2sEnd) return t2s[cp - kT2sBegin];
    return cp;
  }
  // Folds text[from, end) into atoms[count, ...) (growing the vector as needed) and returns the
  // new count; *valid is false on invalid UTF-8 (the bad bytes then read as U+FFFD). `from`
  // must be a code point boundary and atoms[0, count) the atoms of what precedes it.
  size_t Fold(absl::string_view text, size_t from, std::vector<Atom>* storage, size_t count, bool* valid) const;
  // Writes the output for atoms[0, n) into the scratch output buffers; returns its length.
  size_t Emit(AtomView atoms, Scratch* scratch) const;
  // Writes the output of atoms[from.atom, n) after the from.out_len bytes already in `out`,
  // starting in state `from`; returns the output length. With kTrack, *checkpoint becomes the
  // last state between tokens that no decision so far made by looking past the last atom.
  template <bool kTrack>
  size_t EmitFrom(AtomView atoms, const EmitState& from, Writer out, EmitState* checkpoint) const;
  // Normalizes into the scratch output buffers; returns the output length.
  size_t Run(absl::string_view text, Scratch* scratch, bool* valid) const;
};

size_t Normalizer::Impl::Fold(absl::string_view text, size_t from, std::vector<Atom>* atom_storage, size_t count,
                              bool* valid) const {
  *valid = true;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  // One atom per byte covers ASCII; longer expansions check for room as they go.
  std::vector<Atom>& storage = *atom_storage;
  if (storage.size() < count + (n - from) + 64) storage.resize(std::max(count + (n - from) + 64, 2 * storage.size()));
  Atom* atoms = storage.data();
  size_t pos = from;
  while (pos < n) {
    const uint32_t begin = static_cast<uint32_t>(pos);
    const unsigned char c = s[pos];
    if (c < 0x80) {  // ASCII fast path: the whole run in one tight loop
      uint32_t k = begin;
      do {
        const AsciiFold f = kAsciiFolds[s[k]];
        Atom& atom = atoms[count++];
        atom.cp = static_cast<char32_t>(f.lower);
        atom.orig_begin = k;
        atom.orig_end = k + 1;
        atom.kind = f.kind;
        ++k;
      } while (k < n && s[k] < 0x80);
      pos = k;
      continue;
    }
    char32_t cp;
    if ((c & 0xF0) == 0xE0 && pos + 2 < n && (s[pos + 1] & 0xC0) == 0x80 &&
        (s[pos + 2] & 0xC0) == 0x80) {
      // Three-byte sequence (all of CJK): only overlong forms and surrogates are invalid.
      cp = (static_cast<char32_t>(c & 0x0F) << 12) | (static_cast<char32_t>(s[pos + 1] & 0x3F) << 6) |
           static_cast<char32_t>(s[pos + 2] & 0x3F);
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) {
        cp = 0xFFFD;
        *valid = false;
        pos += 1;
      } else {
        pos += 3;
      }
    } else if (!DecodeChecked(s, n, &pos, &cp)) {
      *valid = false;
    }
    const uint32_t end = static_cast<uint32_t>(pos);
    if (IsHanFastPath(cp)) {  // NFKC is the identity here
      atoms[count++] = {Simplify(cp), begin, end, Kind::kCjk};
      // The Han characters that follow, in one tight loop (all three-byte sequences).
      while (pos + 2 < n && (s[pos] & 0xF0) == 0xE0 && (s[pos + 1] & 0xC0) == 0x80 && (s[pos + 2] & 0xC0) == 0x80) {
        const char32_t next = (static_cast<char32_t>(s[pos] & 0x0F) << 12) |
                              (static_cast<char32_t>(s[pos + 1] & 0x3F) << 6) | static_cast<char32_t>(s[pos + 2] & 0x3F);
        if (!IsHanFastPath(next)) break;
        const uint32_t at = static_cast<uint32_t>(pos);
        atoms[count++] = {Simplify(next), at, at + 3, Kind::kCjk};
        pos += 3;
      }
      continue;
    }
    if (count + 64 > storage.size()) {  // an expansion may need up to 31 atoms
      storage.resize(2 * storage.size());
      atoms = storage.data();
    }
    const size_t before = count;
    if (cp < 0x10000) {
      const uint32_t entry = fold->index[cp];
      if (entry == FoldTables::kIdentity) {
        atoms[count++] = {Simplify(cp), begin, end, fold->kind[cp]};
      } else {
        const char32_t* folded = fold->pool.data() + (entry >> 5);
        const uint32_t len = entry & 31;
        for (uint32_t k = 0; k < len; ++k) {
          const char32_t f = Simplify(folded[k]);
          atoms[count++] = {f, begin, end, fold->KindOf(f)};
        }
      }
    } else if (IsCjkCodePoint(cp)) {
      atoms[count++] = {cp, begin, end, Kind::kCjk};
    } else {  // rare: emoji, mathematical letters, historic scripts
      UErrorCode status = U_ZERO_ERROR;
      icu::UnicodeString folded;
      fold->nfkc_cf->normalize(icu::UnicodeString(static_cast<UChar32>(cp)), folded, status);
      if (U_FAILURE(status) || folded.length() > 40) folded = icu::UnicodeString(static_cast<UChar32>(cp));
      for (int32_t i = 0; i < folded.length();) {
        const UChar32 f = folded.char32At(i);
        i += U16_LENGTH(f);
        const char32_t simplified = Simplify(static_cast<char32_t>(f));
        const Kind kind = fold->KindOf(simplified);
        if (kind != Kind::kDrop) atoms[count++] = {simplified, begin, end, kind};
      }
    }
    if (count == before && before > 0) {
      // Dropped (a combining mark, a format character): let the preceding character cover its
      // bytes so that a match on "cafe" maps back to all of "café".
      Atom& prev = atoms[count - 1];
      if (prev.orig_end == begin && (IsWordKind(prev.kind) || prev.kind == Kind::kCjk)) prev.orig_end = end;
    }
  }
  return count;
}

size_t Normalizer::Impl::Emit(AtomView atoms, Scratch* scratch) const {
  // Each step writes at most 3 separator bytes and 4 bytes per atom it consumes; a number's
  // digits fit in that too (the densest, "一亿", is 9 digits for 2 atoms).
  const size_t bound = 8 * atoms.count + 64;
  if (scratch->text.size() < bound) {
    scratch->text.resize(bound);
    scratch->orig_begin.resize(bound);
    scratch->orig_end.resize(bound);
  }
  return EmitFrom<false>(atoms, EmitState{},
                         Writer{scratch->text.data(), scratch->orig_begin.data(), scratch->orig_end.data()}, nullptr);
}

template <bool kTrack>
size_t Normalizer::Impl::EmitFrom(AtomView atoms, const EmitState& from, Writer out, EmitState* checkpoint) const {
  out.len = from.out_len;
  Last last = from.last;
  bool pending_space = from.pending_space;
  uint32_t space_begin = from.space_begin, space_end = from.space_end;
  bool pending_clause = from.pending_clause;
  uint32_t clause_begin = from.clause_begin, clause_end = from.clause_end;
  bool prev_word = from.prev_word;  // the previous visible atom belongs to the current Latin word
  // The current digit or Latin run is glued to a CJK character before it ("工号8812"); it then
  // takes no space before a clause marker, like CJK.
  bool attached = from.attached;

  // Remembers the state before atom `at` while nothing written so far depends on the end.
  auto save = [&](size_t at) __attribute__((always_inline)) {
    if constexpr (kTrack) {
      if (!*atoms.reached_end) {
        *checkpoint = EmitState{at,       out.len,     last,      pending_space, pending_clause, prev_word,
                                attached, space_begin, space_end, clause_begin,  clause_end};
      }
    }
  };

  // Writes the separator owed before a visible token.
  auto flush = [&](bool next_is_cjk) __attribute__((always_inline)) {
    if (last != Last::kNone) {
      if (pending_clause) {
        if (last != Last::kCjk && !attached) out.Byte(' ', clause_begin, clause_end);
        out.Byte(',', clause_begin, clause_end);
        if (!next_is_cjk) out.Byte(' ', clause_begin, clause_end);
      } else if (pending_space && !(last == Last::kCjk && next_is_cjk)) {
        out.Byte(' ', space_begin, space_end);
      }
    }
    pending_clause = false;
    pending_space = false;
  };
  // Before a digit or Latin token: settles `attached` and writes the separator owed.
  auto start_other = [&]() __attribute__((always_inline)) {
    if (pending_space | pending_clause) {
      flush(false);
      attached = false;
    } else if (last == Last::kCjk) {
      attached = true;
    }
  };
  auto append_number = [&](const char* digits, size_t len, uint32_t ob, uint32_t oe) {
    start_other();
    for (size_t k = 0; k < len; ++k) out.Byte(digits[k], ob, oe);
    last = Last::kOther;
  };
  auto is_digit = [&](size_t k) { return atoms.Has(k) && atoms[k].kind == Kind::kDigit; };

  const size_t n = atoms.count;
  size_t i = from.atom;
  while (i < n) {
    save(i);
    const Atom& a = atoms[i];
    switch (a.kind) {
      case Kind::kLetter:
      case Kind::kDigit: {
        if (!prev_word && options.drop_fillers && a.kind == Kind::kLetter && MayBeFiller(a.cp)) {
          size_t end;
          if (IsFillerWord(atoms, i, &end)) {
            i = end;  // the spaces around it collapse into one
            break;
          }
        }
        if (!prev_word && options.collapse_repeated_words && a.kind == Kind::kLetter && pending_space &&
            !pending_clause && last == Last::kOther) {
          size_t end;
          if (RepeatsPreviousWord(atoms, i, out.text, out.len, &end)) {
            i = end;
            break;
          }
        }
        if (!prev_word && options.convert_number_words && MayStartNumber(atoms, i)) {
          size_t end;
          uint64_t value;
          if (ParseEnglishNumber(atoms, i, /*seed=*/0, &end, &value)) {
            char buf[24];
            const auto r = std::to_chars(buf, buf + sizeof(buf), value);
            append_number(buf, static_cast<size_t>(r.ptr - buf), a.orig_begin, atoms[end - 1].orig_end);
            i = end;
            prev_word = true;
            break;
          }
        }
        start_other();
        last = Last::kOther;
        prev_word = true;
        do {  // the rest of the word in one go
          const Atom& w = atoms[i];
          if (w.cp < 0x80) {
            out.Byte(static_cast<char>(w.cp), w.orig_begin, w.orig_end);
          } else {
            out.CodePoint(w.cp, w.orig_begin, w.orig_end);
          }
          ++i;
        } while (atoms.Has(i) && IsWordKind(atoms[i].kind));
        break;
      }
      case Kind::kApostrophe:
        // Inside a word ("don't", "90's") it goes; elsewhere it separates.
        if (i > 0 && IsWordKind(atoms[i - 1].kind) && atoms.Has(i + 1) && atoms[i + 1].kind == Kind::kLetter) {
          ++i;
          break;
        }
        [[fallthrough]];
      case Kind::kSpace:
        if (!pending_space) {
          pending_space = true;
          space_begin = a.orig_begin;
          space_end = a.orig_end;
        }
        prev_word = false;
        ++i;
        break;
      case Kind::kClause:
        if ((a.cp == U',' || a.cp == U'.') && i > 0 && atoms[i - 1].kind == Kind::kDigit && is_digit(i + 1)) {
          if (a.cp == U'.') {  // decimal point: part of the number
            out.Byte('.', a.orig_begin, a.orig_end);
            ++i;
            break;
          }
          // A thousands separator is followed by exactly three digits.
          if (is_digit(i + 2) && is_digit(i + 3) && !is_digit(i + 4)) {
            ++i;
            break;
          }
        }
        if (a.cp == U'.' && i > 0 && atoms[i - 1].kind == Kind::kLetter) {
          if (atoms.Has(i + 1) && atoms[i + 1].kind == Kind::kLetter) {  // "u.s", "www.example.com"
            if (!pending_space) {
              pending_space = true;
              space_begin = a.orig_begin;
              space_end = a.orig_end;
            }
            prev_word = false;
            ++i;
            break;
          }
          if (IsTitleAbbreviation(atoms, i) || EndsInitialism(atoms, i)) {  // "ms. murphy", "5 p.m."
            ++i;
            break;
          }
        }
        if (!pending_clause) {
          pending_clause = true;
          clause_begin = a.orig_begin;
        }
        clause_end = a.orig_end;
        prev_word = false;
        ++i;
        break;
      case Kind::kKeep:
        start_other();
        out.CodePoint(a.cp, a.orig_begin, a.orig_end);
        last = Last::kOther;
        prev_word = false;
        ++i;
        break;
      case Kind::kCjk: {
        prev_word = false;
        size_t run_end = i + 1;
        if (options.convert_number_words && IsZhNumeral(a.cp)) {
          // The numeral run, also across separators that vanish between CJK characters anyway
          // ("一 千"), so that normalized text normalizes to itself.
          constexpr size_t kMaxRun = 32;
          char32_t run[kMaxRun];
          size_t run_len = 0;
          run[run_len++] = a.cp;
          for (;;) {
            size_t k = run_end;
            while (atoms.Has(k) && (atoms[k].kind == Kind::kSpace || atoms[k].kind == Kind::kDrop ||
                             atoms[k].kind == Kind::kApostrophe)) {
              ++k;
            }
            if (!atoms.Has(k) || atoms[k].kind != Kind::kCjk || !IsZhNumeral(atoms[k].cp)) break;
            if (run_len < kMaxRun) run[run_len] = atoms[k].cp;
            ++run_len;
            run_end = k + 1;
          }
          // "两百12" or "3万": digits glued on would make a different number.
          const bool glued_to_digits =
              (i > 0 && atoms[i - 1].kind == Kind::kDigit) ||
              (atoms.Has(run_end) && atoms[run_end].kind == Kind::kDigit);
          char buf[24];
          size_t len = 0;
          if (run_len >= 2 && run_len <= kMaxRun && IsZhNumberStart(a.cp) && !glued_to_digits) {
            len = ParseChineseNumber(run, run_len, buf, sizeof(buf));
          }
          if (len > 0) {
            // "十二 thousand": an English scale word may follow, as it may follow digits.
            uint64_t small = 0;
            if (len <= 3 && buf[0] != '0') {
              for (size_t k = 0; k < len; ++k) small = small * 10 + static_cast<uint64_t>(buf[k] - '0');
            }
            size_t end;
            uint64_t value;
            if (small > 0 && ParseEnglishNumber(atoms, run_end, small, &end, &value)) {
              const auto r = std::to_chars(buf, buf + sizeof(buf), value);
              len = static_cast<size_t>(r.ptr - buf);
              run_end = end;
            }
            append_number(buf, len, a.orig_begin, atoms[run_end - 1].orig_end);
            i = run_end;
            break;
          }
        }
        // Not a number: the character (or the numeral run, without its separators) as written,
        // and the CJK characters after it up to the next numeral.
        if (pending_space | pending_clause) flush(true);
        last = Last::kCjk;
        for (; i < run_end; ++i) {
          if (atoms[i].kind == Kind::kCjk) out.CodePoint(atoms[i].cp, atoms[i].orig_begin, atoms[i].orig_end);
        }
        while (atoms.Has(i) && atoms[i].kind == Kind::kCjk &&
               !(options.convert_number_words && IsZhNumeral(atoms[i].cp))) {
          save(i);  // a CJK run may resume at any of its characters: they are emitted one by one
          out.CodePoint(atoms[i].cp, atoms[i].orig_begin, atoms[i].orig_end);
          ++i;
        }
        break;
      }
      case Kind::kDrop:
        ++i;
        break;
    }
  }
  return out.len;
}

size_t Normalizer::Impl::Run(absl::string_view text, Scratch* scratch, bool* valid) const {
  const size_t count = Fold(text, 0, &scratch->atoms, 0, valid);
  bool reached_end = false;
  return Emit(AtomView{scratch->atoms.data(), count, &reached_end}, scratch);
}

Normalizer::Normalizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Normalizer::~Normalizer() = default;

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::Create(const NormalizerOptions& options) {
  const FoldTables& fold = GetFoldTables();
  if (!fold.status.ok()) return fold.status;
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->fold = &fold;
  if (options.fold_traditional_to_simplified) {
    const T2sTable& t2s = GetT2sTable();
    if (!t2s.status.ok()) return t2s.status;
    impl->t2s = t2s.map.data();
  }
  return std::unique_ptr<Normalizer>(new Normalizer(std::move(impl)));
}

const Normalizer& Normalizer::Default() {
  static const Normalizer* const instance = [] {
    auto created = Create(NormalizerOptions{});
    if (!created.ok()) {
      // Without the transliterator data we still want a working normalizer.
      std::fprintf(stderr, "callguard: %s; Traditional Chinese will not be folded\n",
                   std::string(created.status().message()).c_str());
      NormalizerOptions fallback;
      fallback.fold_traditional_to_simplified = false;
      created = Create(fallback);
    }
    if (!created.ok()) {
      std::fprintf(stderr, "callguard: cannot build the normalizer: %s\n",
                   std::string(created.status().message()).c_str());
      std::abort();
    }
    return created->release();
  }();
  return *instance;
}

absl::Status Normalizer::Normalize(absl::string_view text, NormalizedText* out) const {
  out->Clear();
  if (text.size() >= std::numeric_limits<uint32_t>::max()) return InvalidField("text", "longer than 4 GiB");
  Scratch& scratch = ThreadScratch();
  bool valid;
  const size_t len = impl_->Run(text, &scratch, &valid);
  if (!valid) {
    absl::Status status = ValidateUtf8(text, "text");
    return status.ok() ? InvalidField("text", "invalid UTF-8") : status;
  }
  out->text.assign(scratch.text.data(), len);
  out->orig_begin.assign(scratch.orig_begin.data(), scratch.orig_begin.data() + len);
  out->orig_end.assign(scratch.orig_end.data(), scratch.orig_end.data() + len);
  return absl::OkStatus();
}

absl::StatusOr<NormalizedText> Normalizer::Normalize(absl::string_view text) const {
  NormalizedText out;
  absl::Status status = Normalize(text, &out);
  if (!status.ok()) return status;
  return out;
}

struct GrowingNormalization::State {
  std::string source;  // the text normalized last
  NormalizedText out;
  // The atoms of `source` from a few before the resume point on: a resumed Emit reads those
  // only (its look-behinds reach at most 6 atoms back). Elements past atom_count are spare.
  std::vector<Atom> atoms;
  size_t atom_count = 0;
  EmitState resume;  // atom index into `atoms`

  // Forgets the text, keeping the buffers.
  void Clear() {
    source.clear();
    out.Clear();
    atom_count = 0;
    resume = EmitState{};
  }
};

namespace {

// Growing texts holding state in the process, against GrowingNormalization::kMaxLive.
std::atomic<int> live_growing_texts{0};

}  // namespace

GrowingNormalization::GrowingNormalization() = default;
GrowingNormalization::~GrowingNormalization() {
  if (state_ != nullptr) live_growing_texts.fetch_sub(1, std::memory_order_relaxed);
}
GrowingNormalization::GrowingNormalization(GrowingNormalization&& other) noexcept = default;
GrowingNormalization& GrowingNormalization::operator=(GrowingNormalization&& other) noexcept {
  if (this != &other) {
    Reset();
    state_ = std::move(other.state_);
  }
  return *this;
}

int GrowingNormalization::live() { return live_growing_texts.load(std::memory_order_relaxed); }

const NormalizedText& GrowingNormalization::normalized() const {
  static const NormalizedText* const kEmpty = new NormalizedText();
  return state_ != nullptr ? state_->out : *kEmpty;
}

std::unique_ptr<GrowingNormalization::State>& GrowingNormalization::ThreadSpare() {
  thread_local std::unique_ptr<State> spare;
  return spare;
}

void GrowingNormalization::Reset() {
  if (state_ == nullptr) return;
  live_growing_texts.fetch_sub(1, std::memory_order_relaxed);
  std::unique_ptr<State>& spare = ThreadSpare();
  if (spare == nullptr) {
    state_->Clear();
    spare = std::move(state_);
  }
  state_.reset();
}

void GrowingNormalization::Release(NormalizedText* out) {
  if (state_ != nullptr) {
    *out = state_->out;  // a copy: each side keeps buffers of the size it needs
  } else {
    out->Clear();
  }
  Reset();
}

absl::Status Normalizer::NormalizeGrowing(absl::string_view text, GrowingNormalization* growing) const {
  // The bound also keeps offsets within uint32; Normalize says why a text is refused.
  static_assert(GrowingNormalization::kMaxTextBytes < std::numeric_limits<uint32_t>::max());
  if (text.size() > GrowingNormalization::kMaxTextBytes) {
    growing->Reset();
    return absl::ResourceExhaustedError("longer than a growing text may be: normalize it whole");
  }
  if (growing->state_ == nullptr) {
    if (live_growing_texts.fetch_add(1, std::memory_order_relaxed) >= GrowingNormalization::kMaxLive) {
      live_growing_texts.fetch_sub(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError("too many growing texts in the process: normalize it whole");
    }
    growing->state_ = std::move(GrowingNormalization::ThreadSpare());
    if (growing->state_ == nullptr) growing->state_ = std::make_unique<GrowingNormalization::State>();
  }
  GrowingNormalization::State& st = *growing->state_;
  const bool extends = text.size() >= st.source.size() &&
                       (st.source.empty() || std::memcmp(text.data(), st.source.data(), st.source.size()) == 0);
  if (!extends) st.Clear();
  // Folding is per code point: only the new bytes need it (a dropped mark among them may still
  // widen the last atom's original span, which is why the resume point is before that atom).
  bool valid;
  st.atom_count = impl_->Fold(text, st.source.size(), &st.atoms, st.atom_count, &valid);
  if (!valid) {
    growing->Reset();
    absl::Status status = ValidateUtf8(text, "text");
    return status.ok() ? InvalidField("text", "invalid UTF-8") : status;
  }
  // The same bound as Emit's, for the atoms from the resume point on.
  NormalizedText& out = st.out;
  const size_t bound = st.resume.out_len + 8 * (st.atom_count - st.resume.atom) + 64;
  if (out.orig_begin.capacity() < bound) {
    // Grown by a quarter, not doubled: a call keeps these between updates, thousands at once.
    const size_t want = bound + bound / 4;
    out.text.reserve(want);
    out.orig_begin.reserve(want);
    out.orig_end.reserve(want);
  }
  out.text.resize(bound);
  out.orig_begin.resize(bound);
  out.orig_end.resize(bound);
  bool reached_end = false;
  EmitState next = st.resume;
  const size_t len = impl_->EmitFrom<true>(AtomView{st.atoms.data(), st.atom_count, &reached_end}, st.resume,
                                           Writer{out.text.data(), out.orig_begin.data(), out.orig_end.data()}, &next);
  out.text.resize(len);
  out.orig_begin.resize(len);
  out.orig_end.resize(len);
  st.source.append(text.data() + st.source.size(), text.size() - st.source.size());
  // Keep only the atoms a later resume may read.
  constexpr size_t kLookBehind = 8;
  if (next.atom > kLookBehind) {
    const size_t drop = next.atom - kLookBehind;
    std::copy(st.atoms.begin() + drop, st.atoms.begin() + st.atom_count, st.atoms.begin());
    st.atom_count -= drop;
    next.atom -= drop;
  }
  st.resume = next;
  return absl::OkStatus();
}

std::string Normalizer::NormalizeForMatch(absl::string_view text) const {
  if (text.size() >= std::numeric_limits<uint32_t>::max()) return std::string();
  Scratch& scratch = ThreadScratch();
  bool valid;  // invalid bytes read as U+FFFD and so become a space
  const size_t len = impl_->Run(text, &scratch, &valid);
  return std::string(scratch.text.data(), len);
}

}  // namespace callguard
