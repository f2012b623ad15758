#include "pattern_matcher.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "compiled_policy.h"
#include "engine.h"
#include "normalizer.h"
#include "policy_loader.h"
#include "transcript_io.h"

namespace callguard {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<PatternMatcher> Make(std::vector<std::string> patterns) {
  auto m = PatternMatcher::Create(PatternMatcher::Options{std::move(patterns), {}});
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *std::move(m) : nullptr;
}

TEST(PatternMatcherTest, CandidatesListEachMatchingPatternOnce) {
  auto m = Make({"\\barrest", "\\bjail\\b", "police"});
  std::vector<uint32_t> c;
  ASSERT_TRUE(m->Candidates("jail jail arrested", &c).ok());
  EXPECT_THAT(c, ElementsAre(0, 1));
  ASSERT_TRUE(m->Candidates("nothing here", &c).ok());
  EXPECT_TRUE(c.empty());
}

TEST(PatternMatcherTest, SpansAreLeftmostLongestAndNonOverlapping) {
  auto m = Make({"\\bpast due\\b|\\bpast\\b", "\\$\\d+"});
  std::vector<PatternMatch> out;
  ASSERT_TRUE(m->Scan("it is past due by $400 and $50", &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].pattern, 0u);
  EXPECT_EQ(out[0].begin, 6u);
  EXPECT_EQ(out[0].end, 14u);
  EXPECT_EQ(out[1].begin, 18u);
  EXPECT_EQ(out[1].end, 22u);
  EXPECT_EQ(out[2].begin, 27u);
}

TEST(PatternMatcherTest, ChineseLiteralsMatchByCharacter) {
  auto m = Make({"逾期", "(抓|拘留)你"});
  std::vector<PatternMatch> out;
  const std::string text = "你的借款逾期了再不还就抓你";
  ASSERT_TRUE(m->Scan(text, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(text.substr(out[0].begin, out[0].end - out[0].begin), "逾期");
  EXPECT_EQ(text.substr(out[1].begin, out[1].end - out[1].begin), "抓你");
}

TEST(PatternMatcherTest, CaselessMatching) {
  auto m = Make({"jail"});
  std::vector<uint32_t> c;
  ASSERT_TRUE(m->Candidates("JAIL", &c).ok());
  EXPECT_THAT(c, ElementsAre(0));
}

TEST(PatternMatcherTest, BadPatternIsRejectedWithItsLabel) {
  auto m = PatternMatcher::Create(PatternMatcher::Options{{"ok", "(?<=x)y"}, {"set a #1", "set b #2"}});
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("set b #2"));
  auto empty = PatternMatcher::Create(PatternMatcher::Options{{""}, {}});
  EXPECT_FALSE(empty.ok());
  EXPECT_FALSE(ValidatePattern("(unclosed").ok());
  EXPECT_TRUE(ValidatePattern("\\bfine\\b").ok());
}

TEST(PatternMatcherTest, NoPatternsMatchesNothing) {
  auto m = Make({});
  std::vector<PatternMatch> out;
  ASSERT_TRUE(m->Scan("anything", &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(PatternMatcherTest, SafeFromManyThreads) {
  auto m = Make({"\\barrest\\w*", "jail", "police"});
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<PatternMatch> out;
      for (int i = 0; i < 500; ++i) {
        if (!m->Scan("the police will arrest you and jail you", &out).ok() || out.size() != 3) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// Grows `text` the way interim results do (word by word, then a character at a time) and
// checks every step against a whole-text scan.
void ExpectGrowingMatchesWhole(const PatternMatcher& m, absl::string_view text, PatternMatcher::GrowingScan* scan) {
  std::vector<uint32_t> growing, whole;
  for (size_t end = 1; end <= text.size(); ++end) {
    const absl::string_view prefix = text.substr(0, end);
    ASSERT_TRUE(m.CandidatesGrowing(prefix, scan, &growing).ok());
    ASSERT_TRUE(m.Candidates(prefix, &whole).ok());
    EXPECT_EQ(growing, whole) << "after \"" << prefix << "\"";
  }
}

TEST(PatternMatcherTest, GrowingScanFindsWhatAWholeScanFinds) {
  auto m = Make({"\\bjail\\b", "^hello", "court$", "\\b\\d+ dollars\\b", "police (will|are going to) come",
                 "坐牢", "\\bpay\\b.{0,20}\\btoday\\b", "\\bno\\b"});
  PatternMatcher::GrowingScan scan;
  // Word boundaries at the growing end: "jai" -> "jail" -> "jails" must come and go.
  ExpectGrowingMatchesWhole(*m, "hello you will go to jails , no jail , 300 dollars to court", &scan);
  EXPECT_TRUE(scan.active());
  // A revised text (not an extension) starts over and is still exact.
  std::vector<uint32_t> growing, whole;
  for (absl::string_view revised : {"hello the police will come", "hello the police are going to come today",
                                    "yellow police will come", "", "不然你就去坐牢", "pay it all today"}) {
    ASSERT_TRUE(m->CandidatesGrowing(revised, &scan, &growing).ok());
    ASSERT_TRUE(m->Candidates(revised, &whole).ok());
    EXPECT_EQ(growing, whole) << revised;
  }
  scan.Reset();
  EXPECT_FALSE(scan.active());
}

// Scopes answer in the whole set's pattern indices, only for their own patterns; a growing
// scan follows the scope it is used with.
TEST(PatternMatcherTest, ScopesScanOnlyTheirPatterns) {
  PatternMatcher::Options options;
  options.patterns = {"\\bjail\\b", "wrong number", "\\barrest", "court$"};
  options.scopes = {{{3, 0, 2}, /*growing=*/true},
                    {{1}, /*growing=*/false},
                    {{}, /*growing=*/true},
                    {{0, 1, 2, 3}, /*growing=*/true}};
  auto created = PatternMatcher::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  const PatternMatcher& m = **created;
  EXPECT_EQ(m.scope_count(), 4u);
  EXPECT_THAT(m.scope_patterns(0), ElementsAre(0, 2, 3));
  const std::string text = "wrong number , no jail , no arrest , see you in court";
  std::vector<uint32_t> out;
  ASSERT_TRUE(m.Candidates(text, &out).ok());
  EXPECT_THAT(out, ElementsAre(0, 1, 2, 3));
  ASSERT_TRUE(m.Candidates(text, 0, &out).ok());
  EXPECT_THAT(out, ElementsAre(0, 2, 3));
  ASSERT_TRUE(m.Candidates(text, 1, &out).ok());
  EXPECT_THAT(out, ElementsAre(1));
  ASSERT_TRUE(m.Candidates(text, 2, &out).ok());
  EXPECT_THAT(out, ::testing::IsEmpty());
  ASSERT_TRUE(m.Candidates(text, 3, &out).ok());  // every pattern: the whole set's database
  EXPECT_THAT(out, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(m.Candidates(text, 4, &out).code(), absl::StatusCode::kOutOfRange);

  PatternMatcher::GrowingScan scan;
  std::vector<uint32_t> whole;
  for (size_t end = 1; end <= text.size(); ++end) {
    const absl::string_view prefix = absl::string_view(text).substr(0, end);
    for (int scope : {0, 1, 0, 2, 3}) {  // switching scopes starts over, never mixes
      ASSERT_TRUE(m.CandidatesGrowing(prefix, scope, &scan, &out).ok());
      ASSERT_TRUE(m.Candidates(prefix, scope, &whole).ok());
      ASSERT_EQ(out, whole) << "scope " << scope << " after \"" << prefix << "\"";
    }
  }
  // Scope 1 has no streaming database: whole-text scans, no stream kept.
  ASSERT_TRUE(m.CandidatesGrowing(text, 1, &scan, &out).ok());
  EXPECT_FALSE(scan.active());
  EXPECT_EQ(m.CandidatesGrowing(text, -1, &scan, &out).code(), absl::StatusCode::kOutOfRange);

  options.scopes = {{{7}, true}};
  auto bad = PatternMatcher::Create(options);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("scope 0"));
}

// More matchers than a thread keeps spare streams for, growing texts interleaved: the end-of-
// text checks must still run on a copy of the right stream.
TEST(PatternMatcherTest, GrowingScansOfManyMatchersInterleaved) {
  std::vector<std::unique_ptr<PatternMatcher>> matchers;
  for (int i = 0; i < 6; ++i) {
    matchers.push_back(Make({"\\bjail\\b", "court$", absl::StrCat("\\bcase ", i, "\\b"), "\\bno\\b"}));
  }
  std::vector<PatternMatcher::GrowingScan> scans(matchers.size());
  const std::string text = "no jail , case 3 , case 5 in court";
  std::vector<uint32_t> growing, whole;
  for (size_t end = 1; end <= text.size(); ++end) {
    for (size_t i = 0; i < matchers.size(); ++i) {
      const absl::string_view prefix = absl::string_view(text).substr(0, end);
      ASSERT_TRUE(matchers[i]->CandidatesGrowing(prefix, &scans[i], &growing).ok());
      ASSERT_TRUE(matchers[i]->Candidates(prefix, &whole).ok());
      ASSERT_EQ(growing, whole) << "matcher " << i << " after \"" << prefix << "\"";
    }
  }
  matchers.erase(matchers.begin());  // a freed database's spare stream must stay harmless
  scans.erase(scans.begin());
  for (size_t i = 0; i < matchers.size(); ++i) {
    ASSERT_TRUE(matchers[i]->CandidatesGrowing(text + " no", &scans[i], &growing).ok());
    ASSERT_TRUE(matchers[i]->Candidates(text + " no", &whole).ok());
    EXPECT_EQ(growing, whole);
  }
}

// The streaming database drops caselessness where it cannot matter for lowercase text; text
// with capitals or other cased characters, and patterns whose meaning caselessness changes,
// must still match as the whole-text (caseless) scan does.
TEST(PatternMatcherTest, GrowingScanIsCaselessLikeTheWholeScan) {
  auto m = Make({"[!-^]x", "\\bJail\\b", "[[:upper:]]q", "stra\xc3\x9f" "e", "\\bk\\b", "(?i)ok", "[a-z]+ing\\b",
                 "\\x41b", "[^a]c", "σ", "\\bcourt\\b", "[a-mo-z]z", "逾期", "[^,的]还"});
  const std::vector<std::string> texts = {
      "ax zz court", "Ax q Q jail Jail JAIL", "STRASSE stra\xc3\x9f" "e k \xe2\x84\xaa ok OK going",
      "ab Ab AB Ac ac ẞ ς Σ σ", "逾期 了 还 的还 \xc5\xbfing", "plain lowercase text with k and jail and qq",
      "nz mz oz", "court COURT"};
  std::vector<uint32_t> growing, whole;
  for (const std::string& text : texts) {
    PatternMatcher::GrowingScan scan;
    for (size_t end = 1; end <= text.size(); ++end) {
      if (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) continue;
      const absl::string_view prefix = absl::string_view(text).substr(0, end);
      ASSERT_TRUE(m->CandidatesGrowing(prefix, &scan, &growing).ok());
      ASSERT_TRUE(m->Candidates(prefix, &whole).ok());
      ASSERT_EQ(growing, whole) << "after \"" << prefix << "\"";
    }
  }
}

TEST(PatternMatcherTest, GrowingScanFallsBackToWholeScansAtTheCap) {
  PatternMatcher::Options options{{"\\bjail\\b", "court$"}, {}};
  options.max_growing_scans = 0;  // no streams at all
  auto m = PatternMatcher::Create(std::move(options));
  ASSERT_TRUE(m.ok()) << m.status();
  PatternMatcher::GrowingScan scan;
  std::vector<uint32_t> out;
  ASSERT_TRUE((*m)->CandidatesGrowing("go to jail or court", &scan, &out).ok());
  EXPECT_THAT(out, ElementsAre(0, 1));
  EXPECT_FALSE(scan.active());
}

TEST(PatternMatcherTest, GrowingScanRefusesAnotherMatcher) {
  auto a = Make({"jail"});
  auto b = Make({"jail"});
  PatternMatcher::GrowingScan scan;
  std::vector<uint32_t> out;
  ASSERT_TRUE(a->CandidatesGrowing("jail", &scan, &out).ok());
  EXPECT_FALSE(b->CandidatesGrowing("jail time", &scan, &out).ok());
  PatternMatcher::GrowingScan moved = std::move(scan);
  EXPECT_TRUE(moved.active());
  EXPECT_FALSE(scan.active());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  ASSERT_TRUE(a->CandidatesGrowing("jail time", &moved, &out).ok());
  EXPECT_THAT(out, ElementsAre(0));
}

// The shipped policies over the example calls, every utterance grown a character at a time
// as a recognizer's interim results would (normalized first, as the engine does).
TEST(PatternMatcherTest, GrowingScanMatchesWholeScansOnShippedPolicies) {
  for (const auto& [policy_file, calls_file] :
       {std::pair<std::string, std::string>{"us-fdcpa", "calls-en"}, {"cn-collection", "calls-zh"}}) {
    auto source = ParsePolicyFile(absl::StrCat(CALLGUARD_SOURCE_DIR "/policies/", policy_file, ".textproto"));
    ASSERT_TRUE(source.ok()) << source.status();
    auto engine = Engine::Create(Engine::Options{{*source}, 1});
    ASSERT_TRUE(engine.ok()) << engine.status();
    const PatternMatcher& m = (*engine)->FindPolicy(policy_file)->matcher();
    auto calls = ReadTranscripts(absl::StrCat(CALLGUARD_SOURCE_DIR "/examples/", calls_file, ".jsonl"));
    ASSERT_TRUE(calls.ok()) << calls.status();
    // The agent's scope streams; it must answer as its whole-text scan, and that as the whole
    // set's scan restricted to the scope's patterns.
    constexpr int kScope = CompiledPolicy::kAgentScope;
    const std::vector<uint32_t>& in_scope = m.scope_patterns(kScope);
    ASSERT_FALSE(in_scope.empty());
    ASSERT_LT(in_scope.size(), m.pattern_count());
    std::vector<uint32_t> growing, whole, all;
    size_t compared = 0;
    for (const auto& call : *calls) {
      for (const auto& turn : call.turns()) {
        PatternMatcher::GrowingScan scan;
        const std::string& text = turn.text();
        for (size_t end = 1; end <= text.size(); ++end) {
          if (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) continue;
          auto norm = Normalizer::Default().Normalize(absl::string_view(text).substr(0, end));
          ASSERT_TRUE(norm.ok()) << norm.status();
          ASSERT_TRUE(m.CandidatesGrowing(norm->text, kScope, &scan, &growing).ok());
          ASSERT_TRUE(m.Candidates(norm->text, kScope, &whole).ok());
          ASSERT_EQ(growing, whole) << policy_file << ": \"" << norm->text << "\"";
          ASSERT_TRUE(m.Candidates(norm->text, &all).ok());
          std::erase_if(all, [&](uint32_t p) { return !std::binary_search(in_scope.begin(), in_scope.end(), p); });
          ASSERT_EQ(whole, all) << policy_file << ": \"" << norm->text << "\"";
          ++compared;
        }
      }
    }
    EXPECT_GT(compared, 500u) << policy_file;
  }
}

}  // namespace
}  // namespace callguard
