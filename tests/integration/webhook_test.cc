// The dialers' JSON webhook against the real server: labelled sample calls posted over real
// HTTP (one keep-alive connection, as a dialer would) raise the same alerts as the same calls
// streamed through Converse, and land in the alert store for supervisors.
#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "callguard/v1/supervisor.grpc.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "replay.h"
#include "supervisor_support.h"
#include "test_support.h"
#include "transcript_io.h"

namespace callguard::testing {
namespace {

struct HttpAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// A minimal HTTP/1.1 client on one keep-alive connection (reopened after the server closes it).
class HttpClient {
 public:
  explicit HttpClient(std::string address) : address_(std::move(address)) {}
  ~HttpClient() { Close(); }

  // `announced_length`, if set, is the Content-Length sent instead of the body's.
  HttpAnswer Send(const std::string& method, const std::string& target,
                  const std::string& content_type, const std::string& body,
                  std::optional<size_t> announced_length = std::nullopt) {
    HttpAnswer answer;
    if (fd_ < 0 && !Connect()) {
      ADD_FAILURE() << "cannot connect to " << address_;
      return answer;
    }
    std::string request = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: ", address_, "\r\n");
    if (!content_type.empty()) absl::StrAppend(&request, "Content-Type: ", content_type, "\r\n");
    absl::StrAppend(&request, "Content-Length: ", announced_length.value_or(body.size()),
                    "\r\n\r\n", body);
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may refuse a large body early; read its answer anyway
      sent += static_cast<size_t>(n);
    }
    size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) {
        ADD_FAILURE() << "connection closed before an answer to " << method << " " << target;
        Close();
        return answer;
      }
    }
    const std::string head = buffer_.substr(0, head_end);
    buffer_.erase(0, head_end + 4);
    std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
    if (lines[0].size() >= 12) absl::SimpleAtoi(lines[0].substr(9, 3), &answer.status);
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      answer.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    size_t length = 0;
    absl::SimpleAtoi(answer.headers["content-length"], &length);
    while (buffer_.size() < length) {
      if (!Fill()) break;
    }
    answer.body = buffer_.substr(0, length);
    buffer_.erase(0, std::min(length, buffer_.size()));
    if (absl::EqualsIgnoreCase(answer.headers["connection"], "close")) Close();
    return answer;
  }

  HttpAnswer Post(const std::string& target, const std::string& body) {
    return Send("POST", target, "application/json", body);
  }

 private:
  bool Connect() {
    const size_t colon = address_.rfind(':');
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(address_.substr(0, colon).c_str(), address_.substr(colon + 1).c_str(), &hints,
                    &found) != 0) {
      return false;
    }
    fd_ = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
    const bool connected = fd_ >= 0 && connect(fd_, found->ai_addr, found->ai_addrlen) == 0;
    freeaddrinfo(found);
    if (!connected) {
      Close();
      return false;
    }
    timeval patience{60, 0};  // guards against a hung test
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
    return true;
  }
  bool Fill() {
    char chunk[4096];
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    buffer_.clear();
  }

  const std::string address_;
  int fd_ = -1;
  std::string buffer_;
};

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &json).ok());
  return json;
}

template <typename M>
M FromJson(const std::string& json) {
  M message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, &message, options);
  EXPECT_TRUE(status.ok()) << status << " in " << json;
  return message;
}

std::string Member(const std::string& json, const std::string& name) {
  auto object = FromJson<google::protobuf::Struct>(json);
  auto it = object.fields().find(name);
  return it == object.fields().end() ? "" : it->second.string_value();
}

// An alert without what differs between two plays of one call: its call (and so its id) and
// its time.
v1::Alert Comparable(v1::Alert alert) {
  alert.clear_call_id();
  alert.clear_alert_id();
  alert.clear_time();
  return alert;
}

