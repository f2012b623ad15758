#include "script_lint.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "training_test_support.h"

namespace callguard::cli {
namespace {

using ::testing::HasSubstr;
using testing_support::ShippedEngine;
using testing_support::SourcePath;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ScriptLintResult Lint(const std::string& text, const std::string& policy) {
  ScriptLintOptions options;
  options.policy_id = policy;
  absl::StatusOr<ScriptLintResult> result = LintScript(ShippedEngine(), text, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : ScriptLintResult{};
}

std::vector<std::string> Formatted(const ScriptLintResult& result) {
  std::vector<std::string> out;
  for (const ScriptFinding& f : result.findings) out.push_back(FormatScriptFinding("s.txt", f));
  return out;
}

TEST(ScriptLintTest, ShippedSampleScriptsAreClean) {
  ScriptLintResult en = Lint(ReadFile(SourcePath("training/scripts/en-approved-script.txt")), "us-fdcpa");
  EXPECT_THAT(Formatted(en), ::testing::IsEmpty());
  EXPECT_GT(en.lines_checked, 8);
  ScriptLintResult zh = Lint(ReadFile(SourcePath("training/scripts/zh-approved-script.txt")), "cn-collection");
  EXPECT_THAT(Formatted(zh), ::testing::IsEmpty());
  EXPECT_GT(zh.lines_checked, 6);
  // Without --policy, the script's language picks the policy.
  EXPECT_EQ(Lint(ReadFile(SourcePath("training/scripts/zh-approved-script.txt")), "").policy_id, "cn-collection");
  EXPECT_EQ(Lint(ReadFile(SourcePath("training/scripts/en-approved-script.txt")), "").policy_id, "us-fdcpa");
}

constexpr char kBadEnglish[] = R"(## Opening
Hello, may I speak with {debtor}?
I'm calling about the past due balance of {amount} on the account.

## Verification
Can you confirm your date of birth?

[Negotiation]
You need to pay today or you will be arrested.
Why don't you borrow it from your parents?
)";

TEST(ScriptLintTest, BadEnglishScriptFindingsWithLineNumbers) {
  ScriptLintResult result = Lint(kBadEnglish, "us-fdcpa");
  std::vector<std::string> lines = Formatted(result);
  // Line 2: the opening gives neither the agent's name nor the agency.
  EXPECT_THAT(lines, ::testing::Contains(::testing::StartsWith("s.txt:2: us.identification.meaningful: ")));
  // Line 3: the debt before any verification is a third-party disclosure.
  EXPECT_THAT(lines, ::testing::Contains(::testing::AllOf(::testing::StartsWith("s.txt:3: us.disclosure.third_party: "),
                                                          HasSubstr("(FDCPA 15 U.S.C. 1692b(2)"),
                                                          HasSubstr(" -> "))));
  // Line 9: arrest threat, and the debt discussed without the debt-collector statement.
  EXPECT_THAT(lines, ::testing::Contains(::testing::AllOf(::testing::StartsWith("s.txt:9: us.threat.arrest: "),
                                                          HasSubstr("\"arrested\""))));
  EXPECT_THAT(lines, ::testing::Contains(::testing::StartsWith("s.txt:9: us.disclosure.debt_collector_statement")));
  // Line 10: borrowing from family.
  EXPECT_THAT(lines, ::testing::Contains(::testing::StartsWith("s.txt:10: us.inducement")));
  for (const ScriptFinding& f : result.findings) EXPECT_NE(f.kind, "MISSING_ELEMENT") << f.rule;
}

TEST(ScriptLintTest, MissingElementsAreReported) {
  // Identified, but no verification section and no debt-collector statement.
  constexpr char kScript[] = R"([Opening]
Hi, this is {agent} with {agency}.

[Closing]
Thank you for your time.
)";
  std::vector<std::string> lines = Formatted(Lint(kScript, "us-fdcpa"));
  EXPECT_THAT(lines, ::testing::Contains(::testing::StartsWith("s.txt:1: script.verification: missing: no verification section")));
  EXPECT_THAT(lines, ::testing::Contains(::testing::StartsWith("s.txt:1: script.disclosure: missing: the debt-collector statement")));
  // The same script against cn-collection needs no statement (but the opening fails its own
  // identification rule, being English, and still lacks verification).
  std::vector<std::string> cn = Formatted(Lint(kScript, "cn-collection"));
  EXPECT_THAT(cn, ::testing::Not(::testing::Contains(HasSubstr("script.disclosure"))));
  EXPECT_THAT(cn, ::testing::Contains(HasSubstr("script.verification")));
}

TEST(ScriptLintTest, BadChineseScript) {
  constexpr char kScript[] = R"(## 开场
喂，是{debtor}吗？你在{creditor}的欠款已经逾期了。

## 身份核实
请报一下身份证后四位。

## 协商
没钱就找亲戚朋友借一下先还上。
再不还钱我们就上门去你单位找你领导。
)";
  std::vector<std::string> lines = Formatted(Lint(kScript, "cn-collection"));
  EXPECT_THAT(lines, ::testing::Contains(::testing::StartsWith("s.txt:2: cn.identification.missing: ")));
  EXPECT_THAT(lines, ::testing::Contains(::testing::StartsWith("s.txt:2: cn.disclosure.debt_mention: ")));
  EXPECT_THAT(lines, ::testing::Contains(::testing::StartsWith("s.txt:8: cn.inducement.new_debt: ")));
  EXPECT_THAT(lines, ::testing::Contains(::testing::StartsWith("s.txt:9: cn.threat.")));
}

TEST(ScriptLintTest, UnknownPolicyIsAnError) {
  ScriptLintOptions options;
  options.policy_id = "xx-none";
  EXPECT_FALSE(LintScript(ShippedEngine(), "## Opening\nhi\n", options).ok());
}

TEST(LintScriptCommandTest, ExitCodes) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCallguard({"lint-script", SourcePath("training/scripts/en-approved-script.txt"), "--policy", "us-fdcpa"},
                         out, err),
            kExitOk)
      << out.str() << err.str();
  EXPECT_THAT(out.str(), HasSubstr("0 finding(s)"));

  const std::string bad = ::testing::TempDir() + "/bad-script.txt";
  std::ofstream(bad) << kBadEnglish;
  out.str("");
  EXPECT_EQ(RunCallguard({"lint-script", bad}, out, err), kExitFailure);
  EXPECT_THAT(out.str(), HasSubstr(bad + ":9: us.threat.arrest: "));

  EXPECT_EQ(RunCallguard({"lint-script"}, out, err), kExitUsage);
  EXPECT_EQ(RunCallguard({"lint-script", bad, "--bogus"}, out, err), kExitUsage);
  EXPECT_EQ(RunCallguard({"lint-script", bad, "--policy", "xx-none"}, out, err), kExitUsage);
  EXPECT_EQ(RunCallguard({"lint-script", "/nonexistent/script.txt"}, out, err), kExitFailure);
}

}  // namespace
}  // namespace callguard::cli
