// ConverseMany: many calls on one bidi stream, against the real server on loopback.
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace callguard::testing {
namespace {

using ::grpc::StatusCode;

// One ConverseMany stream.
class ManyStream : public BackgroundStream<v1::CallEventEnvelope, v1::GuardEventEnvelope> {
 public:
  explicit ManyStream(const std::shared_ptr<grpc::Channel>& channel)
      : BackgroundStream(channel, [](v1::CallGuard::Stub* stub, grpc::ClientContext* context) {
          return stub->ConverseMany(context);
        }) {}

  bool Send(const std::string& call_id, v1::CallEvent event, uint64_t seq = 0) {
    v1::CallEventEnvelope envelope;
    envelope.set_call_id(call_id);
    event.set_seq(seq);
    *envelope.mutable_event() = std::move(event);
    return Write(envelope);
  }
  // Every answer to the events sent so far: an envelope naming no call is always answered with
  // exactly one error on "call_id" and no call id, after the answers before it.
  std::vector<v1::GuardEventEnvelope> Drain() {
    EXPECT_TRUE(Send("", v1::CallEvent()));
    std::vector<v1::GuardEventEnvelope> before;
    for (;;) {
      auto answer = Next();
      if (!answer.has_value()) {
        ADD_FAILURE() << "stream ended before the marker was answered";
        return before;
      }
      if (answer->call_id().empty() && answer->event().error().field() == "call_id") return before;
      before.push_back(*std::move(answer));
    }
  }
};

std::map<std::string, std::vector<v1::GuardEvent>> ByCall(const std::vector<v1::GuardEventEnvelope>& answers) {
  std::map<std::string, std::vector<v1::GuardEvent>> out;
  for (const auto& a : answers) out[a.call_id()].push_back(a.event());
  return out;
}

// What an alert says, without the parts that differ from run to run (ids, time).
std::string Gist(const v1::Alert& alert) {
  v1::Alert copy = alert;
  copy.clear_alert_id();
  copy.clear_time();
  return copy.ShortDebugString();
}

v1::CallEvent VerdictEvent(const std::string& id, v1::Speaker speaker, const std::string& text) {
  v1::CallEvent event = UtteranceEvent(id, speaker, text);
  event.mutable_utterance()->set_want_verdict(true);
  return event;
}

struct Step {
  std::string call_id;
  v1::CallEvent event;
};

TEST(ConverseManyTest, EachCallGetsTheAnswersItWouldGetOnAStreamOfItsOwn) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  // Three calls interleaved, in two languages, with alerts, verdicts and a party change.
  const std::vector<Step> steps = {
      {"many-a", StartEvent("many-a")},
      {"many-b", StartEvent("many-b")},
      {"many-z", StartEvent("many-z", "test-zh")},
      {"many-a", UtteranceEvent("a1", v1::AGENT, "Mr Smith the police will ARREST you", false)},
      {"many-b", UtteranceEvent("b1", v1::COUNTERPARTY, "who is this")},
      {"many-z", VerdictEvent("z1", v1::AGENT, "你再不还钱，我们就逮捕你")},
      {"many-a", UtteranceEvent("a1", v1::AGENT, "Mr Smith the police will ARREST you today")},
      {"many-b", UtteranceEvent("b2", v1::AGENT, "you owe us four hundred dollars")},
      {"many-a", PartyEvent(v1::PARTY_DEBTOR)},
      {"many-a", VerdictEvent("a2", v1::AGENT, "you owe us four hundred dollars")},
      {"many-b", VerdictEvent("b3", v1::AGENT, "have a nice day")},
  };

  // The same events, one Converse stream per call.
  std::map<std::string, std::vector<v1::GuardEvent>> expected;
  for (const std::string id : {"many-a", "many-b", "many-z"}) {
    ConverseClient own(ChannelTo(*server));
    for (const Step& step : steps) {
      if (step.call_id == id) {
        ASSERT_TRUE(own.Send(step.event));
      }
    }
    ASSERT_TRUE(own.Send(EndEvent("hangup")));
    std::vector<v1::GuardEvent> answers;
    ASSERT_TRUE(own.CloseAndFinish(&answers).ok());
    expected[id] = answers;
  }
  ASSERT_GE(AlertsIn(expected["many-a"]).size(), 1u);
  ASSERT_GE(AlertsIn(expected["many-b"]).size(), 1u);

  ManyStream many(ChannelTo(*server));
  for (const Step& step : steps) {
    ASSERT_TRUE(many.Send(step.call_id, step.event));
  }
  for (const std::string id : {"many-a", "many-b", "many-z"}) {
    ASSERT_TRUE(many.Send(id, EndEvent("hangup")));
  }
  auto got = ByCall(many.Drain());
  ASSERT_EQ(got.size(), 3u);
  for (auto& [id, want] : expected) {
    const std::vector<v1::GuardEvent>& have = got[id];
    ASSERT_EQ(have.size(), want.size()) << id;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(have[i].event_case(), want[i].event_case()) << id << " answer " << i;
      if (want[i].has_alert()) {
        EXPECT_EQ(Gist(have[i].alert()), Gist(want[i].alert()));
      }
      if (want[i].has_verdict()) {
        ASSERT_EQ(have[i].verdict().alerts_size(), want[i].verdict().alerts_size()) << id;
        for (int k = 0; k < want[i].verdict().alerts_size(); ++k) {
          EXPECT_EQ(Gist(have[i].verdict().alerts(k)), Gist(want[i].verdict().alerts(k)));
        }
        EXPECT_EQ(have[i].verdict().utterance_id(), want[i].verdict().utterance_id());
      }
      if (want[i].has_summary()) {
        EXPECT_EQ(have[i].summary().ShortDebugString(), want[i].summary().ShortDebugString());
      }
    }
  }
  EXPECT_EQ(server->registry().active_calls(), 0u) << "every call ended; the stream stays open";

  // The stream goes on carrying new calls, even under an id used before.
  ASSERT_TRUE(many.Send("many-a", StartEvent("many-a")));
  ASSERT_TRUE(many.Send("many-c", StartEvent("")));  // start.call_id taken from the envelope
  EXPECT_TRUE(many.Drain().empty());
  EXPECT_EQ(server->registry().active_calls(), 2u);
  std::vector<v1::GuardEventEnvelope> rest;
  ASSERT_TRUE(many.CloseAndFinish(&rest).ok());
  auto closed = ByCall(rest);
  ASSERT_EQ(closed.size(), 2u);
  for (const std::string id : {"many-a", "many-c"}) {
    ASSERT_EQ(closed[id].size(), 1u);
    ASSERT_TRUE(closed[id][0].has_summary());
    EXPECT_EQ(closed[id][0].summary().call_id(), id);
    EXPECT_EQ(closed[id][0].summary().end_reason(), "stream closed without CallEnd");
  }
  EXPECT_EQ(server->registry().active_calls(), 0u);
}

