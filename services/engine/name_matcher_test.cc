#include "name_matcher.h"

#include "gtest/gtest.h"

namespace callguard {
namespace {

using Kind = NameMatcher::Kind;

TEST(NameMatcherTest, PersonTokensMatchAtWordBoundaries) {
  auto m = NameMatcher::Create("Mark Lee", Kind::kPerson, false);
  EXPECT_TRUE(m.Contains("hi this is mark"));
  EXPECT_TRUE(m.Contains("lee speaking"));
  EXPECT_FALSE(m.Contains("this is marked down"));
  EXPECT_FALSE(m.Contains("sleep well"));
}

TEST(NameMatcherTest, ShortFormsOfTheFirstName) {
  auto m = NameMatcher::Create("Christopher Taylor", Kind::kPerson, false);
  EXPECT_TRUE(m.MatchesWord("chris"));
  EXPECT_TRUE(m.MatchesWord("taylor"));
  EXPECT_FALSE(m.MatchesWord("ch"));
  EXPECT_FALSE(m.MatchesWord("john"));
  EXPECT_TRUE(m.ContainsNameOrShortForm("hi its chris from summit"));
  EXPECT_FALSE(m.ContainsNameOrShortForm("hi its chr from summit"));  // too short to tell
}

TEST(NameMatcherTest, OrganizationDropsLegalSuffixAndAcceptsItsLeadingWords) {
  auto m = NameMatcher::Create("Summit Recovery Services, LLC", Kind::kOrganization, false);
  EXPECT_TRUE(m.Contains("calling from summit recovery services"));
  EXPECT_TRUE(m.Contains("with summit recovery"));
  EXPECT_TRUE(m.Contains("im with summit"));
  EXPECT_FALSE(m.Contains("recovery services"));
  // A generic first word alone is not the organization.
  auto generic = NameMatcher::Create("National Credit Partners", Kind::kOrganization, false);
  EXPECT_FALSE(generic.Contains("the national average"));
  EXPECT_TRUE(generic.Contains("national credit partners"));
}

TEST(NameMatcherTest, ChineseOrganizationWithoutLegalSuffix) {
  auto m = NameMatcher::Create("恒达资产管理有限公司", Kind::kOrganization, true);
  EXPECT_TRUE(m.Contains("我是恒达资产管理公司的"));
  EXPECT_TRUE(m.Contains("我是恒达资产的李强"));
  EXPECT_FALSE(m.Contains("我是资产管理公司的"));
}

TEST(NameMatcherTest, ChineseOrganizationByItsBrand) {
  auto m = NameMatcher::Create("上海鼎盛资产管理有限公司", Kind::kOrganization, true);
  EXPECT_TRUE(m.Contains("我是鼎盛的王芳"));
  EXPECT_TRUE(m.Contains("这里是鼎盛资管"));
  EXPECT_TRUE(m.Contains("我是鼎盛资产管理公司的"));
  EXPECT_FALSE(m.Contains("我是上海资产管理公司的"));
  // A brand shorter than two characters is no brand: the whole core must be said.
  auto short_brand = NameMatcher::Create("信资产管理有限公司", Kind::kOrganization, true);
  EXPECT_FALSE(short_brand.Contains("我是信的"));
  EXPECT_TRUE(short_brand.Contains("我是信资产管理的"));
}

TEST(NameMatcherTest, ChinesePersonFullGivenAndSurnameForms) {
  auto m = NameMatcher::Create("周建国", Kind::kPerson, true);
  EXPECT_TRUE(m.Contains("请问是周建国先生吗"));
  EXPECT_TRUE(m.Contains("我姓周"));
  EXPECT_TRUE(m.MatchesWord("建国啊"));
  EXPECT_FALSE(m.Contains("周末再说"));
}

TEST(NameMatcherTest, WorkNumberDigitsAtDigitBoundaries) {
  auto m = NameMatcher::Create("A1042", Kind::kWorkNumber, false);
  EXPECT_TRUE(m.Contains("agent number 1042"));
  EXPECT_FALSE(m.Contains("call 310420"));
  EXPECT_TRUE(NameMatcher::Create("12", Kind::kWorkNumber, false).empty());  // too short to tell
}

}  // namespace
}  // namespace callguard
