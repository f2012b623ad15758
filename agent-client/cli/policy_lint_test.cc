#include "policy_lint.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace callguard::cli {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Line numbers below refer to this text.
constexpr char kPolicy[] = R"pb(id: "lint-test"
language: "en"
parameters { spouse_any_of: "spouse" }
party_inference { self_confirm_any_of: "confirm" }
phrase_sets { name: "threat" patterns: "arrest" }
phrase_sets { name: "unused" patterns: "nothing" }
phrase_sets { name: "confirm" patterns: "speaking" }
phrase_sets { name: "spouse" patterns: "his wife" }
phrase_sets { name: "debt" patterns: "owe" }
rules {
  id: "threat.arrest"
  kind: PROHIBITED_THREAT
  coaching: "Do not threaten."
  citations { authority: "FDCPA" section: "1692e(4)" }
  phrases { any_of: "threat" unless_any_of: "debt" }
}
rules {
  id: "disclosure.bare"
  kind: THIRD_PARTY_DISCLOSURE
  phrases { any_of: "debt" }
}
rules {
  id: "old.rule"
  kind: ABUSIVE_LANGUAGE
  disabled: true
  phrases { any_of: "threat" }
}
examples { name: "arrest" text: "you will be arrested" expect: PROHIBITED_THREAT }
examples { name: "insult" text: "you idiot" expect: ABUSIVE_LANGUAGE }
)pb";

}  // namespace

// Readable failure messages.
void PrintTo(const LintWarning& w, std::ostream* os) { *os << "line " << w.line << ": " << w.message; }

namespace {

v1::Policy Parse(const std::string& text) {
  v1::Policy policy;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &policy));
  return policy;
}

MATCHER_P2(Warning, line, text, "") {
  return arg.line == line && arg.message.find(text) != std::string::npos;
}

TEST(LintPolicyTest, FlagsPhraseSetsNothingUses) {
  std::vector<LintWarning> warnings = LintPolicy(Parse(kPolicy), kPolicy);
  EXPECT_THAT(warnings, Contains(Warning(6, "phrase set \"unused\" is never used")));
  // Used by a rule's any_of / unless_any_of, by party inference, by the parameters.
  for (const char* used : {"\"threat\"", "\"debt\"", "\"confirm\"", "\"spouse\""}) {
    EXPECT_THAT(warnings, Not(Contains(Field(&LintWarning::message,
                                             AllOf(HasSubstr(used), HasSubstr("never used"))))))
        << used;
  }
}

TEST(LintPolicyTest, FlagsRulesWithoutCitationOrCoaching) {
  std::vector<LintWarning> warnings = LintPolicy(Parse(kPolicy), kPolicy);
  EXPECT_THAT(warnings, Contains(Warning(18, "rule \"disclosure.bare\" has no citation")));
  EXPECT_THAT(warnings, Contains(Warning(18, "rule \"disclosure.bare\" has no coaching")));
  EXPECT_THAT(warnings, Not(Contains(Field(&LintWarning::message, HasSubstr("\"threat.arrest\" has no")))));
  // A disabled rule raises nothing, so nothing about it is worth a warning.
  EXPECT_THAT(warnings, Not(Contains(Field(&LintWarning::message, HasSubstr("old.rule")))));
}

TEST(LintPolicyTest, FlagsRulesNoExampleExercises) {
  std::vector<LintWarning> warnings = LintPolicy(Parse(kPolicy), kPolicy);
  EXPECT_THAT(warnings,
              Contains(Warning(18, "rule \"disclosure.bare\" (THIRD_PARTY_DISCLOSURE) has no example")));
  EXPECT_THAT(warnings, Not(Contains(Field(&LintWarning::message,
                                           HasSubstr("\"threat.arrest\" (PROHIBITED_THREAT) has no example")))));
}

TEST(LintPolicyTest, FlagsExamplesExpectingAKindNoEnabledRuleRaises) {
  std::vector<LintWarning> warnings = LintPolicy(Parse(kPolicy), kPolicy);
  EXPECT_THAT(warnings, Contains(Warning(29, "example \"insult\" expects ABUSIVE_LANGUAGE")));
  EXPECT_THAT(warnings, Not(Contains(Field(&LintWarning::message, HasSubstr("example \"arrest\"")))));
}

TEST(LintPolicyTest, ACleanPolicyHasNoWarnings) {
  const std::string text = R"pb(id: "clean"
phrase_sets { name: "threat" patterns: "arrest" }
rules {
  id: "threat.arrest"
  kind: PROHIBITED_THREAT
  coaching: "Do not threaten."
  citations { authority: "FDCPA" }
  phrases { any_of: "threat" }
}
examples { name: "arrest" text: "you will be arrested" expect: PROHIBITED_THREAT }
)pb";
  EXPECT_THAT(LintPolicy(Parse(text), text), IsEmpty());
}

TEST(DeclarationLineTest, FindsTheKeyValuePairOnly) {
  const std::string text = "a {\n  rule_id: \"x\"\n  id: \"xy\"\n  rules { id:\"x\" }\n}\n";
  EXPECT_EQ(DeclarationLine(text, "id", "x"), 4);   // not rule_id (line 2), not "xy" (line 3)
  EXPECT_EQ(DeclarationLine(text, "id", "xy"), 3);
  EXPECT_EQ(DeclarationLine(text, "id", "missing"), 0);
  EXPECT_EQ(DeclarationLine(text, "name", "x"), 0);
}

}  // namespace
}  // namespace callguard::cli
