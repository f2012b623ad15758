#include "scorer.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace callguard {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A call whose turns alternate AGENT, COUNTERPARTY, AGENT, ... unless `speakers` says otherwise.
v1::Transcript Call(const std::string& id, const std::vector<v1::Speaker>& speakers,
                    const std::vector<std::pair<int, v1::ViolationKind>>& expect) {
  v1::Transcript t;
  t.set_call_id(id);
  for (size_t i = 0; i < speakers.size(); ++i) {
    v1::Turn* turn = t.add_turns();
    turn->set_speaker(speakers[i]);
    turn->set_text("turn text " + std::to_string(i));
  }
  for (const auto& [turn, kind] : expect) {
    v1::ExpectedViolation* e = t.add_expect();
    e->set_turn(turn);
    e->set_violation(kind);
  }
  return t;
}

v1::Alert Alert(int turn, v1::ViolationKind kind, const std::string& rule = "") {
  v1::Alert a;
  a.set_turn(turn);
  a.set_violation(kind);
  a.set_rule_id(rule);
  return a;
}

constexpr v1::Speaker A = v1::AGENT;
constexpr v1::Speaker C = v1::COUNTERPARTY;

const KindScore& ScoreOf(const Scorer& s, v1::ViolationKind kind) { return s.report().by_kind.at(kind); }

TEST(ScorerTest, AlertOnTheLabelledTurnIsATruePositive) {
  Scorer s;
  s.AddCall(Call("c1", {A, C, A}, {{2, v1::PROHIBITED_THREAT}}), {Alert(2, v1::PROHIBITED_THREAT)});
  const KindScore& k = ScoreOf(s, v1::PROHIBITED_THREAT);
  EXPECT_EQ(k.true_positives, 1);
  EXPECT_EQ(k.false_positives, 0);
  EXPECT_EQ(k.false_negatives, 0);
  EXPECT_THAT(s.report().mismatches, IsEmpty());
}

TEST(ScorerTest, OrdinaryKindsMustMatchTheExactTurn) {
  Scorer s;
  // The threat is alerted one agent turn late: that is a miss AND a false alarm.
  s.AddCall(Call("c1", {A, C, A, C, A}, {{2, v1::PROHIBITED_THREAT}}), {Alert(4, v1::PROHIBITED_THREAT)});
  const KindScore& k = ScoreOf(s, v1::PROHIBITED_THREAT);
  EXPECT_EQ(k.true_positives, 0);
  EXPECT_EQ(k.false_positives, 1);
  EXPECT_EQ(k.false_negatives, 1);
}

TEST(ScorerTest, TheKindMustMatch) {
  Scorer s;
  s.AddCall(Call("c1", {A, C}, {{0, v1::THIRD_PARTY_DISCLOSURE}}), {Alert(0, v1::PROHIBITED_THREAT)});
  EXPECT_EQ(ScoreOf(s, v1::THIRD_PARTY_DISCLOSURE).false_negatives, 1);
  EXPECT_EQ(ScoreOf(s, v1::PROHIBITED_THREAT).false_positives, 1);
}

TEST(ScorerTest, DuplicateAlertsCountOnce) {
  Scorer s;
  // Two rules of the same kind fire on one turn (and an interim update repeats one of them).
  s.AddCall(Call("c1", {A, C, A}, {{0, v1::THIRD_PARTY_DISCLOSURE}}),
            {Alert(0, v1::THIRD_PARTY_DISCLOSURE, "r1"), Alert(0, v1::THIRD_PARTY_DISCLOSURE, "r2"),
             Alert(0, v1::THIRD_PARTY_DISCLOSURE, "r1"), Alert(2, v1::ABUSIVE_LANGUAGE),
             Alert(2, v1::ABUSIVE_LANGUAGE)});
  EXPECT_EQ(ScoreOf(s, v1::THIRD_PARTY_DISCLOSURE).true_positives, 1);
  EXPECT_EQ(ScoreOf(s, v1::THIRD_PARTY_DISCLOSURE).false_positives, 0);
  EXPECT_EQ(ScoreOf(s, v1::ABUSIVE_LANGUAGE).false_positives, 1);
}

