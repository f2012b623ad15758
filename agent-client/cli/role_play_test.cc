#include "role_play.h"

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "trainee_intents.h"
#include "training_scenario.h"
#include "training_test_support.h"

namespace callguard::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_support::ShippedEngine;
using testing_support::SourcePath;

// A small call: the mother answers; asking for the debtor moves to 'mother', where talking
// about the debt makes her hang up and anything else gets a polite goodbye.
constexpr char kScenario[] = R"(id: "unit"
title: "Unit"
language: "en"
policy: "us-fdcpa"
call {
  agency { name: "Copper Ridge Associates" }
  agent { name: "Rachel Moreno" agent_id: "C2207" }
  debtor { name: "Daniel Brooks" }
  dialed: DEBTOR_PHONE
}
counterparty_role: "MOTHER"
opening_line: "Hello?"
truth: PARTY_THIRD_PARTY
required_steps: [SELF_IDENTIFICATION, PARTY_VERIFICATION]
max_turns: 4
hang_up_line: "I have to go."
intents { intent: GREETING phrases: ["hello", "hi"] }
intents { intent: ASKED_FOR_DEBTOR phrases: ["daniel"] policy_sets: "party.identity_question" }
intents { intent: OFFERED_PLAN phrases: ["payment plan"] }
intents { intent: MENTIONED_DEBT policy_sets: "disclosure.debt_mention" }
states {
  name: "answered"
  on { intent: THREATENED reply: "How dare you." hang_up: true }
  on { intent: ASKED_FOR_DEBTOR reply: "This is his mother. He's at work." next: "mother" }
  default_reply: "Who is this?"
}
states {
  name: "mother"
  on { intent: MENTIONED_DEBT reply: "He owes money?" hang_up: true }
  on { intent: OTHER reply: "I'll tell him. Bye." hang_up: true }
  default_reply: "Yes?"
}
)";

v1::Scenario Parse(const std::string& text = kScenario) {
  absl::StatusOr<LoadedScenario> loaded = ParseScenarioText(text, "unit.textproto");
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded->scenario;
}

std::unique_ptr<RolePlay> Start(const v1::Scenario& scenario) {
  RolePlay::Options options;
  options.engine = ShippedEngine();
  options.scenario = scenario;
  options.trainee = "Ana";
  options.clock = [] { return absl::FromUnixSeconds(1764000000); };
  absl::StatusOr<std::unique_ptr<RolePlay>> play = RolePlay::Create(std::move(options));
  EXPECT_TRUE(play.ok()) << play.status();
  return play.ok() ? *std::move(play) : nullptr;
}

const v1::StepResult& Step(const v1::Scorecard& card, v1::RequiredStep step) {
  for (const v1::StepResult& s : card.steps()) {
    if (s.step() == step) return s;
  }
  static const v1::StepResult* none = new v1::StepResult;
  return *none;
}

TEST(ContainsPhraseTest, LatinOnWordBoundariesCjkAnywhere) {
  EXPECT_TRUE(ContainsPhrase("hi there", "hi", true));
  EXPECT_FALSE(ContainsPhrase("this is it", "hi", true));
  EXPECT_TRUE(ContainsPhrase("this is it", "hi", false));
  EXPECT_TRUE(ContainsPhrase("a payment plan , ok", "payment plan", true));
  EXPECT_FALSE(ContainsPhrase("repayment planning", "payment plan", true));
  EXPECT_TRUE(ContainsPhrase("我们可以帮您申请分期还款", "分期", false));
  EXPECT_FALSE(ContainsPhrase("anything", "", false));
}

