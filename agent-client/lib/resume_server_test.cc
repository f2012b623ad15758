// The server's side of resuming (CallEvent.seq, CallStart.resume, GuardEvent.resumed): raw
// Converse streams against the real server on loopback, no client library.
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client_test_util.h"
#include "gtest/gtest.h"
#include "server_config.h"
#include "test_support.h"

namespace callguard::testing {
namespace {

constexpr char kThreat[] = "Mr Smith the police will ARREST you today";

// One Converse stream whose answers a background thread collects.
class RawStream : public BackgroundStream<v1::CallEvent, v1::GuardEvent> {
 public:
  explicit RawStream(const std::shared_ptr<grpc::Channel>& channel)
      : BackgroundStream(channel, [](v1::CallGuard::Stub* stub, grpc::ClientContext* context) {
          return stub->Converse(context);
        }) {}

  bool Send(v1::CallEvent event, uint64_t seq) {
    event.set_seq(seq);
    return Write(event);
  }
};

v1::CallEvent ResumeEvent(const std::string& call_id, uint64_t last_received) {
  v1::CallEvent event = StartEvent(call_id);
  event.mutable_start()->set_resume(true);
  event.mutable_start()->set_last_received_seq(last_received);
  return event;
}

TEST(ResumeServerTest, DuplicateEventsAreDroppedSilently) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  RawStream call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEvent("dup-1"), 1));
  auto ack = call.Next();
  ASSERT_TRUE(ack.has_value() && ack->has_ack());
  EXPECT_EQ(ack->ack().last_applied_seq(), 1u);
  EXPECT_EQ(ack->seq(), 0u);

  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, kThreat), 2));
  auto alert = call.Next();
  ASSERT_TRUE(alert.has_value() && alert->has_alert());
  EXPECT_EQ(alert->seq(), 1u);
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, kThreat), 2));  // re-sent: a duplicate
  ASSERT_TRUE(call.Send(StartEvent("dup-1"), 1));                       // so is the start
  ASSERT_TRUE(call.Send(EndEvent("done"), 3));
  // The duplicates got no answer at all: the summary comes next, and counts one turn.
  auto summary = call.Next();
  ASSERT_TRUE(summary.has_value());
  ASSERT_TRUE(summary->has_summary()) << summary->DebugString();
  EXPECT_EQ(summary->seq(), 2u);
  EXPECT_EQ(summary->summary().turns(), 1);
  EXPECT_EQ(summary->summary().alerts(), 1);
}

TEST(ResumeServerTest, ResumingAnUnknownCallIsNotFound) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  RawStream call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(ResumeEvent("never-started", 0), 0));
  auto error = call.Next();
  ASSERT_TRUE(error.has_value() && error->has_error());
  EXPECT_EQ(error->error().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(error->error().field(), "start.resume");
  EXPECT_NE(error->error().message().find("never-started"), std::string::npos);
  EXPECT_EQ(server->registry().active_calls(), 0u);
}

TEST(ResumeServerTest, BrokenCallIsParkedAndResumedWithTheAnswersItMissed) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  std::string missed_rule;
  {
    RawStream first(ChannelTo(*server));
    ASSERT_TRUE(first.Send(StartEvent("park-1"), 1));
    ASSERT_TRUE(first.Next().has_value());  // ack
    ASSERT_TRUE(first.Send(UtteranceEvent("u1", v1::AGENT, kThreat), 2));
    auto a1 = first.Next();
    ASSERT_TRUE(a1.has_value() && a1->has_alert());
    ASSERT_TRUE(first.Send(UtteranceEvent("u2", v1::AGENT, kThreat), 3));
    auto a2 = first.Next();  // arrives here, but the client will say it never got it
    ASSERT_TRUE(a2.has_value() && a2->has_alert());
    EXPECT_EQ(a2->seq(), 2u);
    missed_rule = a2->alert().rule_id();
    first.Cut();
    ASSERT_TRUE(first.WaitDone());
  }
  ASSERT_TRUE(Eventually([&] { return server->registry().parked_calls() == 1; }));
  EXPECT_EQ(server->registry().active_calls(), 1u);  // the slot stays taken

  {
    RawStream again(ChannelTo(*server));  // a new call with the parked id: refused
    ASSERT_TRUE(again.Send(StartEvent("park-1"), 1));
    auto error = again.Next();
    ASSERT_TRUE(error.has_value() && error->has_error());
    EXPECT_EQ(error->error().code(), static_cast<int>(grpc::StatusCode::ALREADY_EXISTS));
    EXPECT_EQ(error->error().field(), "start.call_id");
  }

  RawStream resumed(ChannelTo(*server));
  ASSERT_TRUE(resumed.Send(ResumeEvent("park-1", /*last_received=*/1), 0));
  auto hello = resumed.Next();
  ASSERT_TRUE(hello.has_value() && hello->has_resumed()) << (hello ? hello->DebugString() : "");
  EXPECT_EQ(hello->resumed().last_applied_seq(), 3u);
  auto again = resumed.Next();
  ASSERT_TRUE(again.has_value() && again->has_alert());
  EXPECT_EQ(again->seq(), 2u);
  EXPECT_EQ(again->alert().rule_id(), missed_rule);
  EXPECT_EQ(again->alert().utterance_id(), "u2");
  EXPECT_EQ(server->registry().parked_calls(), 0u);

  ASSERT_TRUE(resumed.Send(UtteranceEvent("u2", v1::AGENT, kThreat), 3));  // already applied
  ASSERT_TRUE(resumed.Send(UtteranceEvent("u3", v1::COUNTERPARTY, "who is this"), 4));
  ASSERT_TRUE(resumed.Send(EndEvent("done"), 5));
  auto summary = resumed.Next();
  ASSERT_TRUE(summary.has_value() && summary->has_summary()) << summary->DebugString();
  EXPECT_EQ(summary->seq(), 3u);
  EXPECT_EQ(summary->summary().turns(), 3);
  EXPECT_EQ(summary->summary().alerts(), 2);
  EXPECT_EQ(summary->summary().end_reason(), "done");
  ASSERT_TRUE(resumed.WaitDone());
  EXPECT_TRUE(Eventually([&] { return server->registry().active_calls() == 0; }));
}

