#include "scorecard.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace callguard::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Alert MakeAlert(v1::ViolationKind kind, v1::Severity severity, const std::string& rule, int turn) {
  v1::Alert a;
  a.set_violation(kind);
  a.set_severity(severity);
  a.set_rule_id(rule);
  a.set_turn(turn);
  a.add_evidence()->set_text("borrow");
  v1::Citation* c = a.add_citations();
  c->set_authority("FDCPA");
  c->set_section("15 U.S.C. 1692f");
  a.set_coaching("Say: 'What could you manage each month?'");
  return a;
}

v1::Scorecard MakeCard(const std::string& trainee, int64_t ended_s, std::vector<v1::Alert> alerts, bool verified) {
  v1::Scorecard card;
  card.set_trainee(trainee);
  card.set_scenario_id("en-no-money");
  card.set_scenario_title("No money");
  card.set_policy_id("us-fdcpa");
  *card.mutable_ended() = google::protobuf::util::TimeUtil::SecondsToTimestamp(ended_s);
  for (int i = 0; i < 3; ++i) {
    v1::TrainingTurn* t = card.add_transcript();
    t->set_speaker(i % 2 == 0 ? v1::COUNTERPARTY : v1::AGENT);
    t->set_text(i == 1 ? "get a payday loan" : "hello");
  }
  for (const v1::Alert& a : alerts) *card.add_violations() = a;
  auto step = [&](v1::RequiredStep s, bool required, bool done) {
    v1::StepResult* r = card.add_steps();
    r->set_step(s);
    r->set_required(required);
    r->set_done(done);
  };
  step(v1::SELF_IDENTIFICATION, true, true);
  step(v1::PARTY_VERIFICATION, true, verified);
  step(v1::COLLECTOR_DISCLOSURE, false, false);
  step(v1::NO_VIOLATION, true, alerts.empty());
  ScoreScorecard(&card);
  return card;
}

TEST(ScoreTest, SeverityPenaltiesAndMissingSteps) {
  EXPECT_EQ(SeverityPenalty(v1::SEVERITY_CRITICAL), 30);
  EXPECT_EQ(SeverityPenalty(v1::SEVERITY_HIGH), 20);
  EXPECT_EQ(SeverityPenalty(v1::SEVERITY_MEDIUM), 10);
  EXPECT_EQ(SeverityPenalty(v1::SEVERITY_LOW), 5);

  v1::Scorecard clean = MakeCard("Ana", 100, {}, true);
  EXPECT_EQ(clean.score(), 100);

  // High (20) + medium (10) + verification missing (10); NO_VIOLATION is not counted again,
  // nor is the disclosure step, which this call did not require.
  v1::Scorecard card = MakeCard("Ana", 100,
                                {MakeAlert(v1::NEW_DEBT_INDUCEMENT, v1::SEVERITY_HIGH, "us.inducement", 1),
                                 MakeAlert(v1::MISSING_SELF_IDENTIFICATION, v1::SEVERITY_MEDIUM, "us.id", 1)},
                                false);
  EXPECT_EQ(card.violation_penalty(), 30);
  EXPECT_EQ(card.missing_step_penalty(), 10);
  EXPECT_EQ(card.score(), 60);

  // Never below zero.
  std::vector<v1::Alert> many(5, MakeAlert(v1::PROHIBITED_THREAT, v1::SEVERITY_CRITICAL, "us.threat", 1));
  EXPECT_EQ(MakeCard("Ana", 100, many, false).score(), 0);
}

