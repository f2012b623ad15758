// Converse: one bidi stream per call against the real server on loopback.
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace callguard::testing {
namespace {

using ::grpc::StatusCode;

int CodePoints(const std::string& text) {
  return static_cast<int>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// The evidence must point into the text the dialer sent, in bytes and in code points.
void ExpectEvidenceIn(const v1::Alert& alert, const std::string& original, const std::string& word) {
  ASSERT_GT(alert.evidence_size(), 0);
  const v1::Evidence& e = alert.evidence(0);
  ASSERT_LT(e.begin(), e.end());
  ASSERT_LE(static_cast<size_t>(e.end()), original.size());
  EXPECT_EQ(original.substr(e.begin(), e.end() - e.begin()), e.text());
  EXPECT_NE(absl::AsciiStrToLower(e.text()).find(word), std::string::npos) << e.text();
  EXPECT_EQ(e.begin_char(), CodePoints(original.substr(0, e.begin())));
  EXPECT_EQ(e.end_char(), CodePoints(original.substr(0, e.end())));
}

int CountOf(const v1::CallSummary& summary, v1::ViolationKind kind) {
  for (const auto& c : summary.by_kind()) {
    if (c.violation() == kind) return c.count();
  }
  return 0;
}

TEST(ConverseTest, StreamsACallWithAlertsAndASummary) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEvent("call-1")));

  // An interim result raises the alert as soon as the words are there...
  const std::string interim = "Mr Smith the police will ARREST you";
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, interim, /*is_final=*/false)));
  auto alerts = AlertsIn(call.Drain());
  ASSERT_EQ(alerts.size(), 1u);
  const v1::Alert& threat = alerts[0];
  EXPECT_EQ(threat.call_id(), "call-1");
  EXPECT_EQ(threat.turn(), 0);
  EXPECT_EQ(threat.utterance_id(), "u1");
  EXPECT_EQ(threat.rule_id(), "test.threat.arrest");
  EXPECT_EQ(threat.violation(), v1::PROHIBITED_THREAT);
  EXPECT_EQ(threat.severity(), v1::SEVERITY_CRITICAL);
  EXPECT_TRUE(threat.interim());
  EXPECT_EQ(threat.policy_id(), "test-en");
  EXPECT_EQ(threat.policy_version(), "1.0");
  EXPECT_EQ(threat.agent_id(), "A1042");
  EXPECT_EQ(threat.agency_id(), "AG-1");
  ASSERT_EQ(threat.citations_size(), 1);
  EXPECT_EQ(threat.citations(0).section(), "15 U.S.C. 1692e(4)");
  EXPECT_EQ(threat.coaching(), "Never mention arrest, jail or police.");
  ExpectEvidenceIn(threat, interim, "arrest");

  // ...and the final result of the same utterance does not raise it again.
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, "Mr Smith the police will ARREST you today")));
  EXPECT_TRUE(call.Drain().empty());

  ASSERT_TRUE(call.Send(UtteranceEvent("u2", v1::COUNTERPARTY, "who is this")));
  const std::string disclosure = "you owe us four hundred dollars";
  ASSERT_TRUE(call.Send(UtteranceEvent("u3", v1::AGENT, disclosure)));
  alerts = AlertsIn(call.Drain());
  ASSERT_EQ(alerts.size(), 1u) << "nobody verified yet: a third party";
  EXPECT_EQ(alerts[0].rule_id(), "test.disclosure.debt");
  EXPECT_EQ(alerts[0].turn(), 2);
  EXPECT_FALSE(alerts[0].interim());
  ExpectEvidenceIn(alerts[0], disclosure, "owe");

  // Once the dialer says the debtor is on the line, the debt may be discussed.
  ASSERT_TRUE(call.Send(PartyEvent(v1::PARTY_DEBTOR)));
  ASSERT_TRUE(call.Send(UtteranceEvent("u4", v1::AGENT, disclosure)));
  EXPECT_TRUE(call.Drain().empty());

  ASSERT_TRUE(call.Send(EndEvent("hangup")));
  auto summary = call.Read();
  ASSERT_TRUE(summary.has_value() && summary->has_summary());
  const v1::CallSummary& s = summary->summary();
  EXPECT_EQ(s.call_id(), "call-1");
  EXPECT_EQ(s.turns(), 4);
  EXPECT_EQ(s.alerts(), 2);
  EXPECT_EQ(CountOf(s, v1::PROHIBITED_THREAT), 1);
  EXPECT_EQ(CountOf(s, v1::THIRD_PARTY_DISCLOSURE), 1);
  EXPECT_EQ(s.party(), v1::PARTY_DEBTOR);
  EXPECT_EQ(s.policy_id(), "test-en");
  EXPECT_EQ(s.end_reason(), "hangup");

  std::vector<v1::GuardEvent> after;
  EXPECT_TRUE(call.Finish(&after).ok());
  EXPECT_TRUE(after.empty());
  EXPECT_EQ(server->registry().active_calls(), 0u) << "the call's state is freed at its end";
}

