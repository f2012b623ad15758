#include "normalizer.h"

#include <google/protobuf/util/json_util.h>

#include <atomic>
#include <random>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "callguard/v1/transcript.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "status_util.h"

namespace callguard {
namespace {

using ::testing::HasSubstr;

std::string Norm(absl::string_view text) {
  absl::StatusOr<NormalizedText> result = Normalizer::Default().Normalize(text);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? result->text : std::string("<error>");
}

// NormalizeForMatch with a normalizer built from `options`.
std::string NormWith(const NormalizerOptions& options, absl::string_view text) {
  absl::StatusOr<std::unique_ptr<Normalizer>> normalizer = Normalizer::Create(options);
  EXPECT_TRUE(normalizer.ok()) << normalizer.status();
  return normalizer.ok() ? (*normalizer)->NormalizeForMatch(text) : std::string("<error>");
}

// The original bytes behind the first occurrence of `needle` in the normalized text.
std::string OriginalOf(absl::string_view original, const NormalizedText& normalized, absl::string_view needle) {
  const size_t at = normalized.text.find(std::string(needle));
  if (at == std::string::npos) return "<not in " + normalized.text + ">";
  const auto [begin, end] = normalized.ToOriginal(at, at + needle.size());
  return std::string(original.substr(begin, end - begin));
}

NormalizedText MustNormalize(absl::string_view text) {
  absl::StatusOr<NormalizedText> result = Normalizer::Default().Normalize(text);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : NormalizedText();
}

struct Case {
  const char* input;
  const char* expected;
};

void ExpectAll(const std::vector<Case>& cases) {
  for (const Case& c : cases) EXPECT_EQ(Norm(c.input), c.expected) << "input: " << c.input;
}

// ---- Latin text -----------------------------------------------------------------------------

TEST(NormalizerTest, FoldsCaseAndTurnsClausePunctuationIntoMarkers) {
  ExpectAll({
      {"Hello, World! How are you?", "hello , world , how are you"},
      {"STOP; wait: now", "stop , wait , now"},
      {"hello... world", "hello , world"},
      {"hello… world", "hello , world"},
  });
}

TEST(NormalizerTest, PeriodsOfTitlesAndInitialismsDoNotEndAClause) {
  ExpectAll({
      {"Ms. Murphy, hi", "ms murphy , hi"},
      {"thanks Mr. Lee. Bye", "thanks mr lee , bye"},
      {"Dr. Smith.", "dr smith"},
      {"U.S. Bank", "u s bank"},
      {"at 5 p.m. today", "at 5 p m today"},
      {"see www.example.com now", "see www example com now"},
      {"items. Next", "items , next"},  // an ordinary word still ends the sentence
  });
}

TEST(NormalizerTest, DropsClauseMarkersAtTheEdges) {
  ExpectAll({
      {"hello.", "hello"},
      {"... hello ...", "hello"},
      {"？你好。", "你好"},
      {"!!!", ""},
  });
}

TEST(NormalizerTest, NormalizeForMatchGivesTheSameTextWithoutTheMap) {
  EXPECT_EQ(Normalizer::Default().NormalizeForMatch("Keystone Account Services, LLC"),
            "keystone account services , llc");
  EXPECT_EQ(Normalizer::Default().NormalizeForMatch("  信諾商務 服務有限公司 "), "信诺商务服务有限公司");
}

TEST(NormalizerTest, DropsApostrophesInsideWordsOnly) {
  ExpectAll({
      {"don't", "dont"},
      {"don’t", "dont"},
      {"don‘t", "dont"},
      {"donʼt", "dont"},
      {"don`t", "dont"},
      {"don´t", "dont"},
      {"DON＇T", "dont"},
      {"you'll be fine", "youll be fine"},
      {"the 90's", "the 90s"},
      {"'quoted'", "quoted"},
      {"rock ' n ' roll", "rock n roll"},
      {"say 'hi' now", "say hi now"},
  });
}

TEST(NormalizerTest, OtherPunctuationAndSymbolsBecomeSpaces) {
  ExpectAll({
      {"re-pay", "re pay"},
      {"a * b # c @ d / e", "a b c d e"},
      {"test_value", "test value"},
      {"\"quoted\" (aside) [x] {y} <z>", "quoted aside x y z"},
      {"emoji 😀 here", "emoji here"},
      {"first—second", "first second"},
  });
}

TEST(NormalizerTest, KeepsCurrencyAndPercentSigns) {
  ExpectAll({
      {"$500", "$500"},
      {"100%", "100%"},
      {"¥500 €20 £5", "¥500 €20 £5"},
      {"￥30 ＄40 ￡50 ５０％", "¥30 $40 £50 50%"},
  });
}

TEST(NormalizerTest, HandlesSeparatorsInsideNumbers) {
  ExpectAll({
      {"4,480", "4480"},
      {"$1,234,567.89", "$1234567.89"},
      {"4.50", "4.50"},
      {"pay 4.50.", "pay 4.50"},
      {"1,2", "1 , 2"},           // not a thousands group
      {"12,3456", "12 , 3456"},   // not a thousands group
      {"4, 480", "4 , 480"},
      {"４，４８０", "4480"},       // full-width forms fold first
  });
}

TEST(NormalizerTest, CollapsesWhiteSpace) {
  ExpectAll({
      {"  lots   of\tspace \n ", "lots of space"},
      {"a\u3000b", "a b"},          // ideographic space
      {"a\u00a0b", "a b"},          // no-break space
      {"a\u200bb", "ab"},           // zero-width space is ignorable
      {"soft\u00adhyphen", "softhyphen"},
      {"", ""},
      {"   ", ""},
  });
}

TEST(NormalizerTest, FoldsCompatibilityFormsAndDropsCombiningMarks) {
  ExpectAll({
      {"ＡＢＣ　１２３，ｘｙｚ！", "abc 123 , xyz"},
      {"café", "cafe"},
      {"cafe\xcc\x81", "cafe"},    // e + U+0301
      {"Straße", "strasse"},
      {"ﬁne", "fine"},
      {"İstanbul", "istanbul"},
      {"𝐀𝐁𝐂", "abc"},              // mathematical bold, outside the BMP
      {"Ⅻ", "xii"},
      {"①②", "12"},
  });
}

// ---- Chinese text ---------------------------------------------------------------------------

TEST(NormalizerTest, RemovesSpacesBetweenCjkCharactersOnly) {
  ExpectAll({
      {"喂 你好 我是李强", "喂你好我是李强"},
      {"中 abc 文", "中 abc 文"},
      {"我 5000 元", "我 5000 元"},
      {"欠款5000元", "欠款5000元"},
      {"約翰·史密斯", "约翰史密斯"},
      {"「你好」《书》", "你好书"},
  });
}

TEST(NormalizerTest, CjkClausePunctuationBecomesACommaWithoutSpaces) {
  ExpectAll({
      {"如果你不还，我们就起诉你。", "如果你不还,我们就起诉你"},
      {"你好！我是李强；工号：8812、谢谢", "你好,我是李强,工号, 8812 ,谢谢"},  // digits are not CJK
      {"hello，你好", "hello ,你好"},
      {"你好，john", "你好, john"},
      {"好的⋯⋯行", "好的,行"},
      {"好的…行", "好的,行"},
      {"工号8812，受委托", "工号8812,受委托"},  // digits glued to CJK space like CJK
      {"欠了$500，明天", "欠了$500,明天"},
      {"工号 8812，受", "工号 8812 ,受"},
      {"知道吧，1800", "知道吧, 1800"},
  });
}

TEST(NormalizerTest, FoldsTraditionalToSimplified) {
  ExpectAll({
      {"說", "说"},
      {"還", "还"},
      {"錢", "钱"},
      {"債", "债"},
      {"報警", "报警"},
      {"你再不還錢我們就報警", "你再不还钱我们就报警"},
      {"说还钱", "说还钱"},  // Simplified stays
  });
}

TEST(NormalizerTest, TraditionalFoldingCanBeTurnedOff) {
  NormalizerOptions options;
  options.fold_traditional_to_simplified = false;
  EXPECT_EQ(NormWith(options, "說還錢，ＡＢＣ"), "說還錢, abc");
}

// ---- Numbers --------------------------------------------------------------------------------

TEST(NormalizerTest, WritesEnglishNumberWordsAsDigits) {
  ExpectAll({
      {"three hundred eighty", "380"},
      {"four hundred twelve dollars", "412 dollars"},
      {"forty five", "45"},
      {"forty-five", "45"},
      {"twelve thousand three hundred", "12300"},
      {"a hundred", "100"},
      {"a thousand dollars", "1000 dollars"},
      {"one hundred and fifty", "150"},
      {"two hundred and you", "200 and you"},
      {"twenty five hundred", "2500"},
      {"nineteen", "19"},
      {"two weeks", "2 weeks"},
      {"zero dollars", "0 dollars"},
      {"five thousand", "5000"},
      {"5 thousand", "5000"},
      {"one million two hundred thousand", "1200000"},
      {"Three Hundred", "300"},
      {"twenty one", "21"},
      {"four, five", "4 , 5"},
      {"forty hundred", "40 hundred"},
      {"40 hundred", "40 hundred"},    // digits follow the same rule as the words
      {"12 hundred", "1200"},
      {"one.thousand", "1000"},
  });
}

TEST(NormalizerTest, LeavesOneAndAAloneWhenTheyAreNotNumbers) {
  ExpectAll({
      {"no one", "no one"},
      {"anyone", "anyone"},
      {"one of those", "one of those"},
      {"the one", "the one"},
      {"one one", "one one"},
      {"a b", "a b"},
      {"a dollar", "a dollar"},
      {"often tension", "often tension"},  // number words only as whole words
      {"tenth", "tenth"},
  });
}

TEST(NormalizerTest, WritesChineseNumeralsAsDigits) {
  ExpectAll({
      {"一千三百四", "1340"},
      {"十二", "12"},
      {"四十五", "45"},
      {"一万二", "12000"},
      {"两千", "2000"},
      {"三千五", "3500"},
      {"三百五十", "350"},
      {"一百零五", "105"},
      {"一千零五", "1005"},
      {"三十万", "300000"},
      {"十万", "100000"},
      {"一千万", "10000000"},
      {"二十一万五千", "215000"},
      {"一亿五", "150000000"},
      {"兩萬", "20000"},             // Traditional forms fold first
      {"一三八零零", "13800"},        // digit by digit
      {"欠了一千三百四十块", "欠了1340块"},
      {"第二十期", "第20期"},
      {"一 千 三 百", "1300"},        // spaces vanish between CJK, so the run spans them
      {"十二 thousand", "12000"},
  });
}

TEST(NormalizerTest, LeavesChineseWordsThatContainNumerals) {
  ExpectAll({
      {"万一", "万一"},
      {"一下", "一下"},
      {"一定", "一定"},
      {"十分", "十分"},
      {"千万不要", "千万不要"},
      {"三四个人", "三四个人"},    // a range
      {"三三两两", "三三两两"},
      {"一五一十", "一五一十"},
      {"四五十", "四五十"},
      {"一二", "一二"},
      {"十十", "十十"},
      {"两百12", "两百12"},         // digits glued on would change the number
      {"3万", "3万"},
  });
}

TEST(NormalizerTest, NumberConversionCanBeTurnedOff) {
  NormalizerOptions options;
  options.convert_number_words = false;
  EXPECT_EQ(NormWith(options, "Three hundred, 一千三百四, 4,480"), "three hundred ,一千三百四, 4480");
}

TEST(NormalizerTest, DropsHesitationWordsButNotAnswers) {
  EXPECT_EQ(Norm("we will have the uh police come get you"), "we will have the police come get you");
  EXPECT_EQ(Norm("Um, you could go to, uh, jail"), "you could go to , jail");
  EXPECT_EQ(Norm("er erm uhm umm uhh"), "");
  // Answers and words that only begin like a hesitation stay.
  EXPECT_EQ(Norm("uh huh"), "uh huh");
  EXPECT_EQ(Norm("uh uh huh"), "uh huh");
  EXPECT_EQ(Norm("mm hmm"), "mm hmm");
  EXPECT_EQ(Norm("umbrella under erase"), "umbrella under erase");
  // A number reads the same across a hesitation; next to digits it stays.
  EXPECT_EQ(Norm("two uh hundred dollars"), "200 dollars");
  EXPECT_EQ(Norm("owe 200 uh dollars"), "owe 200 uh dollars");
  // Next to Chinese it would join what it separates.
  EXPECT_EQ(Norm("十 um 两"), "十 um 两");
  NormalizerOptions options;
  options.drop_fillers = false;
  EXPECT_EQ(NormWith(options, "have the uh police"), "have the uh police");
}

TEST(NormalizerTest, WritesAStutteredWordOnce) {
  EXPECT_EQ(Norm("we'll have the the police come"), "well have the police come");
  EXPECT_EQ(Norm("No no no, I'm his wife"), "no , im his wife");
  EXPECT_EQ(Norm("the uh the police"), "the police");
  // Not across a clause, not numbers, not words that only begin alike.
  EXPECT_EQ(Norm("the. The police"), "the , the police");
  EXPECT_EQ(Norm("20 20 vision"), "20 20 vision");
  EXPECT_EQ(Norm("two two hundred"), "2 200");
  EXPECT_EQ(Norm("the there them"), "the there them");
  EXPECT_EQ(Norm("one one two oh oh"), "one one 2 oh oh");  // spoken digits repeat
  NormalizerOptions options;
  options.collapse_repeated_words = false;
  EXPECT_EQ(NormWith(options, "the the police"), "the the police");
}

// ---- Offsets back to the original -----------------------------------------------------------

TEST(NormalizerTest, MapsLatinBytesBackToTheOriginal) {
  const std::string original = "Hello,   WORLD don't";
  const NormalizedText n = MustNormalize(original);
  ASSERT_EQ(n.text, "hello , world dont");
  EXPECT_EQ(OriginalOf(original, n, "hello"), "Hello");
  EXPECT_EQ(OriginalOf(original, n, "world"), "WORLD");
  EXPECT_EQ(OriginalOf(original, n, ","), ",");
  EXPECT_EQ(OriginalOf(original, n, " , "), ",");  // inserted spaces map to the marker's span
  EXPECT_EQ(OriginalOf(original, n, "dont"), "don't");
  EXPECT_EQ(OriginalOf(original, n, "world dont"), "WORLD don't");
}

TEST(NormalizerTest, MapsAcrossADroppedHesitation) {
  const std::string original = "have the, uh, police come";
  const NormalizedText n = MustNormalize(original);
  ASSERT_EQ(n.text, "have the , police come");
  EXPECT_EQ(OriginalOf(original, n, "police"), "police");
  EXPECT_EQ(OriginalOf(original, n, "the , police"), "the, uh, police");
}

TEST(NormalizerTest, MapsEveryByteOfAMultiByteCharacter) {
  const std::string original = "Straße café";
  const NormalizedText n = MustNormalize(original);
  ASSERT_EQ(n.text, "strasse cafe");
  EXPECT_EQ(OriginalOf(original, n, "ss"), "ß");
  EXPECT_EQ(OriginalOf(original, n, "s"), "S");
  EXPECT_EQ(OriginalOf(original, n, "e"), "e");
  EXPECT_EQ(OriginalOf(original, n, "cafe"), "café");
  EXPECT_EQ(OriginalOf(original, n, "fe"), "fé");
}

TEST(NormalizerTest, DroppedCombiningMarksStayInsideTheMatchedSpan) {
  const std::string original = "cafe\xcc\x81 ok";
  const NormalizedText n = MustNormalize(original);
  ASSERT_EQ(n.text, "cafe ok");
  EXPECT_EQ(OriginalOf(original, n, "cafe"), "cafe\xcc\x81");
  EXPECT_EQ(OriginalOf(original, n, "ok"), "ok");
}

TEST(NormalizerTest, MapsFullWidthTextBackToTheOriginal) {
  const std::string original = "ＡＢＣ　１２３，ｘｙｚ！";
  const NormalizedText n = MustNormalize(original);
  ASSERT_EQ(n.text, "abc 123 , xyz");
  EXPECT_EQ(OriginalOf(original, n, "abc"), "ＡＢＣ");
  EXPECT_EQ(OriginalOf(original, n, "b"), "Ｂ");
  EXPECT_EQ(OriginalOf(original, n, "123"), "１２３");
  EXPECT_EQ(OriginalOf(original, n, ","), "，");
  EXPECT_EQ(OriginalOf(original, n, "xyz"), "ｘｙｚ");
}

TEST(NormalizerTest, MapsCjkAndTraditionalTextBackToTheOriginal) {
  const std::string original = "喂 你好 他說還錢";
  const NormalizedText n = MustNormalize(original);
  ASSERT_EQ(n.text, "喂你好他说还钱");
  EXPECT_EQ(OriginalOf(original, n, "你好"), "你好");
  EXPECT_EQ(OriginalOf(original, n, "好他"), "好 他");
  EXPECT_EQ(OriginalOf(original, n, "说还"), "說還");
  EXPECT_EQ(OriginalOf(original, n, "钱"), "錢");
}

TEST(NormalizerTest, MapsAConvertedNumberToItsWholeRun) {
  {
    const std::string original = "I owe Four Hundred Twelve dollars";
    const NormalizedText n = MustNormalize(original);
    ASSERT_EQ(n.text, "i owe 412 dollars");
    EXPECT_EQ(OriginalOf(original, n, "412"), "Four Hundred Twelve");
    EXPECT_EQ(OriginalOf(original, n, "1"), "Four Hundred Twelve");
    EXPECT_EQ(OriginalOf(original, n, "dollars"), "dollars");
  }
  {
    const std::string original = "你欠了一千三百四块钱";
    const NormalizedText n = MustNormalize(original);
    ASSERT_EQ(n.text, "你欠了1340块钱");
    EXPECT_EQ(OriginalOf(original, n, "1340"), "一千三百四");
    EXPECT_EQ(OriginalOf(original, n, "4"), "一千三百四");
    EXPECT_EQ(OriginalOf(original, n, "块"), "块");
  }
  {
    const std::string original = "$4,480.50";
    const NormalizedText n = MustNormalize(original);
    ASSERT_EQ(n.text, "$4480.50");
    EXPECT_EQ(OriginalOf(original, n, "4480"), "4,480");
  }
}

TEST(NormalizerTest, ToOriginalOfAnEmptyOrOutOfRangeSpanIsEmpty) {
  const NormalizedText n = MustNormalize("abc");
  EXPECT_EQ(n.ToOriginal(2, 2), std::make_pair(0u, 0u));
  EXPECT_EQ(n.ToOriginal(5, 9), std::make_pair(0u, 0u));
  EXPECT_EQ(n.ToOriginal(1, 99), std::make_pair(1u, 3u));  // end is clamped
}

// ---- Invariants over real utterances ---------------------------------------------------------

// The turn texts (and, if asked, the agency names) of labelled calls in `dir`; none if absent.
std::vector<std::string> TurnTexts(const std::string& dir, std::initializer_list<const char*> files,
                                   bool with_agency_names) {
  std::vector<std::string> texts;
  for (const char* file : files) {
    std::ifstream in(dir + "/" + file);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      v1::Transcript transcript;
      google::protobuf::util::JsonParseOptions options;
      options.ignore_unknown_fields = true;
      if (!google::protobuf::util::JsonStringToMessage(line, &transcript, options).ok()) continue;
      for (const v1::Turn& turn : transcript.turns()) texts.push_back(turn.text());
      if (with_agency_names) texts.push_back(transcript.agency().name());
    }
  }
  return texts;
}

std::vector<std::string> CorpusTexts() {
  return TurnTexts(std::string(CALLGUARD_SOURCE_DIR) + "/../shared/corpus", {"dev-en.jsonl", "dev-zh.jsonl"},
                   /*with_agency_names=*/true);
}

bool IsCodePointBoundary(absl::string_view text, size_t offset) {
  return offset == text.size() || (static_cast<unsigned char>(text[offset]) & 0xC0) != 0x80;
}

TEST(NormalizerTest, OutputInvariantsHoldOnTheDevelopmentCorpus) {
  std::vector<std::string> texts = CorpusTexts();
  if (texts.size() < 500u) GTEST_SKIP() << "development corpus not found beside the checkout";
  texts.push_back("ＡＢＣ　１２３，ｘｙｚ！ 說還錢 cafe\xcc\x81 😀 𝐀 ﷺ don’t 4,480.50 forty-five 一千三百四");
  const Normalizer& normalizer = Normalizer::Default();
  NormalizedText n;  // reused on purpose: buffers must be reset between calls
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    ASSERT_TRUE(normalizer.Normalize(text, &n).ok());
    ASSERT_EQ(n.orig_begin.size(), n.text.size());
    ASSERT_EQ(n.orig_end.size(), n.text.size());
    EXPECT_TRUE(ValidateUtf8(n.text, "normalized").ok());
    if (!n.text.empty()) {
      EXPECT_NE(n.text.front(), ' ');
      EXPECT_NE(n.text.back(), ' ');
    }
    EXPECT_EQ(n.text.find("  "), std::string::npos);
    for (size_t i = 0; i < n.text.size(); ++i) {
      ASSERT_LT(n.orig_begin[i], n.orig_end[i]) << "byte " << i;
      ASSERT_LE(n.orig_end[i], text.size()) << "byte " << i;
      EXPECT_TRUE(IsCodePointBoundary(text, n.orig_begin[i])) << "byte " << i;
      EXPECT_TRUE(IsCodePointBoundary(text, n.orig_end[i])) << "byte " << i;
      if (i > 0) {
        EXPECT_LE(n.orig_begin[i - 1], n.orig_begin[i]) << "byte " << i;
      }
    }
    // Normalized text is a fixed point, and NormalizeForMatch agrees with Normalize.
    EXPECT_EQ(Norm(n.text), n.text);
    EXPECT_EQ(normalizer.NormalizeForMatch(text), n.text);
  }
}

