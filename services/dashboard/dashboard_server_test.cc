// The dashboard over real HTTP on a loopback port: a real SqliteAlertStore in a temp folder, the
// real WatchHub listening to it, and a plain socket client. Routes, JSON shapes, errors, the
// event stream (delivery, resume, filters, shutdown), acknowledgements, /metrics and /healthz.
#include "dashboard_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "sqlite_alert_store.h"
#include "watch_hub.h"

namespace callguard {
namespace {

using google::protobuf::Struct;

// A generous bound for a reply that should come at once: only a broken server hits it.
constexpr absl::Duration kPatience = absl::Seconds(20);

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads what is available within `timeout`; 0 on EOF, -1 on timeout or error.
ssize_t ReadSome(int fd, std::string* into, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) return -1;
  char buffer[8192];
  ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
  if (n > 0) into->append(buffer, static_cast<size_t>(n));
  return n;
}

std::string RequestText(const std::string& method, const std::string& target,
                        const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        bool keep_alive = false) {
  std::string text = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: localhost\r\n");
  if (!keep_alive) text += "Connection: close\r\n";
  for (const auto& [name, value] : headers) absl::StrAppend(&text, name, ": ", value, "\r\n");
  if (!body.empty() || method == "POST") absl::StrAppend(&text, "Content-Length: ", body.size(), "\r\n");
  absl::StrAppend(&text, "\r\n", body);
  return text;
}

// Splits "status line, headers" off `raw`; returns the offset of the body.
size_t ParseHead(const std::string& raw, Response* response) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return std::string::npos;
  std::vector<std::string> lines = absl::StrSplit(raw.substr(0, end), "\r\n");
  std::vector<std::string> status_line = absl::StrSplit(lines[0], ' ');
  if (status_line.size() >= 2) (void)absl::SimpleAtoi(status_line[1], &response->status);
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    response->headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  return end + 4;
}

Response Http(int port, const std::string& method, const std::string& target,
              const std::string& body = "",
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  Response response;
  int fd = Connect(port);
  EXPECT_GE(fd, 0) << "cannot connect to the dashboard";
  if (fd < 0) return response;
  EXPECT_TRUE(SendAll(fd, RequestText(method, target, body, headers)));
  std::string raw;
  while (ReadSome(fd, &raw, kPatience) > 0) {
  }
  close(fd);
  size_t body_at = ParseHead(raw, &response);
  EXPECT_NE(body_at, std::string::npos) << "no complete HTTP head in: " << raw;
  if (body_at != std::string::npos) response.body = raw.substr(body_at);
  return response;
}

Response Get(int port, const std::string& target) { return Http(port, "GET", target); }

Response PostJson(int port, const std::string& target, const std::string& body) {
  return Http(port, "POST", target, body, {{"Content-Type", "application/json"}});
}

Struct Json(const std::string& body) {
  Struct value;
  auto status = google::protobuf::util::JsonStringToMessage(body, &value);
  EXPECT_TRUE(status.ok()) << "not JSON: " << body;
  return value;
}

// The body as `Message` (the API's shapes are the protobuf JSON mapping of the supervisor
// messages); members the message lacks (lastSequence, serverTime) are ignored.
template <typename Message>
Message As(const std::string& body) {
  Message message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(body, &message, options);
  EXPECT_TRUE(status.ok()) << status.message() << " in " << body;
  return message;
}

std::string StringField(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? "" : it->second.string_value();
}

// The {"error": {...}} member of an error body.
Struct ErrorOf(const Response& response) {
  Struct body = Json(response.body);
  auto it = body.fields().find("error");
  EXPECT_NE(it, body.fields().end()) << response.body;
  return it == body.fields().end() ? Struct() : it->second.struct_value();
}

// A Server-Sent Events reader on a raw socket.
class EventStream {
 public:
  struct Event {
    std::string event;
    std::string id;
    std::string data;
    bool comment_only = false;
  };

  EventStream(int port, const std::string& target, const std::string& last_event_id = "") {
    fd_ = Connect(port);
    EXPECT_GE(fd_, 0);
    std::vector<std::pair<std::string, std::string>> headers = {{"Accept", "text/event-stream"}};
    if (!last_event_id.empty()) headers.emplace_back("Last-Event-ID", last_event_id);
    EXPECT_TRUE(SendAll(fd_, RequestText("GET", target, "", headers, /*keep_alive=*/true)));
    absl::Time deadline = absl::Now() + kPatience;
    size_t body_at = std::string::npos;
    while (body_at == std::string::npos && absl::Now() < deadline) {
      if (ReadSome(fd_, &buffer_, absl::Milliseconds(200)) == 0) break;
      body_at = ParseHead(buffer_, &head_);
    }
    EXPECT_NE(body_at, std::string::npos) << "no HTTP head: " << buffer_;
    if (body_at != std::string::npos) buffer_.erase(0, body_at);
  }
  ~EventStream() {
    if (fd_ >= 0) close(fd_);
  }

  const Response& head() const { return head_; }
  std::string rest() const { return buffer_; }