// One call's updates (interim results too) and what was answered to each.
struct Played {
  std::vector<v1::Verdict> verdicts;
  v1::CallSummary summary;
};

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreServerSetup setup;
    setup.db_path = dir_.path() + "/callguard.db";
    setup.policy_dir = std::string(CALLGUARD_SOURCE_DIR) + "/policies";
    setup.http_listen = "127.0.0.1:0";
    server_ = StartServerWithStore(setup);
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(server_->dashboard(), nullptr);
    channel_ = ChannelTo(*server_);
    http_ = std::make_unique<HttpClient>(server_->dashboard()->address());
  }

  static std::vector<v1::Utterance> Updates(const v1::Transcript& transcript) {
    std::vector<v1::Utterance> updates;
    ReplayOptions options;
    options.interim_results = true;
    for (int turn = 0; turn < transcript.turns_size(); ++turn) {
      for (v1::Utterance& u : UtterancesForTurn(transcript, turn, options)) {
        updates.push_back(std::move(u));
      }
    }
    return updates;
  }

  Played PlayThroughWebhook(const v1::Transcript& transcript, const std::string& call_id) {
    Played played;
    v1::CallStart start = CallStartFromTranscript(transcript);
    start.clear_call_id();  // the path names the call
    HttpAnswer started = http_->Post(absl::StrCat("/v1/calls/", call_id, ":start"), ToJson(start));
    EXPECT_EQ(started.status, 200) << started.body;
    EXPECT_EQ(Member(started.body, "callId"), call_id);
    EXPECT_EQ(Member(started.body, "policyId"), transcript.policy());
    for (const v1::Utterance& u : Updates(transcript)) {
      HttpAnswer answer = http_->Post(absl::StrCat("/v1/calls/", call_id, "/utterances"), ToJson(u));
      EXPECT_EQ(answer.status, 200) << answer.body;
      EXPECT_EQ(answer.headers["content-type"], "application/json");
      played.verdicts.push_back(FromJson<v1::Verdict>(answer.body));
    }
    HttpAnswer ended = http_->Post(absl::StrCat("/v1/calls/", call_id, ":end"), R"({"reason":"done"})");
    EXPECT_EQ(ended.status, 200) << ended.body;
    played.summary = FromJson<v1::CallSummary>(ended.body);
    return played;
  }

  Played PlayThroughConverse(const v1::Transcript& transcript, const std::string& call_id) {
    Played played;
    ConverseClient call(channel_);
    v1::CallEvent start;
    *start.mutable_start() = CallStartFromTranscript(transcript);
    start.mutable_start()->set_call_id(call_id);
    EXPECT_TRUE(call.Send(start));
    for (v1::Utterance u : Updates(transcript)) {
      u.set_want_verdict(true);
      v1::CallEvent event;
      *event.mutable_utterance() = u;
      EXPECT_TRUE(call.Send(event));
      auto answer = call.Read();
      EXPECT_TRUE(answer.has_value() && answer->has_verdict())
          << (answer.has_value() ? answer->ShortDebugString() : "stream ended");
      if (answer.has_value()) played.verdicts.push_back(answer->verdict());
    }
    v1::CallEvent end;
    end.mutable_end()->set_reason("done");
    EXPECT_TRUE(call.Send(end));
    std::vector<v1::GuardEvent> rest;
    EXPECT_TRUE(call.Finish(&rest).ok());
    for (const auto& event : rest) {
      if (event.has_summary()) played.summary = event.summary();
    }
    return played;
  }

  // Plays every call of `file` both ways and compares; returns how many alerts the webhook
  // raised. Every label of a call must be among its alerts.
  int CompareBothPaths(const std::string& file) {
    auto transcripts = ReadTranscripts(std::string(CALLGUARD_SOURCE_DIR) + "/examples/" + file);
    EXPECT_TRUE(transcripts.ok()) << transcripts.status();
    if (!transcripts.ok()) return 0;
    int alerts = 0;
    int labels_found = 0;
    for (const v1::Transcript& transcript : *transcripts) {
      SCOPED_TRACE(transcript.call_id());
      const Played webhook = PlayThroughWebhook(transcript, transcript.call_id() + "-webhook");
      const Played converse = PlayThroughConverse(transcript, transcript.call_id() + "-grpc");
      EXPECT_GT(webhook.verdicts.size(), static_cast<size_t>(transcript.turns_size()));
      EXPECT_EQ(webhook.verdicts.size(), converse.verdicts.size());
      std::vector<v1::Alert> webhook_alerts;
      for (size_t i = 0; i < std::min(webhook.verdicts.size(), converse.verdicts.size()); ++i) {
        const v1::Verdict& w = webhook.verdicts[i];
        const v1::Verdict& g = converse.verdicts[i];
        EXPECT_EQ(w.utterance_id(), g.utterance_id());
        EXPECT_EQ(w.turn(), g.turn());
        EXPECT_EQ(w.is_final(), g.is_final());
        EXPECT_EQ(w.alerts_size(), g.alerts_size()) << "update " << i << " " << w.utterance_id();
        for (int k = 0; k < std::min(w.alerts_size(), g.alerts_size()); ++k) {
          EXPECT_EQ(w.alerts(k).call_id(), transcript.call_id() + "-webhook");
          EXPECT_EQ(Comparable(w.alerts(k)).ShortDebugString(),
                    Comparable(g.alerts(k)).ShortDebugString());
          webhook_alerts.push_back(w.alerts(k));
        }
      }
      // Every label the engine finds when it replays the call offline is found through the
      // webhook. (A label the policy itself misses is the policy's business, not the
      // transport's: it is printed, not failed.)
      auto offline = ReplayTranscript(server_->engines().Current(), transcript);
      EXPECT_TRUE(offline.ok()) << offline.status();
      auto raised = [](const std::vector<v1::Alert>& alerts, const v1::ExpectedViolation& label) {
        for (const v1::Alert& alert : alerts) {
          if (alert.turn() == label.turn() && alert.violation() == label.violation()) return true;
        }
        return false;
      };
      for (const v1::ExpectedViolation& label : transcript.expect()) {
        if (offline.ok() && !raised(*offline, label)) {
          std::cout << "note: the policy misses " << transcript.call_id() << " "
                    << label.ShortDebugString() << " (offline too)\n";
          continue;
        }
        EXPECT_TRUE(raised(webhook_alerts, label)) << "label " << label.ShortDebugString();
        ++labels_found;
      }
      v1::CallSummary w = webhook.summary;
      v1::CallSummary g = converse.summary;
      EXPECT_EQ(w.call_id(), transcript.call_id() + "-webhook");
      w.clear_call_id();
      g.clear_call_id();
      EXPECT_EQ(w.ShortDebugString(), g.ShortDebugString());
      alerts += static_cast<int>(webhook_alerts.size());
    }
    EXPECT_GT(labels_found, 0) << "no label of " << file << " was found";
    return alerts;
  }

  TempDir dir_;
  std::unique_ptr<CallguardServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(WebhookTest, SampleCallsRaiseTheSameAlertsAsThroughConverse) {
  const int english = CompareBothPaths("calls-en.jsonl");
  const int chinese = CompareBothPaths("calls-zh.jsonl");
  EXPECT_GT(english, 0);
  EXPECT_GT(chinese, 0);
}

