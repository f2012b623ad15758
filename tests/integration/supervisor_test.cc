// Supervisors against the real server with its alert store: alerts streamed through Converse
// reach watchers once stored, calls are recorded with their timeline, filters, resuming by
// sequence, a stalled watcher, acknowledgements.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "policy_loader.h"
#include "supervisor_support.h"
#include "test_support.h"

namespace callguard::testing {
namespace {

class SupervisorTest : public ::testing::Test {
 protected:
  void Start(StoreServerSetup setup = {}) {
    setup.db_path = dir_.path() + "/callguard.db";
    server_ = StartServerWithStore(setup);
    ASSERT_NE(server_, nullptr);
    channel_ = ChannelTo(*server_);
    stub_ = v1::Supervisor::NewStub(channel_);
  }

  // One call with a threat and, if `disclose`, a third-party disclosure: two alerts (one).
  std::vector<v1::Alert> ThreatCall(const std::string& call_id, const std::string& agent,
                                    bool disclose = true, bool end = true) {
    ConverseClient call(channel_);
    EXPECT_TRUE(call.Send(StartEventFor(call_id, agent)));
    EXPECT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, "pay today or the police will arrest you")));
    if (disclose) {
      EXPECT_TRUE(call.Send(UtteranceEvent("u2", v1::COUNTERPARTY, "who is this")));
      EXPECT_TRUE(call.Send(UtteranceEvent("u3", v1::AGENT, "you owe us four hundred dollars")));
    }
    std::vector<v1::Alert> alerts = AlertsIn(call.Drain());
    if (end) {
      EXPECT_TRUE(call.Send(EndEvent("hangup")));
      EXPECT_TRUE(call.Finish().ok());
    }
    return alerts;
  }

  TempDir dir_;
  std::unique_ptr<CallguardServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Supervisor::Stub> stub_;
};

TEST_F(SupervisorTest, ConverseAlertsReachWatchersAndTheCallIsRecorded) {
  Start();
  WatchStream watcher(channel_, v1::WatchRequest());
  watcher.UntilCaughtUp();

  ConverseClient call(channel_);
  v1::CallEvent start = StartEventFor("call-1", "A1042", "north");
  ASSERT_TRUE(call.Send(start));
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, "Mr Smith the police will ARREST you",
                                       /*is_final=*/false)));
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, "Mr Smith the police will ARREST you today")));
  ASSERT_TRUE(call.Send(UtteranceEvent("u2", v1::COUNTERPARTY, "who is this")));
  ASSERT_TRUE(call.Send(UtteranceEvent("u3", v1::AGENT, "you owe us four hundred dollars")));
  const std::vector<v1::Alert> sent = AlertsIn(call.Drain());
  ASSERT_EQ(sent.size(), 2u);

  // The watcher gets the same alerts, numbered in order, with what the store knows.
  const std::vector<v1::StoredAlert> watched = watcher.Alerts(2);
  ASSERT_EQ(watched.size(), 2u);
  EXPECT_EQ(SequencesOf(watched), SequenceRange(1, 2));
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(watched[i].alert().alert_id(), sent[i].alert_id());
    EXPECT_EQ(watched[i].alert().rule_id(), sent[i].rule_id());
    EXPECT_EQ(watched[i].team(), "north");
    EXPECT_EQ(watched[i].agent_name(), "Mark Lee");
    EXPECT_TRUE(watched[i].has_stored_time());
  }
  EXPECT_TRUE(watched[0].alert().interim()) << "raised on the interim result";

  // Everything recorded before a durable alert is durable too: the call shows as active.
  v1::ListActiveCallsResponse active;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->ListActiveCalls(&context, v1::ListActiveCallsRequest(), &active).ok());
  }
  ASSERT_EQ(active.calls_size(), 1);
  EXPECT_EQ(active.calls(0).call_id(), "call-1");
  EXPECT_EQ(active.calls(0).agent().agent_id(), "A1042");
  EXPECT_EQ(active.calls(0).alert_count(), 2);
  EXPECT_EQ(active.calls(0).party(), v1::PARTY_UNKNOWN);

  v1::CallEvent verified = PartyEvent(v1::PARTY_DEBTOR);
  verified.mutable_party_update()->set_note("verified date of birth");
  ASSERT_TRUE(call.Send(verified));
  ASSERT_TRUE(call.Send(EndEvent("hangup")));
  ASSERT_TRUE(call.Finish().ok());
  ASSERT_TRUE(server_->store()->Flush().ok());

  v1::GetCallRequest get;
  get.set_call_id("call-1");
  v1::CallTimeline timeline;
  {
    grpc::ClientContext context;
    const grpc::Status status = stub_->GetCall(&context, get, &timeline);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_FALSE(timeline.active());
  EXPECT_EQ(timeline.start().call_id(), "call-1");
  ASSERT_EQ(timeline.utterances_size(), 3) << "final results only";
  EXPECT_EQ(timeline.utterances(0).text(), "Mr Smith the police will ARREST you today");
  EXPECT_EQ(timeline.utterances(0).turn(), 0);
  EXPECT_EQ(timeline.utterances(1).speaker(), v1::COUNTERPARTY);
  EXPECT_EQ(timeline.utterances(2).turn(), 2);
  ASSERT_EQ(timeline.alerts_size(), 2);
  EXPECT_EQ(timeline.alerts(1).alert().rule_id(), "test.disclosure.debt");
  bool dialer_change = false;
  for (const v1::PartyChange& change : timeline.party_changes()) {
    if (!change.from_dialer()) continue;
    dialer_change = true;
    EXPECT_EQ(change.party(), v1::PARTY_DEBTOR);
    EXPECT_EQ(change.after_turn(), 2);
    EXPECT_NE(change.note().find("verified date of birth"), std::string::npos) << change.note();
  }
  EXPECT_TRUE(dialer_change) << timeline.ShortDebugString();
  EXPECT_EQ(timeline.summary().end_reason(), "hangup");
  EXPECT_EQ(timeline.summary().alerts(), 2);
  EXPECT_EQ(timeline.summary().party(), v1::PARTY_DEBTOR);

  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListActiveCalls(&context, v1::ListActiveCallsRequest(), &active).ok());
  EXPECT_EQ(active.calls_size(), 0);
}

