// The client library with calls sharing ConverseMany streams (Options::calls_per_stream),
// against the real server on loopback, through a TCP proxy the tests cut.
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "callguard_client.h"
#include "client_test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "replay.h"
#include "tcp_proxy.h"
#include "test_support.h"
#include "transcript_io.h"

namespace callguard::testing {
namespace {

using client::CallguardClient;
using client::CallHandle;

constexpr char kThreat[] = "Mr Smith the police will ARREST you today";

CallguardClient::Options Shared(int port, int calls_per_stream) {
  CallguardClient::Options options = FastReconnect(port);
  options.calls_per_stream = calls_per_stream;
  return options;
}

v1::Utterance Said(const std::string& id, v1::Speaker speaker, const std::string& text) {
  return UtteranceEvent(id, speaker, text).utterance();
}

// What one scripted call got back.
struct Outcome {
  absl::StatusOr<v1::CallSummary> summary = absl::UnknownError("not run");
  std::vector<std::string> alerts;
  std::vector<v1::EventError> errors;
  size_t verdicts = 0;
};

// Streams every sample call at once, each from its own dialer thread, through `client`; the
// updates of all calls interleave. Every final utterance asks for a verdict. If `proxy` is set,
// it is cut while every call is halfway and restored after events were sent into the outage.
std::vector<Outcome> StreamAll(CallguardClient& client, const std::vector<v1::Transcript>& calls,
                               const std::string& id_suffix, TcpProxy* proxy = nullptr,
                               std::vector<CallHandle::Stats>* stats = nullptr) {
  std::vector<Outcome> outcomes(calls.size());
  std::vector<Collected> collected(calls.size());
  if (stats != nullptr) stats->assign(calls.size(), {});
  absl::BlockingCounter halfway(static_cast<int>(calls.size()));
  absl::BlockingCounter sent_into_outage(static_cast<int>(calls.size()));
  absl::Notification severed;
  absl::Notification restored;
  std::vector<std::thread> dialers;
  for (size_t c = 0; c < calls.size(); ++c) {
    dialers.emplace_back([&, c] {
      std::vector<v1::Utterance> updates = UpdatesOf(calls[c]);
      for (v1::Utterance& u : updates) u.set_want_verdict(u.is_final());
      v1::CallStart start = CallStartFromTranscript(calls[c]);
      start.set_call_id(calls[c].call_id() + id_suffix);
      auto handle = client.OpenCall(start, collected[c].Callbacks());
      bool counted_halfway = false;
      bool counted_outage = false;
      auto finish = [&] {
        if (!counted_halfway) halfway.DecrementCount();
        if (!counted_outage) sent_into_outage.DecrementCount();
      };
      if (!handle.ok()) {
        outcomes[c].summary = handle.status();
        finish();
        return;
      }
      const size_t middle = updates.size() / 2;
      for (size_t i = 0; i < updates.size(); ++i) {
        if (proxy != nullptr && i == middle) {
          halfway.DecrementCount();
          counted_halfway = true;
          severed.WaitForNotification();
        }
        if (proxy != nullptr && i == middle + 3) {
          sent_into_outage.DecrementCount();
          counted_outage = true;
          restored.WaitForNotification();
        }
        if (absl::Status s = (*handle)->SendUtterance(updates[i]); !s.ok()) {
          outcomes[c].summary = s;
          finish();
          return;
        }
      }
      finish();
      outcomes[c].summary = (*handle)->End("call finished", absl::Seconds(30));
      if (stats != nullptr) (*stats)[c] = (*handle)->stats();
    });
  }
  if (proxy != nullptr) {
    halfway.Wait();
    proxy->Sever();
    severed.Notify();
    sent_into_outage.Wait();
    proxy->Restore();
    restored.Notify();
  }
  for (std::thread& t : dialers) t.join();
  for (size_t c = 0; c < calls.size(); ++c) {
    outcomes[c].alerts = Keys(collected[c].alerts());
    outcomes[c].errors = collected[c].errors();
    outcomes[c].verdicts = collected[c].verdicts().size();
  }
  return outcomes;
}

size_t FinalsIn(const v1::Transcript& transcript) {
  size_t finals = 0;
  for (const v1::Utterance& u : UpdatesOf(transcript)) finals += u.is_final() ? 1 : 0;
  return finals;
}

// The shipped policies and sample calls, shared by the suite.
class SharedStreamOnSampleCallsTest : public SampleCallsSuite {};

TEST_F(SharedStreamOnSampleCallsTest, InterleavedCallsGetWhatCallsOfTheirOwnGet) {
  auto own = CallguardClient::Create(FastReconnect(server_->port()));
  ASSERT_TRUE(own.ok());
  const std::vector<Outcome> reference = StreamAll(**own, *calls_, "-own");
  EXPECT_EQ((*own)->shared_streams(), 0);

  auto shared = CallguardClient::Create(Shared(server_->port(), 100));
  ASSERT_TRUE(shared.ok());
  const std::vector<Outcome> outcomes = StreamAll(**shared, *calls_, "-shared");
  EXPECT_EQ((*shared)->shared_streams(), 1);  // every call on one stream

  bool any_alert = false;
  for (size_t c = 0; c < calls_->size(); ++c) {
    const std::string& id = (*calls_)[c].call_id();
    ASSERT_TRUE(reference[c].summary.ok()) << id << ": " << reference[c].summary.status();
    ASSERT_TRUE(outcomes[c].summary.ok()) << id << ": " << outcomes[c].summary.status();
    EXPECT_EQ(outcomes[c].alerts, reference[c].alerts) << id;
    EXPECT_TRUE(outcomes[c].errors.empty()) << id;
    EXPECT_EQ(outcomes[c].verdicts, FinalsIn((*calls_)[c])) << id;
    EXPECT_EQ(reference[c].verdicts, outcomes[c].verdicts) << id;
    v1::CallSummary expected = *reference[c].summary;
    expected.set_call_id(outcomes[c].summary->call_id());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*outcomes[c].summary, expected))
        << outcomes[c].summary->DebugString() << "\nvs on a stream of its own\n" << expected.DebugString();
    any_alert = any_alert || !outcomes[c].alerts.empty();
  }
  EXPECT_TRUE(any_alert);
  EXPECT_TRUE(Eventually([&] { return server_->registry().active_calls() == 0; }));
}

