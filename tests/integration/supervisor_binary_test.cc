// The built programs as child processes: callguard-server killed with SIGKILL mid-call keeps
// every alert it delivered, and `callguard watch` tails alerts, acknowledgements and resumes
// across a server restart.
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "child_process.h"
#include "gtest/gtest.h"
#include "supervisor_support.h"
#include "test_support.h"

namespace callguard::testing {
namespace {

// callguard-server on 127.0.0.1 with its store in `db_path`; `port` 0 picks one.
class ServerProcess {
 public:
  ServerProcess(const std::string& db_path, int port = 0)
      : process_(CALLGUARD_SERVER_BINARY,
                 {"--listen", absl::StrCat("127.0.0.1:", port), "--policies", TestPolicyDir(),
                  "--db", db_path, "--http-listen", "127.0.0.1:0"}) {
    const auto ready = process_.StdoutLine();
    if (!ready.has_value()) {
      std::string log;
      while (auto line = process_.StderrLine(absl::Seconds(5))) log += *line + "\n";
      ADD_FAILURE() << "the server exited before it was ready:\n" << log;
      return;
    }
    ready_line_ = *ready;
    std::smatch match;
    if (!std::regex_search(*ready, match, std::regex(R"(listening on (127\.0\.0\.1:(\d+)))"))) {
      ADD_FAILURE() << *ready;
      return;
    }
    address_ = match[1].str();
    port_ = std::stoi(match[2].str());
  }

  const std::string& address() const { return address_; }
  int port() const { return port_; }
  const std::string& ready_line() const { return ready_line_; }
  ChildProcess& process() { return process_; }
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  }

 private:
  ChildProcess process_;
  std::string ready_line_;
  std::string address_;
  int port_ = 0;
};

v1::ListAlertsResponse ListAll(v1::Supervisor::Stub& stub) {
  v1::ListAlertsRequest request;
  request.set_oldest_first(true);
  request.set_page_size(1000);
  v1::ListAlertsResponse response;
  grpc::ClientContext context;
  const grpc::Status status = stub.ListAlerts(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

TEST(SupervisorBinaryTest, AlertsDeliveredBeforeASigkillSurviveTheRestart) {
  TempDir dir;
  const std::string db = dir.path() + "/callguard.db";
  std::vector<v1::StoredAlert> delivered;
  std::vector<v1::Alert> dialer_alerts;
  {
    ServerProcess server(db);
    ASSERT_FALSE(server.address().empty());
    EXPECT_NE(server.ready_line().find("alert store: " + db), std::string::npos) << server.ready_line();
    auto channel = server.Channel();
    WatchStream watcher(channel, v1::WatchRequest());
    watcher.UntilCaughtUp();

    ConverseClient call(channel);
    ASSERT_TRUE(call.Send(StartEventFor("killed-call", "A7", "west")));
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(call.Send(UtteranceEvent(absl::StrCat("u", i), v1::AGENT,
                                           absl::StrCat("number ", i, " you will be arrested"))));
    }
    dialer_alerts = AlertsIn(call.Drain());
    ASSERT_EQ(dialer_alerts.size(), 5u);
    delivered = watcher.Alerts(5);
    ASSERT_EQ(delivered.size(), 5u);
    // Mid-call, with the stream still open: no goodbye of any kind.
    server.process().Signal(SIGKILL);
    const int status = server.process().Wait();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }

  ServerProcess restarted(db);
  ASSERT_FALSE(restarted.address().empty());
  auto channel = restarted.Channel();
  auto stub = v1::Supervisor::NewStub(channel);
  const v1::ListAlertsResponse listed = ListAll(*stub);
  std::map<uint64_t, std::string> stored;
  for (const auto& alert : listed.alerts()) stored[alert.sequence()] = alert.alert().alert_id();
  for (size_t i = 0; i < delivered.size(); ++i) {
    ASSERT_TRUE(stored.count(delivered[i].sequence())) << "alert " << delivered[i].sequence() << " lost";
    EXPECT_EQ(stored[delivered[i].sequence()], delivered[i].alert().alert_id());
    EXPECT_EQ(delivered[i].alert().alert_id(), dialer_alerts[i].alert_id());
  }

  // The call's timeline survived too, and the restart ended the call the crash left open.
  v1::GetCallRequest get;
  get.set_call_id("killed-call");
  v1::CallTimeline timeline;
  {
    grpc::ClientContext context;
    const grpc::Status status = stub->GetCall(&context, get, &timeline);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_FALSE(timeline.active());
  EXPECT_EQ(timeline.summary().end_reason(), "server restarted");
  EXPECT_EQ(timeline.start().agent().team(), "west");
  EXPECT_EQ(timeline.utterances_size(), 5) << "each utterance was recorded before its alert";
  EXPECT_EQ(timeline.alerts_size(), 5);
  v1::ListActiveCallsResponse active;
  grpc::ClientContext active_context;
  ASSERT_TRUE(stub->ListActiveCalls(&active_context, v1::ListActiveCallsRequest(), &active).ok());
  EXPECT_EQ(active.calls_size(), 0);

  // A watcher resumes where it was: the next alert of the new process continues the sequence.
  WatchStream resumed(channel, WatchAfter(delivered.back().sequence()));
  EXPECT_TRUE(resumed.UntilCaughtUp().empty()) << "nothing after what it had";
  ConverseClient call(channel);
  ASSERT_TRUE(call.Send(StartEventFor("after-restart", "A7")));
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, "you will be arrested")));
  ASSERT_EQ(AlertsIn(call.Drain()).size(), 1u);
  const auto next = resumed.Alerts(1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].sequence(), delivered.back().sequence() + 1);
  EXPECT_EQ(next[0].alert().call_id(), "after-restart");
}