  // The next event (comments are skipped unless `comments`); nullopt if the stream ended or
  // nothing came within kPatience.
  std::optional<Event> Next(bool comments = false) {
    absl::Time deadline = absl::Now() + kPatience;
    for (;;) {
      size_t end = buffer_.find("\n\n");
      if (end != std::string::npos) {
        std::string block = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        Event event;
        bool any_field = false;
        for (absl::string_view line : absl::StrSplit(block, '\n')) {
          if (absl::StartsWith(line, ":")) continue;
          std::pair<absl::string_view, absl::string_view> kv =
              absl::StrSplit(line, absl::MaxSplits(':', 1));
          absl::string_view value = absl::StripPrefix(kv.second, " ");
          if (kv.first == "event") event.event = std::string(value);
          if (kv.first == "id") event.id = std::string(value);
          if (kv.first == "data") absl::StrAppend(&event.data, event.data.empty() ? "" : "\n", value);
          if (kv.first == "event" || kv.first == "data" || kv.first == "id") any_field = true;
        }
        event.comment_only = !any_field;
        if (event.comment_only && !comments) continue;
        return event;
      }
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return std::nullopt;
      ssize_t n = ReadSome(fd_, &buffer_, left);
      if (n == 0) {
        ended_ = true;
        return std::nullopt;
      }
      if (n < 0) return std::nullopt;
    }
  }

  // The next event that is not `caught_up` (which a stream sends once, after its replay).
  std::optional<Event> NextAlertOrAck() {
    for (;;) {
      auto event = Next();
      if (!event.has_value() || event->event != "caught_up") return event;
    }
  }

  // True once the server closed the stream (reads what is left first).
  bool WaitForEnd() {
    absl::Time deadline = absl::Now() + kPatience;
    while (!ended_ && absl::Now() < deadline) {
      ssize_t n = ReadSome(fd_, &buffer_, absl::Milliseconds(200));
      if (n == 0) ended_ = true;
    }
    return ended_;
  }

 private:
  int fd_ = -1;
  Response head_;
  std::string buffer_;
  bool ended_ = false;
};

class DashboardServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "dashboard_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    SqliteAlertStore::Options store_options;
    store_options.path = (std::filesystem::path(dir_) / "alerts.db").string();
    auto store = SqliteAlertStore::Create(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    WatchHub::Options hub_options;
    hub_options.store = store_.get();
    hub_options.on_batch_committed = [this](int rows, absl::Duration latency) {
      metrics_.OnStoreBatch(rows, latency);
    };
    auto hub = WatchHub::Create(hub_options);
    ASSERT_TRUE(hub.ok()) << hub.status();
    hub_ = std::move(*hub);
    StartServer(DefaultOptions());
  }

  void TearDown() override {
    server_.reset();
    hub_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  DashboardServer::Options DefaultOptions() {
    DashboardServer::Options options;
    options.listen_address = "127.0.0.1:0";
    options.store = store_.get();
    options.hub = hub_.get();
    options.metrics = &metrics_;
    return options;
  }

  void StartServer(DashboardServer::Options options) {
    server_.reset();
    auto server = DashboardServer::Create(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->Start().ok());
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }

  void StartCall(const std::string& call_id, const std::string& agent_id,
                 const std::string& agent_name = "", const std::string& team = "north") {
    v1::CallStart start;
    start.set_call_id(call_id);
    start.set_policy("us-fdcpa");
    start.mutable_agent()->set_agent_id(agent_id);
    start.mutable_agent()->set_name(agent_name.empty() ? "Agent " + agent_id : agent_name);
    start.mutable_agent()->set_team(team);
    start.mutable_agency()->set_id("AG1");
    start.mutable_agency()->set_name("Copper Ridge");
    start.mutable_debtor()->set_name("Daniel Brooks");
    start.set_dialed(v1::DEBTOR_PHONE);
    ASSERT_TRUE(store_->RecordCallStart(start, absl::Now()).ok());
  }

  void Say(const std::string& call_id, int turn, v1::Speaker speaker, const std::string& text) {
    v1::TimelineUtterance utterance;
    utterance.set_turn(turn);
    utterance.set_utterance_id(absl::StrCat("u", turn));
    utterance.set_speaker(speaker);
    utterance.set_text(text);
    utterance.set_is_final(true);
    ASSERT_TRUE(store_->RecordUtterance(call_id, utterance).ok());
  }

  v1::StoredAlert Raise(const std::string& call_id, v1::ViolationKind kind,
                        v1::Severity severity = v1::SEVERITY_HIGH, int turn = 0,
                        const std::string& message = "the debt was mentioned to a third party") {
    v1::Alert alert;
    alert.set_alert_id(absl::StrCat(call_id, "-", ++alert_counter_));
    alert.set_call_id(call_id);
    alert.set_turn(turn);
    alert.set_utterance_id(absl::StrCat("u", turn));
    alert.set_violation(kind);
    alert.set_rule_id("rule-x");
    alert.set_severity(severity);
    alert.set_message(message);
    alert.set_coaching("Confirm you are speaking with the debtor first.");
    v1::Evidence* evidence = alert.add_evidence();
    evidence->set_text("your debt");
    evidence->set_begin_char(10);
    evidence->set_end_char(19);
    v1::Citation* citation = alert.add_citations();
    citation->set_authority("FDCPA");
    citation->set_section("15 U.S.C. 1692c(b)");
    *alert.mutable_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
        absl::ToUnixNanos(absl::Now()));
    auto stored = store_->AppendAlert(alert);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? *stored : v1::StoredAlert();
  }

  std::string dir_;
  MetricsRegistry metrics_;
  std::unique_ptr<SqliteAlertStore> store_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<DashboardServer> server_;
  int port_ = 0;
  int alert_counter_ = 0;
};

// ---- pages, assets, health, metrics -------------------------------------------------------