TEST_F(SharedStreamOnSampleCallsTest, EveryCallOnABrokenStreamResumesWithNothingLostOrRepeated) {
  auto direct = CallguardClient::Create(FastReconnect(server_->port()));
  ASSERT_TRUE(direct.ok());
  const std::vector<Outcome> reference = StreamAll(**direct, *calls_, "-uncut");

  auto proxy = TcpProxy::Create(server_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  auto client = CallguardClient::Create(Shared((*proxy)->port(), 100));
  ASSERT_TRUE(client.ok());
  std::vector<CallHandle::Stats> stats;
  const std::vector<Outcome> outcomes = StreamAll(**client, *calls_, "-cut", proxy->get(), &stats);
  EXPECT_EQ((*client)->shared_streams(), 1);
  EXPECT_GE((*proxy)->forwarded_connections(), 2);

  for (size_t c = 0; c < calls_->size(); ++c) {
    const std::string& id = (*calls_)[c].call_id();
    ASSERT_TRUE(reference[c].summary.ok()) << id << ": " << reference[c].summary.status();
    ASSERT_TRUE(outcomes[c].summary.ok()) << id << ": " << outcomes[c].summary.status();
    EXPECT_EQ(outcomes[c].alerts, reference[c].alerts) << id;  // each once, in order
    EXPECT_TRUE(outcomes[c].errors.empty()) << id;
    EXPECT_EQ(outcomes[c].verdicts, reference[c].verdicts) << id;
    EXPECT_EQ(outcomes[c].summary->turns(), reference[c].summary->turns()) << id;
    EXPECT_EQ(outcomes[c].summary->alerts(), reference[c].summary->alerts()) << id;
    EXPECT_GE(stats[c].reconnects, 1) << id;
    EXPECT_GE(stats[c].resent_events, 3) << id;  // sent into the outage
  }
  EXPECT_TRUE(Eventually([&] { return server_->registry().active_calls() == 0; }));
}

TEST(SharedStreamTest, RefusedStartAndRefusedEventLeaveTheOtherCallsAlone) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  auto client = CallguardClient::Create(Shared(server->port(), 10));
  ASSERT_TRUE(client.ok());

  Collected first_seen;
  auto first = (*client)->OpenCall(StartEvent("shared-first").start(), first_seen.Callbacks());
  ASSERT_TRUE(first.ok()) << first.status();
  Collected second_seen;
  auto second = (*client)->OpenCall(StartEvent("shared-second").start(), second_seen.Callbacks());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ((*client)->shared_streams(), 1);

  Collected refused_seen;
  auto bad_policy =
      (*client)->OpenCall(StartEvent("shared-bad", "no-such-policy").start(), refused_seen.Callbacks());
  ASSERT_FALSE(bad_policy.ok());
  EXPECT_EQ(bad_policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_policy.status().message().find("start.policy"), std::string::npos) << bad_policy.status();
  // The same id again: on another stream (the server would answer it in the first one's name on
  // the same one), refused by the server as on streams of their own.
  auto duplicate = (*client)->OpenCall(StartEvent("shared-first").start(), refused_seen.Callbacks());
  EXPECT_EQ(duplicate.status().code(), absl::StatusCode::kAlreadyExists) << duplicate.status();

  // A refused event of one call goes to that call's error callback only.
  ASSERT_TRUE((*first)->SendUtterance(Said("u1", v1::AGENT, "   ")).ok());
  ASSERT_TRUE((*first)->SendUtterance(Said("u2", v1::AGENT, "hello")).ok());
  ASSERT_TRUE((*second)->SendUtterance(Said("u1", v1::AGENT, kThreat)).ok());

  auto first_summary = (*first)->End("done");
  ASSERT_TRUE(first_summary.ok()) << first_summary.status();
  EXPECT_EQ(first_summary->turns(), 1);
  ASSERT_EQ(first_seen.errors().size(), 1u);
  EXPECT_EQ(first_seen.errors()[0].field(), "utterance.text");
  EXPECT_TRUE(first_seen.alerts().empty());

  auto second_summary = (*second)->End("done");
  ASSERT_TRUE(second_summary.ok()) << second_summary.status();
  EXPECT_EQ(second_summary->turns(), 1);
  EXPECT_TRUE(second_seen.errors().empty());
  ASSERT_EQ(second_seen.alerts().size(), 1u);
  EXPECT_EQ(second_seen.alerts()[0].utterance_id(), "u1");
  EXPECT_TRUE(refused_seen.alerts().empty());
  EXPECT_TRUE((*first)->status().ok());
  EXPECT_TRUE((*second)->status().ok());
}