TEST(ConverseManyTest, EveryBadEventGetsAnErrorNamingItsCallAndField) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ManyStream many(ChannelTo(*server));
  ASSERT_TRUE(many.Send("ok-1", StartEvent("ok-1")));

  auto single_error = [&](const std::string& call_id, v1::CallEvent event) {
    EXPECT_TRUE(many.Send(call_id, std::move(event)));
    auto answers = many.Drain();
    EXPECT_EQ(answers.size(), 1u);
    if (answers.size() != 1 || !answers[0].event().has_error()) return v1::GuardEventEnvelope();
    return answers[0];
  };

  auto e = single_error("ghost", UtteranceEvent("g1", v1::AGENT, "hello"));
  EXPECT_EQ(e.call_id(), "ghost");
  EXPECT_EQ(e.event().error().code(), static_cast<int>(StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(e.event().error().field(), "call_id");
  EXPECT_EQ(e.event().error().utterance_id(), "g1");
  EXPECT_NE(e.event().error().message().find("ghost"), std::string::npos) << e.event().error().message();

  e = single_error("other", StartEvent("not-other"));
  EXPECT_EQ(e.event().error().code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(e.event().error().field(), "start.call_id");

  e = single_error("ok-1", StartEvent("ok-1"));
  EXPECT_EQ(e.call_id(), "ok-1");
  EXPECT_EQ(e.event().error().code(), static_cast<int>(StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(e.event().error().field(), "start");

  e = single_error("bad-policy", StartEvent("bad-policy", "no-such-policy"));
  EXPECT_EQ(e.call_id(), "bad-policy");
  EXPECT_EQ(e.event().error().field(), "start.policy");
  e = single_error("bad-policy", PartyEvent(v1::PARTY_DEBTOR));
  EXPECT_EQ(e.event().error().field(), "call_id") << "a refused start leaves no call behind";

  // Invalid UTF-8 in the text: the call, the field and the utterance are named; the call goes on.
  e = single_error("ok-1", UtteranceEvent("u-bad", v1::AGENT, "you owe \xff\xfe"));
  EXPECT_EQ(e.call_id(), "ok-1");
  EXPECT_EQ(e.event().error().code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(e.event().error().field(), "utterance.text");
  EXPECT_EQ(e.event().error().utterance_id(), "u-bad");

  e = single_error("ok-1", v1::CallEvent());
  EXPECT_EQ(e.event().error().field(), "event");

  ASSERT_TRUE(many.Send("ok-1", VerdictEvent("u2", v1::AGENT, "hello")));
  auto answers = many.Drain();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_TRUE(answers[0].event().has_verdict());
  EXPECT_EQ(server->registry().active_calls(), 1u);
}

TEST(ConverseManyTest, ACallIdLiveOnAnyStreamIsRefused) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ConverseClient single(ChannelTo(*server));
  ASSERT_TRUE(single.Send(StartEvent("shared-id")));
  EXPECT_TRUE(single.Drain().empty());
  ManyStream many(ChannelTo(*server));
  ASSERT_TRUE(many.Send("shared-id", StartEvent("shared-id")));
  auto answers = many.Drain();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].event().error().code(), static_cast<int>(StatusCode::ALREADY_EXISTS));
  EXPECT_EQ(answers[0].event().error().field(), "start.call_id");
  EXPECT_EQ(server->registry().active_calls(), 1u);
}

TEST(ConverseManyTest, AnIdleCallEndsAloneAndTheStreamCarriesOn) {
  FakeClock clock;
  auto server = StartServer({.clock = &clock, .idle_timeout_s = 30});
  ASSERT_NE(server, nullptr);
  ManyStream many(ChannelTo(*server));
  ASSERT_TRUE(many.Send("quiet", StartEvent("quiet")));
  ASSERT_TRUE(many.Send("busy", StartEvent("busy")));
  EXPECT_TRUE(many.Drain().empty());
  clock.Advance(absl::Seconds(20));
  ASSERT_TRUE(many.Send("busy", UtteranceEvent("b1", v1::COUNTERPARTY, "hello")));
  EXPECT_TRUE(many.Drain().empty());
  clock.Advance(absl::Seconds(11));
  EXPECT_EQ(server->registry().SweepIdle(), 1);
  auto summary = many.Next();
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->call_id(), "quiet");
  EXPECT_EQ(summary->event().summary().end_reason(), "idle timeout");

  ASSERT_TRUE(many.Send("quiet", UtteranceEvent("q1", v1::AGENT, "are you there")));
  ASSERT_TRUE(many.Send("busy", VerdictEvent("b2", v1::AGENT, "are you there")));
  auto answers = many.Drain();
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].call_id(), "quiet");
  EXPECT_EQ(answers[0].event().error().field(), "call_id");
  EXPECT_EQ(answers[1].call_id(), "busy");
  EXPECT_TRUE(answers[1].event().has_verdict());
  EXPECT_EQ(server->registry().active_calls(), 1u);
}

