#include "webhook_ingest.h"

#include <filesystem>
#include <set>
#include <thread>
#include <unistd.h>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "callguard/v1/guard.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "sqlite_alert_store.h"
#include "status_util.h"
#include "wire_codec.h"

namespace callguard {
namespace {

using dashboard::HttpResponse;

constexpr absl::string_view kJson = "application/json";

std::string PolicyDir() { return std::string(CALLGUARD_SOURCE_DIR) + "/tests/data/server-policies"; }

// The members of a JSON object answer.
google::protobuf::Struct ParseObject(const std::string& json) {
  google::protobuf::Struct object;
  auto status = google::protobuf::util::JsonStringToMessage(json, &object);
  EXPECT_TRUE(status.ok()) << status << " in " << json;
  return object;
}

std::string Member(const std::string& json, const std::string& name) {
  google::protobuf::Struct object = ParseObject(json);
  auto it = object.fields().find(name);
  if (it == object.fields().end()) return "";
  if (it->second.has_string_value()) return it->second.string_value();
  if (it->second.has_number_value()) return absl::StrCat(it->second.number_value());
  if (it->second.has_bool_value()) return it->second.bool_value() ? "true" : "false";
  return "";
}

template <typename M>
M ParseAnswer(const HttpResponse& response) {
  M message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(response.body, &message, options);
  EXPECT_TRUE(status.ok()) << status << " in " << response.body;
  return message;
}

// The answer must be a JSON error with this status, code and field.
void ExpectError(const HttpResponse& response, int http_status, absl::string_view code,
                 absl::string_view field) {
  EXPECT_EQ(response.status, http_status) << response.body;
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(Member(response.body, "code"), code) << response.body;
  EXPECT_EQ(Member(response.body, "field"), field) << response.body;
  EXPECT_FALSE(Member(response.body, "message").empty()) << response.body;
}

std::string Header(const HttpResponse& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

class WebhookIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engines = EngineHolder::Create(PolicyDir());
    ASSERT_TRUE(engines.ok()) << engines.status();
    engines_ = *std::move(engines);
    CallRegistry::Options registry_options;
    registry_options.idle_timeout = absl::Seconds(60);
    registry_options.max_active_calls = 3;
    registry_options.clock = [this] { return Now(); };
    registry_ = std::make_unique<CallRegistry>(std::move(registry_options));
    MakeIngest(/*store=*/nullptr);
  }

  void MakeIngest(AlertStore* store) {
    ingest_.reset();
    WebhookIngest::Options options;
    options.engines = engines_.get();
    options.registry = registry_.get();
    options.store = store;
    options.metrics = &metrics_;
    options.clock = [this] { return Now(); };
    options.limits.max_utterance_bytes = 64;
    options.max_body_bytes = 1024;
    auto ingest = WebhookIngest::Create(std::move(options));
    ASSERT_TRUE(ingest.ok()) << ingest.status();
    ingest_ = *std::move(ingest);
  }

  absl::Time Now() {
    absl::MutexLock lock(&clock_mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&clock_mu_);
    now_ += d;
  }

  HttpResponse Post(const std::string& target, const std::string& body,
                    absl::string_view content_type = kJson) {
    return ingest_->Handle("POST", target, content_type, body);
  }
  HttpResponse StartCall(const std::string& id, const std::string& policy = "test-en") {
    return Post(absl::StrCat("/v1/calls/", id, ":start"),
                absl::StrCat(R"({"policy":")", policy, R"(","agent":{"name":"Ann Lee","agentId":"A7"}})"));
  }
  HttpResponse Say(const std::string& call, const std::string& id, const std::string& speaker,
                   const std::string& text, bool is_final = true) {
    return Post(absl::StrCat("/v1/calls/", call, "/utterances"),
                absl::StrCat(R"({"utteranceId":")", id, R"(","speaker":")", speaker,
                             R"(","text":")", text, R"(","isFinal":)", is_final ? "true" : "false",
                             "}"));
  }

  absl::Mutex clock_mu_;
  absl::Time now_ ABSL_GUARDED_BY(clock_mu_) = absl::FromUnixSeconds(1767225600);
  std::unique_ptr<EngineHolder> engines_;
  std::unique_ptr<CallRegistry> registry_;
  MetricsRegistry metrics_;
  std::unique_ptr<WebhookIngest> ingest_;
};

