#include "training_scenario.h"

#include <set>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "role_play.h"
#include "training_test_support.h"

namespace callguard::cli {
namespace {

using ::testing::HasSubstr;
using testing_support::ShippedEngine;
using testing_support::SourcePath;

constexpr char kMinimal[] = R"(id: "mini"
title: "Minimal"
language: "en"
policy: "us-fdcpa"
call { debtor { name: "Daniel Brooks" } dialed: DEBTOR_PHONE }
counterparty_role: "MOTHER"
opening_line: "Hello?"
states {
  name: "start"
  on { intent: ASKED_FOR_DEBTOR reply: "He is out." next: "told" }
  default_reply: "Who?"
}
states {
  name: "told"
  on { intent: OTHER reply: "Bye." hang_up: true }
  default_reply: "Anything else?"
}
example_run { lines: "hello" }
)";

std::vector<std::string> Messages(const std::vector<ScenarioIssue>& issues, const LoadedScenario& loaded) {
  std::vector<std::string> out;
  for (const ScenarioIssue& i : issues) out.push_back(FormatIssue(loaded, i));
  return out;
}

TEST(ScenarioLoaderTest, SyntaxErrorNamesFileLineAndColumn) {
  absl::StatusOr<LoadedScenario> loaded = ParseScenarioText("id: \"x\"\ntitle: \"t\"\n  no_such_field: 1\n", "bad.textproto");
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr("bad.textproto:3:"));
  EXPECT_THAT(loaded.status().message(), HasSubstr("no_such_field"));
}

TEST(ScenarioLoaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadScenarioFile("/nonexistent/x.textproto").status().code(), absl::StatusCode::kNotFound);
}

TEST(ScenarioValidatorTest, MinimalScenarioIsValid) {
  absl::StatusOr<LoadedScenario> loaded = ParseScenarioText(kMinimal, "mini.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::vector<ScenarioIssue> issues = ValidateScenario(*loaded, ShippedEngine().get());
  EXPECT_THAT(Messages(issues, *loaded), ::testing::IsEmpty());
  EXPECT_EQ(InitialState(loaded->scenario), "start");
}

TEST(ScenarioValidatorTest, UnknownStateIsAnErrorOnTheBranchLine) {
  std::string text = kMinimal;
  text.replace(text.find("next: \"told\""), 12, "next: \"gone\"");
  absl::StatusOr<LoadedScenario> loaded = ParseScenarioText(text, "s.textproto");
  ASSERT_TRUE(loaded.ok());
  std::vector<std::string> messages = Messages(ValidateScenario(*loaded, nullptr), *loaded);
  EXPECT_THAT(messages, ::testing::Contains("s.textproto:10: error: unknown state 'gone' (branch in state 'start')"));
  // With the only edge to it broken, 'told' is now unreachable (its block starts on line 13).
  EXPECT_THAT(messages, ::testing::Contains("s.textproto:13: error: state 'told' is unreachable from 'start'"));
}

TEST(ScenarioValidatorTest, MissingOpeningLineAndDuplicateState) {
  std::string text = kMinimal;
  text.replace(text.find("opening_line: \"Hello?\""), 22, "");
  text.replace(text.find("name: \"told\""), 12, "name: \"start\"");
  absl::StatusOr<LoadedScenario> loaded = ParseScenarioText(text, "s.textproto");
  ASSERT_TRUE(loaded.ok());
  std::vector<ScenarioIssue> issues = ValidateScenario(*loaded, nullptr);
  EXPECT_TRUE(HasErrors(issues));
  std::vector<std::string> messages = Messages(issues, *loaded);
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr("no opening_line")));
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr("duplicate state 'start'")));
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr("unknown state 'told'")));
}

TEST(ScenarioValidatorTest, UnknownInitialStateAndMissingIntent) {
  std::string text = kMinimal;
  text += "initial_state: \"nowhere\"\n";
  text.replace(text.find("intent: OTHER "), 14, "");
  absl::StatusOr<LoadedScenario> loaded = ParseScenarioText(text, "s.textproto");
  ASSERT_TRUE(loaded.ok());
  std::vector<std::string> messages = Messages(ValidateScenario(*loaded, nullptr), *loaded);
  EXPECT_THAT(messages, ::testing::Contains("s.textproto:19: error: initial_state 'nowhere' is not a state"));
  EXPECT_THAT(messages, ::testing::Contains("s.textproto:15: error: branch in state 'told' has no intent"));
}