TEST_F(SupervisorTest, PartyChangesInferredFromSpeechAreRecorded) {
  StoreServerSetup setup;
  setup.policy_dir = DefaultPolicyDirectory();
  Start(setup);
  ConverseClient call(channel_);
  ASSERT_TRUE(call.Send(StartEvent("call-infer", "us-fdcpa")));
  ASSERT_TRUE(call.Send(UtteranceEvent(
      "u1", v1::AGENT, "Hi, this is Mark Lee from Summit Recovery Services, may I speak with John Smith?")));
  ASSERT_TRUE(call.Send(UtteranceEvent("u2", v1::COUNTERPARTY, "Speaking, this is John.")));
  call.Drain();
  ASSERT_TRUE(call.Send(EndEvent("hangup")));
  std::vector<v1::GuardEvent> rest;
  ASSERT_TRUE(call.Finish(&rest).ok());
  ASSERT_FALSE(rest.empty());
  const v1::CallSummary& summary = rest.back().summary();
  ASSERT_TRUE(server_->store()->Flush().ok());

  v1::GetCallRequest get;
  get.set_call_id("call-infer");
  v1::CallTimeline timeline;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetCall(&context, get, &timeline).ok());
  // Whatever the policy inferred, the last recorded state is the summary's, and every change
  // was inferred (the dialer sent none).
  ASSERT_GT(timeline.party_changes_size(), 0) << summary.ShortDebugString();
  const v1::PartyChange& last = timeline.party_changes(timeline.party_changes_size() - 1);
  EXPECT_EQ(last.party(), summary.party());
  EXPECT_EQ(last.agent_identified(), summary.agent_identified());
  EXPECT_EQ(last.debt_collector_disclosed(), summary.debt_collector_disclosed());
  for (const v1::PartyChange& change : timeline.party_changes()) {
    EXPECT_FALSE(change.from_dialer());
    EXPECT_NE(change.note().find("inferred from turn"), std::string::npos) << change.note();
  }
  EXPECT_EQ(summary.party(), v1::PARTY_DEBTOR) << "\"speaking\" answers for the debtor";
}

TEST_F(SupervisorTest, FiltersApplyToLiveAlerts) {
  Start();
  v1::WatchRequest by_agent;
  by_agent.mutable_filter()->add_agent_ids("A1");
  by_agent.mutable_filter()->set_min_severity(v1::SEVERITY_CRITICAL);
  WatchStream critical_a1(channel_, by_agent);
  critical_a1.UntilCaughtUp();
  v1::WatchRequest by_kind;
  by_kind.mutable_filter()->add_violations(v1::THIRD_PARTY_DISCLOSURE);
  WatchStream disclosures(channel_, by_kind);
  disclosures.UntilCaughtUp();

  ThreatCall("a1-first", "A1");
  ThreatCall("a2-first", "A2");
  ThreatCall("a2-second", "A2");
  ThreatCall("a1-last", "A1");  // its threat ends the first watcher's wait, its disclosure the second's

  const std::vector<v1::StoredAlert> a1 = critical_a1.Alerts(2);
  ASSERT_EQ(a1.size(), 2u);
  EXPECT_EQ(a1[0].alert().call_id(), "a1-first");
  EXPECT_EQ(a1[1].alert().call_id(), "a1-last");
  for (const auto& stored : a1) EXPECT_EQ(stored.alert().violation(), v1::PROHIBITED_THREAT);

  const std::vector<v1::StoredAlert> disclosed = disclosures.Alerts(4);
  ASSERT_EQ(disclosed.size(), 4u);
  std::vector<std::string> calls;
  for (const auto& stored : disclosed) {
    EXPECT_EQ(stored.alert().violation(), v1::THIRD_PARTY_DISCLOSURE);
    calls.push_back(stored.alert().call_id());
  }
  EXPECT_EQ(calls, (std::vector<std::string>{"a1-first", "a2-first", "a2-second", "a1-last"}));

  // The same filter over the stored history gives the same alerts.
  WatchStream replay(channel_, [&] {
    v1::WatchRequest request = by_kind;
    request.set_after_sequence(0);
    return request;
  }());
  EXPECT_EQ(SequencesOf(replay.UntilCaughtUp()), SequencesOf(disclosed));
}