std::vector<std::string> AlertHeaders(const std::string& output) {
  std::vector<std::string> headers;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (line.find("PROHIBITED_THREAT") != absl::string_view::npos) headers.emplace_back(line);
  }
  return headers;
}

TEST(SupervisorBinaryTest, WatchCommandTailsAlertsAndAcknowledgements) {
  TempDir dir;
  StoreServerSetup setup;
  setup.db_path = dir.path() + "/callguard.db";
  auto server = StartServerWithStore(setup);
  ASSERT_NE(server, nullptr);
  ChildProcess watch(CALLGUARD_CLI_BINARY, {"watch", "--server", server->address(), "--no-color",
                                            "--min-severity", "high"});
  std::string log;
  ASSERT_TRUE(watch.StderrUntil("watching", &log)) << log;

  ConverseClient call(ChannelTo(*server));
  ASSERT_TRUE(call.Send(StartEventFor("cli-call", "A1042")));
  ASSERT_TRUE(call.Send(UtteranceEvent("u1", v1::AGENT, "Mr Smith the police will ARREST you")));
  ASSERT_EQ(AlertsIn(call.Drain()).size(), 1u);

  std::string out;
  ASSERT_TRUE(watch.StdoutUntil("coaching:", &out)) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "--no-color";
  for (const char* part : {"#1 CRITICAL PROHIBITED_THREAT", "agent A1042 (Mark Lee)", "call cli-call turn 0",
                           "rule test.threat.arrest", "evidence: \"ARREST\"",
                           "coaching: Never mention arrest, jail or police."}) {
    EXPECT_NE(out.find(part), std::string::npos) << part << " in:\n" << out;
  }

  auto stub = v1::Supervisor::NewStub(ChannelTo(*server));
  v1::AcknowledgeAlertRequest request;
  request.set_sequence(1);
  request.set_supervisor("sam");
  request.set_note("spoke to Mark");
  v1::Acknowledgement ack;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->AcknowledgeAlert(&context, request, &ack).ok());
  std::string ack_out;
  ASSERT_TRUE(watch.StdoutUntil("acknowledged by sam", &ack_out)) << ack_out;
  EXPECT_NE(ack_out.find("#1 acknowledged by sam: spoke to Mark"), std::string::npos) << ack_out;

  watch.Signal(SIGTERM);
  watch.Wait();
}

TEST(SupervisorBinaryTest, WatchCommandResumesAcrossAServerRestart) {
  TempDir dir;
  const std::string db = dir.path() + "/callguard.db";
  auto server = std::make_unique<ServerProcess>(db);
  ASSERT_FALSE(server->address().empty());
  const int port = server->port();
  ChildProcess watch(CALLGUARD_CLI_BINARY,
                     {"watch", "--server", server->address(), "--no-color", "--count", "3"});
  std::string log;
  ASSERT_TRUE(watch.StderrUntil("watching", &log)) << log;

  auto one_alert_call = [](const std::shared_ptr<grpc::Channel>& channel, const std::string& id, int alerts) {
    ConverseClient call(channel);
    EXPECT_TRUE(call.Send(StartEventFor(id, "A1")));
    for (int i = 0; i < alerts; ++i) {
      EXPECT_TRUE(call.Send(UtteranceEvent(absl::StrCat("u", i), v1::AGENT, "you will be arrested")));
    }
    EXPECT_EQ(AlertsIn(call.Drain()).size(), static_cast<size_t>(alerts));
  };
  one_alert_call(server->Channel(), "before-crash", 1);
  std::string out;
  ASSERT_TRUE(watch.StdoutUntil("call before-crash", &out)) << out;

  server->process().Signal(SIGKILL);
  server->process().Wait();
  server.reset();
  // Same database, same port: the watcher reconnects by itself, whenever it retries.
  server = std::make_unique<ServerProcess>(db, port);
  ASSERT_FALSE(server->address().empty());
  one_alert_call(server->Channel(), "after-crash", 2);

  while (auto line = watch.StdoutLine()) out += *line + "\n";  // it exits after 3 alerts
  const int status = watch.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::vector<std::string> headers = AlertHeaders(out);
  ASSERT_EQ(headers.size(), 3u) << out;
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(headers[i].find(absl::StrCat("#", i + 1, " ")), std::string::npos) << headers[i];
  }
  EXPECT_NE(headers[1].find("call after-crash turn 0"), std::string::npos) << headers[1];
  EXPECT_NE(headers[2].find("call after-crash turn 1"), std::string::npos) << headers[2];
  std::string err;
  while (auto line = watch.StderrLine(absl::Seconds(5))) err += *line + "\n";
  EXPECT_NE((log + err).find("reconnect"), std::string::npos) << log << err;
}

}  // namespace
}  // namespace callguard::testing