TEST_F(WebhookIngestTest, StartsJudgesAndEndsACall) {
  HttpResponse started = StartCall("c1");
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(started.content_type, "application/json");
  EXPECT_EQ(Member(started.body, "callId"), "c1");
  EXPECT_EQ(Member(started.body, "policyId"), "test-en");
  EXPECT_EQ(Member(started.body, "language"), "en");
  EXPECT_EQ(ingest_->open_calls(), 1u);
  EXPECT_EQ(registry_->active_calls(), 1u);
  EXPECT_EQ(metrics_.active_calls(), 1);

  // An interim result raises the alert; the final one of the same utterance does not again.
  HttpResponse interim = Say("c1", "u1", "AGENT", "you will be arrested", /*is_final=*/false);
  ASSERT_EQ(interim.status, 200) << interim.body;
  auto verdict = ParseAnswer<v1::Verdict>(interim);
  EXPECT_EQ(verdict.utterance_id(), "u1");
  EXPECT_EQ(verdict.turn(), 0);
  EXPECT_FALSE(verdict.is_final());
  ASSERT_EQ(verdict.alerts_size(), 1);
  EXPECT_EQ(verdict.alerts(0).rule_id(), "test.threat.arrest");
  EXPECT_EQ(verdict.alerts(0).call_id(), "c1");
  EXPECT_EQ(verdict.alerts(0).agent_id(), "A7");
  EXPECT_EQ(verdict.alerts(0).violation(), v1::PROHIBITED_THREAT);
  EXPECT_TRUE(verdict.alerts(0).interim());
  EXPECT_GT(verdict.eval_ns(), 0);

  verdict = ParseAnswer<v1::Verdict>(Say("c1", "u1", "AGENT", "you will be arrested today"));
  EXPECT_EQ(verdict.turn(), 0);
  EXPECT_TRUE(verdict.is_final());
  EXPECT_EQ(verdict.alerts_size(), 0);
  // A verdict without alerts still says so explicitly.
  EXPECT_TRUE(absl::StrContains(Say("c1", "u2", "COUNTERPARTY", "who is this").body, "\"alerts\":[]"));

  HttpResponse party = Post("/v1/calls/c1/party", R"({"party":"PARTY_DEBTOR","note":"verified"})");
  ASSERT_EQ(party.status, 200) << party.body;
  EXPECT_EQ(Member(party.body, "party"), "PARTY_DEBTOR");

  HttpResponse ended = Post("/v1/calls/c1:end", R"({"reason":"hung up"})");
  ASSERT_EQ(ended.status, 200) << ended.body;
  auto summary = ParseAnswer<v1::CallSummary>(ended);
  EXPECT_EQ(summary.call_id(), "c1");
  EXPECT_EQ(summary.turns(), 2);
  EXPECT_EQ(summary.alerts(), 1);
  EXPECT_EQ(summary.party(), v1::PARTY_DEBTOR);
  EXPECT_EQ(summary.end_reason(), "hung up");
  EXPECT_EQ(ingest_->open_calls(), 0u);
  EXPECT_EQ(registry_->active_calls(), 0u);
  EXPECT_EQ(metrics_.active_calls(), 0);

  // After the end every event hears why, and the id may start a new call.
  HttpResponse late = Say("c1", "u3", "AGENT", "hello");
  ExpectError(late, 404, "NOT_FOUND", "call_id");
  EXPECT_TRUE(absl::StrContains(Member(late.body, "message"), "has ended (hung up)")) << late.body;
  ExpectError(Post("/v1/calls/c1:end", "{}"), 404, "NOT_FOUND", "call_id");
  EXPECT_EQ(StartCall("c1").status, 200);
}