TEST_F(DashboardServerTest, ServesEveryPageWithItsScriptsFromTheBinary) {
  const std::vector<std::pair<std::string, std::string>> pages = {
      {"/", "/assets/feed.js"},
      {"/calls", "/assets/calls.js"},
      {"/calls/some%20call", "/assets/call.js"},
      {"/charts", "/assets/charts.js"}};
  for (const auto& [path, script] : pages) {
    Response page = Get(port_, path);
    EXPECT_EQ(page.status, 200) << path;
    EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8") << path;
    EXPECT_NE(page.body.find(absl::StrCat("<script src=\"", script, "\"")), std::string::npos)
        << path;
    EXPECT_NE(page.header("content-security-policy").find("script-src 'self'"), std::string::npos)
        << "pages allow only their own scripts: " << path;
    EXPECT_EQ(page.header("x-content-type-options"), "nosniff");
    // Everything the page loads is served too, and nothing comes from elsewhere.
    EXPECT_EQ(page.body.find("http://"), std::string::npos) << path;
    EXPECT_EQ(page.body.find("https://"), std::string::npos) << path;
    Response asset = Get(port_, script);
    EXPECT_EQ(asset.status, 200) << script;
    EXPECT_EQ(asset.header("content-type"), "text/javascript; charset=utf-8");
    EXPECT_GT(asset.body.size(), 500u);
  }
  Response css = Get(port_, "/assets/app.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(Get(port_, "/assets/common.js").status, 200);
}

TEST_F(DashboardServerTest, UnknownRoutesAndAssetsAreJson404s) {
  for (const char* path : {"/nope", "/assets/missing.js", "/api/unknown", "/calls/a/b"}) {
    Response response = Get(port_, path);
    EXPECT_EQ(response.status, 404) << path;
    EXPECT_EQ(response.header("content-type"), "application/json; charset=utf-8") << path;
    Struct error = ErrorOf(response);
    EXPECT_EQ(error.fields().at("code").number_value(), 404);
    EXPECT_EQ(StringField(error, "parameter"), "path") << path;
  }
}

TEST_F(DashboardServerTest, HealthzReportsTheStoresSequences) {
  StartCall("h1", "C1");
  Raise("h1", v1::THIRD_PARTY_DISCLOSURE);
  Response health = Get(port_, "/healthz");
  EXPECT_EQ(health.status, 200);
  Struct body = Json(health.body);
  EXPECT_EQ(StringField(body, "status"), "ok");
  EXPECT_EQ(StringField(body, "lastSequence"), absl::StrCat(store_->LastSequence()));
}

TEST_F(DashboardServerTest, MetricsAreInThePrometheusTextFormat) {
  metrics_.OnUtterance(12000);
  metrics_.OnAlert(v1::PROHIBITED_THREAT);
  metrics_.SetActiveCalls(3);
  StartCall("m1", "C1");
  Raise("m1", v1::PROHIBITED_THREAT);  // a store commit: the hub forwards its latency

  Response response = Get(port_, "/metrics");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  std::map<std::string, std::string> samples;
  for (absl::string_view line : absl::StrSplit(response.body, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "# HELP ") || absl::StartsWith(line, "# TYPE ")) continue;
    size_t space = line.rfind(' ');
    ASSERT_NE(space, absl::string_view::npos) << line;
    double value = 0;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &value)) << line;
    samples[std::string(line.substr(0, space))] = std::string(line.substr(space + 1));
  }
  EXPECT_EQ(samples["callguard_active_calls"], "3");
  EXPECT_EQ(samples["callguard_utterances_total"], "1");
  EXPECT_EQ(samples["callguard_alerts_total{kind=\"PROHIBITED_THREAT\"}"], "1");
  EXPECT_EQ(samples["callguard_evaluation_seconds_count"], "1");
  EXPECT_EQ(samples["callguard_evaluation_seconds_bucket{le=\"+Inf\"}"], "1");
  EXPECT_NE(samples["callguard_store_write_seconds_count"], "0")
      << "the store's commits reach the histogram through the hub";
  EXPECT_EQ(samples["callguard_store_last_sequence"], absl::StrCat(store_->LastSequence()));
  EXPECT_EQ(samples.count("callguard_watchers"), 1u);
  EXPECT_NE(response.body.find("# TYPE callguard_evaluation_seconds histogram\n"),
            std::string::npos);
}

TEST_F(DashboardServerTest, HeadAnswersWithoutABodyAndWrongMethodsAre405) {
  Response head = Http(port_, "HEAD", "/healthz");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_NE(head.header("content-length"), "0");

  Response post_page = Http(port_, "POST", "/api/calls", "{}");
  EXPECT_EQ(post_page.status, 405);
  EXPECT_EQ(post_page.header("allow"), "GET, HEAD");
  EXPECT_EQ(StringField(ErrorOf(post_page), "parameter"), "method");

  Response get_ack = Get(port_, "/api/alerts/1/ack");
  EXPECT_EQ(get_ack.status, 405);
  EXPECT_EQ(get_ack.header("allow"), "POST");
}

// ---- alerts -------------------------------------------------------------------------------