TEST(ScorerTest, DuplicateLabelsCountOnce) {
  Scorer s;
  s.AddCall(Call("c1", {A}, {{0, v1::IMPERSONATION}, {0, v1::IMPERSONATION}}), {});
  EXPECT_EQ(ScoreOf(s, v1::IMPERSONATION).false_negatives, 1);
}

TEST(ScorerTest, MissingKindsMayBeAlertedUpToTheNextAgentTurn) {
  for (v1::ViolationKind kind : {v1::MISSING_SELF_IDENTIFICATION, v1::MISSING_DEBT_COLLECTOR_DISCLOSURE}) {
    SCOPED_TRACE(v1::ViolationKind_Name(kind));
    // Label on turn 0; turns 1 and 2 are the counterparty's, turn 3 is the next agent turn.
    const v1::Transcript call = Call("c", {A, C, C, A, C, A}, {{0, kind}});
    for (int turn : {0, 1, 2, 3}) {
      Scorer s;
      s.AddCall(call, {Alert(turn, kind)});
      EXPECT_EQ(ScoreOf(s, kind).true_positives, 1) << "alert on turn " << turn;
      EXPECT_EQ(ScoreOf(s, kind).false_positives, 0) << "alert on turn " << turn;
    }
    for (int turn : {4, 5}) {  // after the next agent turn: too late
      Scorer s;
      s.AddCall(call, {Alert(turn, kind)});
      EXPECT_EQ(ScoreOf(s, kind).true_positives, 0) << "alert on turn " << turn;
      EXPECT_EQ(ScoreOf(s, kind).false_positives, 1) << "alert on turn " << turn;
      EXPECT_EQ(ScoreOf(s, kind).false_negatives, 1) << "alert on turn " << turn;
    }
  }
}

TEST(ScorerTest, MissingKindsAreNotMatchedByAnEarlierAlert) {
  Scorer s;
  s.AddCall(Call("c", {A, C, A, C, A}, {{2, v1::MISSING_DEBT_COLLECTOR_DISCLOSURE}}),
            {Alert(0, v1::MISSING_DEBT_COLLECTOR_DISCLOSURE)});
  EXPECT_EQ(ScoreOf(s, v1::MISSING_DEBT_COLLECTOR_DISCLOSURE).true_positives, 0);
  EXPECT_EQ(ScoreOf(s, v1::MISSING_DEBT_COLLECTOR_DISCLOSURE).false_positives, 1);
  EXPECT_EQ(ScoreOf(s, v1::MISSING_DEBT_COLLECTOR_DISCLOSURE).false_negatives, 1);
}

TEST(ScorerTest, MissingKindWindowRunsToTheEndWhenTheAgentNeverSpeaksAgain) {
  Scorer s;
  s.AddCall(Call("c", {A, C, C}, {{0, v1::MISSING_SELF_IDENTIFICATION}}),
            {Alert(2, v1::MISSING_SELF_IDENTIFICATION)});
  EXPECT_EQ(ScoreOf(s, v1::MISSING_SELF_IDENTIFICATION).true_positives, 1);
}

TEST(ScorerTest, TheWindowDoesNotApplyToOtherKinds) {
  Scorer s;
  s.AddCall(Call("c", {A, C, A}, {{0, v1::NEW_DEBT_INDUCEMENT}}), {Alert(1, v1::NEW_DEBT_INDUCEMENT)});
  EXPECT_EQ(ScoreOf(s, v1::NEW_DEBT_INDUCEMENT).true_positives, 0);
}

