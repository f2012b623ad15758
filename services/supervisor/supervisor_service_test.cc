// The Supervisor service over real gRPC on loopback, on a real SQLite store: streaming,
// slow-watcher isolation, acknowledgements and the errors of every method.
#include "supervisor_service.h"

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "sqlite_alert_store.h"

namespace callguard {
namespace {

std::chrono::system_clock::time_point Deadline() {
  // Guards against a hung test; never a timing assertion.
  return std::chrono::system_clock::now() + std::chrono::seconds(60);
}

class SupervisorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*max_buffered=*/4096); }

  void Start(size_t max_buffered) {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "supervisor_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    SqliteAlertStore::Options store_options;
    store_options.path = (std::filesystem::path(dir_) / "alerts.db").string();
    auto store = SqliteAlertStore::Create(std::move(store_options));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    WatchHub::Options hub_options;
    hub_options.store = store_.get();
    hub_options.max_buffered_events = max_buffered;
    auto hub = WatchHub::Create(std::move(hub_options));
    ASSERT_TRUE(hub.ok()) << hub.status();
    hub_ = *std::move(hub);
    service_ = std::make_unique<SupervisorService>(SupervisorService::Options{store_.get(), hub_.get()});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    address_ = absl::StrCat("127.0.0.1:", port);
    stub_ = v1::Supervisor::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override { Stop(); }

  void Stop() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
    }
    server_.reset();
    service_.reset();
    hub_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void StartCall(const std::string& call_id, const std::string& agent) {
    v1::CallStart start;
    start.set_call_id(call_id);
    start.set_policy("us-fdcpa");
    start.mutable_agent()->set_agent_id(agent);
    start.mutable_agency()->set_id("AG-1");
    ASSERT_TRUE(store_->RecordCallStart(start, absl::Now()).ok());
  }

  uint64_t Append(const std::string& call_id, int n, size_t evidence_bytes = 16) {
    v1::Alert alert;
    alert.set_alert_id(absl::StrCat(call_id, "-", n));
    alert.set_call_id(call_id);
    alert.set_turn(n);
    alert.set_violation(v1::PROHIBITED_THREAT);
    alert.set_severity(v1::SEVERITY_HIGH);
    alert.set_rule_id("test.rule");
    alert.add_evidence()->set_text(std::string(evidence_bytes, 'x'));
    *alert.mutable_time() = google::protobuf::Timestamp();
    alert.mutable_time()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    absl::StatusOr<v1::StoredAlert> stored = store_->AppendAlert(alert);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->sequence() : 0;
  }

  // One WatchAlerts stream through the generated stub.
  struct Watch {
    std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
    std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader;

    // Reads until an alert with sequence `last` (or the end); appends alert sequences.
    bool ReadUntil(uint64_t last, std::vector<uint64_t>* sequences, v1::WatchEvent* final_event = nullptr) {
      v1::WatchEvent event;
      while (reader->Read(&event)) {
        if (final_event != nullptr) *final_event = event;
        if (event.has_alert()) {
          sequences->push_back(event.alert().sequence());
          if (event.alert().sequence() >= last) return true;
        }
        if (event.has_fell_behind()) return false;
      }
      return false;
    }
  };

  Watch OpenWatch(const v1::WatchRequest& request, const std::shared_ptr<grpc::Channel>& channel = nullptr) {
    Watch watch;
    watch.context->set_deadline(Deadline());
    auto stub = channel != nullptr ? v1::Supervisor::NewStub(channel) : nullptr;
    watch.reader = (stub != nullptr ? stub.get() : stub_.get())->WatchAlerts(watch.context.get(), request);
    // The CaughtUp says the subscription exists: later appends are live for it.
    v1::WatchEvent event;
    while (watch.reader->Read(&event) && !event.has_caught_up()) {
    }
    EXPECT_TRUE(event.has_caught_up());
    return watch;
  }

  static std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
    std::vector<uint64_t> out;
    for (uint64_t s = first; s <= last; ++s) out.push_back(s);
    return out;
  }

  std::string dir_;
  std::unique_ptr<SqliteAlertStore> store_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<SupervisorService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::unique_ptr<v1::Supervisor::Stub> stub_;
};