TEST_F(DashboardServerTest, ListsAlertsNewestFirstInTheSupervisorJsonShape) {
  StartCall("c1", "C1", "Rachel Moreno", "north");
  StartCall("c2", "C2", "Sam Ortiz", "south");
  v1::StoredAlert first = Raise("c1", v1::THIRD_PARTY_DISCLOSURE, v1::SEVERITY_HIGH);
  v1::StoredAlert second = Raise("c2", v1::PROHIBITED_THREAT, v1::SEVERITY_CRITICAL);
  v1::StoredAlert third = Raise("c1", v1::MISSING_SELF_IDENTIFICATION, v1::SEVERITY_LOW);

  Response response = Get(port_, "/api/alerts");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.header("content-type"), "application/json; charset=utf-8");
  auto page = As<v1::ListAlertsResponse>(response.body);
  ASSERT_EQ(page.alerts_size(), 3);
  EXPECT_EQ(page.alerts(0).sequence(), third.sequence());
  EXPECT_EQ(page.alerts(2).sequence(), first.sequence());
  EXPECT_EQ(page.alerts(1).alert().violation(), v1::PROHIBITED_THREAT);
  EXPECT_EQ(page.alerts(1).agent_name(), "Sam Ortiz");
  EXPECT_EQ(page.alerts(1).team(), "south");
  EXPECT_EQ(page.alerts(2).alert().citations(0).section(), "15 U.S.C. 1692c(b)");
  EXPECT_EQ(page.alerts(2).alert().evidence(0).end_char(), 19);
  // Enum names and camelCase members, as the pages read them.
  EXPECT_NE(response.body.find("\"violation\":\"PROHIBITED_THREAT\""), std::string::npos);
  EXPECT_NE(response.body.find("\"severity\":\"SEVERITY_CRITICAL\""), std::string::npos);
  EXPECT_NE(response.body.find("\"agentName\":\"Sam Ortiz\""), std::string::npos);
  Struct body = Json(response.body);
  EXPECT_EQ(StringField(body, "lastSequence"), absl::StrCat(third.sequence()));
  EXPECT_EQ(StringField(body, "lastAckSequence"), "0");

  auto oldest = As<v1::ListAlertsResponse>(Get(port_, "/api/alerts?order=oldest").body);
  ASSERT_EQ(oldest.alerts_size(), 3);
  EXPECT_EQ(oldest.alerts(0).sequence(), first.sequence());
}

TEST_F(DashboardServerTest, FiltersAlertsByAgentKindSeverityCallAndAcknowledgement) {
  StartCall("c1", "C1");
  StartCall("c2", "C2");
  Raise("c1", v1::THIRD_PARTY_DISCLOSURE, v1::SEVERITY_HIGH);
  Raise("c2", v1::PROHIBITED_THREAT, v1::SEVERITY_CRITICAL);
  v1::StoredAlert low = Raise("c1", v1::MISSING_SELF_IDENTIFICATION, v1::SEVERITY_LOW);
  ASSERT_TRUE(store_->Acknowledge(low.sequence(), "Maya", "").ok());

  auto count = [this](const std::string& query) {
    Response response = Get(port_, "/api/alerts?" + query);
    EXPECT_EQ(response.status, 200) << query << ": " << response.body;
    return As<v1::ListAlertsResponse>(response.body).alerts_size();
  };
  EXPECT_EQ(count("agent=C1"), 2);
  EXPECT_EQ(count("agent=C2"), 1);
  EXPECT_EQ(count("agent=C1,C2"), 3);
  EXPECT_EQ(count("agent=C1&agent=C2"), 3);
  EXPECT_EQ(count("kind=THIRD_PARTY_DISCLOSURE"), 1);
  EXPECT_EQ(count("kind=third_party_disclosure,prohibited_threat"), 2);
  EXPECT_EQ(count("min_severity=high"), 2);
  EXPECT_EQ(count("min_severity=SEVERITY_CRITICAL"), 1);
  EXPECT_EQ(count("call=c2"), 1);
  EXPECT_EQ(count("team=north"), 3);
  EXPECT_EQ(count("agent=C1&min_severity=medium"), 1);
  EXPECT_EQ(count("unacknowledged=true"), 2);
  EXPECT_EQ(count("agent=nobody"), 0);
}

TEST_F(DashboardServerTest, PagesThroughAlertsWithTokens) {
  StartCall("p1", "C1");
  for (int i = 0; i < 5; ++i) Raise("p1", v1::ABUSIVE_LANGUAGE);
  std::vector<uint64_t> seen;
  std::string token;
  int pages = 0;
  do {
    std::string target = "/api/alerts?page_size=2";
    if (!token.empty()) target += "&page_token=" + token;
    Response response = Get(port_, target);
    ASSERT_EQ(response.status, 200) << response.body;
    auto page = As<v1::ListAlertsResponse>(response.body);
    EXPECT_LE(page.alerts_size(), 2);
    for (const auto& alert : page.alerts()) seen.push_back(alert.sequence());
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<uint64_t>{5, 4, 3, 2, 1}));
}

