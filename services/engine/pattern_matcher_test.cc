#include "pattern_matcher.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace callguard