TEST(ScorerTest, EachAlertMatchesAtMostOneLabelAndViceVersa) {
  const v1::ViolationKind kind = v1::MISSING_DEBT_COLLECTOR_DISCLOSURE;
  // Windows: label 2 -> [2, 4], label 4 -> [4, 6]. One alert on turn 4 lies in both.
  const v1::Transcript call = Call("c", {A, C, A, C, A, C, A}, {{2, kind}, {4, kind}});
  {
    Scorer s;
    s.AddCall(call, {Alert(4, kind)});
    EXPECT_EQ(ScoreOf(s, kind).true_positives, 1);
    EXPECT_EQ(ScoreOf(s, kind).false_negatives, 1);
    EXPECT_EQ(ScoreOf(s, kind).false_positives, 0);
  }
  {
    // Alert 4 must go to label 2 so that alert 6 can still cover label 4.
    Scorer s;
    s.AddCall(call, {Alert(6, kind), Alert(4, kind)});
    EXPECT_EQ(ScoreOf(s, kind).true_positives, 2);
    EXPECT_EQ(ScoreOf(s, kind).false_negatives, 0);
    EXPECT_EQ(ScoreOf(s, kind).false_positives, 0);
  }
  {
    // One label, two alerts inside its window: the second is a false alarm.
    Scorer s;
    s.AddCall(Call("c", {A, C, A}, {{0, v1::MISSING_SELF_IDENTIFICATION}}),
              {Alert(0, v1::MISSING_SELF_IDENTIFICATION), Alert(2, v1::MISSING_SELF_IDENTIFICATION)});
    EXPECT_EQ(ScoreOf(s, v1::MISSING_SELF_IDENTIFICATION).true_positives, 1);
    EXPECT_EQ(ScoreOf(s, v1::MISSING_SELF_IDENTIFICATION).false_positives, 1);
  }
}