TEST_F(SupervisorServiceTest, StreamsStoredThenLiveAlertsAndResumesExactly) {
  StartCall("c1", "A1");
  for (int i = 0; i < 5; ++i) Append("c1", i);
  v1::WatchRequest request;
  request.set_after_sequence(2);
  Watch first;
  first.context->set_deadline(Deadline());
  first.reader = stub_->WatchAlerts(first.context.get(), request);
  std::vector<uint64_t> got;
  ASSERT_TRUE(first.ReadUntil(5, &got));
  EXPECT_EQ(got, Range(3, 5));
  for (int i = 5; i < 8; ++i) Append("c1", i);
  ASSERT_TRUE(first.ReadUntil(8, &got));
  EXPECT_EQ(got, Range(3, 8));
  first.context->TryCancel();
  first.reader->Finish();

  // Alerts stored while nobody watched come first on the next stream, then live ones.
  for (int i = 8; i < 11; ++i) Append("c1", i);
  request.set_after_sequence(got.back());
  Watch second;
  second.context->set_deadline(Deadline());
  second.reader = stub_->WatchAlerts(second.context.get(), request);
  std::vector<uint64_t> more;
  ASSERT_TRUE(second.ReadUntil(11, &more));
  const uint64_t live = Append("c1", 11);
  ASSERT_TRUE(second.ReadUntil(live, &more));
  EXPECT_EQ(more, Range(9, 12));
}

TEST_F(SupervisorServiceTest, AStalledWatcherFallsBehindWhileAnotherGetsEverything) {
  Stop();
  Start(/*max_buffered=*/16);
  StartCall("c1", "A1");
  // Its own connection, with small flow-control windows, so its unread stream backs up into
  // the hub instead of into the client library.
  grpc::ChannelArguments small_window;
  small_window.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  small_window.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  auto stalled_channel = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), small_window);
  Watch stalled = OpenWatch(v1::WatchRequest(), stalled_channel);
  Watch reading = OpenWatch(v1::WatchRequest());

  std::vector<uint64_t> got;
  absl::Mutex mu;
  uint64_t read_up_to = 0;
  std::thread reader([&] {
    v1::WatchEvent event;
    while (reading.reader->Read(&event)) {
      if (!event.has_alert()) continue;
      got.push_back(event.alert().sequence());
      absl::MutexLock lock(&mu);
      read_up_to = event.alert().sequence();
      if (read_up_to >= 600) return;
    }
  });
  // AppendAlert returns only after the hub has the alert, so this loop finishing shows the
  // stalled watcher never held up the store. Every 8 alerts it lets the reading watcher catch
  // up, so that one stays well within its 16-event buffer however the machine schedules it.
  uint64_t last = 0;
  for (int i = 0; i < 600; ++i) {
    last = Append("c1", i, /*evidence_bytes=*/2048);
    if (last % 8 == 0) {
      absl::MutexLock lock(&mu);
      auto caught_up = [&] { return read_up_to >= last; };
      if (!mu.AwaitWithTimeout(absl::Condition(&caught_up), absl::Seconds(60))) {
        ADD_FAILURE() << "the reading watcher stopped at " << read_up_to;
        break;
      }
    }
  }
  reader.join();
  EXPECT_EQ(last, 600u);
  EXPECT_EQ(got, Range(1, 600)) << "the reading watcher got every alert, in order";
  EXPECT_EQ(hub_->fell_behind_count(), 1);

  // Now the stalled watcher reads: a prefix, then FellBehind, then the stream ends.
  std::vector<uint64_t> prefix;
  v1::WatchEvent final_event;
  EXPECT_FALSE(stalled.ReadUntil(600, &prefix, &final_event));
  ASSERT_TRUE(final_event.has_fell_behind()) << final_event.ShortDebugString();
  EXPECT_EQ(prefix, Range(1, prefix.size()));
  EXPECT_LT(prefix.size(), 600u);
  const grpc::Status ended = stalled.reader->Finish();
  EXPECT_TRUE(ended.ok()) << ended.error_message();

  // Resuming where it was told continues exactly.
  v1::WatchRequest resume;
  resume.set_after_sequence(final_event.fell_behind().resume_after_sequence());
  Watch resumed;
  resumed.context->set_deadline(Deadline());
  resumed.reader = stub_->WatchAlerts(resumed.context.get(), resume);
  std::vector<uint64_t> rest = prefix;
  ASSERT_TRUE(resumed.ReadUntil(600, &rest));
  EXPECT_EQ(rest, Range(1, 600));
}