TEST(ResumeServerTest, ResumeTakesOverAStreamThatHasNotNoticedItBroke) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  RawStream old_stream(ChannelTo(*server));
  ASSERT_TRUE(old_stream.Send(StartEvent("takeover-1"), 1));
  ASSERT_TRUE(old_stream.Next().has_value());  // ack
  ASSERT_TRUE(old_stream.Send(UtteranceEvent("u1", v1::AGENT, kThreat), 2));
  ASSERT_TRUE(old_stream.Next().has_value());  // alert 1

  RawStream resumed(ChannelTo(*server));
  ASSERT_TRUE(resumed.Send(ResumeEvent("takeover-1", 1), 0));
  auto hello = resumed.Next();
  ASSERT_TRUE(hello.has_value() && hello->has_resumed()) << (hello ? hello->DebugString() : "");
  EXPECT_EQ(hello->resumed().last_applied_seq(), 2u);
  EXPECT_TRUE(old_stream.WaitDone());  // the server let go of the old stream
  ASSERT_TRUE(resumed.Send(EndEvent("done"), 3));
  auto summary = resumed.Next();
  ASSERT_TRUE(summary.has_value() && summary->has_summary());
  EXPECT_EQ(summary->summary().turns(), 1);
}

TEST(ResumeServerTest, GraceExpiryEndsTheParkedCallAndRecordsWhy) {
  FakeClock clock;
  TempDir dir;
  auto server = StartResumingServer(TestPolicyDir(), &clock, dir.path() + "/callguard.db");
  ASSERT_NE(server, nullptr);
  {
    RawStream first(ChannelTo(*server));
    ASSERT_TRUE(first.Send(StartEvent("expire-1"), 1));
    ASSERT_TRUE(first.Next().has_value());
    ASSERT_TRUE(first.Send(UtteranceEvent("u1", v1::AGENT, kThreat), 2));
    ASSERT_TRUE(first.Next().has_value());
    first.Cut();
    ASSERT_TRUE(first.WaitDone());
  }
  ASSERT_TRUE(Eventually([&] { return server->registry().parked_calls() == 1; }));
  clock.Advance(absl::Seconds(29));
  EXPECT_EQ(server->registry().SweepIdle(), 0);
  EXPECT_EQ(server->registry().parked_calls(), 1u);
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(server->registry().SweepIdle(), 1);
  EXPECT_EQ(server->registry().parked_calls(), 0u);
  EXPECT_EQ(server->registry().active_calls(), 0u);

  ASSERT_TRUE(server->store()->Flush().ok());
  auto timeline = server->store()->GetCall("expire-1");
  ASSERT_TRUE(timeline.ok()) << timeline.status();
  EXPECT_FALSE(timeline->active());
  EXPECT_EQ(timeline->summary().end_reason(), "stream broken, not resumed");
  EXPECT_EQ(timeline->summary().alerts(), 1);

  RawStream late(ChannelTo(*server));
  ASSERT_TRUE(late.Send(ResumeEvent("expire-1", 1), 0));
  auto error = late.Next();
  ASSERT_TRUE(error.has_value() && error->has_error());
  EXPECT_EQ(error->error().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(error->error().field(), "start.resume");
}

TEST(ResumeServerTest, UnsequencedCallsStillEndWhenTheirStreamBreaks) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  {
    RawStream call(ChannelTo(*server));
    ASSERT_TRUE(call.Send(StartEvent("plain-1"), 0));
    ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, kThreat), 0));
    auto alert = call.Next();
    ASSERT_TRUE(alert.has_value() && alert->has_alert());
    EXPECT_EQ(alert->seq(), 0u);
    call.Cut();
    ASSERT_TRUE(call.WaitDone());
  }
  ASSERT_TRUE(Eventually([&] { return server->registry().active_calls() == 0; }));
  EXPECT_EQ(server->registry().parked_calls(), 0u);
}

