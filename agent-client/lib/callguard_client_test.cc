// The client library against the real server on loopback, through a TCP proxy the tests cut
// mid-call the way a network fault does.
#include "callguard_client.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "client_test_util.h"
#include "gtest/gtest.h"
#include "replay.h"
#include "tcp_proxy.h"
#include "test_support.h"
#include "transcript_io.h"

namespace callguard::testing {
namespace {

using client::CallCallbacks;
using client::CallguardClient;
using client::CallHandle;

// The shipped policies and sample calls: compiled once for the suite.
class ClientOnSampleCallsTest : public SampleCallsSuite {
 protected:
  // What an in-process replay of the same updates raises: the reference.
  static std::vector<std::string> ReferenceAlerts(const v1::Transcript& transcript) {
    ReplayOptions options;
    options.interim_results = true;
    auto alerts = ReplayTranscript(server_->engines().Current(), transcript, options);
    EXPECT_TRUE(alerts.ok()) << alerts.status();
    return alerts.ok() ? Keys(*alerts) : std::vector<std::string>{};
  }
};

TEST_F(ClientOnSampleCallsTest, SeveredConnectionLosesNoAlertAndRepeatsNone) {
  // The sample call with the most alerts.
  const v1::Transcript* call = nullptr;
  size_t most = 0;
  for (const v1::Transcript& t : *calls_) {
    if (ReferenceAlerts(t).size() > most) {
      most = ReferenceAlerts(t).size();
      call = &t;
    }
  }
  ASSERT_NE(call, nullptr);
  const std::vector<std::string> reference = ReferenceAlerts(*call);
  const std::vector<v1::Utterance> updates = UpdatesOf(*call);
  ASSERT_GT(updates.size(), 20u);

  // The same call uninterrupted, straight to the server: the summary to match.
  auto direct_client = CallguardClient::Create(FastReconnect(server_->port()));
  ASSERT_TRUE(direct_client.ok());
  v1::CallStart direct_start = CallStartFromTranscript(*call);
  direct_start.set_call_id(call->call_id() + "-direct");
  Collected direct;
  auto direct_call = (*direct_client)->OpenCall(direct_start, direct.Callbacks());
  ASSERT_TRUE(direct_call.ok()) << direct_call.status();
  for (const v1::Utterance& u : updates) ASSERT_TRUE((*direct_call)->SendUtterance(u).ok());
  auto direct_summary = (*direct_call)->End("call finished", absl::Seconds(20));
  ASSERT_TRUE(direct_summary.ok()) << direct_summary.status();
  EXPECT_EQ(Keys(direct.alerts()), reference);

  // Through the proxy, cut twice: at a quarter and at three quarters of the call, with events
  // sent while the network is down each time.
  auto proxy = TcpProxy::Create(server_->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  auto client = CallguardClient::Create(FastReconnect((*proxy)->port()));
  ASSERT_TRUE(client.ok());
  Collected cut;
  auto handle = (*client)->OpenCall(CallStartFromTranscript(*call), cut.Callbacks());
  ASSERT_TRUE(handle.ok()) << handle.status();
  const size_t n = updates.size();
  const size_t cuts[] = {n / 4, 3 * n / 4};
  for (size_t i = 0; i < n; ++i) {
    for (size_t at : cuts) {
      if (i == at) {
        const int before = (*handle)->stats().reconnects;
        (*proxy)->Sever();
        ASSERT_TRUE(Eventually([&] { return (*handle)->stats().reconnects > before; }));
      }
      if (i == at + 5) {
        const int forwarded = (*proxy)->forwarded_connections();
        (*proxy)->Restore();
        // Resumed before the next cut, so each cut breaks a live stream.
        ASSERT_TRUE(Eventually([&] { return (*proxy)->forwarded_connections() > forwarded; }));
      }
    }
    ASSERT_TRUE((*handle)->SendUtterance(updates[i]).ok()) << "update " << i;
  }
  auto summary = (*handle)->End("call finished", absl::Seconds(20));
  ASSERT_TRUE(summary.ok()) << summary.status();

  EXPECT_EQ(Keys(cut.alerts()), reference);  // each alert once, in order
  EXPECT_TRUE(cut.errors().empty());
  v1::CallSummary expected = *direct_summary;
  expected.set_call_id(call->call_id());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*summary, expected))
      << summary->DebugString() << "\nvs uninterrupted\n" << expected.DebugString();
  EXPECT_GE((*handle)->stats().reconnects, 2);
  EXPECT_GE((*handle)->stats().resent_events, 10);  // the 5 sent during each outage, at least
  EXPECT_GE((*proxy)->forwarded_connections(), 3);
  EXPECT_TRUE((*handle)->status().ok());
  EXPECT_TRUE(Eventually([&] { return server_->registry().active_calls() == 0; }));
}

TEST_F(ClientOnSampleCallsTest, ManyThreadsStreamTheirOwnCallsThroughOneClient) {
  auto proxy = TcpProxy::Create(server_->port());
  ASSERT_TRUE(proxy.ok());
  auto client = CallguardClient::Create(FastReconnect((*proxy)->port()));
  ASSERT_TRUE(client.ok());
  const size_t calls = calls_->size();
  std::vector<Collected> collected(calls);
  std::vector<absl::StatusOr<v1::CallSummary>> summaries(calls, absl::UnknownError("not run"));
  absl::BlockingCounter halfway(static_cast<int>(calls));
  absl::Notification restored;
  std::vector<std::thread> dialers;
  for (size_t c = 0; c < calls; ++c) {
    dialers.emplace_back([&, c] {
      const v1::Transcript& call = (*calls_)[c];
      const std::vector<v1::Utterance> updates = UpdatesOf(call);
      v1::CallStart start = CallStartFromTranscript(call);
      start.set_call_id(call.call_id() + "-threaded");
      auto handle = (*client)->OpenCall(start, collected[c].Callbacks());
      if (!handle.ok()) {
        summaries[c] = handle.status();
        halfway.DecrementCount();
        return;
      }
      for (size_t i = 0; i < updates.size(); ++i) {
        if (i == updates.size() / 2) {
          halfway.DecrementCount();
          restored.WaitForNotification();
        }
        if (absl::Status s = (*handle)->SendUtterance(updates[i]); !s.ok()) {
          summaries[c] = s;
          return;
        }
      }
      summaries[c] = (*handle)->End("call finished", absl::Seconds(30));
    });
  }
  halfway.Wait();
  (*proxy)->Sever();  // every call breaks at once
  (*proxy)->Restore();
  restored.Notify();
  for (std::thread& t : dialers) t.join();
  for (size_t c = 0; c < calls; ++c) {
    const v1::Transcript& call = (*calls_)[c];
    ASSERT_TRUE(summaries[c].ok()) << call.call_id() << ": " << summaries[c].status();
    EXPECT_EQ(summaries[c]->turns(), call.turns_size()) << call.call_id();
    EXPECT_EQ(Keys(collected[c].alerts()), ReferenceAlerts(call)) << call.call_id();
  }
}

TEST(ClientTest, GraceExpiryMakesTheCallReportNotFound) {
  FakeClock clock;
  auto server = StartResumingServer(TestPolicyDir(), &clock);
  ASSERT_NE(server, nullptr);
  auto proxy = TcpProxy::Create(server->port());
  ASSERT_TRUE(proxy.ok());
  auto client = CallguardClient::Create(FastReconnect((*proxy)->port()));
  ASSERT_TRUE(client.ok());
  Collected collected;
  auto handle = (*client)->OpenCall(StartEvent("expiring-1").start(), collected.Callbacks());
  ASSERT_TRUE(handle.ok()) << handle.status();
  ASSERT_TRUE((*handle)->SendUtterance(UtteranceEvent("u1", v1::AGENT, "hello there").utterance()).ok());
  (*proxy)->Sever();
  ASSERT_TRUE(Eventually([&] { return server->registry().parked_calls() == 1; }));
  clock.Advance(absl::Seconds(31));
  EXPECT_EQ(server->registry().SweepIdle(), 1);
  (*proxy)->Restore();

  ASSERT_TRUE(Eventually([&] { return !(*handle)->status().ok(); }));
  const absl::Status lost = (*handle)->status();
  EXPECT_EQ(lost.code(), absl::StatusCode::kNotFound) << lost;
  EXPECT_NE(lost.message().find("could not be resumed"), std::string::npos) << lost;
  EXPECT_NE(lost.message().find("expiring-1"), std::string::npos) << lost;
  EXPECT_EQ((*handle)->SendUtterance(UtteranceEvent("u2", v1::AGENT, "hi").utterance()).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ((*handle)->End("done").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(Eventually([&] { return !collected.errors().empty(); }));
  EXPECT_EQ(collected.errors().back().field(), "start.resume");
  EXPECT_EQ(collected.errors().back().code(), static_cast<int>(absl::StatusCode::kNotFound));
}

TEST(ClientTest, RefusedStartsAndEventsComeBackAsErrors) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  auto client = CallguardClient::Create(FastReconnect(server->port()));
  ASSERT_TRUE(client.ok());

  Collected collected;
  auto bad_policy = (*client)->OpenCall(StartEvent("bad-policy", "no-such-policy").start(), collected.Callbacks());
  ASSERT_FALSE(bad_policy.ok());
  EXPECT_EQ(bad_policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_policy.status().message().find("start.policy"), std::string::npos) << bad_policy.status();

  auto first = (*client)->OpenCall(StartEvent("twice").start(), collected.Callbacks());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = (*client)->OpenCall(StartEvent("twice").start(), collected.Callbacks());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);

  // A refused event goes to the error callback and the call goes on.
  v1::Utterance blank = UtteranceEvent("u1", v1::AGENT, "   ").utterance();
  ASSERT_TRUE((*first)->SendUtterance(blank).ok());
  ASSERT_TRUE((*first)->SendUtterance(UtteranceEvent("u2", v1::AGENT, "hello").utterance()).ok());
  auto summary = (*first)->End("done");
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->turns(), 1);
  ASSERT_EQ(collected.errors().size(), 1u);
  EXPECT_EQ(collected.errors()[0].field(), "utterance.text");
  EXPECT_EQ((*first)->SendUtterance(blank).code(), absl::StatusCode::kFailedPrecondition);