// The pieces the rules look at, for random mixes.
const std::vector<std::string>& MixPieces() {
  static const auto* const pieces = new std::vector<std::string>{
      "a", "Z", "don", "'", "’", "t", " ", ",", ".", "!", "，", "。", "、", "…", "-", "$", "%", "¥", "0", "4", "12",
      "480", "one", "two", "hundred", "thousand", "and", "forty", "five", "million", "zero", "一", "二", "两", "三",
      "十", "百", "千", "万", "亿", "零", "〇", "说", "還", "你", "不会", "就", "Ａ", "１", "　", "\xcc\x81", "é", "ß",
      "ﬁ", "😀", "𝐀", "Ms", "p", "m", "U", "S", "\t", "·", "「", "⋯", "\xe2\x80\x8b", "uh", "huh", "um",
      "er", "the"};
  return *pieces;
}

// Random mixes of the pieces the rules look at; every output must be a fixed point.
TEST(NormalizerTest, RandomMixesNormalizeToFixedPoints) {
  const std::vector<std::string>& pieces = MixPieces();
  std::mt19937 rng(20240611);
  const Normalizer& normalizer = Normalizer::Default();
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string text;
    const int count = static_cast<int>(rng() % 16);
    for (int k = 0; k < count; ++k) {
      text += pieces[rng() % pieces.size()];
      if (rng() % 3 == 0) text += " ";
    }
    const std::string once = normalizer.NormalizeForMatch(text);
    ASSERT_EQ(normalizer.NormalizeForMatch(once), once) << "input: " << text;
  }
}