TEST_F(WebhookTest, WebhookCallsReachTheStoreAndSupervisors) {
  auto transcripts = ReadTranscripts(std::string(CALLGUARD_SOURCE_DIR) + "/examples/calls-zh.jsonl");
  ASSERT_TRUE(transcripts.ok()) << transcripts.status();
  const v1::Transcript* labelled = nullptr;
  for (const auto& t : *transcripts) {
    if (labelled == nullptr && t.expect_size() > 0) labelled = &t;
  }
  ASSERT_NE(labelled, nullptr);
  auto stub = v1::Supervisor::NewStub(channel_);

  // While the call is open, supervisors see it among the active calls.
  v1::CallStart start = CallStartFromTranscript(*labelled);
  ASSERT_NE(start.call_id(), "live-1");
  ASSERT_EQ(http_->Post("/v1/calls/live-1:start", ToJson(start)).status, 400)
      << "the body's call id differs from the path's";
  start.set_call_id("live-1");
  ASSERT_EQ(http_->Post("/v1/calls/live-1:start", ToJson(start)).status, 200);
  ASSERT_TRUE(server_->store()->Flush().ok());
  {
    grpc::ClientContext context;
    v1::ListActiveCallsResponse active;
    ASSERT_TRUE(stub->ListActiveCalls(&context, v1::ListActiveCallsRequest(), &active).ok());
    bool listed = false;
    for (const auto& call : active.calls()) listed |= call.call_id() == "live-1";
    EXPECT_TRUE(listed) << active.ShortDebugString();
  }
  ASSERT_EQ(http_->Post("/v1/calls/live-1:end", "").status, 200);

  const Played played = PlayThroughWebhook(*labelled, "stored-1");
  std::vector<std::string> raised;
  for (const auto& verdict : played.verdicts) {
    for (const auto& alert : verdict.alerts()) raised.push_back(alert.alert_id());
  }
  ASSERT_FALSE(raised.empty());
  ASSERT_TRUE(server_->store()->Flush().ok());

  grpc::ClientContext context;
  v1::ListAlertsRequest request;
  request.mutable_filter()->set_call_id("stored-1");
  request.set_oldest_first(true);
  v1::ListAlertsResponse listed;
  ASSERT_TRUE(stub->ListAlerts(&context, request, &listed).ok());
  std::vector<std::string> stored;
  for (const auto& alert : listed.alerts()) stored.push_back(alert.alert().alert_id());
  EXPECT_EQ(stored, raised);

  grpc::ClientContext call_context;
  v1::GetCallRequest get;
  get.set_call_id("stored-1");
  v1::CallTimeline timeline;
  ASSERT_TRUE(stub->GetCall(&call_context, get, &timeline).ok());
  EXPECT_FALSE(timeline.active());
  EXPECT_EQ(timeline.utterances_size(), labelled->turns_size());
  EXPECT_EQ(timeline.summary().end_reason(), "done");

  // The dashboard's own JSON API on the same port shows it too.
  HttpAnswer api = http_->Send("GET", "/api/alerts?call=stored-1", "", "");
  EXPECT_EQ(api.status, 200);
  EXPECT_TRUE(absl::StrContains(api.body, raised.front())) << api.body;
}