TEST_F(SupervisorTest, ReconnectingWatcherResumesWithNoGapAndNoDuplicate) {
  Start();
  std::vector<uint64_t> seen;
  {
    WatchStream watcher(channel_, v1::WatchRequest());
    watcher.UntilCaughtUp();
    ThreatCall("before-1", "A1");
    ThreatCall("before-2", "A1");
    for (const auto& stored : watcher.Alerts(3)) seen.push_back(stored.sequence());
    watcher.Cancel();  // read 3 of the 4; the 4th was sent but never read
  }
  // While it is away, more alerts.
  ThreatCall("away-1", "A1");
  ThreatCall("away-2", "A2", /*disclose=*/false);
  // The dialers got their alerts at once; these are stored a moment later.
  ASSERT_TRUE(server_->store()->Flush().ok());

  WatchStream again(channel_, WatchAfter(seen.back()));
  const std::vector<v1::StoredAlert> replayed = again.UntilCaughtUp();
  EXPECT_EQ(SequencesOf(replayed), SequenceRange(4, 7));
  for (const auto& stored : replayed) seen.push_back(stored.sequence());
  ThreatCall("live", "A1", /*disclose=*/false);
  for (const auto& stored : again.Alerts(1)) seen.push_back(stored.sequence());
  EXPECT_EQ(seen, SequenceRange(1, 8));

  // The sequences are the store's: the history lists the same ones.
  v1::ListAlertsRequest list;
  list.set_oldest_first(true);
  v1::ListAlertsResponse listed;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ListAlerts(&context, list, &listed).ok());
  std::vector<uint64_t> history;
  for (const auto& stored : listed.alerts()) history.push_back(stored.sequence());
  EXPECT_EQ(history, seen);
}

TEST_F(SupervisorTest, AStalledWatcherSlowsNeitherCallsNorOtherWatchers) {
  StoreServerSetup setup;
  setup.watch_buffer_events = 16;
  Start(setup);
  // Small flow-control windows on its own connection: its unread alerts back up into the
  // server's per-watcher buffer rather than the client library.
  grpc::ChannelArguments small_window;
  small_window.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  small_window.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  WatchStream stalled(grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(),
                                                small_window),
                      v1::WatchRequest());
  stalled.UntilCaughtUp();
  WatchStream reading(channel_, v1::WatchRequest());
  reading.UntilCaughtUp();

  constexpr int kRounds = 40;
  constexpr int kPerRound = 8;
  constexpr size_t kTotal = kRounds * kPerRound;
  absl::Mutex mu;
  std::vector<uint64_t> read_by_watcher;
  std::thread reader([&] {
    while (auto event = reading.Next()) {
      if (!event->has_alert()) continue;
      absl::MutexLock lock(&mu);
      read_by_watcher.push_back(event->alert().sequence());
      if (read_by_watcher.size() == kTotal) return;
    }
  });

  ConverseClient call(channel_);
  ASSERT_TRUE(call.Send(StartEvent("flood")));
  size_t dialer_alerts = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kPerRound; ++i) {
      ASSERT_TRUE(call.Send(UtteranceEvent(absl::StrCat("u", round, "-", i), v1::AGENT,
                                           absl::StrCat("number ", i, " you will be arrested"))));
    }
    dialer_alerts += AlertsIn(call.Drain()).size();
    // The reading watcher keeps up round by round (its buffer holds 16), so only the stalled
    // one can fall behind, however the machine schedules the threads.
    absl::MutexLock lock(&mu);
    auto caught_up = [&] { return read_by_watcher.size() >= dialer_alerts; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&caught_up), absl::Seconds(60)));
  }
  EXPECT_EQ(dialer_alerts, kTotal) << "the dialer got every alert";
  ASSERT_TRUE(call.Send(EndEvent("done")));
  EXPECT_TRUE(call.Finish().ok());
  reader.join();
  EXPECT_EQ(read_by_watcher, SequenceRange(1, kTotal));
  EXPECT_EQ(server_->hub()->fell_behind_count(), 1);

  std::vector<v1::WatchEvent> rest;
  const grpc::Status ended = stalled.Finish(&rest);
  EXPECT_TRUE(ended.ok()) << ended.error_message();
  ASSERT_FALSE(rest.empty());
  ASSERT_TRUE(rest.back().has_fell_behind()) << rest.back().ShortDebugString();
  std::vector<uint64_t> got;
  for (const auto& event : rest) {
    if (event.has_alert()) got.push_back(event.alert().sequence());
  }
  EXPECT_LT(got.size(), kTotal);
  EXPECT_EQ(got, SequenceRange(1, got.size()));
  WatchStream resumed(channel_, WatchAfter(rest.back().fell_behind().resume_after_sequence()));
  for (const auto& stored : resumed.UntilCaughtUp()) got.push_back(stored.sequence());
  EXPECT_EQ(got, SequenceRange(1, kTotal));
}