TEST_F(WebhookIngestTest, AlertsEqualThoseOfTheSameEventsOnACallSession) {
  ASSERT_EQ(StartCall("same").status, 200);
  CallSession::Options options;
  options.engine = engines_->Current();
  options.start.set_call_id("same");
  options.start.set_policy("test-en");
  options.start.mutable_agent()->set_name("Ann Lee");
  options.start.mutable_agent()->set_agent_id("A7");
  options.clock = [this] { return Now(); };
  auto session = CallSession::Create(std::move(options));
  ASSERT_TRUE(session.ok()) << session.status();
  const std::vector<std::pair<std::string, std::string>> turns = {
      {"AGENT", "hi this is Ann about the debt you owe"},
      {"COUNTERPARTY", "this is his wife"},
      {"AGENT", "tell him he owes the debt or he will be arrested"}};
  for (size_t i = 0; i < turns.size(); ++i) {
    v1::Utterance utterance;
    utterance.set_utterance_id(absl::StrCat("u", i));
    v1::Speaker speaker;
    ASSERT_TRUE(v1::Speaker_Parse(turns[i].first, &speaker));
    utterance.set_speaker(speaker);
    utterance.set_text(turns[i].second);
    utterance.set_is_final(true);
    auto direct = (*session)->OnUtterance(utterance);
    ASSERT_TRUE(direct.ok());
    auto verdict = ParseAnswer<v1::Verdict>(
        Say("same", utterance.utterance_id(), turns[i].first, turns[i].second));
    ASSERT_EQ(static_cast<size_t>(verdict.alerts_size()), direct->size()) << "turn " << i;
    for (size_t k = 0; k < direct->size(); ++k) {
      EXPECT_EQ(verdict.alerts(k).SerializeAsString(), (*direct)[k].SerializeAsString());
    }
  }
}

TEST_F(WebhookIngestTest, RecordsTheCallInTheAlertStore) {
  const std::string db = absl::StrCat(::testing::TempDir(), "/webhook-ingest-", getpid(), ".db");
  std::filesystem::remove(db);
  SqliteAlertStore::Options store_options;
  store_options.path = db;
  store_options.clock = [this] { return Now(); };
  auto store = SqliteAlertStore::Create(std::move(store_options));
  ASSERT_TRUE(store.ok()) << store.status();
  MakeIngest(store->get());

  ASSERT_EQ(StartCall("stored").status, 200);
  auto verdict = ParseAnswer<v1::Verdict>(Say("stored", "u1", "AGENT", "you will be arrested"));
  ASSERT_EQ(verdict.alerts_size(), 1);
  ASSERT_EQ(Post("/v1/calls/stored/party", R"({"party":"PARTY_THIRD_PARTY"})").status, 200);
  ASSERT_EQ(StartCall("left-open").status, 200);
  ASSERT_EQ(Post("/v1/calls/stored:end", "").status, 200);
  // The ingest going away ends the call still open, as a server shutdown would.
  ingest_.reset();
  ASSERT_TRUE((*store)->Flush().ok());

  auto timeline = (*store)->GetCall("stored");
  ASSERT_TRUE(timeline.ok()) << timeline.status();
  EXPECT_FALSE(timeline->active());
  EXPECT_EQ(timeline->start().agent().agent_id(), "A7");
  ASSERT_EQ(timeline->utterances_size(), 1);
  ASSERT_EQ(timeline->alerts_size(), 1);
  EXPECT_EQ(timeline->alerts(0).alert().alert_id(), verdict.alerts(0).alert_id());
  EXPECT_EQ(timeline->summary().alerts(), 1);
  bool third_party = false;
  for (const auto& change : timeline->party_changes()) third_party |= change.party() == v1::PARTY_THIRD_PARTY;
  EXPECT_TRUE(third_party);

  auto left_open = (*store)->GetCall("left-open");
  ASSERT_TRUE(left_open.ok()) << left_open.status();
  EXPECT_FALSE(left_open->active());
  EXPECT_EQ(left_open->summary().end_reason(), "server shutting down");
  store->reset();
  std::filesystem::remove(db);
}