TEST(NormalizerTest, HandlesLongTextsAndLongExpansions) {
  std::string long_latin;
  for (int i = 0; i < 2000; ++i) long_latin += "Forty-Five Dollars, ";
  const NormalizedText latin = MustNormalize(long_latin);
  EXPECT_EQ(latin.text.substr(0, 21), "45 dollars , 45 dolla");
  EXPECT_EQ(latin.orig_end.back(), long_latin.size() - 2);  // the trailing ", " is dropped

  std::string ligatures;  // U+FDFA folds to 18 code points
  for (int i = 0; i < 500; ++i) ligatures += "ﷺ";
  const NormalizedText arabic = MustNormalize(ligatures);
  EXPECT_GT(arabic.text.size(), ligatures.size() * 5);
  EXPECT_EQ(arabic.orig_end.back(), ligatures.size());

  const NormalizedText short_after_long = MustNormalize("Hi");
  EXPECT_EQ(short_after_long.text, "hi");
}

// ---- Errors ---------------------------------------------------------------------------------

// ---- Growing texts ---------------------------------------------------------------------------

// Feeds `text` to one GrowingNormalization cut at each of `ends` in turn and checks every step,
// offsets included, against a whole-text normalization.
void ExpectGrowingMatchesWhole(absl::string_view text, const std::vector<size_t>& ends, GrowingNormalization* growing) {
  const Normalizer& normalizer = Normalizer::Default();
  NormalizedText whole;
  for (size_t end : ends) {
    const absl::string_view prefix = text.substr(0, end);
    ASSERT_TRUE(normalizer.NormalizeGrowing(prefix, growing).ok()) << prefix;
    ASSERT_TRUE(normalizer.Normalize(prefix, &whole).ok()) << prefix;
    const NormalizedText& grown = growing->normalized();
    ASSERT_EQ(grown.text, whole.text) << "input: " << prefix;
    ASSERT_EQ(grown.orig_begin, whole.orig_begin) << "input: " << prefix;
    ASSERT_EQ(grown.orig_end, whole.orig_end) << "input: " << prefix;
  }
}

