// Converse with want_verdict: one Verdict per utterance, carrying its alerts.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "test_support.h"

namespace callguard::testing {
namespace {

using ::grpc::StatusCode;

v1::CallEvent VerdictEvent(const std::string& id, v1::Speaker speaker, const std::string& text,
                           bool is_final = true) {
  v1::CallEvent event = UtteranceEvent(id, speaker, text, is_final);
  event.mutable_utterance()->set_want_verdict(true);
  return event;
}

// The only answer to the events sent since the last drain, which must be a verdict.
v1::Verdict OnlyVerdict(ConverseClient& call) {
  const std::vector<v1::GuardEvent> answers = call.Drain();
  EXPECT_EQ(answers.size(), 1u);
  if (answers.size() != 1 || !answers[0].has_verdict()) {
    ADD_FAILURE() << "expected exactly one verdict, got " << answers.size() << " answers"
                  << (answers.empty() ? "" : ", the first: " + answers[0].ShortDebugString());
    return v1::Verdict();
  }
  return answers[0].verdict();
}

TEST(VerdictTest, AlertsComeInsideTheVerdictAndNotAlsoOnTheirOwn) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEvent("v-1")));

  const std::string threat = "Mr Smith the police will ARREST you";
  ASSERT_TRUE(call.Send(VerdictEvent("u1", v1::AGENT, threat)));
  const v1::Verdict verdict = OnlyVerdict(call);
  EXPECT_EQ(verdict.utterance_id(), "u1");
  EXPECT_EQ(verdict.turn(), 0);
  EXPECT_TRUE(verdict.is_final());
  EXPECT_GT(verdict.eval_ns(), 0) << "the engine's time is measured, never zero";
  ASSERT_EQ(verdict.alerts_size(), 1);
  const v1::Alert& alert = verdict.alerts(0);
  EXPECT_EQ(alert.rule_id(), "test.threat.arrest");
  EXPECT_EQ(alert.violation(), v1::PROHIBITED_THREAT);
  EXPECT_EQ(alert.utterance_id(), "u1");
  EXPECT_EQ(alert.call_id(), "v-1");
  EXPECT_EQ(alert.turn(), 0);
  ASSERT_GT(alert.evidence_size(), 0);
  EXPECT_EQ(alert.evidence(0).text(), "ARREST");

  // Alerts in verdicts count in the summary like any other.
  ASSERT_TRUE(call.Send(EndEvent("hangup")));
  std::vector<v1::GuardEvent> rest;
  EXPECT_TRUE(call.Finish(&rest).ok());
  ASSERT_EQ(rest.size(), 1u);
  ASSERT_TRUE(rest[0].has_summary());
  EXPECT_EQ(rest[0].summary().alerts(), 1);
  EXPECT_EQ(rest[0].summary().turns(), 1);
}

TEST(VerdictTest, ACleanUtteranceGetsAnEmptyVerdict) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEvent("v-clean")));
  ASSERT_TRUE(call.Send(VerdictEvent("a", v1::AGENT, "good morning how are you", /*is_final=*/false)));
  v1::Verdict verdict = OnlyVerdict(call);
  EXPECT_EQ(verdict.utterance_id(), "a");
  EXPECT_EQ(verdict.turn(), 0);
  EXPECT_FALSE(verdict.is_final());
  EXPECT_EQ(verdict.alerts_size(), 0);

  ASSERT_TRUE(call.Send(VerdictEvent("b", v1::COUNTERPARTY, "fine thanks")));
  verdict = OnlyVerdict(call);
  EXPECT_EQ(verdict.utterance_id(), "b");
  EXPECT_EQ(verdict.turn(), 1);
  EXPECT_TRUE(verdict.is_final());
  EXPECT_EQ(verdict.alerts_size(), 0);
  EXPECT_GT(verdict.eval_ns(), 0);
}