TEST(IntentDetectorTest, KeywordsPolicySetsAndEngineFindings) {
  const v1::Scenario scenario = Parse();
  const CompiledPolicy* policy = ShippedEngine()->FindPolicy("us-fdcpa");
  absl::StatusOr<IntentDetector> detector = IntentDetector::Create(scenario, *policy);
  ASSERT_TRUE(detector.ok()) << detector.status();
  std::vector<v1::Alert> none;
  EngineFindings plain{&none, false, false};

  // Keywords after normalization (case, punctuation).
  EXPECT_THAT(*detector->Detect("HELLO! Is DANIEL there?", plain), ElementsAre(v1::GREETING, v1::ASKED_FOR_DEBTOR));
  // The policy's identity-question set, without any keyword.
  EXPECT_THAT(*detector->Detect("may I speak with him", plain), ElementsAre(v1::ASKED_FOR_DEBTOR));
  // The policy's debt-mention set.
  EXPECT_THAT(*detector->Detect("it's about the balance", plain), ElementsAre(v1::MENTIONED_DEBT));
  EXPECT_THAT(*detector->Detect("the weather is nice", plain), ElementsAre(v1::OTHER));

  // Engine findings: an inducement alert and a threat alert; identification and disclosure.
  std::vector<v1::Alert> alerts(2);
  alerts[0].set_violation(v1::NEW_DEBT_INDUCEMENT);
  alerts[1].set_violation(v1::PROHIBITED_THREAT);
  EXPECT_THAT(*detector->Detect("whatever", {&alerts, true, false}),
              ElementsAre(v1::IDENTIFIED_SELF, v1::THREATENED, v1::SUGGESTED_BORROWING));
  EXPECT_THAT(*detector->Detect("whatever", {&none, false, true}), ElementsAre(v1::MENTIONED_DEBT));
}

TEST(IntentDetectorTest, UnknownPolicySetFails) {
  v1::Scenario scenario = Parse();
  scenario.mutable_intents(0)->add_policy_sets("no.such.set");
  EXPECT_FALSE(IntentDetector::Create(scenario, *ShippedEngine()->FindPolicy("us-fdcpa")).ok());
}

TEST(RolePlayTest, DefaultReplyThenBranchThenHangUp) {
  std::unique_ptr<RolePlay> play = Start(Parse());
  ASSERT_NE(play, nullptr);
  EXPECT_EQ(play->opening_line(), "Hello?");
  EXPECT_EQ(play->state(), "answered");

  absl::StatusOr<RolePlay::TurnResult> turn = play->Say("hmm");
  ASSERT_TRUE(turn.ok()) << turn.status();
  EXPECT_EQ(turn->reply, "Who is this?");  // no branch matched: default reply, same state
  EXPECT_EQ(play->state(), "answered");
  // The first substantive turn did not identify the agent: the engine says so.
  ASSERT_EQ(turn->alerts.size(), 0u);

  turn = play->Say("Hi, this is Rachel Moreno with Copper Ridge Associates. May I speak with Daniel Brooks?");
  ASSERT_TRUE(turn.ok()) << turn.status();
  EXPECT_THAT(turn->intents, ::testing::IsSupersetOf({v1::ASKED_FOR_DEBTOR, v1::IDENTIFIED_SELF}));
  EXPECT_EQ(turn->reply, "This is his mother. He's at work.");
  EXPECT_EQ(play->state(), "mother");
  // The engine inferred who answered from the reply.
  EXPECT_EQ(play->session().party(), v1::PARTY_THIRD_PARTY);
  EXPECT_FALSE(turn->hung_up);

  turn = play->Say("Please ask him to call Rachel at 866-555-0131.");
  ASSERT_TRUE(turn.ok());
  EXPECT_EQ(turn->reply, "I'll tell him. Bye.");
  EXPECT_TRUE(turn->hung_up);
  EXPECT_TRUE(play->ended());
  EXPECT_EQ(play->Say("hello?").status().code(), absl::StatusCode::kFailedPrecondition);

  v1::Scorecard card = play->Finish("ignored: the counterparty hung up first");
  EXPECT_EQ(card.end_reason(), "the counterparty hung up");
  EXPECT_EQ(card.trainee(), "Ana");
  EXPECT_EQ(card.scenario_id(), "unit");
  EXPECT_EQ(card.score(), 100);
  EXPECT_EQ(card.party(), v1::PARTY_THIRD_PARTY);
  EXPECT_TRUE(Step(card, v1::SELF_IDENTIFICATION).done());
  EXPECT_TRUE(Step(card, v1::PARTY_VERIFICATION).done());
  EXPECT_FALSE(Step(card, v1::COLLECTOR_DISCLOSURE).required());
  EXPECT_TRUE(Step(card, v1::NO_VIOLATION).done());
  // Opening, then three trainee lines each with its answer.
  ASSERT_EQ(card.transcript_size(), 7);
  EXPECT_EQ(card.transcript(0).speaker(), v1::COUNTERPARTY);
  EXPECT_EQ(card.transcript(5).text(), "Please ask him to call Rachel at 866-555-0131.");
}