TEST(ScorecardJsonTest, RoundTripsThroughTheProtobufJsonMapping) {
  v1::Scorecard card = MakeCard("Ana", 1764000000, {MakeAlert(v1::NEW_DEBT_INDUCEMENT, v1::SEVERITY_HIGH, "r", 1)}, true);
  *card.mutable_started() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1763999900);
  card.mutable_transcript(1)->add_intents(v1::SUGGESTED_BORROWING);
  const std::string json = ScorecardToJson(card);
  EXPECT_THAT(json, HasSubstr("\"scenarioId\": \"en-no-money\""));
  EXPECT_THAT(json, HasSubstr("\"ended\": \"2025-11-24T16:00:00Z\""));
  EXPECT_THAT(json, HasSubstr("\"SUGGESTED_BORROWING\""));
  absl::StatusOr<v1::Scorecard> back = ScorecardFromJson(json, "x.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(card, *back));

  const std::string path = ::testing::TempDir() + "/scorecard_roundtrip.json";
  ASSERT_TRUE(WriteScorecardFile(path, card).ok());
  absl::StatusOr<v1::Scorecard> read = ReadScorecardFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(card, *read));
  std::remove(path.c_str());
}

TEST(ScorecardJsonTest, BadInputNamesTheFile) {
  absl::StatusOr<v1::Scorecard> bad = ScorecardFromJson("{\"score\": \"many\"}", "runs/a.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("runs/a.json: not a scorecard"));
  EXPECT_FALSE(ScorecardFromJson("{\"noSuchField\": 1}", "b.json").ok());
  EXPECT_EQ(ReadScorecardFile("/nonexistent/c.json").status().code(), absl::StatusCode::kNotFound);
}

TEST(ScorecardFormatTest, ListsViolationsWithRegulationAndBetterPhrasing) {
  v1::Scorecard card = MakeCard("Ana", 100, {MakeAlert(v1::NEW_DEBT_INDUCEMENT, v1::SEVERITY_HIGH, "us.inducement", 1)}, false);
  const std::string text = FormatScorecard(card, /*color=*/false);
  EXPECT_THAT(text, HasSubstr("score: 70/100"));
  EXPECT_THAT(text, HasSubstr("who answered: unknown; the guard saw: unknown"));
  EXPECT_THAT(text, HasSubstr("you said: \"get a payday loan\""));
  EXPECT_THAT(text, HasSubstr("NEW_DEBT_INDUCEMENT  rule us.inducement"));
  EXPECT_THAT(text, HasSubstr("words: \"borrow\""));
  EXPECT_THAT(text, HasSubstr("regulation: FDCPA 15 U.S.C. 1692f"));
  EXPECT_THAT(text, HasSubstr("say instead: Say: 'What could you manage each month?'"));
  EXPECT_THAT(text, HasSubstr("[MISSING] verified who is on the line"));
  EXPECT_THAT(text, HasSubstr("[ n/a ] made the debt-collector statement"));
  EXPECT_THAT(text, Not(HasSubstr("\x1b[")));
  EXPECT_THAT(FormatScorecard(card, /*color=*/true), HasSubstr("\x1b["));
}

TEST(ScorecardCompareTest, TrendRepeatedViolationsAndSteps) {
  const v1::Alert inducement = MakeAlert(v1::NEW_DEBT_INDUCEMENT, v1::SEVERITY_HIGH, "us.inducement", 1);
  // Given out of order: the comparison sorts by time per trainee.
  std::vector<v1::Scorecard> cards = {
      MakeCard("Ana", 3000, {}, true),
      MakeCard("Ana", 1000, {inducement, inducement}, false),
      MakeCard("Ana", 2000, {inducement}, true),
      MakeCard("Ben", 1500, {}, true),
  };
  const std::string text = FormatScorecardComparison(cards);
  EXPECT_THAT(text, HasSubstr("trainee Ana: 3 run(s)"));
  EXPECT_THAT(text, HasSubstr("score trend: 50 -> 80 -> 100 (+50)"));
  EXPECT_THAT(text, HasSubstr("us.inducement (NEW_DEBT_INDUCEMENT) in 2 of 3 runs"));
  EXPECT_THAT(text, HasSubstr("verified 2/3"));
  EXPECT_THAT(text, HasSubstr("trainee Ben: 1 run(s)"));
  EXPECT_LT(text.find("trainee Ana"), text.find("trainee Ben"));
}

}  // namespace
}  // namespace callguard::cli