TEST_F(DashboardServerTest, BadParametersAre400sNamingTheParameter) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/api/alerts?kind=BOGUS", "kind"},
      {"/api/alerts?min_severity=urgent", "min_severity"},
      {"/api/alerts?page_size=0", "page_size"},
      {"/api/alerts?page_size=abc", "page_size"},
      {"/api/alerts?page_token=not-a-token", "page_token"},
      {"/api/alerts?since=yesterday", "since"},
      {"/api/alerts?order=random", "order"},
      {"/api/alerts?unacknowledged=maybe", "unacknowledged"},
      {"/api/alerts?agnet=C1", "agnet"},
      {"/api/alerts?kind=%zz", "kind"},
      {"/api/alerts?page_size=1&page_size=2", "page_size"},
      {"/api/alerts/abc", "sequence"},
      {"/api/alerts/0", "sequence"},
      {"/api/calls?kind=THIRD_PARTY_DISCLOSURE", "kind"},
      {"/api/calls?page_size=-1", "page_size"},
      {"/api/stats?bucket_seconds=5", "bucket_seconds"},
      {"/api/stats?hours=0", "hours"},
      {"/api/events?after_sequence=x", "after_sequence"},
      {"/api/events?min_severity=none", "min_severity"},
  };
  for (const auto& [target, parameter] : cases) {
    Response response = Get(port_, target);
    EXPECT_EQ(response.status, 400) << target << ": " << response.body;
    EXPECT_EQ(response.header("content-type"), "application/json; charset=utf-8") << target;
    Struct error = ErrorOf(response);
    EXPECT_EQ(StringField(error, "parameter"), parameter) << target << ": " << response.body;
    EXPECT_EQ(StringField(error, "status"), "INVALID_ARGUMENT") << target;
    EXPECT_FALSE(StringField(error, "message").empty()) << target;
  }
}

TEST_F(DashboardServerTest, GetsOneAlertOr404) {
  StartCall("g1", "C1");
  v1::StoredAlert stored = Raise("g1", v1::IMPERSONATION);
  Response found = Get(port_, absl::StrCat("/api/alerts/", stored.sequence()));
  EXPECT_EQ(found.status, 200);
  EXPECT_EQ(As<v1::StoredAlert>(found.body).alert().alert_id(), stored.alert().alert_id());
  Response missing = Get(port_, "/api/alerts/999");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(StringField(ErrorOf(missing), "parameter"), "sequence");
}

// ---- acknowledgements ---------------------------------------------------------------------

TEST_F(DashboardServerTest, AcknowledgesAnAlertOnceAndSaysWhoWasFirst) {
  StartCall("a1", "C1");
  v1::StoredAlert stored = Raise("a1", v1::THIRD_PARTY_DISCLOSURE);
  const std::string path = absl::StrCat("/api/alerts/", stored.sequence(), "/ack");

  Response first = PostJson(port_, path, R"({"supervisor": "  Maya Chen ", "note": "coached the agent"})");
  ASSERT_EQ(first.status, 200) << first.body;
  auto acknowledged = As<v1::StoredAlert>(first.body);
  EXPECT_EQ(acknowledged.sequence(), stored.sequence());
  EXPECT_EQ(acknowledged.acknowledgement().supervisor(), "Maya Chen");
  EXPECT_EQ(acknowledged.acknowledgement().note(), "coached the agent");
  EXPECT_GT(acknowledged.acknowledgement().ack_sequence(), 0u);

  // Stored: the list shows it.
  auto listed = As<v1::ListAlertsResponse>(Get(port_, "/api/alerts").body);
  ASSERT_EQ(listed.alerts_size(), 1);
  EXPECT_EQ(listed.alerts(0).acknowledgement().supervisor(), "Maya Chen");

  Response second = PostJson(port_, path, R"({"supervisor": "Someone Else"})");
  EXPECT_EQ(second.status, 409);
  Struct body = Json(second.body);
  ASSERT_TRUE(body.fields().contains("alert")) << second.body;
  EXPECT_NE(second.body.find("\"supervisor\":\"Maya Chen\""), std::string::npos) << second.body;
  EXPECT_EQ(StringField(ErrorOf(second), "status"), "ALREADY_EXISTS");
}

TEST_F(DashboardServerTest, RejectsBadAcknowledgements) {
  StartCall("b1", "C1");
  v1::StoredAlert stored = Raise("b1", v1::THIRD_PARTY_DISCLOSURE);
  const std::string path = absl::StrCat("/api/alerts/", stored.sequence(), "/ack");

  Response no_name = PostJson(port_, path, R"({"note": "x"})");
  EXPECT_EQ(no_name.status, 400);
  EXPECT_EQ(StringField(ErrorOf(no_name), "parameter"), "supervisor");

  Response blank = PostJson(port_, path, R"({"supervisor": "   "})");
  EXPECT_EQ(blank.status, 400);
  EXPECT_EQ(StringField(ErrorOf(blank), "parameter"), "supervisor");

  Response not_json = PostJson(port_, path, "supervisor=Maya");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(StringField(ErrorOf(not_json), "parameter"), "body");

  Response unknown_member = PostJson(port_, path, R"({"supervisor": "Maya", "mood": "ok"})");
  EXPECT_EQ(unknown_member.status, 400);
  EXPECT_EQ(StringField(ErrorOf(unknown_member), "parameter"), "body");

  Response other_alert = PostJson(port_, path, R"({"supervisor": "Maya", "sequence": "999"})");
  EXPECT_EQ(other_alert.status, 400);
  EXPECT_EQ(StringField(ErrorOf(other_alert), "parameter"), "sequence");

  // A cross-site HTML form can only send form types: refused before anything is stored.
  Response form = Http(port_, "POST", path, R"({"supervisor": "Maya"})",
                       {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.status, 415);
  EXPECT_EQ(StringField(ErrorOf(form), "parameter"), "Content-Type");

  Response too_long = PostJson(port_, path, absl::StrCat(R"({"supervisor": ")",
                                                         std::string(300, 'x'), "\"}"));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(StringField(ErrorOf(too_long), "parameter"), "supervisor");

  Response unknown = PostJson(port_, "/api/alerts/999/ack", R"({"supervisor": "Maya"})");
  EXPECT_EQ(unknown.status, 404);

  Response huge = PostJson(port_, path, std::string(70 * 1024, ' '));
  EXPECT_EQ(huge.status, 413);

  // None of these acknowledged anything.
  auto alert = As<v1::StoredAlert>(Get(port_, absl::StrCat("/api/alerts/", stored.sequence())).body);
  EXPECT_FALSE(alert.has_acknowledgement());
}