TEST(RolePlayTest, DisclosureToTheMotherIsAViolationAndNoVerification) {
  std::unique_ptr<RolePlay> play = Start(Parse());
  ASSERT_NE(play, nullptr);
  // The debt first, before asking who answered.
  absl::StatusOr<RolePlay::TurnResult> turn =
      play->Say("Hi, this is Rachel Moreno with Copper Ridge Associates, calling about a past due balance.");
  ASSERT_TRUE(turn.ok()) << turn.status();
  ASSERT_EQ(turn->alerts.size(), 1u);
  EXPECT_EQ(turn->alerts[0].violation(), v1::THIRD_PARTY_DISCLOSURE);
  EXPECT_THAT(turn->intents, ::testing::Contains(v1::MENTIONED_DEBT));
  turn = play->Say("Is Daniel Brooks there?");
  ASSERT_TRUE(turn.ok());
  EXPECT_EQ(play->state(), "mother");

  v1::Scorecard card = play->Finish("the trainee ended the call");
  EXPECT_EQ(card.end_reason(), "the trainee ended the call");
  EXPECT_FALSE(Step(card, v1::PARTY_VERIFICATION).done());
  ASSERT_EQ(card.violations_size(), 1);
  // 100 - 20 (high) - 10 (verification missing).
  EXPECT_EQ(card.score(), 70);
  EXPECT_EQ(card.transcript(1).alerts_size(), 1);
}

TEST(RolePlayTest, ThreatBranchAndBadInputKeepsTheCall) {
  std::unique_ptr<RolePlay> play = Start(Parse());
  ASSERT_NE(play, nullptr);
  EXPECT_EQ(play->Say("   ").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(play->Say(std::string(5000, 'a')).ok());
  EXPECT_EQ(play->state(), "answered");
  absl::StatusOr<RolePlay::TurnResult> turn = play->Say("This is Rachel Moreno with Copper Ridge Associates. Pay or you will be arrested.");
  ASSERT_TRUE(turn.ok()) << turn.status();
  EXPECT_THAT(turn->intents, ::testing::Contains(v1::THREATENED));
  EXPECT_EQ(turn->reply, "How dare you.");
  EXPECT_TRUE(turn->hung_up);
}

TEST(RolePlayTest, MaxTurnsHangsUpWithTheScenarioLine) {
  std::unique_ptr<RolePlay> play = Start(Parse());
  ASSERT_NE(play, nullptr);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<RolePlay::TurnResult> turn = play->Say("um");
    ASSERT_TRUE(turn.ok());
    EXPECT_FALSE(turn->hung_up);
  }
  absl::StatusOr<RolePlay::TurnResult> turn = play->Say("um");
  ASSERT_TRUE(turn.ok());
  EXPECT_TRUE(turn->hung_up);
  EXPECT_EQ(turn->reply, "I have to go.");
}