TEST(SharedStreamTest, MoreCallsThanFitOpenAnotherStreamAndEndAlone) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  auto client = CallguardClient::Create(Shared(server->port(), 2));
  ASSERT_TRUE(client.ok());

  std::vector<Collected> seen(3);
  std::vector<std::unique_ptr<CallHandle>> calls;
  for (int i = 0; i < 3; ++i) {
    auto call = (*client)->OpenCall(StartEvent(absl::StrCat("fits-", i)).start(), seen[i].Callbacks());
    ASSERT_TRUE(call.ok()) << call.status();
    calls.push_back(*std::move(call));
    EXPECT_EQ((*client)->shared_streams(), i < 2 ? 1 : 2) << "after call " << i;
  }
  EXPECT_EQ(server->registry().active_calls(), 3u);

  // Ending one call leaves the others on its stream going.
  ASSERT_TRUE(calls[0]->SendUtterance(Said("u1", v1::AGENT, kThreat)).ok());
  auto summary = calls[0]->End("done");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->alerts(), 1);
  EXPECT_EQ(calls[0]->SendUtterance(Said("u2", v1::AGENT, "hi")).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server->registry().active_calls(), 2u);

  for (int i = 1; i < 3; ++i) {
    ASSERT_TRUE(calls[i]->SendUtterance(Said("u1", v1::AGENT, "hello there")).ok());
    ASSERT_TRUE(calls[i]->SendUtterance(Said("u2", v1::AGENT, kThreat)).ok());
    auto end = calls[i]->End("done");
    ASSERT_TRUE(end.ok()) << "call " << i << ": " << end.status();
    EXPECT_EQ(end->turns(), 2) << "call " << i;
    ASSERT_EQ(seen[i].alerts().size(), 1u) << "call " << i;
    EXPECT_EQ(seen[i].alerts()[0].utterance_id(), "u2");
  }
  EXPECT_EQ(seen[0].alerts().size(), 1u);

  // The room an ended call left is used again: no third stream.
  auto again = (*client)->OpenCall(StartEvent("fits-3").start(), {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*client)->shared_streams(), 2);
  ASSERT_TRUE((*again)->End("done").ok());
}

