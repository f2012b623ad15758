// Recommended negation lists (a starting point for the shipped policies; written normalized,
// i.e. lower case, apostrophes dropped, Simplified Chinese).
//
// English cues:
//   not, never, no, nobody, "no one", none, nothing, neither, nor, without,
//   cannot, cant, dont, doesnt, didnt, wont, wouldnt, shouldnt, couldnt,
//   isnt, arent, wasnt, werent, havent, hasnt, aint
//   ("dont want to end up in jail" is a warning, not a denial: the scope ignores a cue that is
//   followed by want / wants / wanna / wanted.)
// English scope breakers (a cue before them does not reach a match after them):
//   if, unless, otherwise, "or else", until, but, because, so, then, when, "and then",
//   "you will", youll, "we will", well, "i will", ill, "they will", theyll,
//   "you are", youre, "we are", were
//   (a cue AFTER a breaker still negates: "you will not be arrested" is found before
//   "you will" is reached.)
//
// Chinese cues:
//   不会, 不能, 不可能, 没有, 没有人, 没人, 没, 不用, 不必, 无需, 不需要, 绝不, 决不,
//   从不, 从来不, 并不, 并没有, 不再, 不是
//   Not recommended: bare 不 (it would negate "不还钱我们报警"), 别 ("别逼我们报警" threatens),
//   不要 ("你不要逼我们上门" threatens).
// Chinese scope breakers:
//   就, 的话, 否则, 不然, 要不然, 要不, 除非, 如果, 要是, 假如, 但是, 可是, 不过, 然后,
//   那么, 那就, 到时候, 只能, 只好
//
// Windows: window_words = 5, window_chars = 6.

#include "negation_scope.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "normalizer.h"
#include "status_util.h"

namespace callguard {
namespace {

NegationOptions RecommendedOptions() {
  NegationOptions options;
  options.cues = {"not",    "never", "no",     "nobody", "no one", "none",    "nothing", "neither", "nor",
                  "without", "cannot", "cant",  "dont",   "doesnt", "didnt",   "wont",    "wouldnt", "shouldnt",
                  "couldnt", "isnt",  "arent",  "wasnt",  "werent", "havent",  "hasnt",   "aint",
                  "不会",    "不能",  "不可能", "没有",   "没有人", "没人",    "没",      "不用",    "不必",
                  "无需",    "不需要", "绝不",  "决不",   "从不",   "从来不",  "并不",    "并没有",  "不再",
                  "不是"};
  options.scope_breakers = {"if",       "unless", "otherwise", "or else", "until",    "but",    "because",
                            "so",       "then",   "when",      "and then", "you will", "youll", "we will",
                            "well",     "i will", "ill",       "they will", "theyll",  "you are", "youre",
                            "we are",   "were",   "就",        "的话",     "否则",     "不然",   "要不然",
                            "要不",     "除非",   "如果",      "要是",     "假如",     "但是",   "可是",
                            "不过",     "然后",   "那么",      "那就",     "到时候",   "只能",   "只好"};
  options.window_words = 5;
  options.window_chars = 6;
  return options;
}

std::unique_ptr<NegationScope> MustCreate(const NegationOptions& options) {
  absl::StatusOr<std::unique_ptr<NegationScope>> scope = NegationScope::Create(options);
  EXPECT_TRUE(scope.ok()) << scope.status();
  return scope.ok() ? *std::move(scope) : nullptr;
}

// Normalizes `sentence`, finds `match` in it and asks whether that match is negated.
bool IsNegated(const NegationScope& scope, const std::string& sentence, const std::string& match) {
  const std::string text = Normalizer::Default().NormalizeForMatch(sentence);
  const std::string needle = Normalizer::Default().NormalizeForMatch(match);
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << "\"" << needle << "\" not in \"" << text << "\"";
  if (at == std::string::npos) return false;
  return scope.IsNegated(text, at);
}

struct Case {
  const char* sentence;
  const char* match;
};

class RecommendedListsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scope_ = MustCreate(RecommendedOptions());
    ASSERT_NE(scope_, nullptr);
  }
  std::unique_ptr<NegationScope> scope_;
};

TEST_F(RecommendedListsTest, NegatedEnglishStatements) {
  const Case cases[] = {
      {"Nobody will arrest you.", "arrest"},
      {"You will not be arrested.", "arrested"},
      {"We won't sue you.", "sue"},
      {"No one is going to call the police.", "call the police"},
      {"We are not going to garnish your wages.", "garnish"},
      {"I would never threaten you with jail.", "jail"},
      {"We can settle this without going to court.", "court"},
  };
  for (const Case& c : cases) EXPECT_TRUE(IsNegated(*scope_, c.sentence, c.match)) << c.sentence;
}