TEST_F(WebhookIngestTest, BadJsonNamesTheField) {
  ASSERT_EQ(StartCall("j").status, 200);
  const std::string route = "/v1/calls/j/utterances";
  struct Case {
    std::string body;
    std::string field;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {R"({"utteranceId":"u1",)", "utterance", "not valid JSON"},
      {R"([1,2])", "utterance", "not valid JSON"},
      {R"({"utteranceId":"u1"} trailing)", "utterance", "not valid JSON"},
      {R"({"utteranceId":"u1","bogus":1})", "utterance.bogus", "unknown field"},
      {R"({"utteranceId":1})", "utterance.utterance_id", "invalid value 1"},
      {R"({"utteranceId":"u1","startMs":"soon"})", "utterance.start_ms", "invalid value"},
      {R"({"utteranceId":"u1","speaker":"ROBOT"})", "utterance.speaker", "one of SPEAKER_UNSPECIFIED, AGENT, COUNTERPARTY"},
      {"{\"utteranceId\":\"u1\",\"speaker\":\"AGENT\",\"text\":\"ab\xff\xfe c\"}", "utterance.text",
       "utterance.text: invalid UTF-8 at byte 2"},
      {R"({"utteranceId":"u1","speaker":"AGENT","text":"a\u00e9\ud800 c"})", "utterance.text",
       "utterance.text: invalid UTF-8 at byte 3"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    HttpResponse response = Post(route, c.body);
    ExpectError(response, 400, "INVALID_ARGUMENT", c.field);
    EXPECT_TRUE(absl::StrContains(Member(response.body, "message"), c.message_part)) << response.body;
  }
  // Nothing of that reached the call.
  EXPECT_EQ(ParseAnswer<v1::Verdict>(Say("j", "ok", "AGENT", "hello")).turn(), 0);

  // Nested members of a start are named by their full path.
  ExpectError(Post("/v1/calls/j2:start", R"({"policy":"test-en","agent":{"nam":"x"}})"), 400,
              "INVALID_ARGUMENT", "start.agent.nam");
  ExpectError(Post("/v1/calls/j2:start", R"({"policy":"test-en","agent":"Bob"})"), 400,
              "INVALID_ARGUMENT", "start.agent");
  ExpectError(Post("/v1/calls/j2:start", "{\"policy\":\"test-en\",\"debtor\":{\"otherNames\":[\"a\",\"b\xc3\"]}}"),
              400, "INVALID_ARGUMENT", "start.debtor.other_names[1]");
  ExpectError(Post("/v1/calls/j2:start", R"({"policy":"test-en","dialed":"NOPE"})"), 400,
              "INVALID_ARGUMENT", "start.dialed");
  ExpectError(Post("/v1/calls/j:end", R"({"reason":7})"), 400, "INVALID_ARGUMENT", "end.reason");
  EXPECT_EQ(ingest_->open_calls(), 1u);
}

// Text that is not UTF-8 gets the message and field the Converse stream gives for the same text.
TEST_F(WebhookIngestTest, InvalidUtf8MatchesTheConversePath) {
  ASSERT_EQ(StartCall("u").status, 200);
  const std::string text = "you will be \xff\xfe arrested";
  v1::CallEvent event;
  event.mutable_utterance()->set_utterance_id("u1");
  event.mutable_utterance()->set_speaker(v1::AGENT);
  event.mutable_utterance()->set_text(text);
  v1::CallEvent parsed;
  const absl::Status grpc_status = ParseMessage(event.SerializeAsString(), &parsed);
  ASSERT_FALSE(grpc_status.ok());

  HttpResponse response =
      Say("u", "u1", "AGENT", text);
  ExpectError(response, 400, "INVALID_ARGUMENT", FieldOf(grpc_status));
  EXPECT_EQ(Member(response.body, "message"), grpc_status.message());
}

TEST_F(WebhookIngestTest, EngineErrorsUseTheConverseFieldsAndMessages) {
  ASSERT_EQ(StartCall("e").status, 200);
  struct Case {
    HttpResponse response;
    std::string field;
    std::string message;
  };
  const std::vector<Case> cases = {
      {Say("e", "u1", "AGENT", ""), "utterance.text", "utterance.text: must not be empty"},
      {Say("e", "u1", "AGENT", "   "), "utterance.text", "utterance.text: must not be empty"},
      {Say("e", "u1", "AGENT", std::string(65, 'a')), "utterance.text",
       "utterance.text: 65 bytes exceeds the limit of 64"},
      {Say("e", "u1", "SPEAKER_UNSPECIFIED", "hello"), "utterance.speaker",
       "utterance.speaker: must be AGENT or COUNTERPARTY"},
      {Say("e", "", "AGENT", "hello"), "utterance.utterance_id",
       "utterance.utterance_id: must not be empty"},
      {Post("/v1/calls/e/party", R"({"party":99})"), "party_update.party",
       "party_update.party: unknown value"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    ExpectError(c.response, 400, "INVALID_ARGUMENT", c.field);
    EXPECT_EQ(Member(c.response.body, "message"), c.message);
  }
  // A speaker cannot change within an utterance.
  ASSERT_EQ(Say("e", "u2", "AGENT", "hello").status, 200);
  ExpectError(Say("e", "u2", "COUNTERPARTY", "hello there"), 400, "INVALID_ARGUMENT",
              "utterance.speaker");
}

TEST_F(WebhookIngestTest, StartErrors) {
  HttpResponse unknown = StartCall("s", "nope");
  ExpectError(unknown, 400, "INVALID_ARGUMENT", "start.policy");
  EXPECT_EQ(Member(unknown.body, "message"),
            "start.policy: unknown policy \"nope\"; known policies: test-en, test-zh");
  ExpectError(Post("/v1/calls/s:start", "{}"), 400, "INVALID_ARGUMENT", "start.policy");
  ExpectError(Post("/v1/calls/s:start", R"({"policy":"test-en","callId":"other"})"), 400,
              "INVALID_ARGUMENT", "start.call_id");
  ExpectError(Post("/v1/calls/s:start", R"({"policy":"test-en","language":"zh"})"), 400,
              "INVALID_ARGUMENT", "start.language");
  ExpectError(StartCall(std::string(129, 'x')), 400, "INVALID_ARGUMENT", "start.call_id");
  ExpectError(Post("/v1/calls/:start", R"({"policy":"test-en"})"), 400, "INVALID_ARGUMENT",
              "start.call_id");
  EXPECT_EQ(ingest_->open_calls(), 0u);

  // The same id as the body is fine; a second start of an active id is a conflict.
  ASSERT_EQ(Post("/v1/calls/s:start", R"({"policy":"test-en","callId":"s"})").status, 200);
  HttpResponse again = StartCall("s");
  ExpectError(again, 409, "ALREADY_EXISTS", "start.call_id");

  // The registry's cap (3 here) answers 503 with Retry-After.
  ASSERT_EQ(StartCall("s2").status, 200);
  ASSERT_EQ(StartCall("s3").status, 200);
  HttpResponse full = StartCall("s4");
  ExpectError(full, 503, "RESOURCE_EXHAUSTED", "start");
  EXPECT_EQ(Header(full, "Retry-After"), "1");
  EXPECT_EQ(ingest_->open_calls(), 3u);
}

TEST_F(WebhookIngestTest, RoutesMethodsTypesAndSizes) {
  ASSERT_EQ(StartCall("r").status, 200);
  ExpectError(Post("/v1/calls/nobody/utterances", R"({"utteranceId":"u"})"), 404, "NOT_FOUND",
              "call_id");
  ExpectError(Post("/v1/calls/nobody/party", R"({"party":"PARTY_DEBTOR"})"), 404, "NOT_FOUND", "call_id");
  ExpectError(Post("/v1/calls/nobody:end", "{}"), 404, "NOT_FOUND", "call_id");
  for (const char* target : {"/v1/calls/r:pause", "/v1/calls/r", "/v1/calls/r/alerts", "/v1/things",
                             "/v1/calls/r/utterances/u1", "/v2/calls/r:start"}) {
    SCOPED_TRACE(target);
    ExpectError(Post(target, "{}"), 404, "NOT_FOUND", "path");
  }

  HttpResponse get = ingest_->Handle("GET", "/v1/calls/r/utterances", "", "");
  ExpectError(get, 405, "INVALID_ARGUMENT", "method");
  EXPECT_EQ(Header(get, "Allow"), "POST");

  const std::string body = R"({"utteranceId":"u1","speaker":"AGENT","text":"hello"})";
  ExpectError(Post("/v1/calls/r/utterances", body, "text/plain"), 415, "INVALID_ARGUMENT",
              "Content-Type");
  ExpectError(Post("/v1/calls/r/utterances", body, ""), 415, "INVALID_ARGUMENT", "Content-Type");
  ExpectError(Post("/v1/calls/r/utterances", body, "application/json; charset=latin1"), 415,
              "INVALID_ARGUMENT", "Content-Type");
  EXPECT_EQ(Post("/v1/calls/r/utterances", body, "Application/JSON; charset=UTF-8").status, 200);
  // The query is ignored.
  EXPECT_EQ(Post("/v1/calls/r/party?source=desk", R"({"party":"PARTY_DEBTOR"})").status, 200);

  const std::string large = absl::StrCat(R"({"utteranceId":"big","speaker":"AGENT","text":")",
                                         std::string(1100, 'a'), R"("})");
  ExpectError(Post("/v1/calls/r/utterances", large), 413, "INVALID_ARGUMENT", "body");
  ExpectError(ingest_->BodyTooLarge(), 413, "INVALID_ARGUMENT", "body");

  // A bodiless end needs no content type.
  HttpResponse ended = Post("/v1/calls/r:end", "", "");
  ASSERT_EQ(ended.status, 200) << ended.body;
  EXPECT_EQ(ParseAnswer<v1::CallSummary>(ended).turns(), 1);
}