TEST(ConverseManyTest, ABrokenStreamParksItsSequencedCallsForResumeOnEitherRpc) {
  auto server = StartServer({.resume_grace_s = 30});
  ASSERT_NE(server, nullptr);
  {
    ManyStream first(ChannelTo(*server));
    ASSERT_TRUE(first.Send("seq-1", StartEvent("seq-1"), 1));
    ASSERT_TRUE(first.Send("plain-1", StartEvent("plain-1")));
    ASSERT_TRUE(first.Send("seq-1", UtteranceEvent("u1", v1::AGENT, "Mr Smith the police will ARREST you"), 2));
    auto answers = first.Drain();
    ASSERT_EQ(answers.size(), 2u);  // seq-1's ack, then its alert
    EXPECT_TRUE(answers[0].event().has_ack());
    ASSERT_TRUE(answers[1].event().has_alert());
    EXPECT_EQ(answers[1].event().seq(), 1u);
    first.Cut();
    ASSERT_TRUE(first.WaitDone());
  }
  ASSERT_TRUE(Eventually([&] { return server->registry().parked_calls() == 1; }));
  ASSERT_TRUE(Eventually([&] { return server->registry().active_calls() == 1; }))
      << "the unsequenced call ended; the sequenced one keeps its slot";

  // Resumed on a Converse stream of its own: it is told what was applied and re-sent the alert.
  ConverseClient resumed(ChannelTo(*server));
  v1::CallEvent resume = StartEvent("seq-1");
  resume.mutable_start()->set_resume(true);
  resume.mutable_start()->set_last_received_seq(0);
  ASSERT_TRUE(resumed.Send(resume));
  auto hello = resumed.Read();
  ASSERT_TRUE(hello.has_value() && hello->has_resumed());
  EXPECT_EQ(hello->resumed().last_applied_seq(), 2u);
  auto again = resumed.Read();
  ASSERT_TRUE(again.has_value() && again->has_alert());
  EXPECT_EQ(again->seq(), 1u);
  EXPECT_EQ(again->alert().utterance_id(), "u1");
  v1::CallEvent end = EndEvent("done");
  end.set_seq(3);
  ASSERT_TRUE(resumed.Send(end));
  auto summary = resumed.Read();
  ASSERT_TRUE(summary.has_value() && summary->has_summary());
  EXPECT_EQ(summary->summary().turns(), 1);
  EXPECT_EQ(summary->summary().alerts(), 1);
  EXPECT_TRUE(Eventually([&] { return server->registry().active_calls() == 0; }));
}