TEST_F(RecommendedListsTest, ConditionalsAndWarningsAreNotNegations) {
  const Case cases[] = {
      {"If you don't pay, you'll be arrested.", "arrested"},
      {"if you dont pay youll be arrested", "arrested"},
      {"if its not paid today you will be arrested", "arrested"},
      {"if you dont pay we will sue you", "sue"},
      {"you dont want to end up in jail", "jail"},
      {"unless you pay, we will call the police", "call the police"},
      {"if you dont pay well sue you", "sue"},
      {"you didnt pay so we are sending this to court", "court"},
  };
  for (const Case& c : cases) EXPECT_FALSE(IsNegated(*scope_, c.sentence, c.match)) << c.sentence;
}

TEST_F(RecommendedListsTest, OrCarriesTheNegationToASecondPredicate) {
  const Case negated[] = {
      {"Please do not take out a loan or borrow from anyone to pay this.", "borrow"},
      {"Don't borrow money or take out a payday loan.", "take out a payday loan"},
      {"We will never call your employer nor contact your family.", "contact your family"},
  };
  for (const Case& c : negated) EXPECT_TRUE(IsNegated(*scope_, c.sentence, c.match)) << c.sentence;
  // A new clause after "or" is not under the negation before it.
  const Case not_negated[] = {
      {"You don't pay or we will have you arrested.", "arrested"},
      {"You didn't answer or you would know about the lawsuit.", "lawsuit"},
      {"Don't hang up or your wages will be garnished.", "garnished"},
      {"Do not ignore this or else you go to jail.", "jail"},
  };
  for (const Case& c : not_negated) EXPECT_FALSE(IsNegated(*scope_, c.sentence, c.match)) << c.sentence;
}

TEST_F(RecommendedListsTest, NegatedChineseStatements) {
  const Case cases[] = {
      {"我们不会联系你家人", "联系你家人"},
      {"不会上门", "上门"},
      {"没有人会抓你", "抓你"},
      {"别担心，不会起诉", "起诉"},
      {"别担心不会起诉", "起诉"},
      {"我們不會聯繫你家人", "联系你家人"},  // Traditional text folds first
  };
  for (const Case& c : cases) EXPECT_TRUE(IsNegated(*scope_, c.sentence, c.match)) << c.sentence;
}

TEST_F(RecommendedListsTest, ChineseConditionalsAreNotNegations) {
  const Case cases[] = {
      {"如果你不还，我们就起诉你", "起诉"},
      {"不还钱就抓你", "抓你"},
      {"你不还的话警察会找你", "警察"},
      {"不然我们上门", "上门"},
      {"没钱我们只能起诉", "起诉"},
  };
  for (const Case& c : cases) EXPECT_FALSE(IsNegated(*scope_, c.sentence, c.match)) << c.sentence;
}

TEST_F(RecommendedListsTest, AMatchWithNothingBeforeItIsNotNegated) {
  EXPECT_FALSE(scope_->IsNegated("arrest", 0));
  EXPECT_FALSE(scope_->IsNegated("", 0));
  EXPECT_FALSE(scope_->IsNegated("报警", 0));
}

TEST_F(RecommendedListsTest, AnOffsetPastTheEndIsClamped) {
  EXPECT_TRUE(scope_->IsNegated("we will not", 1000));
  EXPECT_FALSE(scope_->IsNegated("we will", 1000));
}

TEST_F(RecommendedListsTest, TheScriptBeforeTheMatchDecidesHowToLookBack) {
  // A Latin match right after Chinese text is looked at character by character.
  EXPECT_TRUE(IsNegated(*scope_, "我们不会 call the police", "call"));
  EXPECT_FALSE(IsNegated(*scope_, "我们就 call the police", "call"));
}

// ---- Window and scope rules, with small lists so each rule is what decides -----------------

TEST(NegationScopeTest, LatinWindowCountsWordsBeforeTheMatch) {
  NegationOptions options;
  options.cues = {"not"};
  options.window_words = 3;
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_TRUE(IsNegated(*scope, "not a b arrest", "arrest"));     // cue is the 3rd word back
  EXPECT_FALSE(IsNegated(*scope, "not a b c arrest", "arrest"));  // 4th word back
  EXPECT_TRUE(IsNegated(*scope, "not arrest", "arrest"));
}