TEST(ConverseTest, EvidenceOffsetsCountBytesAndCodePointsInChinese) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEvent("call-zh", "test-zh")));
  const std::string text = "你再不还钱，我们就逮捕你";
  ASSERT_TRUE(call.Send(UtteranceEvent("z1", v1::AGENT, text)));
  auto alerts = AlertsIn(call.Drain());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id(), "test.threat.arrest");
  ExpectEvidenceIn(alerts[0], text, "逮捕");
  EXPECT_EQ(alerts[0].evidence(0).begin_char(), 9);
  EXPECT_EQ(alerts[0].evidence(0).begin(), 27);
}

TEST(ConverseTest, EveryBadEventGetsItsErrorAndTheCallGoesOn) {
  auto server = StartServer({.max_utterance_bytes = 64});
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));

  ASSERT_TRUE(call.Send(UtteranceEvent("early", v1::AGENT, "hello")));
  auto errors = ErrorsIn(call.Drain());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), static_cast<int>(StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(errors[0].field(), "start");

  ASSERT_TRUE(call.Send(StartEvent("call-bad", "xx-nope")));
  errors = ErrorsIn(call.Drain());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(errors[0].field(), "start.policy");
  EXPECT_NE(errors[0].message().find("xx-nope"), std::string::npos) << errors[0].message();
  EXPECT_NE(errors[0].message().find("test-en"), std::string::npos) << errors[0].message();
  EXPECT_NE(errors[0].message().find("test-zh"), std::string::npos) << errors[0].message();

  v1::CallEvent long_id = StartEvent(std::string(200, 'c'));
  ASSERT_TRUE(call.Send(long_id));
  errors = ErrorsIn(call.Drain());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].field(), "start.call_id");

  ASSERT_TRUE(call.Send(StartEvent("call-bad")));
  ASSERT_TRUE(call.Send(StartEvent("call-again")));
  errors = ErrorsIn(call.Drain());
  ASSERT_EQ(errors.size(), 1u) << "the first start is accepted, the second is not";
  EXPECT_EQ(errors[0].code(), static_cast<int>(StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(errors[0].field(), "start");
  EXPECT_NE(errors[0].message().find("call-bad"), std::string::npos);

  struct Case {
    v1::CallEvent event;
    std::string field;
    std::string utterance_id;
  };
  const std::vector<Case> cases = {
      // The stock parser rejects this message outright; the server names the field.
      {UtteranceEvent("u-utf8", v1::AGENT, "you will be \xff\xfe arrested"), "utterance.text", "u-utf8"},
      {UtteranceEvent("u-empty", v1::AGENT, ""), "utterance.text", "u-empty"},
      {UtteranceEvent("u-long", v1::AGENT, std::string(65, 'a')), "utterance.text", "u-long"},
      {UtteranceEvent("u-who", v1::SPEAKER_UNSPECIFIED, "hello"), "utterance.speaker", "u-who"},
      {UtteranceEvent("", v1::AGENT, "hello"), "utterance.utterance_id", ""},
      {PartyEvent(static_cast<v1::Party>(42)), "party_update.party", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.event.ShortDebugString());
    ASSERT_TRUE(call.Send(c.event));
    const auto answers = call.Drain();
    ASSERT_EQ(answers.size(), 1u);
    ASSERT_TRUE(answers[0].has_error());
    EXPECT_EQ(answers[0].error().code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
    EXPECT_EQ(answers[0].error().field(), c.field);
    EXPECT_EQ(answers[0].error().utterance_id(), c.utterance_id);
    EXPECT_FALSE(answers[0].error().message().empty());
  }

  // None of that took a turn or ended the call.
  const std::string threat = "we will have you arrested";
  ASSERT_TRUE(call.Send(UtteranceEvent("u-ok", v1::AGENT, threat)));
  auto alerts = AlertsIn(call.Drain());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].turn(), 0);
  EXPECT_EQ(alerts[0].call_id(), "call-bad");

  ASSERT_TRUE(call.Send(EndEvent("done")));
  auto summary = call.Read();
  ASSERT_TRUE(summary.has_value() && summary->has_summary());
  EXPECT_EQ(summary->summary().turns(), 1);
  EXPECT_EQ(summary->summary().alerts(), 1);
  EXPECT_TRUE(call.Finish().ok());
}