TEST(VerdictTest, LaterUpdatesOfAnUtteranceKeepItsTurnAndRaiseNothingTwice) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEvent("v-interim")));
  ASSERT_TRUE(call.Send(VerdictEvent("agent-1", v1::AGENT, "we will have you", /*is_final=*/false)));
  EXPECT_EQ(OnlyVerdict(call).alerts_size(), 0);
  ASSERT_TRUE(call.Send(VerdictEvent("agent-1", v1::AGENT, "we will have you arrested", false)));
  v1::Verdict verdict = OnlyVerdict(call);
  ASSERT_EQ(verdict.alerts_size(), 1) << "raised as soon as the words are there";
  EXPECT_TRUE(verdict.alerts(0).interim());

  // The counterparty talks over the agent, then the agent's utterance becomes final.
  ASSERT_TRUE(call.Send(VerdictEvent("cp-1", v1::COUNTERPARTY, "what")));
  verdict = OnlyVerdict(call);
  EXPECT_EQ(verdict.turn(), 1);
  ASSERT_TRUE(call.Send(VerdictEvent("agent-1", v1::AGENT, "we will have you arrested today")));
  verdict = OnlyVerdict(call);
  EXPECT_EQ(verdict.utterance_id(), "agent-1");
  EXPECT_EQ(verdict.turn(), 0) << "an update keeps the turn of its utterance";
  EXPECT_TRUE(verdict.is_final());
  EXPECT_EQ(verdict.alerts_size(), 0) << "already raised on the interim result";
}

TEST(VerdictTest, UtterancesWithoutVerdictStillGetAlertEvents) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEvent("v-mixed")));
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, "you will be arrested")));
  ASSERT_TRUE(call.Send(VerdictEvent("u2", v1::AGENT, "the police will arrest you")));
  const std::vector<v1::GuardEvent> answers = call.Drain();
  ASSERT_EQ(answers.size(), 2u);
  ASSERT_TRUE(answers[0].has_alert());
  EXPECT_EQ(answers[0].alert().utterance_id(), "u1");
  ASSERT_TRUE(answers[1].has_verdict());
  EXPECT_EQ(answers[1].verdict().utterance_id(), "u2");
  EXPECT_EQ(answers[1].verdict().turn(), 1);
  ASSERT_EQ(answers[1].verdict().alerts_size(), 1);
  EXPECT_EQ(answers[1].verdict().alerts(0).turn(), 1);
}

TEST(VerdictTest, ARefusedUtteranceGetsItsErrorAndNoVerdict) {
  auto server = StartServer({.max_utterance_bytes = 64});
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));

  // Before the call starts.
  ASSERT_TRUE(call.Send(VerdictEvent("early", v1::AGENT, "hello")));
  std::vector<v1::GuardEvent> answers = call.Drain();
  ASSERT_EQ(answers.size(), 1u);
  ASSERT_TRUE(answers[0].has_error());
  EXPECT_EQ(answers[0].error().code(), static_cast<int>(StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(answers[0].error().field(), "start");
  EXPECT_EQ(answers[0].error().utterance_id(), "early");

  ASSERT_TRUE(call.Send(StartEvent("v-errors")));
  struct Case {
    v1::CallEvent event;
    std::string field;
  };
  const std::vector<Case> cases = {
      {VerdictEvent("u-utf8", v1::AGENT, "you will be \xff arrested"), "utterance.text"},
      {VerdictEvent("u-empty", v1::AGENT, ""), "utterance.text"},
      {VerdictEvent("u-long", v1::AGENT, std::string(65, 'a')), "utterance.text"},
      {VerdictEvent("u-who", v1::SPEAKER_UNSPECIFIED, "hello"), "utterance.speaker"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.event.ShortDebugString());
    ASSERT_TRUE(call.Send(c.event));
    answers = call.Drain();
    ASSERT_EQ(answers.size(), 1u);
    ASSERT_TRUE(answers[0].has_error());
    EXPECT_EQ(answers[0].error().code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
    EXPECT_EQ(answers[0].error().field(), c.field);
    EXPECT_EQ(answers[0].error().utterance_id(), c.event.utterance().utterance_id());
  }

  // None of that took a turn.
  ASSERT_TRUE(call.Send(VerdictEvent("u-ok", v1::AGENT, "hello there")));
  EXPECT_EQ(OnlyVerdict(call).turn(), 0);

  ASSERT_TRUE(call.Send(EndEvent("done")));
  std::vector<v1::GuardEvent> rest;
  EXPECT_TRUE(call.Finish(&rest).ok());
  ASSERT_EQ(rest.size(), 1u);
  ASSERT_TRUE(rest[0].has_summary());
  EXPECT_EQ(rest[0].summary().turns(), 1);
}

}  // namespace
}  // namespace callguard::testing