// Every code point boundary, and every word boundary (what recognizers send).
std::vector<size_t> CodePointEnds(absl::string_view text) {
  std::vector<size_t> ends;
  for (size_t end = 0; end <= text.size(); ++end) {
    if (IsCodePointBoundary(text, end)) ends.push_back(end);
  }
  return ends;
}
std::vector<size_t> WordEnds(absl::string_view text) {
  std::vector<size_t> ends;
  for (size_t end = 1; end < text.size(); ++end) {
    if (text[end] == ' ') ends.push_back(end);
  }
  ends.push_back(text.size());
  return ends;
}

std::vector<std::string> ExampleTexts() {
  return TurnTexts(std::string(CALLGUARD_SOURCE_DIR) + "/examples", {"calls-en.jsonl", "calls-zh.jsonl"},
                   /*with_agency_names=*/false);
}

// The spots where a token's form depends on what follows it.
const std::vector<std::string>& TrickyGrowingTexts() {
  static const auto* const texts = new std::vector<std::string>{
      "i owe you one hundred and five dollars, not twenty five hundred",
      "three hundred and eighty thousand and twelve, a hundred, a lot",
      "it was 4,480.50 or 4,48 or 12,345,678 dollars. Next",
      "Ms. Murphy and Dr. Smith at 5 p.m. in the U.S. see www.example.com. items. Done",
      "don't, don’t, rock 'n' roll, the 90's, 'quoted' words'",
      "cafe\xcc\x81 ﬁne ＡＢＣ　１２３，ｘｙｚ！ 😀 𝐀 ß x\xcc\x81\xcc\x81",
      "一千三百四 十二 thousand 两百12 3万 一 千 三四个 一三八 五零 四五十 十",
      "您好，我是恒达资产的李强，工号3021，还差1340元。說還錢 你好 吗",
      "one two three four five six seven eight nine ten eleven twelve hundred",
      "no one, one of those, one, zero one, a, and, one thousand one",
  };
  return *texts;
}