int ThreadsOfThisProcess() {
  int threads = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task")) ++threads;
  return threads;
}

TEST(SharedStreamTest, ASharedStreamHasTwoThreadsForAllItsCalls) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  auto client = CallguardClient::Create(Shared(server->port(), 100));
  ASSERT_TRUE(client.ok());
  // A first call sets up the channel (and whatever threads gRPC keeps for it).
  auto first = (*client)->OpenCall(StartEvent("threads-0").start(), {});
  ASSERT_TRUE(first.ok()) << first.status();
  const int before = ThreadsOfThisProcess();
  constexpr int kCalls = 40;
  std::vector<std::unique_ptr<CallHandle>> calls;
  for (int i = 1; i <= kCalls; ++i) {
    auto call = (*client)->OpenCall(StartEvent(absl::StrCat("threads-", i)).start(), {});
    ASSERT_TRUE(call.ok()) << call.status();
    calls.push_back(*std::move(call));
  }
  // Streams of their own would have added two threads per call.
  EXPECT_LT(ThreadsOfThisProcess() - before, kCalls / 4);
  EXPECT_EQ((*client)->shared_streams(), 1);
  for (auto& call : calls) {
    ASSERT_TRUE(call->SendUtterance(Said("u1", v1::AGENT, kThreat)).ok());
  }
  for (auto& call : calls) {
    auto summary = call->End("done");
    ASSERT_TRUE(summary.ok()) << call->call_id() << ": " << summary.status();
    EXPECT_EQ(summary->alerts(), 1) << call->call_id();
  }
  ASSERT_TRUE((*first)->End("done").ok());
}