TEST_F(WebhookTest, HttpErrorsOverTheWire) {
  // The transport's body limit answers in the webhook's format too. The body is announced, not
  // sent: the server answers from the head and closes (sending it would race that close).
  HttpAnswer too_large = http_->Send("POST", "/v1/calls/x:end", "application/json", "",
                                     /*announced_length=*/70 * 1024);
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(Member(too_large.body, "field"), "body") << too_large.body;
  EXPECT_EQ(Member(too_large.body, "code"), "INVALID_ARGUMENT");

  HttpAnswer get = http_->Send("GET", "/v1/calls/x/utterances", "", "");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.headers["allow"], "POST");
  HttpAnswer unknown = http_->Post("/v1/nothing", "{}");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Member(unknown.body, "field"), "path");
  HttpAnswer plain = http_->Send("POST", "/v1/calls/x:start", "text/plain", R"({"policy":"us-fdcpa"})");
  EXPECT_EQ(plain.status, 415);
  HttpAnswer policy = http_->Post("/v1/calls/x:start", R"({"policy":"fdcpa"})");
  EXPECT_EQ(policy.status, 400);
  EXPECT_EQ(Member(policy.body, "field"), "start.policy");
  EXPECT_TRUE(absl::StrContains(Member(policy.body, "message"), "cn-collection, us-fdcpa"))
      << policy.body;

  // A call id active on a Converse stream cannot be started again by the webhook.
  ConverseClient call(channel_);
  v1::CallEvent start;
  start.mutable_start()->set_call_id("both");
  start.mutable_start()->set_policy("us-fdcpa");
  ASSERT_TRUE(call.Send(start));
  call.Drain();
  HttpAnswer conflict = http_->Post("/v1/calls/both:start", R"({"policy":"us-fdcpa"})");
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_EQ(Member(conflict.body, "code"), "ALREADY_EXISTS");
  EXPECT_EQ(Member(conflict.body, "field"), "start.call_id");
  // ...nor does the webhook reach the stream's call.
  EXPECT_EQ(http_->Post("/v1/calls/both/utterances", R"({"utteranceId":"u"})").status, 404);

  // The dashboard still answers on the same port.
  EXPECT_EQ(http_->Send("GET", "/healthz", "", "").status, 200);
}

}  // namespace
}  // namespace callguard::testing