TEST_F(WebhookIngestTest, CallIdsArePercentDecoded) {
  HttpResponse started = StartCall("desk%2F7%3Aa");
  ASSERT_EQ(started.status, 200) << started.body;
  EXPECT_EQ(Member(started.body, "callId"), "desk/7:a");
  EXPECT_EQ(Say("desk%2F7%3Aa", "u1", "AGENT", "hello").status, 200);
  ExpectError(Post("/v1/calls/bad%ZZ/utterances", "{}"), 400, "INVALID_ARGUMENT", "call_id");
  ExpectError(Post("/v1/calls/bad%FF:start", R"({"policy":"test-en"})"), 400, "INVALID_ARGUMENT",
              "call_id");
}

TEST_F(WebhookIngestTest, TheIdleSweepEndsAQuietCall) {
  ASSERT_EQ(StartCall("quiet").status, 200);
  ASSERT_EQ(StartCall("busy").status, 200);
  Advance(absl::Seconds(40));
  ASSERT_EQ(Say("busy", "u1", "AGENT", "hello").status, 200);  // activity keeps it
  Advance(absl::Seconds(40));
  EXPECT_EQ(registry_->SweepIdle(), 1);
  EXPECT_EQ(ingest_->open_calls(), 1u);
  HttpResponse late = Say("quiet", "u1", "AGENT", "hello");
  ExpectError(late, 404, "NOT_FOUND", "call_id");
  EXPECT_TRUE(absl::StrContains(Member(late.body, "message"), "has ended (idle timeout)"))
      << late.body;
  EXPECT_EQ(Say("busy", "u2", "AGENT", "still here").status, 200);
  EXPECT_EQ(StartCall("quiet").status, 200);
}