// ---- calls --------------------------------------------------------------------------------

TEST_F(DashboardServerTest, ListsOnlyCallsInProgressWithTheirAlertCounts) {
  StartCall("live-1", "C1", "Rachel Moreno");
  StartCall("live-2", "C2");
  StartCall("ended", "C3");
  v1::CallSummary summary;
  summary.set_call_id("ended");
  summary.set_end_reason("hangup");
  ASSERT_TRUE(store_->RecordCallEnd(summary, absl::Now()).ok());
  Raise("live-1", v1::THIRD_PARTY_DISCLOSURE);
  Raise("live-1", v1::PROHIBITED_THREAT);
  ASSERT_TRUE(store_->Flush().ok());

  Response response = Get(port_, "/api/calls");
  ASSERT_EQ(response.status, 200) << response.body;
  auto calls = As<v1::ListActiveCallsResponse>(response.body);
  ASSERT_EQ(calls.calls_size(), 2);
  EXPECT_EQ(calls.calls(0).call_id(), "live-1");
  EXPECT_EQ(calls.calls(0).agent().name(), "Rachel Moreno");
  EXPECT_EQ(calls.calls(0).alert_count(), 2);
  EXPECT_EQ(calls.calls(1).alert_count(), 0);
  EXPECT_FALSE(StringField(Json(response.body), "serverTime").empty());
  // Explicit false values, so the page never guesses.
  EXPECT_NE(response.body.find("\"agentIdentified\":false"), std::string::npos);

  auto filtered = As<v1::ListActiveCallsResponse>(Get(port_, "/api/calls?agent=C2").body);
  ASSERT_EQ(filtered.calls_size(), 1);
  EXPECT_EQ(filtered.calls(0).call_id(), "live-2");
}

TEST_F(DashboardServerTest, UsesTheActiveCallsSourceItIsGiven) {
  DashboardServer::Options options = DefaultOptions();
  std::atomic<int> asked{0};  // bumped on an io thread
  options.active_calls = [&asked](const v1::ListActiveCallsRequest& request)
      -> absl::StatusOr<v1::ListActiveCallsResponse> {
    ++asked;
    v1::ListActiveCallsResponse response;
    response.add_calls()->set_call_id("from-the-registry");
    return response;
  };
  StartServer(std::move(options));
  auto calls = As<v1::ListActiveCallsResponse>(Get(port_, "/api/calls").body);
  ASSERT_EQ(calls.calls_size(), 1);
  EXPECT_EQ(calls.calls(0).call_id(), "from-the-registry");
  EXPECT_EQ(asked.load(), 1);
}

TEST_F(DashboardServerTest, ReturnsACallsTimelineByEncodedId) {
  const std::string id = "call 7/b";
  StartCall(id, "C1");
  Say(id, 0, v1::AGENT, "Hi, about your debt");
  Say(id, 1, v1::COUNTERPARTY, "This is his wife.");
  v1::PartyChange change;
  change.set_after_turn(1);
  change.set_party(v1::PARTY_THIRD_PARTY);
  ASSERT_TRUE(store_->RecordPartyChange(id, change).ok());
  Raise(id, v1::THIRD_PARTY_DISCLOSURE, v1::SEVERITY_HIGH, 0);
  ASSERT_TRUE(store_->Flush().ok());

  Response response = Get(port_, "/api/calls/call%207%2Fb");
  ASSERT_EQ(response.status, 200) << response.body;
  auto timeline = As<v1::CallTimeline>(response.body);
  EXPECT_EQ(timeline.start().call_id(), id);
  ASSERT_EQ(timeline.utterances_size(), 2);
  EXPECT_EQ(timeline.utterances(1).text(), "This is his wife.");
  ASSERT_EQ(timeline.party_changes_size(), 1);
  EXPECT_EQ(timeline.party_changes(0).party(), v1::PARTY_THIRD_PARTY);
  ASSERT_EQ(timeline.alerts_size(), 1);
  EXPECT_EQ(timeline.alerts(0).alert().coaching(), "Confirm you are speaking with the debtor first.");
  EXPECT_TRUE(timeline.active());

  Response missing = Get(port_, "/api/calls/no-such-call");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(StringField(ErrorOf(missing), "parameter"), "call_id");
}

TEST_F(DashboardServerTest, CountsAlertsPerBucketKindAndAgentForCharts) {
  StartCall("s1", "C1");
  StartCall("s2", "C2");
  Raise("s1", v1::THIRD_PARTY_DISCLOSURE);
  Raise("s1", v1::THIRD_PARTY_DISCLOSURE);
  Raise("s2", v1::ABUSIVE_LANGUAGE);

  Response response = Get(port_, "/api/stats?hours=2&bucket_seconds=600");
  ASSERT_EQ(response.status, 200) << response.body;
  auto stats = As<v1::AlertStatsResponse>(response.body);
  std::map<std::pair<std::string, int>, int64_t> counts;
  for (const auto& row : stats.counts()) counts[{row.agent_id(), row.violation()}] += row.count();
  EXPECT_EQ((counts[{"C1", v1::THIRD_PARTY_DISCLOSURE}]), 2);
  EXPECT_EQ((counts[{"C2", v1::ABUSIVE_LANGUAGE}]), 1);
  EXPECT_EQ(counts.size(), 2u);
  Struct body = Json(response.body);
  EXPECT_EQ(body.fields().at("bucketSeconds").number_value(), 600);
  EXPECT_FALSE(StringField(body, "since").empty());

  auto only_c2 = As<v1::AlertStatsResponse>(Get(port_, "/api/stats?agent=C2").body);
  int64_t total = 0;
  for (const auto& row : only_c2.counts()) total += row.count();
  EXPECT_EQ(total, 1);
}