TEST(RolePlayTest, BranchPartyIsSentToTheEngine) {
  std::string text = kScenario;
  text.replace(text.find("next: \"mother\""), 14, "next: \"mother\" party: PARTY_DEBTOR");
  std::unique_ptr<RolePlay> play = Start(Parse(text));
  ASSERT_NE(play, nullptr);
  ASSERT_TRUE(play->Say("Hi, this is Rachel Moreno with Copper Ridge Associates. May I speak with Daniel Brooks?").ok());
  EXPECT_EQ(play->session().party(), v1::PARTY_DEBTOR);
}

TEST(RolePlayTest, UnknownPolicyFails) {
  v1::Scenario scenario = Parse();
  scenario.set_policy("xx-none");
  RolePlay::Options options;
  options.engine = ShippedEngine();
  options.scenario = scenario;
  EXPECT_FALSE(RolePlay::Create(std::move(options)).ok());
}

TEST(AutoPlayTest, TheGuardMustLearnTheTruth) {
  v1::Scenario scenario = Parse();
  scenario.mutable_example_run()->add_lines(
      "Hi, this is Rachel Moreno with Copper Ridge Associates. May I speak with Daniel Brooks?");
  scenario.mutable_example_run()->add_lines("Please ask him to call Rachel at 866-555-0131.");
  EXPECT_THAT(CheckScriptedRuns(ShippedEngine(), scenario), ::testing::IsEmpty());
  // Claim the debtor answered: the guard, hearing "This is his mother", disagrees.
  scenario.set_truth(v1::PARTY_DEBTOR);
  EXPECT_THAT(CheckScriptedRuns(ShippedEngine(), scenario),
              ElementsAre(HasSubstr("the guard concluded PARTY_THIRD_PARTY is on the line")));
  // A bad run that raises nothing it expects.
  v1::ScriptedRun* bad = scenario.add_bad_runs();
  bad->add_lines("Hi, this is Rachel Moreno with Copper Ridge Associates. May I speak with Daniel Brooks?");
  bad->add_expect(v1::PROHIBITED_THREAT);
  scenario.set_truth(v1::PARTY_THIRD_PARTY);
  EXPECT_THAT(CheckScriptedRuns(ShippedEngine(), scenario), ElementsAre(HasSubstr("bad_runs[0]: expected PROHIBITED_THREAT, got []")));
}

TEST(AutoPlayTest, LinesAfterHangUpAreAnError) {
  v1::ScriptedRun run;
  run.add_lines("Hi, this is Rachel Moreno with Copper Ridge Associates. May I speak with Daniel Brooks?");
  run.add_lines("Please ask him to call me.");
  run.add_lines("Hello?");
  absl::StatusOr<v1::Scorecard> card = AutoPlay(ShippedEngine(), Parse(), run);
  ASSERT_FALSE(card.ok());
  EXPECT_THAT(card.status().message(), HasSubstr("line 3"));
}

// The inducement trap, played in-process: suggesting borrowing raises the engine's
// NEW_DEBT_INDUCEMENT alert and the debtor hangs up.
TEST(AutoPlayTest, InducementTrapScenario) {
  absl::StatusOr<LoadedScenario> loaded = LoadScenarioFile(SourcePath("training/en-no-money.textproto"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<v1::Scorecard> good = AutoPlay(ShippedEngine(), loaded->scenario, loaded->scenario.example_run());
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->score(), 100);
  EXPECT_EQ(good->violations_size(), 0);
  EXPECT_TRUE(Step(*good, v1::COLLECTOR_DISCLOSURE).done());

  ASSERT_FALSE(loaded->scenario.bad_runs().empty());
  absl::StatusOr<v1::Scorecard> bad = AutoPlay(ShippedEngine(), loaded->scenario, loaded->scenario.bad_runs(0));
  ASSERT_TRUE(bad.ok()) << bad.status();
  ASSERT_EQ(bad->violations_size(), 1);
  EXPECT_EQ(bad->violations(0).violation(), v1::NEW_DEBT_INDUCEMENT);
  EXPECT_EQ(bad->end_reason(), "the counterparty hung up");
  EXPECT_LT(bad->score(), 100);
}

}  // namespace
}  // namespace callguard::cli