TEST(ScorerTest, EveryKindIsReportedAndMetricsFollowTheCounts) {
  Scorer s;
  // THIRD_PARTY_DISCLOSURE: 2 TP, 1 FP, 1 FN over two calls.
  s.AddCall(Call("c1", {A, C, A, C, A}, {{0, v1::THIRD_PARTY_DISCLOSURE}, {2, v1::THIRD_PARTY_DISCLOSURE}}),
            {Alert(0, v1::THIRD_PARTY_DISCLOSURE), Alert(2, v1::THIRD_PARTY_DISCLOSURE),
             Alert(4, v1::THIRD_PARTY_DISCLOSURE)});
  s.AddCall(Call("c2", {A, C, A}, {{2, v1::THIRD_PARTY_DISCLOSURE}}), {});
  EXPECT_EQ(s.report().by_kind.size(), 7u);
  const KindScore& k = ScoreOf(s, v1::THIRD_PARTY_DISCLOSURE);
  EXPECT_EQ(k.true_positives, 2);
  EXPECT_EQ(k.false_positives, 1);
  EXPECT_EQ(k.false_negatives, 1);
  EXPECT_DOUBLE_EQ(k.precision(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(k.recall(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(k.f1(), 2.0 / 3);

  const KindScore& none = ScoreOf(s, v1::IMPERSONATION);  // nothing expected, nothing alerted
  EXPECT_DOUBLE_EQ(none.precision(), 1.0);
  EXPECT_DOUBLE_EQ(none.recall(), 1.0);

  KindScore all_missed;
  all_missed.false_negatives = 3;
  EXPECT_DOUBLE_EQ(all_missed.recall(), 0.0);
  EXPECT_DOUBLE_EQ(all_missed.f1(), 0.0);
}

TEST(ScorerTest, CoreMeanF1AveragesOnlyTheFourCoreKinds) {
  Scorer s;
  // Identification found, disclosure missed, a threat false alarm; abuse missed (not core).
  s.AddCall(Call("c1", {A, C, A, C, A},
                 {{0, v1::MISSING_SELF_IDENTIFICATION}, {2, v1::THIRD_PARTY_DISCLOSURE},
                  {4, v1::ABUSIVE_LANGUAGE}}),
            {Alert(0, v1::MISSING_SELF_IDENTIFICATION), Alert(4, v1::PROHIBITED_THREAT)});
  const EvalReport& r = s.report();
  const double expected = (1.0 /*identification*/ + 0.0 /*disclosure*/ + 0.0 /*threat: P=0*/ +
                           1.0 /*inducement: nothing either way*/) / 4;
  EXPECT_DOUBLE_EQ(r.core_mean_f1(), expected);
  EXPECT_DOUBLE_EQ(r.by_kind.at(v1::ABUSIVE_LANGUAGE).f1(), 0.0);
}

TEST(ScorerTest, CountsCompliantCallsThatGotAnyAlert) {
  Scorer s;
  s.AddCall(Call("ok-1", {A, C}, {}), {Alert(0, v1::ABUSIVE_LANGUAGE)});
  s.AddCall(Call("ok-2", {A, C}, {}), {});
  s.AddCall(Call("ok-3", {A, C}, {}), {});
  s.AddCall(Call("bad", {A, C}, {{0, v1::PROHIBITED_THREAT}}), {Alert(0, v1::PROHIBITED_THREAT)});
  const EvalReport& r = s.report();
  EXPECT_EQ(r.calls, 4);
  EXPECT_EQ(r.compliant_calls, 3);
  EXPECT_EQ(r.compliant_calls_with_alerts, 1);
  EXPECT_DOUBLE_EQ(r.compliant_alert_rate(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(EvalReport{}.compliant_alert_rate(), 0.0);
}

TEST(ScorerTest, MismatchLinesQuoteTheTurnForPolicyAuthors) {
  Scorer s;
  v1::Transcript call = Call("dev-en-007", {A, C, A}, {{2, v1::PROHIBITED_THREAT}});
  call.mutable_turns(2)->set_text("you will be arrested tomorrow");
  call.mutable_turns(0)->set_text("hi it's dana from harbor point recovery");
  s.AddCall(call, {Alert(0, v1::ABUSIVE_LANGUAGE, "us.abuse.insult")});
  EXPECT_THAT(s.report().mismatches,
              ElementsAre(AllOf(HasSubstr("dev-en-007 turn 0 ABUSIVE_LANGUAGE: false alarm"),
                                HasSubstr("us.abuse.insult"), HasSubstr("hi it's dana from harbor")),
                          AllOf(HasSubstr("dev-en-007 turn 2 PROHIBITED_THREAT: missed"),
                                HasSubstr("AGENT: \"you will be arrested tomorrow\""))));
}

TEST(ScorerTest, LongTurnsAreTruncatedOnACharacterBoundary) {
  Scorer s;
  v1::Transcript call = Call("zh", {A}, {{0, v1::PROHIBITED_THREAT}});
  std::string text;
  for (int i = 0; i < 200; ++i) text += "抓";  // 3 bytes each
  call.mutable_turns(0)->set_text(text);
  s.AddCall(call, {});
  ASSERT_EQ(s.report().mismatches.size(), 1u);
  const std::string& line = s.report().mismatches[0];
  EXPECT_LT(line.size(), text.size());
  const size_t open = line.find("AGENT: \"") + 8;
  const size_t dots = line.find("...", open);
  ASSERT_NE(dots, std::string::npos);
  EXPECT_EQ((dots - open) % 3, 0u) << "cut inside a character";
  EXPECT_GT(dots - open, 0u);
}

TEST(FormatReportTest, PrintsATableAndTheHeadlineFigures) {
  Scorer s;
  s.AddCall(Call("c1", {A, C, A}, {{0, v1::MISSING_SELF_IDENTIFICATION}, {2, v1::PROHIBITED_THREAT}}),
            {Alert(1, v1::MISSING_SELF_IDENTIFICATION), Alert(2, v1::NEW_DEBT_INDUCEMENT)});
  s.AddCall(Call("ok", {A, C}, {}), {Alert(0, v1::ABUSIVE_LANGUAGE)});
  s.AddCall(Call("ok2", {A, C}, {}), {});
  const std::string table = FormatReport(s.report());
  EXPECT_THAT(table, HasSubstr("| kind | expected | alerts | TP | FP | FN | precision | recall | F1 |"));
  EXPECT_THAT(table, HasSubstr("| MISSING_SELF_IDENTIFICATION | 1 | 1 | 1 | 0 | 0 | 1.000 | 1.000 | 1.000 |"));
  EXPECT_THAT(table, HasSubstr("| PROHIBITED_THREAT | 1 | 0 | 0 | 0 | 1 | 1.000 | 0.000 | 0.000 |"));
  EXPECT_THAT(table, HasSubstr("| NEW_DEBT_INDUCEMENT | 0 | 1 | 0 | 1 | 0 | 0.000 | 1.000 | 0.000 |"));
  EXPECT_THAT(table, HasSubstr("| MISSING_DEBT_COLLECTOR_DISCLOSURE | 0 | 0 |"));
  // (1 + 1 + 0 + 0) / 4
  EXPECT_THAT(table, HasSubstr("core mean F1: 0.500"));
  EXPECT_THAT(table, HasSubstr("compliant calls with any alert: 1/2 (50.0%)"));
}

}  // namespace
}  // namespace callguard