TEST(ConverseManyTest, AResumeElsewhereTakesOneCallOffTheStreamAndLeavesTheOthers) {
  auto server = StartServer({.resume_grace_s = 30});
  ASSERT_NE(server, nullptr);
  ManyStream many(ChannelTo(*server));
  ASSERT_TRUE(many.Send("moving", StartEvent("moving"), 1));
  ASSERT_TRUE(many.Send("staying", StartEvent("staying"), 1));
  ASSERT_EQ(many.Drain().size(), 2u);  // two acks

  // Another stream resumes "moving" (as a client that thinks this stream is dead would).
  ManyStream other(ChannelTo(*server));
  v1::CallEvent resume = StartEvent("moving");
  resume.mutable_start()->set_resume(true);
  ASSERT_TRUE(other.Send("moving", resume));
  auto answers = other.Drain();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].call_id(), "moving");
  EXPECT_TRUE(answers[0].event().has_resumed());

  ASSERT_TRUE(many.Send("moving", UtteranceEvent("m1", v1::AGENT, "hello"), 2));
  ASSERT_TRUE(many.Send("staying", VerdictEvent("s1", v1::AGENT, "hello"), 2));
  answers = many.Drain();
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].call_id(), "moving");
  EXPECT_EQ(answers[0].event().error().field(), "call_id") << "no longer on this stream";
  EXPECT_EQ(answers[1].call_id(), "staying");
  EXPECT_TRUE(answers[1].event().has_verdict());
  EXPECT_EQ(server->registry().active_calls(), 2u);
}

}  // namespace
}  // namespace callguard::testing