TEST(ResumeServerTest, ZeroGraceEndsEvenSequencedCallsAtOnce) {
  auto server = StartResumingServer(TestPolicyDir(), nullptr, "", /*grace_s=*/0);
  ASSERT_NE(server, nullptr);
  {
    RawStream call(ChannelTo(*server));
    ASSERT_TRUE(call.Send(StartEvent("nograce-1"), 1));
    ASSERT_TRUE(call.Next().has_value());
    call.Cut();
    ASSERT_TRUE(call.WaitDone());
  }
  ASSERT_TRUE(Eventually([&] { return server->registry().active_calls() == 0; }));
  RawStream late(ChannelTo(*server));
  ASSERT_TRUE(late.Send(ResumeEvent("nograce-1", 0), 0));
  auto error = late.Next();
  ASSERT_TRUE(error.has_value() && error->has_error());
  EXPECT_EQ(error->error().code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(error->error().field(), "start.resume");
}

TEST(ResumeServerTest, OnlyTheLast64AnswersAreKeptAndALaterResumeIsToldSo) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  constexpr int kAnswers = 70;
  {
    RawStream first(ChannelTo(*server));
    ASSERT_TRUE(first.Send(StartEvent("ring-1"), 1));
    // Each blank utterance is refused: one numbered EventError apiece.
    for (int i = 0; i < kAnswers; ++i) {
      ASSERT_TRUE(first.Send(UtteranceEvent(absl::StrCat("u", i), v1::AGENT, " "), 2 + i));
    }
    int errors = 0;
    while (errors < kAnswers) {
      auto event = first.Next();
      ASSERT_TRUE(event.has_value());
      if (event->has_error()) ++errors;
    }
    first.Cut();
    ASSERT_TRUE(first.WaitDone());
  }
  ASSERT_TRUE(Eventually([&] { return server->registry().parked_calls() == 1; }));
  RawStream resumed(ChannelTo(*server));
  ASSERT_TRUE(resumed.Send(ResumeEvent("ring-1", 0), 0));
  auto hello = resumed.Next();
  ASSERT_TRUE(hello.has_value() && hello->has_resumed());
  EXPECT_EQ(hello->resumed().last_applied_seq(), 1u + kAnswers);
  auto lost = resumed.Next();
  ASSERT_TRUE(lost.has_value() && lost->has_error());
  EXPECT_EQ(lost->seq(), 0u);
  EXPECT_EQ(lost->error().code(), static_cast<int>(grpc::StatusCode::DATA_LOSS));
  EXPECT_EQ(lost->error().field(), "start.last_received_seq");
  for (uint64_t seq = kAnswers - 63; seq <= kAnswers; ++seq) {
    auto again = resumed.Next();
    ASSERT_TRUE(again.has_value() && again->has_error());
    EXPECT_EQ(again->seq(), seq);
    EXPECT_EQ(again->error().field(), "utterance.text");
  }
}

TEST(ResumeServerTest, GraceComesFromTheFlagOrTheConfigFile) {
  auto defaulted = ServerConfigFromArgs({});
  ASSERT_TRUE(defaulted.ok()) << defaulted.status();
  EXPECT_EQ(defaulted->resume_grace_s(), 30);
  auto set = ServerConfigFromArgs({"--resume-grace-s", "5"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->resume_grace_s(), 5);
  auto off = ServerConfigFromArgs({"--resume-grace-s=0"});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->resume_grace_s(), 0);  // 0 stays 0: resuming off
  auto bad = ServerConfigFromArgs({"--resume-grace-s", "soon"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("--resume-grace-s"), std::string::npos);
  EXPECT_NE(ServerUsage().find("--resume-grace-s"), std::string::npos);
}

}  // namespace
}  // namespace callguard::testing