// POSTs to one call are judged one at a time (every utterance gets its own turn); different
// calls go in parallel.
TEST_F(WebhookIngestTest, ConcurrentPostsToOneCallAreSerialized) {
  ASSERT_EQ(StartCall("shared").status, 200);
  ASSERT_EQ(StartCall("other").status, 200);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  absl::Mutex mu;
  std::vector<int> turns;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string call = (i % 5 == 0) ? "other" : "shared";
        HttpResponse response =
            Say(call, absl::StrCat("t", t, "-", i), "AGENT", absl::StrCat("number ", i, " you will be arrested"));
        if (call != "shared") continue;
        auto verdict = ParseAnswer<v1::Verdict>(response);
        EXPECT_EQ(verdict.alerts_size(), 1);
        absl::MutexLock lock(&mu);
        turns.push_back(verdict.turn());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::set<int> distinct(turns.begin(), turns.end());
  EXPECT_EQ(distinct.size(), turns.size());
  EXPECT_EQ(*distinct.begin(), 0);
  EXPECT_EQ(*distinct.rbegin(), static_cast<int>(turns.size()) - 1);
  auto summary = ParseAnswer<v1::CallSummary>(Post("/v1/calls/shared:end", "{}"));
  EXPECT_EQ(summary.turns(), static_cast<int>(turns.size()));
  EXPECT_EQ(summary.alerts(), static_cast<int>(turns.size()));
}

TEST(WebhookJsonTest, EmptyBodyIsAnEmptyMessage) {
  v1::CallEnd end;
  EXPECT_TRUE(webhook::ParseJsonEvent("  \n", "end", &end).ok());
  EXPECT_TRUE(end.reason().empty());
}

TEST(WebhookJsonTest, ErrorBodyIsValidJsonEvenForBadBytes) {
  const std::string body = webhook::ErrorBody(absl::InvalidArgumentError("bad \xff byte <x>"), "f");
  google::protobuf::Struct object;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(body, &object).ok()) << body;
  EXPECT_EQ(object.fields().at("code").string_value(), "INVALID_ARGUMENT");
  EXPECT_EQ(object.fields().at("field").string_value(), "f");
}

}  // namespace
}  // namespace callguard