TEST(NormalizerTest, GrowingTextMatchesWholeTextOnEveryPrefix) {
  std::vector<std::string> texts = ExampleTexts();
  ASSERT_GT(texts.size(), 20u);
  for (const std::string& t : TrickyGrowingTexts()) texts.push_back(t);
  for (const std::string& t : CorpusTexts()) texts.push_back(t);
  size_t compared = 0;
  for (const std::string& text : texts) {
    GrowingNormalization by_code_point, by_word;
    const std::vector<size_t> code_points = CodePointEnds(text), words = WordEnds(text);
    ExpectGrowingMatchesWhole(text, code_points, &by_code_point);
    ExpectGrowingMatchesWhole(text, words, &by_word);
    compared += code_points.size() + words.size();
  }
  EXPECT_GT(compared, 5000u);
}

TEST(NormalizerTest, GrowingTextMatchesWholeTextOnRandomMixes) {
  const std::vector<std::string>& pieces = MixPieces();
  std::mt19937 rng(20261128);
  GrowingNormalization growing;  // one state throughout: revisions must start over cleanly
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string text;
    std::vector<size_t> ends;
    const int count = static_cast<int>(rng() % 24);
    for (int k = 0; k < count; ++k) {
      text += pieces[rng() % pieces.size()];
      if (rng() % 3 == 0) text += " ";
      ends.push_back(text.size());
      if (rng() % 5 == 0) ends.push_back(text.size());  // the same text again
    }
    ExpectGrowingMatchesWhole(text, ends, &growing);
    if (rng() % 4 == 0) growing.Reset();
  }
}