TEST(ScenarioValidatorTest, PolicyChecksNeedTheEngine) {
  std::string text = kMinimal;
  text += "intents { intent: MENTIONED_DEBT policy_sets: \"no.such.set\" }\nrequired_steps: COLLECTOR_DISCLOSURE\n";
  absl::StatusOr<LoadedScenario> loaded = ParseScenarioText(text, "s.textproto");
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(HasErrors(ValidateScenario(*loaded, nullptr)));
  std::vector<std::string> messages = Messages(ValidateScenario(*loaded, ShippedEngine().get()), *loaded);
  EXPECT_THAT(messages, ::testing::Contains("s.textproto:19: error: policy us-fdcpa has no phrase set 'no.such.set'"));

  // cn-collection has no debt-collector statement rule, and its language is zh.
  text.replace(text.find("\"us-fdcpa\""), 10, "\"cn-collection\"");
  loaded = ParseScenarioText(text, "s.textproto");
  ASSERT_TRUE(loaded.ok());
  messages = Messages(ValidateScenario(*loaded, ShippedEngine().get()), *loaded);
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr("COLLECTOR_DISCLOSURE is required but policy cn-collection")));
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr("language 'en' is not that of policy cn-collection")));

  text.replace(text.find("\"cn-collection\""), 15, "\"xx-none\"");
  loaded = ParseScenarioText(text, "s.textproto");
  ASSERT_TRUE(loaded.ok());
  messages = Messages(ValidateScenario(*loaded, ShippedEngine().get()), *loaded);
  EXPECT_THAT(messages, ::testing::Contains(HasSubstr("xx-none")));
}

TEST(ScenarioValidatorTest, NoHangUpAndNoExampleAreWarnings) {
  std::string text = kMinimal;
  text.replace(text.find(" hang_up: true"), 14, "");
  text.replace(text.find("example_run { lines: \"hello\" }"), 30, "");
  absl::StatusOr<LoadedScenario> loaded = ParseScenarioText(text, "s.textproto");
  ASSERT_TRUE(loaded.ok());
  std::vector<ScenarioIssue> issues = ValidateScenario(*loaded, nullptr);
  EXPECT_FALSE(HasErrors(issues));
  EXPECT_EQ(issues.size(), 2u);
  EXPECT_THAT(Messages(issues, *loaded), ::testing::Contains(HasSubstr("warning: the counterparty never hangs up")));
}

TEST(ScenarioResolveTest, ByPathAndById) {
  const std::string dir = SourcePath("training");
  absl::StatusOr<std::string> by_id = ResolveScenarioPath("en-no-money", dir);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_TRUE(absl::EndsWith(*by_id, "en-no-money.textproto"));
  EXPECT_EQ(*ResolveScenarioPath(*by_id, "/nonexistent"), *by_id);
  absl::StatusOr<std::string> unknown = ResolveScenarioPath("no-such-scenario", dir);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("zh-no-money"));  // lists what exists
}

bool HasCjk(const std::string& text) {
  for (unsigned char c : text) {
    if (c >= 0xE4 && c <= 0xE9) return true;
  }
  return false;
}

// Every shipped scenario loads, validates cleanly (no warning either) and auto-plays: the
// good collector ends with no violation and every required step done, each bad collector
// raises what it expects.
TEST(ShippedScenariosTest, LoadValidateAndAutoPlay) {
  absl::StatusOr<std::vector<std::string>> files = ListScenarioFiles(SourcePath("training"));
  ASSERT_TRUE(files.ok()) << files.status();
  int en = 0, zh = 0;
  std::set<std::string> ids;
  for (const std::string& file : *files) {
    SCOPED_TRACE(file);
    absl::StatusOr<LoadedScenario> loaded = LoadScenarioFile(file);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    const v1::Scenario& s = loaded->scenario;
    EXPECT_TRUE(ids.insert(s.id()).second) << "duplicate id " << s.id();
    EXPECT_THAT(Messages(ValidateScenario(*loaded, ShippedEngine().get()), *loaded), ::testing::IsEmpty());
    EXPECT_THAT(CheckScriptedRuns(ShippedEngine(), s), ::testing::IsEmpty());
    EXPECT_FALSE(s.example_run().lines().empty());
    EXPECT_FALSE(s.bad_runs().empty());
    if (s.policy() == "us-fdcpa") ++en;
    if (s.policy() == "cn-collection") {
      ++zh;
      EXPECT_TRUE(HasCjk(s.opening_line()) && HasCjk(s.description()));
    }
  }
  EXPECT_GE(en, 8);
  EXPECT_GE(zh, 6);
}

}  // namespace
}  // namespace callguard::cli