  auto no_server = CallguardClient::Create([] {
    CallguardClient::Options options = FastReconnect(1);  // nothing listens on port 1
    options.open_timeout = absl::Milliseconds(300);
    return options;
  }());
  ASSERT_TRUE(no_server.ok());
  EXPECT_EQ((*no_server)->OpenCall(StartEvent("nobody").start(), {}).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ClientTest, BufferIsBoundedWhileTheNetworkIsDown) {
  auto server = StartResumingServer(TestPolicyDir());
  ASSERT_NE(server, nullptr);
  auto proxy = TcpProxy::Create(server->port());
  ASSERT_TRUE(proxy.ok());
  CallguardClient::Options options = FastReconnect((*proxy)->port());
  options.max_buffered_events = 40;
  auto client = CallguardClient::Create(options);
  ASSERT_TRUE(client.ok());
  auto handle = (*client)->OpenCall(StartEvent("bounded-1").start(), {});
  ASSERT_TRUE(handle.ok()) << handle.status();
  (*proxy)->Sever();
  ASSERT_TRUE(Eventually([&] { return (*handle)->stats().reconnects >= 1; }));
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE((*handle)->SendUtterance(
        UtteranceEvent(absl::StrCat("u", i), v1::COUNTERPARTY, "uh huh").utterance()).ok()) << i;
  }
  const absl::Status full =
      (*handle)->SendUtterance(UtteranceEvent("u40", v1::COUNTERPARTY, "uh huh").utterance());
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  (*proxy)->Restore();
  auto summary = (*handle)->End("done", absl::Seconds(20));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->turns(), 40);
  EXPECT_GE((*handle)->stats().resent_events, 40);
}

TEST(ClientTest, RejectsOptionsItCannotHonour) {
  CallguardClient::Options options;
  EXPECT_EQ(CallguardClient::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.target = "127.0.0.1:1";
  options.max_buffered_events = 8;
  EXPECT_EQ(CallguardClient::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace callguard::testing
