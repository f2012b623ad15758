// Request parsing, JSON escaping, error bodies and the event stream's wire format.
#include "http_util.h"

#include "dashboard_api.h"
#include "gtest/gtest.h"

namespace callguard::dashboard {
namespace {

TEST(HttpUtilTest, ParsesPathSegmentsAndQuery) {
  auto target = ParseTarget("/api/calls/call%2F7%20b?agent=C1&agent=C2,C3&note=a+b%26c");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->path, "/api/calls/call%2F7%20b");
  EXPECT_EQ(target->segments, (std::vector<std::string>{"api", "calls", "call/7 b"}));
  QueryParams query(target->query);
  EXPECT_EQ(query.List("agent"), (std::vector<std::string>{"C1", "C2", "C3"}));
  auto note = query.Single("note");
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(note->value(), "a b&c");
  EXPECT_FALSE(query.Single("agent").ok()) << "a repeated single-valued parameter is an error";
}

TEST(HttpUtilTest, RejectsBrokenEncodingsNamingWhere) {
  auto bad_escape = ParseTarget("/api/alerts?kind=%zz");
  ASSERT_FALSE(bad_escape.ok());
  EXPECT_EQ(ParameterOf(bad_escape.status()), "kind");
  auto cut = ParseTarget("/api/calls/abc%2");
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(ParameterOf(cut.status()), "path");
  auto not_utf8 = ParseTarget("/x?agent=%ff%fe");
  ASSERT_FALSE(not_utf8.ok());
  EXPECT_EQ(ParameterOf(not_utf8.status()), "agent");
  EXPECT_FALSE(ParseTarget("no-slash").ok());
}

TEST(HttpUtilTest, NumbersAndBooleansAreRangeChecked) {
  QueryParams query({{"page_size", "0"}, {"n", "12"}, {"flag", "yes"}, {"neg", "-3"}});
  EXPECT_EQ(*query.Int("n", 5, 1, 100), 12);
  EXPECT_EQ(*query.Int("absent", 5, 1, 100), 5);
  auto too_small = query.Int("page_size", 50, 1, 1000);
  ASSERT_FALSE(too_small.ok());
  EXPECT_EQ(ParameterOf(too_small.status()), "page_size");
  EXPECT_TRUE(*query.Bool("flag", false));
  EXPECT_FALSE(query.Uint("neg").ok());
  EXPECT_FALSE(query.Uint("absent")->has_value());
  auto unknown = query.OnlyKnown({"page_size", "n", "flag"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(ParameterOf(unknown), "neg");
}

TEST(HttpUtilTest, JsonStringsEscapeQuotesControlsAndMarkup) {
  EXPECT_EQ(JsonString("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(JsonString("<script>&"), "\"\\u003cscript\\u003e\\u0026\"");
  EXPECT_EQ(JsonString(std::string("\x01", 1)), "\"\\u0001\"");
  EXPECT_EQ(JsonString("催收"), "\"催收\"");
}

TEST(HttpUtilTest, ErrorBodiesNameTheParameter) {
  EXPECT_EQ(ErrorJson(ParameterError("kind", "unknown")),
            "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\",\"message\":\"kind: "
            "unknown\",\"parameter\":\"kind\"}}");
  // The store's "field: message" convention is understood too.
  EXPECT_EQ(ParameterOf(absl::InvalidArgumentError("page_token: not a token")), "page_token");
  EXPECT_EQ(ParameterOf(absl::NotFoundError("page_token: x")), "");
  EXPECT_EQ(HttpStatusFor(absl::NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusFor(absl::AlreadyExistsError("x")), 409);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("x")), 503);
  EXPECT_EQ(ErrorJson(absl::NotFoundError("gone"), 404).find("\"parameter\""), std::string::npos);
}

TEST(HttpUtilTest, SseMessagesSplitDataLines) {
  EXPECT_EQ(SseMessage("alert", "3:1", "{\"a\":1}"), "event: alert\nid: 3:1\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(SseMessage("", "", "one\ntwo"), "data: one\ndata: two\n\n");
}

TEST(EventCursorTest, RoundTripsAndAcceptsABareAlertSequence) {
  EventCursor cursor{42, 7};
  EXPECT_EQ(cursor.ToId(), "42:7");
  auto parsed = EventCursor::FromId("42:7", 0);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->alert_sequence, 42u);
  EXPECT_EQ(parsed->ack_sequence, 7u);
  auto bare = EventCursor::FromId("42", 9);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->alert_sequence, 42u);
  EXPECT_EQ(bare->ack_sequence, 9u);
  for (const char* bad : {"", "x", "1:2:3", "-1", ":4", "5:"}) {
    auto rejected = EventCursor::FromId(bad, 0);
    ASSERT_FALSE(rejected.ok()) << bad;
    EXPECT_EQ(ParameterOf(rejected.status()), "Last-Event-ID");
  }
}

TEST(EventStreamFormatterTest, EachEventCarriesTheCursorThatResumesAfterIt) {
  EventStreamFormatter formatter(EventCursor{10, 2});
  EXPECT_NE(formatter.Preamble().find("id: 10:2\n"), std::string::npos);
  EXPECT_EQ(formatter.Preamble().rfind("retry: ", 0), 0u);

  bool last = true;
  v1::WatchEvent alert;
  alert.mutable_alert()->set_sequence(11);
  alert.mutable_alert()->mutable_alert()->set_message("<b>x</b>");
  std::string text = formatter.Format(alert, &last);
  EXPECT_FALSE(last);
  EXPECT_EQ(text.rfind("event: alert\nid: 11:2\ndata: {", 0), 0u) << text;
  EXPECT_EQ(text.find('\n', text.find("data: ")), text.size() - 2) << "one data line";

  v1::WatchEvent ack;
  ack.mutable_acknowledgement()->set_ack_sequence(3);
  ack.mutable_acknowledgement()->set_alert_sequence(11);
  EXPECT_EQ(formatter.Format(ack, &last).rfind("event: ack\nid: 11:3\n", 0), 0u);

  // Caught up and fell behind move the cursor past alerts the filter skipped.
  v1::WatchEvent caught_up;
  caught_up.mutable_caught_up()->set_last_sequence(15);
  caught_up.mutable_caught_up()->set_last_ack_sequence(3);
  EXPECT_EQ(formatter.Format(caught_up, &last).rfind("event: caught_up\nid: 15:3\n", 0), 0u);
  EXPECT_FALSE(last);

  v1::WatchEvent fell;
  fell.mutable_fell_behind()->set_resume_after_sequence(20);
  fell.mutable_fell_behind()->set_resume_after_ack_sequence(4);
  EXPECT_EQ(formatter.Format(fell, &last).rfind("event: fell_behind\nid: 20:4\n", 0), 0u);
  EXPECT_TRUE(last) << "the stream ends after falling behind; the browser reconnects";
  EXPECT_EQ(formatter.cursor().ToId(), "20:4");
}

}  // namespace
}  // namespace callguard::dashboard