TEST(ConverseTest, ASecondStreamCannotTakeAnActiveCallId) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto channel = ChannelTo(*server);
  ConverseClient first(channel);
  ASSERT_TRUE(first.Send(StartEvent("dup-1")));
  EXPECT_TRUE(first.Drain().empty());

  ConverseClient second(channel);
  ASSERT_TRUE(second.Send(StartEvent("dup-1")));
  auto errors = ErrorsIn(second.Drain());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), static_cast<int>(StatusCode::ALREADY_EXISTS));
  EXPECT_EQ(errors[0].field(), "start.call_id");
  // The refused stream may still start a call of its own.
  ASSERT_TRUE(second.Send(StartEvent("dup-2")));
  EXPECT_TRUE(second.Drain().empty());
  EXPECT_EQ(server->registry().active_calls(), 2u);

  ASSERT_TRUE(first.Send(EndEvent("done")));
  std::vector<v1::GuardEvent> rest;
  ASSERT_TRUE(first.Finish(&rest).ok());
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_TRUE(rest[0].has_summary());

  ConverseClient third(channel);
  ASSERT_TRUE(third.Send(StartEvent("dup-1")));
  EXPECT_TRUE(third.Drain().empty()) << "the id is free once its call ended";
}

TEST(ConverseTest, ClosingWithoutCallEndStillSendsTheSummary) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEvent("half-closed")));
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, "you could be arrested")));
  std::vector<v1::GuardEvent> rest;
  EXPECT_TRUE(call.CloseAndFinish(&rest).ok());
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_TRUE(rest[0].has_alert());
  ASSERT_TRUE(rest[1].has_summary());
  EXPECT_EQ(rest[1].summary().call_id(), "half-closed");
  EXPECT_EQ(rest[1].summary().alerts(), 1);
  EXPECT_EQ(rest[1].summary().end_reason(), "stream closed without CallEnd");
  EXPECT_EQ(server->registry().active_calls(), 0u);
}

TEST(ConverseTest, ClosingBeforeAnyCallFinishesOk) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  std::vector<v1::GuardEvent> rest;
  EXPECT_TRUE(call.CloseAndFinish(&rest).ok());
  EXPECT_TRUE(rest.empty());
}

TEST(ConverseTest, AnIdleCallIsDroppedAndLaterEventsAreRefused) {
  FakeClock clock;
  auto server = StartServer({.clock = &clock, .idle_timeout_s = 30});
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEvent("idle-1")));
  EXPECT_TRUE(call.Drain().empty());

  clock.Advance(absl::Seconds(20));
  EXPECT_EQ(server->registry().SweepIdle(), 0);
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::COUNTERPARTY, "hello")));  // activity
  EXPECT_TRUE(call.Drain().empty());
  clock.Advance(absl::Seconds(20));
  EXPECT_EQ(server->registry().SweepIdle(), 0) << "20 s since the last event";

  clock.Advance(absl::Seconds(11));
  EXPECT_EQ(server->registry().SweepIdle(), 1);
  auto summary = call.Read();
  ASSERT_TRUE(summary.has_value() && summary->has_summary());
  EXPECT_EQ(summary->summary().call_id(), "idle-1");
  EXPECT_EQ(summary->summary().end_reason(), "idle timeout");
  EXPECT_EQ(summary->summary().turns(), 1);
  EXPECT_EQ(server->registry().active_calls(), 0u);

  ASSERT_TRUE(call.Send(UtteranceEvent("u2", v1::AGENT, "are you there")));
  auto errors = ErrorsIn(call.Drain());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), static_cast<int>(StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(errors[0].field(), "utterance");
  EXPECT_NE(errors[0].message().find("idle timeout"), std::string::npos) << errors[0].message();

  ConverseClient again(ChannelTo(*server));
  ASSERT_TRUE(again.Send(StartEvent("idle-1")));
  EXPECT_TRUE(again.Drain().empty()) << "a dropped call's id can be used again";
}

TEST(ConverseTest, AClientThatReadsSlowlyGetsEveryAlertInOrder) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient call(ChannelTo(*server));
  constexpr int kUtterances = 600;  // answers far exceed the stream's flow-control window
  std::vector<v1::GuardEvent> received;
  std::thread reader([&] {
    while (auto event = call.Read()) {
      received.push_back(*event);
      if (event->has_summary()) break;
    }
  });
  ASSERT_TRUE(call.Send(StartEvent("flood")));
  for (int i = 0; i < kUtterances; ++i) {
    ASSERT_TRUE(call.Send(UtteranceEvent(absl::StrCat("u", i), v1::AGENT,
                                         absl::StrCat("number ", i, " you will be arrested"))));
  }
  ASSERT_TRUE(call.Send(EndEvent("done")));
  reader.join();
  const auto alerts = AlertsIn(received);
  ASSERT_EQ(alerts.size(), static_cast<size_t>(kUtterances));
  for (int i = 0; i < kUtterances; ++i) EXPECT_EQ(alerts[i].turn(), i);
  ASSERT_TRUE(received.back().has_summary());
  EXPECT_EQ(received.back().summary().alerts(), kUtterances);
  EXPECT_TRUE(call.Finish().ok());
}

}  // namespace
}  // namespace callguard::testing