TEST(NegationScopeTest, CjkWindowCountsCharactersBeforeTheMatch) {
  NegationOptions options;
  options.cues = {"不会"};
  options.window_chars = 3;
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_TRUE(IsNegated(*scope, "不会甲乙报警", "报警"));     // cue ends 2 characters back
  EXPECT_FALSE(IsNegated(*scope, "不会甲乙丙丁报警", "报警"));  // 4 characters back
}

TEST(NegationScopeTest, FillersAreCrossedAndNotCounted) {
  NegationOptions options;
  options.cues = {"not", "不会"};
  options.scope_breakers = {"if", "就"};
  options.fillers = {"you know", "i mean", "就是说", "那个"};
  options.window_words = 3;
  options.window_chars = 3;
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  // The 就 of 就是说 is no breaker; the filler's characters are not counted.
  EXPECT_TRUE(IsNegated(*scope, "我们不会就是说上门的", "上门"));
  EXPECT_TRUE(IsNegated(*scope, "我们不会那个就是说上门的", "上门"));
  EXPECT_FALSE(IsNegated(*scope, "我们不会甲乙丙上门的", "上门"));  // without fillers: 4 back
  // A bare 就 still closes the scope.
  EXPECT_FALSE(IsNegated(*scope, "不还就上门", "上门"));
  EXPECT_FALSE(IsNegated(*scope, "不还就是说就上门", "上门"));
  // Latin: in "not you know a b arrest" the cue is 3 counted words back.
  EXPECT_TRUE(IsNegated(*scope, "we will not you know a b arrest", "arrest"));
  EXPECT_TRUE(IsNegated(*scope, "we will not i mean a b arrest", "arrest"));
  EXPECT_FALSE(IsNegated(*scope, "we will not x a b arrest", "arrest"));
  EXPECT_FALSE(IsNegated(*scope, "not you know if you know arrest", "arrest"));
}

TEST(NegationScopeTest, FillersReachAtMostOneWindowFurther) {
  NegationOptions options;
  options.cues = {"不会", "not"};
  options.fillers = {"嗯", "you know"};
  options.window_chars = 2;
  options.window_words = 2;
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_TRUE(IsNegated(*scope, "不会嗯嗯上门", "上门"));
  EXPECT_FALSE(IsNegated(*scope, "不会嗯嗯嗯嗯嗯嗯嗯嗯上门", "上门"));
  EXPECT_TRUE(IsNegated(*scope, "not you know arrest", "arrest"));
  EXPECT_FALSE(IsNegated(*scope, "not you know you know you know you know arrest", "arrest"));
}

TEST(NegationScopeTest, TheClauseMarkerClosesTheScope) {
  NegationOptions options;
  options.cues = {"not", "不会"};
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_FALSE(IsNegated(*scope, "not today. police will come", "police"));
  EXPECT_TRUE(IsNegated(*scope, "not today police will come", "police"));
  EXPECT_FALSE(IsNegated(*scope, "不会，报警", "报警"));
  EXPECT_TRUE(IsNegated(*scope, "不会报警", "报警"));
}

TEST(NegationScopeTest, MultiWordCuesAndBreakersCompareWordSequences) {
  NegationOptions options;
  options.cues = {"no one", "not"};
  options.scope_breakers = {"going to"};
  options.window_words = 6;
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_FALSE(IsNegated(*scope, "no one is going to call the police", "call the police"));  // breaker first
  EXPECT_TRUE(IsNegated(*scope, "no one will call the police", "call the police"));
  EXPECT_FALSE(IsNegated(*scope, "one will call the police", "call the police"));  // "one" alone is no cue
  // The breaker ends nearer to the match than the cue, so it closes the scope first.
  EXPECT_FALSE(IsNegated(*scope, "we are not going to call the police", "call the police"));
  EXPECT_TRUE(IsNegated(*scope, "going to do not call the police", "call the police"));
}

TEST(NegationScopeTest, ACueFollowedByWantIsNoCue) {
  NegationOptions options;
  options.cues = {"dont"};
  options.window_words = 8;
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_FALSE(IsNegated(*scope, "you dont want to end up in jail", "jail"));
  EXPECT_FALSE(IsNegated(*scope, "you dont wanna go to jail", "jail"));
  EXPECT_FALSE(IsNegated(*scope, "you don't want jail", "jail"));
  EXPECT_TRUE(IsNegated(*scope, "you dont go to jail", "jail"));
  EXPECT_FALSE(IsNegated(*scope, "dont want", "want"));  // the matched word itself follows the cue
}