TEST(NormalizerTest, GrowingTextStartsOverOnRevisionsAndErrors) {
  const Normalizer& normalizer = Normalizer::Default();
  GrowingNormalization growing;
  EXPECT_FALSE(growing.active());
  EXPECT_TRUE(growing.normalized().text.empty());
  ASSERT_TRUE(normalizer.NormalizeGrowing("I owe you one", &growing).ok());
  EXPECT_EQ(growing.normalized().text, "i owe you one");
  ASSERT_TRUE(normalizer.NormalizeGrowing("I owe you one hundred", &growing).ok());
  EXPECT_EQ(growing.normalized().text, "i owe you 100");
  ASSERT_TRUE(normalizer.NormalizeGrowing("I owe you won", &growing).ok());  // revised
  EXPECT_EQ(growing.normalized().text, "i owe you won");
  absl::Status bad = normalizer.NormalizeGrowing("I owe you won \xff", &growing);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(growing.active());
  ASSERT_TRUE(normalizer.NormalizeGrowing("I owe you won twelve", &growing).ok());
  EXPECT_EQ(growing.normalized().text, "i owe you won 12");
  NormalizedText released;
  growing.Release(&released);
  EXPECT_EQ(released.text, "i owe you won 12");
  EXPECT_EQ(released.orig_begin.size(), released.text.size());
  EXPECT_FALSE(growing.active());
  GrowingNormalization moved = std::move(growing);
  EXPECT_FALSE(moved.active());
}