TEST_F(SupervisorTest, AcknowledgementIsStoredAndShownToEveryWatcher) {
  Start();
  WatchStream first(channel_, v1::WatchRequest());
  first.UntilCaughtUp();
  WatchStream second(channel_, v1::WatchRequest());
  second.UntilCaughtUp();
  ThreatCall("ack-call", "A1", /*disclose=*/false);
  const uint64_t sequence = first.Alerts(1).at(0).sequence();
  ASSERT_EQ(second.Alerts(1).at(0).sequence(), sequence);

  v1::AcknowledgeAlertRequest request;
  request.set_sequence(sequence);
  request.set_supervisor("sam");
  request.set_note("coached the agent");
  v1::Acknowledgement ack;
  {
    grpc::ClientContext context;
    const grpc::Status status = stub_->AcknowledgeAlert(&context, request, &ack);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  for (WatchStream* watcher : {&first, &second}) {
    auto event = watcher->Next();
    ASSERT_TRUE(event.has_value());
    ASSERT_TRUE(event->has_acknowledgement()) << event->ShortDebugString();
    EXPECT_EQ(event->acknowledgement().ack_sequence(), ack.ack_sequence());
    EXPECT_EQ(event->acknowledgement().alert_sequence(), sequence);
    EXPECT_EQ(event->acknowledgement().supervisor(), "sam");
    EXPECT_EQ(event->acknowledgement().note(), "coached the agent");
  }
  v1::GetCallRequest get;
  get.set_call_id("ack-call");
  v1::CallTimeline timeline;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->GetCall(&context, get, &timeline).ok());
  ASSERT_EQ(timeline.alerts_size(), 1);
  EXPECT_EQ(timeline.alerts(0).acknowledgement().supervisor(), "sam");
}

TEST_F(SupervisorTest, TheDashboardIsServedWithTheMetricsOfTheCalls) {
  StoreServerSetup setup;
  setup.http_listen = "127.0.0.1:0";
  Start(setup);
  ASSERT_NE(server_->dashboard(), nullptr);
  EXPECT_NE(server_->ReadyLine().find("dashboard: " + server_->dashboard()->url()), std::string::npos)
      << server_->ReadyLine();
  ThreatCall("metrics-call", "A1");
  ASSERT_TRUE(server_->store()->Flush().ok());

  const std::string dashboard = server_->dashboard()->address();
  int status = 0;
  HttpGet(dashboard, "/healthz", &status);
  EXPECT_EQ(status, 200);
  const std::string metrics = HttpGet(dashboard, "/metrics", &status);
  EXPECT_EQ(status, 200);
  for (const char* line : {"callguard_calls_started_total 1\n", "callguard_active_calls 0\n",
                           "callguard_utterances_total 3\n",
                           "callguard_alerts_total{kind=\"PROHIBITED_THREAT\"} 1\n",
                           "callguard_alerts_total{kind=\"THIRD_PARTY_DISCLOSURE\"} 1\n"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << " in:\n" << metrics;
  }
  // The store's commits are timed: at least the call's start, utterances, alerts and end.
  const std::string rows = "\ncallguard_store_rows_written_total ";
  const size_t at = metrics.find(rows);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_GE(std::stoi(metrics.substr(at + rows.size())), 7) << metrics;

  // The dashboard reads the same store: the call's alerts are in its API.
  const std::string alerts = HttpGet(dashboard, "/api/alerts", &status);
  EXPECT_EQ(status, 200);
  EXPECT_NE(alerts.find("metrics-call"), std::string::npos) << alerts;
}

TEST_F(SupervisorTest, AServerWithoutAStoreHasNoSupervisorService) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->store(), nullptr);
  WatchStream watcher(ChannelTo(*server), v1::WatchRequest());
  EXPECT_EQ(watcher.Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace callguard::testing