TEST_F(SupervisorServiceTest, AcknowledgementIsStoredAndReachesOtherWatchers) {
  StartCall("c1", "A1");
  const uint64_t sequence = Append("c1", 0);
  Watch other = OpenWatch(v1::WatchRequest());

  v1::AcknowledgeAlertRequest request;
  request.set_sequence(sequence);
  request.set_supervisor("sam");
  request.set_note("spoke to the agent");
  v1::Acknowledgement ack;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->AcknowledgeAlert(&context, request, &ack).ok());
  EXPECT_EQ(ack.alert_sequence(), sequence);
  EXPECT_EQ(ack.supervisor(), "sam");
  EXPECT_GT(ack.ack_sequence(), 0u);

  v1::WatchEvent event;
  ASSERT_TRUE(other.reader->Read(&event));
  ASSERT_TRUE(event.has_acknowledgement()) << event.ShortDebugString();
  EXPECT_EQ(event.acknowledgement().ack_sequence(), ack.ack_sequence());
  EXPECT_EQ(event.acknowledgement().note(), "spoke to the agent");

  v1::ListAlertsRequest list;
  list.set_unacknowledged_only(true);
  v1::ListAlertsResponse listed;
  grpc::ClientContext list_context;
  ASSERT_TRUE(stub_->ListAlerts(&list_context, list, &listed).ok());
  EXPECT_EQ(listed.alerts_size(), 0) << "the only alert is handled";

  grpc::ClientContext again_context;
  const grpc::Status again = stub_->AcknowledgeAlert(&again_context, request, &ack);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(again.error_message().find("sequence"), std::string::npos) << again.error_message();
}

TEST_F(SupervisorServiceTest, ErrorsNameTheField) {
  StartCall("c1", "A1");
  Append("c1", 0);
  struct Case {
    std::string name;
    grpc::Status status;
    grpc::StatusCode code;
    std::string field;
  };
  std::vector<Case> cases;
  auto ack = [&](uint64_t sequence, const std::string& supervisor) {
    v1::AcknowledgeAlertRequest request;
    request.set_sequence(sequence);
    request.set_supervisor(supervisor);
    v1::Acknowledgement response;
    grpc::ClientContext context;
    return stub_->AcknowledgeAlert(&context, request, &response);
  };
  cases.push_back({"ack unknown", ack(99, "sam"), grpc::StatusCode::NOT_FOUND, "sequence"});
  cases.push_back({"ack zero", ack(0, "sam"), grpc::StatusCode::INVALID_ARGUMENT, "sequence"});
  cases.push_back({"ack nobody", ack(1, ""), grpc::StatusCode::INVALID_ARGUMENT, "supervisor"});
  {
    v1::ListAlertsRequest request;
    request.set_page_token("garbage");
    v1::ListAlertsResponse response;
    grpc::ClientContext context;
    cases.push_back({"list token", stub_->ListAlerts(&context, request, &response),
                     grpc::StatusCode::INVALID_ARGUMENT, "page_token"});
  }
  {
    v1::GetCallRequest request;
    request.set_call_id("nope");
    v1::CallTimeline response;
    grpc::ClientContext context;
    cases.push_back({"unknown call", stub_->GetCall(&context, request, &response),
                     grpc::StatusCode::NOT_FOUND, "call_id"});
    grpc::ClientContext empty_context;
    cases.push_back({"no call id", stub_->GetCall(&empty_context, v1::GetCallRequest(), &response),
                     grpc::StatusCode::INVALID_ARGUMENT, "call_id"});
  }
  {
    v1::AlertStatsResponse response;
    grpc::ClientContext context;
    cases.push_back({"stats", stub_->GetAlertStats(&context, v1::AlertStatsRequest(), &response),
                     grpc::StatusCode::INVALID_ARGUMENT, "since"});
  }
  {
    v1::ListActiveCallsRequest request;
    request.mutable_filter()->set_min_severity(v1::SEVERITY_HIGH);
    v1::ListActiveCallsResponse response;
    grpc::ClientContext context;
    cases.push_back({"active filter", stub_->ListActiveCalls(&context, request, &response),
                     grpc::StatusCode::INVALID_ARGUMENT, "filter"});
  }
  auto watch_status = [&](const v1::WatchRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    auto reader = stub_->WatchAlerts(&context, request);
    v1::WatchEvent event;
    while (reader->Read(&event)) {
    }
    return reader->Finish();
  };
  {
    v1::WatchRequest request;
    request.set_after_sequence(1000);
    cases.push_back({"watch beyond", watch_status(request), grpc::StatusCode::OUT_OF_RANGE, "after_sequence"});
    v1::WatchRequest bad_kind;
    bad_kind.mutable_filter()->add_violations(static_cast<v1::ViolationKind>(42));
    cases.push_back({"watch kind", watch_status(bad_kind), grpc::StatusCode::INVALID_ARGUMENT,
                     "filter.violations"});
  }
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.error_code(), c.code) << c.name << ": " << c.status.error_message();
    EXPECT_NE(c.status.error_message().find(c.field), std::string::npos)
        << c.name << ": " << c.status.error_message();
  }
}

TEST_F(SupervisorServiceTest, HubShutdownEndsStreamsWithUnavailable) {
  Watch watch = OpenWatch(v1::WatchRequest());
  hub_->Shutdown();
  v1::WatchEvent event;
  while (watch.reader->Read(&event)) {
  }
  EXPECT_EQ(watch.reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace callguard