TEST(NormalizerTest, GrowingTextsAreBoundedInLengthAndCounted) {
  const Normalizer& normalizer = Normalizer::Default();
  const int before = GrowingNormalization::live();
  {
    GrowingNormalization a, b;
    ASSERT_TRUE(normalizer.NormalizeGrowing("you owe", &a).ok());
    ASSERT_TRUE(normalizer.NormalizeGrowing("you owe us", &a).ok());
    ASSERT_TRUE(normalizer.NormalizeGrowing("hello", &b).ok());
    EXPECT_EQ(GrowingNormalization::live(), before + 2);
    b.Reset();
    EXPECT_EQ(GrowingNormalization::live(), before + 1);
    a = std::move(b);  // drops a's state
    EXPECT_EQ(GrowingNormalization::live(), before);

    // Past the length bound the caller is told to normalize the text whole.
    std::string long_text(GrowingNormalization::kMaxTextBytes, 'a');
    ASSERT_TRUE(normalizer.NormalizeGrowing(long_text, &a).ok());
    long_text += " b";
    EXPECT_EQ(normalizer.NormalizeGrowing(long_text, &a).code(), absl::StatusCode::kResourceExhausted);
    EXPECT_FALSE(a.active());
    EXPECT_EQ(GrowingNormalization::live(), before);
    ASSERT_TRUE(normalizer.NormalizeGrowing("you owe", &a).ok());
  }
  EXPECT_EQ(GrowingNormalization::live(), before) << "destroyed texts give their slot back";
}