TEST(SharedStreamTest, DestroyingAHandleWithoutEndEndsOnlyThatCall) {
  TempDir dir;
  auto server = StartResumingServer(TestPolicyDir(), nullptr, dir.path() + "/callguard.db");
  ASSERT_NE(server, nullptr);
  auto client = CallguardClient::Create(Shared(server->port(), 10));
  ASSERT_TRUE(client.ok());
  Collected staying_seen;
  auto staying = (*client)->OpenCall(StartEvent("staying").start(), staying_seen.Callbacks());
  ASSERT_TRUE(staying.ok()) << staying.status();
  {
    auto dropped = (*client)->OpenCall(StartEvent("dropped").start(), {});
    ASSERT_TRUE(dropped.ok()) << dropped.status();
    ASSERT_TRUE((*dropped)->SendUtterance(Said("u1", v1::AGENT, kThreat)).ok());
  }
  ASSERT_TRUE(Eventually([&] { return server->registry().active_calls() == 1; }));
  EXPECT_EQ(server->registry().parked_calls(), 0u);
  ASSERT_TRUE(server->store()->Flush().ok());
  auto timeline = server->store()->GetCall("dropped");
  ASSERT_TRUE(timeline.ok()) << timeline.status();
  EXPECT_FALSE(timeline->active());
  EXPECT_EQ(timeline->summary().end_reason(), CallHandle::kAbandonedReason);
  EXPECT_EQ(timeline->summary().alerts(), 1);  // its queued utterance went out before the end

  ASSERT_TRUE((*staying)->SendUtterance(Said("u1", v1::AGENT, kThreat)).ok());
  auto summary = (*staying)->End("done");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->alerts(), 1);
  EXPECT_EQ(staying_seen.alerts().size(), 1u);
}

TEST(SharedStreamTest, ALostResumeLosesOnlyItsOwnCall) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  auto proxy = TcpProxy::Create(server->port());
  ASSERT_TRUE(proxy.ok());
  auto client = CallguardClient::Create(Shared((*proxy)->port(), 10));
  ASSERT_TRUE(client.ok());
  Collected lost_seen;
  auto lost = (*client)->OpenCall(StartEvent("taken-away").start(), lost_seen.Callbacks());
  ASSERT_TRUE(lost.ok()) << lost.status();
  Collected kept_seen;
  auto kept = (*client)->OpenCall(StartEvent("kept").start(), kept_seen.Callbacks());
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_TRUE((*kept)->SendUtterance(Said("u1", v1::AGENT, kThreat)).ok());
  ASSERT_TRUE(Eventually([&] { return kept_seen.alerts().size() == 1; }));

  (*proxy)->Sever();
  ASSERT_TRUE(Eventually([&] { return server->registry().parked_calls() == 2; }));
  // Someone else resumes and ends "taken-away" meanwhile: there is nothing left to resume.
  {
    ConverseClient other(ChannelTo(*server));
    v1::CallEvent resume = StartEvent("taken-away");
    resume.mutable_start()->set_resume(true);
    ASSERT_TRUE(other.Send(resume));
    auto resumed = other.Read();
    ASSERT_TRUE(resumed.has_value() && resumed->has_resumed());
    v1::CallEvent end = EndEvent("taken elsewhere");
    end.set_seq(resumed->resumed().last_applied_seq() + 1);
    ASSERT_TRUE(other.Send(end));
    std::vector<v1::GuardEvent> rest;
    (void)other.Finish(&rest);
  }
  ASSERT_TRUE((*kept)->SendUtterance(Said("u2", v1::AGENT, "sorry, that was wrong of me")).ok());
  ASSERT_TRUE((*kept)->SendUtterance(Said("u3", v1::AGENT, kThreat)).ok());
  (*proxy)->Restore();

  ASSERT_TRUE(Eventually([&] { return !(*lost)->status().ok(); }));
  EXPECT_EQ((*lost)->status().code(), absl::StatusCode::kNotFound) << (*lost)->status();
  ASSERT_TRUE(Eventually([&] { return !lost_seen.errors().empty(); }));
  EXPECT_EQ(lost_seen.errors().back().field(), "start.resume");

  auto summary = (*kept)->End("done", absl::Seconds(20));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->turns(), 3);
  EXPECT_EQ(summary->alerts(), 2);
  EXPECT_EQ(kept_seen.alerts().size(), 2u);
  EXPECT_TRUE(kept_seen.errors().empty());
  EXPECT_GE((*kept)->stats().reconnects, 1);
  EXPECT_TRUE((*kept)->status().ok());
}

}  // namespace
}  // namespace callguard::testing