TEST(NegationScopeTest, BreakersWinOverCuesThatAreTheirSubstrings) {
  NegationOptions options;
  options.cues = {"不"};
  options.scope_breakers = {"不然", "要不"};
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_FALSE(IsNegated(*scope, "不然我们上门", "上门"));
  EXPECT_FALSE(IsNegated(*scope, "要不我们上门", "上门"));  // both end at the same character
  EXPECT_TRUE(IsNegated(*scope, "我们不上门", "上门"));
}

TEST(NegationScopeTest, APhraseListedAsBothCueAndBreakerActsAsABreaker) {
  NegationOptions options;
  options.cues = {"no", "没"};
  options.scope_breakers = {"no", "没"};
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_FALSE(IsNegated(*scope, "no police", "police"));
  EXPECT_FALSE(IsNegated(*scope, "没报警", "报警"));
}

TEST(NegationScopeTest, TheLongestPhraseEndingAtAPositionDecides) {
  NegationOptions options;
  options.cues = {"will not"};
  options.scope_breakers = {"not"};
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_TRUE(IsNegated(*scope, "we will not sue", "sue"));
  EXPECT_FALSE(IsNegated(*scope, "it is not here so sue", "sue"));
}

TEST(NegationScopeTest, APartialWordBeforeTheMatchBelongsToTheMatch) {
  NegationOptions options;
  options.cues = {"un"};
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  const std::string text = "unpaid";
  EXPECT_FALSE(scope->IsNegated(text, 2));  // a match on "paid" inside "unpaid"
}

TEST(NegationScopeTest, PhrasesAreNormalizedLikeTheText) {
  NegationOptions options;
  options.cues = {"Won't", "不會"};
  auto scope = MustCreate(options);
  ASSERT_NE(scope, nullptr);
  EXPECT_TRUE(IsNegated(*scope, "we won't sue", "sue"));
  EXPECT_TRUE(IsNegated(*scope, "我们不会起诉", "起诉"));
}

TEST(NegationScopeTest, CreateRejectsBadOptions) {
  struct Bad {
    NegationOptions options;
    const char* field;
  };
  std::vector<Bad> bad;
  {
    NegationOptions o;
    o.window_words = 0;
    bad.push_back({o, "window_words"});
  }
  {
    NegationOptions o;
    o.window_chars = -1;
    bad.push_back({o, "window_chars"});
  }
  {
    NegationOptions o;
    o.cues = {"not", "  "};
    bad.push_back({o, "cues[1]"});
  }
  {
    NegationOptions o;
    o.cues = {"不 want"};
    bad.push_back({o, "cues[0]"});
  }
  {
    NegationOptions o;
    o.scope_breakers = {"if, then"};
    bad.push_back({o, "scope_breakers[0]"});
  }
  {
    NegationOptions o;
    o.fillers = {"you know", "那个 like"};
    bad.push_back({o, "fillers[1]"});
  }
  for (const Bad& b : bad) {
    absl::StatusOr<std::unique_ptr<NegationScope>> scope = NegationScope::Create(b.options);
    EXPECT_EQ(scope.status().code(), absl::StatusCode::kInvalidArgument) << b.field;
    EXPECT_EQ(FieldOf(scope.status()), b.field);
  }
}

TEST(NegationScopeTest, EmptyListsNegateNothing) {
  auto scope = MustCreate(NegationOptions{});
  ASSERT_NE(scope, nullptr);
  EXPECT_FALSE(IsNegated(*scope, "you will not be arrested", "arrested"));
  EXPECT_FALSE(IsNegated(*scope, "我们不会上门", "上门"));
}

TEST(NegationScopeTest, OneScopeServesSeveralThreads) {
  auto scope = MustCreate(RecommendedOptions());
  ASSERT_NE(scope, nullptr);
  const std::string negated = Normalizer::Default().NormalizeForMatch("we will not sue you");
  const std::string plain = Normalizer::Default().NormalizeForMatch("if you dont pay we will sue you");
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (!scope->IsNegated(negated, negated.find("sue"))) ++wrong[t];
        if (scope->IsNegated(plain, plain.find("sue"))) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(wrong[t], 0);
}

}  // namespace
}  // namespace callguard