TEST(NormalizerTest, RejectsInvalidUtf8NamingTheField) {
  for (const char* bad : {"abc\xff", "abc\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok \x80 ok"}) {
    SCOPED_TRACE(absl::StrCat("input of ", std::string(bad).size(), " bytes"));
    NormalizedText out;
    out.text = "stale";
    out.orig_begin.push_back(1);
    const absl::Status status = Normalizer::Default().Normalize(bad, &out);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FieldOf(status), "text");
    EXPECT_THAT(status.message(), HasSubstr("byte"));
    EXPECT_TRUE(out.text.empty());
    EXPECT_TRUE(out.orig_begin.empty());
    EXPECT_EQ(Normalizer::Default().Normalize(absl::string_view(bad)).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(NormalizerTest, NormalizeForMatchTreatsInvalidBytesAsSpaces) {
  EXPECT_EQ(Normalizer::Default().NormalizeForMatch("ab\xff" "cd"), "ab cd");
}

// ---- Threads --------------------------------------------------------------------------------

TEST(NormalizerTest, DefaultServesSeveralThreadsAtOnce) {
  const std::vector<std::string> inputs = {"Hello, World!", "你再不還錢我們就報警", "four hundred twelve dollars",
                                           "一千三百四", "ＡＢＣ　１２３，ｘｙｚ！", "don’t 4,480.50"};
  std::vector<std::string> expected;
  for (const std::string& input : inputs) expected.push_back(Normalizer::Default().NormalizeForMatch(input));

  std::atomic<int> mismatches{0};
  std::atomic<const Normalizer*> seen[4] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      seen[t] = &Normalizer::Default();
      NormalizedText out;
      for (int round = 0; round < 300; ++round) {
        const size_t k = static_cast<size_t>(round + t) % inputs.size();
        if (!Normalizer::Default().Normalize(inputs[k], &out).ok() || out.text != expected[k]) ++mismatches;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
  for (int t = 0; t < 4; ++t) EXPECT_EQ(seen[t].load(), &Normalizer::Default());
}

// ---- Free functions -------------------------------------------------------------------------

TEST(Utf8Test, DecodeUtf8ReadsOneCodePointAndAdvances) {
  const std::string text = "a\xc3\xa9说😀";
  size_t pos = 0;
  EXPECT_EQ(DecodeUtf8(text, &pos), 0x61u);
  EXPECT_EQ(pos, 1u);
  EXPECT_EQ(DecodeUtf8(text, &pos), 0xE9u);
  EXPECT_EQ(pos, 3u);
  EXPECT_EQ(DecodeUtf8(text, &pos), 0x8BF4u);
  EXPECT_EQ(pos, 6u);
  EXPECT_EQ(DecodeUtf8(text, &pos), 0x1F600u);
  EXPECT_EQ(pos, 10u);
}

TEST(Utf8Test, DecodeUtf8NeverReadsPastTheEnd) {
  const std::string truncated = "\xe8\xaf";  // first two bytes of 说
  size_t pos = 0;
  EXPECT_EQ(DecodeUtf8(truncated, &pos), 0xFFFDu);
  EXPECT_EQ(pos, 1u);
  pos = 2;
  EXPECT_EQ(DecodeUtf8(truncated, &pos), 0xFFFDu);
  EXPECT_EQ(pos, 2u);
}

TEST(Utf8Test, CodePointOffsetCountsCodePoints) {
  const std::string text = "a说b😀c";
  EXPECT_EQ(CodePointOffset(text, 0), 0);
  EXPECT_EQ(CodePointOffset(text, 1), 1);
  EXPECT_EQ(CodePointOffset(text, 4), 2);
  EXPECT_EQ(CodePointOffset(text, 5), 3);
  EXPECT_EQ(CodePointOffset(text, 9), 4);
  EXPECT_EQ(CodePointOffset(text, text.size()), 5);
  EXPECT_EQ(CodePointOffset(text, 1000), 5);
}

TEST(Utf8Test, IsCjkCodePointCoversIdeographsKanaAndHangul) {
  for (uint32_t cp : {0x8BF4u /*说*/, 0x4E00u, 0x9FFFu, 0x3400u /*ext A*/, 0xF900u /*compat*/, 0x3007u /*〇*/,
                      0x3042u /*あ*/, 0x30ABu /*カ*/, 0xD55Cu /*한*/, 0x20000u /*ext B*/}) {
    EXPECT_TRUE(IsCjkCodePoint(cp)) << std::hex << cp;
  }
  for (uint32_t cp : {0x61u, 0x31u, 0xFF0Cu /*，*/, 0x3002u /*。*/, 0x3001u, 0xE9u, 0x1F600u}) {
    EXPECT_FALSE(IsCjkCodePoint(cp)) << std::hex << cp;
  }
}

TEST(NormalizedTextTest, ClearEmptiesEverything) {
  NormalizedText n = MustNormalize("Hello world");
  ASSERT_FALSE(n.text.empty());
  n.Clear();
  EXPECT_TRUE(n.text.empty());
  EXPECT_TRUE(n.orig_begin.empty());
  EXPECT_TRUE(n.orig_end.empty());
}

}  // namespace
}  // namespace callguard