// ---- the event stream ---------------------------------------------------------------------

TEST_F(DashboardServerTest, EventStreamPushesNewAlertsAndAcknowledgements) {
  StartCall("e1", "C1");
  Raise("e1", v1::THIRD_PARTY_DISCLOSURE);  // before the stream: not sent ("from now")

  EventStream stream(port_, "/api/events");
  EXPECT_EQ(stream.head().status, 200);
  EXPECT_EQ(stream.head().header("content-type"), "text/event-stream; charset=utf-8");
  auto ready = stream.Next();
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->event, "ready");
  EXPECT_EQ(ready->id, "1:0");
  EXPECT_EQ(metrics_.event_streams(), 1);

  v1::StoredAlert stored = Raise("e1", v1::PROHIBITED_THREAT, v1::SEVERITY_CRITICAL);
  auto event = stream.NextAlertOrAck();
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->event, "alert");
  EXPECT_EQ(event->id, "2:0");
  auto pushed = As<v1::StoredAlert>(event->data);
  EXPECT_EQ(pushed.sequence(), stored.sequence());
  EXPECT_EQ(pushed.alert().violation(), v1::PROHIBITED_THREAT);

  // Acknowledged through the API: every stream hears of it.
  Response ack = PostJson(port_, absl::StrCat("/api/alerts/", stored.sequence(), "/ack"),
                          R"({"supervisor": "Maya", "note": "called back"})");
  ASSERT_EQ(ack.status, 200);
  auto ack_event = stream.NextAlertOrAck();
  ASSERT_TRUE(ack_event.has_value());
  EXPECT_EQ(ack_event->event, "ack");
  EXPECT_EQ(ack_event->id, "2:1");
  auto acknowledgement = As<v1::Acknowledgement>(ack_event->data);
  EXPECT_EQ(acknowledgement.alert_sequence(), stored.sequence());
  EXPECT_EQ(acknowledgement.supervisor(), "Maya");
}

TEST_F(DashboardServerTest, EventStreamResumesFromLastEventIdWithNoGapAndNoDuplicate) {
  StartCall("r1", "C1");
  std::string resume_id;
  {
    EventStream stream(port_, "/api/events");
    ASSERT_TRUE(stream.Next().has_value());  // ready
    Raise("r1", v1::ABUSIVE_LANGUAGE);
    Raise("r1", v1::ABUSIVE_LANGUAGE);
    auto first = stream.NextAlertOrAck();
    auto second = stream.NextAlertOrAck();
    ASSERT_TRUE(first.has_value() && second.has_value());
    EXPECT_EQ(As<v1::StoredAlert>(second->data).sequence(), 2u);
    resume_id = first->id;  // the browser lost the second one with the connection
  }
  // Stored while nobody watched.
  for (int i = 0; i < 4; ++i) Raise("r1", v1::PROHIBITED_THREAT);
  ASSERT_TRUE(store_->Acknowledge(3, "Maya", "").ok());

  EventStream resumed(port_, "/api/events", resume_id);
  auto ready = resumed.Next();
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->id, resume_id);
  std::vector<uint64_t> sequences;
  std::vector<uint64_t> acked;
  while (sequences.size() < 5 || acked.empty()) {
    auto event = resumed.NextAlertOrAck();
    ASSERT_TRUE(event.has_value()) << "stream ended after " << sequences.size() << " alerts";
    if (event->event == "alert") sequences.push_back(As<v1::StoredAlert>(event->data).sequence());
    if (event->event == "ack") acked.push_back(As<v1::Acknowledgement>(event->data).alert_sequence());
  }
  EXPECT_EQ(sequences, (std::vector<uint64_t>{2, 3, 4, 5, 6}));
  EXPECT_EQ(acked, (std::vector<uint64_t>{3}));

  // Live ones follow the replay on the same stream.
  Raise("r1", v1::IMPERSONATION);
  auto live = resumed.NextAlertOrAck();
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(As<v1::StoredAlert>(live->data).sequence(), 7u);
  EXPECT_EQ(live->id, "7:1");
}

TEST_F(DashboardServerTest, EventStreamStartsAfterTheSequencesAPageListed) {
  StartCall("q1", "C1");
  Raise("q1", v1::ABUSIVE_LANGUAGE);
  Raise("q1", v1::ABUSIVE_LANGUAGE);
  Raise("q1", v1::ABUSIVE_LANGUAGE);
  // The page listed up to sequence 1 and then opened the stream after it.
  EventStream stream(port_, "/api/events?after_sequence=1&after_ack_sequence=0");
  std::vector<uint64_t> sequences;
  while (sequences.size() < 2) {
    auto event = stream.NextAlertOrAck();
    ASSERT_TRUE(event.has_value());
    if (event->event == "alert") sequences.push_back(As<v1::StoredAlert>(event->data).sequence());
  }
  EXPECT_EQ(sequences, (std::vector<uint64_t>{2, 3}));
}

TEST_F(DashboardServerTest, EventStreamFiltersByAgentKindAndSeverity) {
  StartCall("f1", "C1");
  StartCall("f2", "C2");
  EventStream by_agent(port_, "/api/events?agent=C2");
  EventStream by_kind(port_, "/api/events?kind=PROHIBITED_THREAT&min_severity=critical");
  ASSERT_TRUE(by_agent.Next().has_value());
  ASSERT_TRUE(by_kind.Next().has_value());
  Raise("f1", v1::PROHIBITED_THREAT, v1::SEVERITY_CRITICAL);  // 1: agent C1
  Raise("f2", v1::ABUSIVE_LANGUAGE, v1::SEVERITY_HIGH);       // 2: agent C2
  Raise("f2", v1::PROHIBITED_THREAT, v1::SEVERITY_HIGH);      // 3: not critical

  std::vector<uint64_t> agent_seen;
  while (agent_seen.size() < 2) {
    auto event = by_agent.NextAlertOrAck();
    ASSERT_TRUE(event.has_value());
    agent_seen.push_back(As<v1::StoredAlert>(event->data).sequence());
  }
  EXPECT_EQ(agent_seen, (std::vector<uint64_t>{2, 3}));
  auto kind_event = by_kind.NextAlertOrAck();
  ASSERT_TRUE(kind_event.has_value());
  EXPECT_EQ(As<v1::StoredAlert>(kind_event->data).sequence(), 1u);
  // A later match proves nothing was sent in between.
  Raise("f1", v1::PROHIBITED_THREAT, v1::SEVERITY_CRITICAL);  // 4
  auto next = by_kind.NextAlertOrAck();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(As<v1::StoredAlert>(next->data).sequence(), 4u);
}

TEST_F(DashboardServerTest, EventStreamRefusesCursorsItCannotHonour) {
  Response bad_id = [&] {
    EventStream stream(port_, "/api/events", "not-a-cursor");
    return stream.head();
  }();
  EXPECT_EQ(bad_id.status, 400);

  EventStream beyond(port_, "/api/events?after_sequence=50");
  EXPECT_EQ(beyond.head().status, 400) << beyond.rest();
  EXPECT_NE(beyond.rest().find("\"parameter\":\"after_sequence\""), std::string::npos)
      << beyond.rest();
}

TEST_F(DashboardServerTest, IdleStreamsGetKeepaliveComments) {
  DashboardServer::Options options = DefaultOptions();
  options.event_keepalive = absl::Milliseconds(50);
  StartServer(std::move(options));
  EventStream stream(port_, "/api/events");
  ASSERT_TRUE(stream.Next().has_value());  // ready
  // caught_up may come first; then nothing happens but the keepalive.
  auto comment = stream.Next(/*comments=*/true);
  if (comment.has_value() && comment->event == "caught_up") comment = stream.Next(true);
  ASSERT_TRUE(comment.has_value());
  EXPECT_TRUE(comment->comment_only) << comment->event;
}

TEST_F(DashboardServerTest, ShutdownClosesOpenStreamsAndConnections) {
  EventStream stream(port_, "/api/events");
  ASSERT_TRUE(stream.Next().has_value());
  EXPECT_EQ(hub_->watcher_count(), 1u);
  server_->Shutdown();
  EXPECT_TRUE(stream.WaitForEnd());
  EXPECT_EQ(hub_->watcher_count(), 0u) << "the stream's subscription is gone with it";
  EXPECT_EQ(metrics_.event_streams(), 0);
  EXPECT_LT(Connect(port_), 0) << "no longer accepting";
  server_->Shutdown();  // idempotent
}

TEST_F(DashboardServerTest, HubShutdownEndsStreams) {
  EventStream stream(port_, "/api/events");
  ASSERT_TRUE(stream.Next().has_value());
  hub_->Shutdown();
  EXPECT_TRUE(stream.WaitForEnd());
}

TEST_F(DashboardServerTest, WithoutAHubTheStreamIs503) {
  DashboardServer::Options options = DefaultOptions();
  options.hub = nullptr;
  StartServer(std::move(options));
  EventStream stream(port_, "/api/events");
  EXPECT_EQ(stream.head().status, 503);
}

// ---- creation -----------------------------------------------------------------------------

TEST_F(DashboardServerTest, CreateRejectsBadOptionsAndBusyPorts) {
  DashboardServer::Options no_store = DefaultOptions();
  no_store.store = nullptr;
  EXPECT_EQ(DashboardServer::Create(no_store).status().code(), absl::StatusCode::kInvalidArgument);

  for (const char* address : {"127.0.0.1", "127.0.0.1:99999", "127.0.0.1:http"}) {
    DashboardServer::Options options = DefaultOptions();
    options.listen_address = address;
    EXPECT_EQ(DashboardServer::Create(options).status().code(),
              absl::StatusCode::kInvalidArgument)
        << address;
  }
  DashboardServer::Options busy = DefaultOptions();
  busy.listen_address = server_->address();
  auto second = DashboardServer::Create(busy);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();

  EXPECT_EQ(server_->address(), absl::StrCat("127.0.0.1:", port_));
  EXPECT_EQ(server_->url(), absl::StrCat("http://127.0.0.1:", port_, "/"));
  EXPECT_EQ(server_->Start().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace callguard
