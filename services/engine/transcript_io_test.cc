#include "transcript_io.h"
#include "absl/strings/match.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace callguard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCall[] =
    R"({"callId": "t-1", "policy": "us-fdcpa", "language": "en",)"
    R"( "agency": {"name": "Harbor Point Recovery"}, "agent": {"name": "Dana Ortiz", "agentId": "A77"},)"
    R"( "debtor": {"name": "Sam Hill", "otherNames": ["Sammy"]}, "dialed": "WORKPLACE",)"
    R"( "turns": [{"speaker": "AGENT", "text": "hi is sam there"},)"
    R"( {"speaker": "COUNTERPARTY", "text": "one sec"}],)"
    R"( "expect": [{"turn": 0, "violation": "MISSING_SELF_IDENTIFICATION"}],)"
    R"( "note": "n", "reviewer": "a key this reader does not know"})";

std::string CorpusDir() { return std::string(CALLGUARD_SOURCE_DIR) + "/../shared/corpus"; }

size_t NonBlankLines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) ++n;
  }
  return n;
}

TEST(ParseTranscriptLineTest, ReadsEveryFieldAndIgnoresUnknownKeys) {
  absl::StatusOr<v1::Transcript> t = ParseTranscriptLine(kCall);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->call_id(), "t-1");
  EXPECT_EQ(t->policy(), "us-fdcpa");
  EXPECT_EQ(t->agency().name(), "Harbor Point Recovery");
  EXPECT_EQ(t->agent().agent_id(), "A77");
  ASSERT_EQ(t->debtor().other_names_size(), 1);
  EXPECT_EQ(t->debtor().other_names(0), "Sammy");
  EXPECT_EQ(t->dialed(), v1::WORKPLACE);
  ASSERT_EQ(t->turns_size(), 2);
  EXPECT_EQ(t->turns(1).speaker(), v1::COUNTERPARTY);
  EXPECT_EQ(t->turns(1).text(), "one sec");
  ASSERT_EQ(t->expect_size(), 1);
  EXPECT_EQ(t->expect(0).violation(), v1::MISSING_SELF_IDENTIFICATION);
}

TEST(ParseTranscriptLineTest, RejectsMalformedJson) {
  EXPECT_FALSE(ParseTranscriptLine(R"({"callId": "x", "turns": [)").ok());
  EXPECT_FALSE(ParseTranscriptLine(R"({"callId": "x", "turns": "AGENT"})").ok());
  // An unknown speaker name would otherwise parse as "nobody" and drop out of the replay.
  absl::Status speaker =
      ParseTranscriptLine(R"({"callId": "x", "turns": [{"speaker": "COLLECTOR", "text": "hi"}]})").status();
  EXPECT_THAT(speaker.message(), HasSubstr("turn 0 has no speaker"));
}

TEST(ParseTranscriptLineTest, RejectsLabelsThatCannotBeScored) {
  const std::string base = R"({"callId": "x", "turns": [{"speaker": "AGENT", "text": "a"},)"
                           R"( {"speaker": "COUNTERPARTY", "text": "b"}], "expect": )";
  EXPECT_TRUE(ParseTranscriptLine(base + R"([{"turn": 0, "violation": "PROHIBITED_THREAT"}]})").ok());
  absl::Status outside = ParseTranscriptLine(base + R"([{"turn": 2, "violation": "PROHIBITED_THREAT"}]})").status();
  EXPECT_THAT(outside.message(), HasSubstr("outside the call"));
  absl::Status counterparty =
      ParseTranscriptLine(base + R"([{"turn": 1, "violation": "PROHIBITED_THREAT"}]})").status();
  EXPECT_THAT(counterparty.message(), HasSubstr("not an AGENT turn"));
  EXPECT_FALSE(ParseTranscriptLine(base + R"([{"turn": 0}]})").ok());
  EXPECT_FALSE(ParseTranscriptLine(R"({"turns": []})").ok());  // no callId
}

TEST(ReadTranscriptsTest, SkipsBlankLinesAndAcceptsCrlf) {
  std::istringstream in(std::string("\n") + kCall + "\r\n   \n" +
                        R"({"callId": "t-2", "turns": []})" + "\r\n");
  absl::StatusOr<std::vector<v1::Transcript>> calls = ReadTranscripts(in, "calls.jsonl");
  ASSERT_TRUE(calls.ok()) << calls.status();
  ASSERT_EQ(calls->size(), 2u);
  EXPECT_EQ((*calls)[0].call_id(), "t-1");
  EXPECT_EQ((*calls)[1].call_id(), "t-2");
}

TEST(ReadTranscriptsTest, ErrorsNameTheFileAndLine) {
  std::istringstream in(std::string(kCall) + "\n\n{\"callId\": \"t-2\", \"turns\": 7}\n");
  absl::Status status = ReadTranscripts(in, "calls.jsonl").status();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("calls.jsonl:3: "));
}

TEST(ReadTranscriptsTest, RefusesARepeatedCallId) {
  std::istringstream in(std::string(kCall) + "\n" + kCall + "\n");
  absl::Status status = ReadTranscripts(in, "dup.jsonl").status();
  EXPECT_THAT(status.message(), HasSubstr("dup.jsonl:2: "));
  EXPECT_THAT(status.message(), HasSubstr("line 1"));
}

TEST(ReadTranscriptsTest, ReadsAFileAndReportsAMissingOne) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("transcript_io_test_" + std::to_string(::getpid()) + ".jsonl")).string();
  {
    std::ofstream out(path);
    out << kCall << "\n";
  }
  absl::StatusOr<std::vector<v1::Transcript>> calls = ReadTranscripts(path);
  std::remove(path.c_str());
  ASSERT_TRUE(calls.ok()) << calls.status();
  EXPECT_EQ(calls->size(), 1u);

  absl::Status missing = ReadTranscripts(path + ".missing").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr(".missing"));
}

TEST(ReadTranscriptsTest, ReadsTheDevelopmentCorpusAndTheShippedSamples) {
  for (const std::string& path :
       {CorpusDir() + "/dev-en.jsonl", CorpusDir() + "/dev-zh.jsonl",
        std::string(CALLGUARD_SOURCE_DIR) + "/examples/calls-en.jsonl",
        std::string(CALLGUARD_SOURCE_DIR) + "/examples/calls-zh.jsonl"}) {
    SCOPED_TRACE(path);
    // The development corpus lives beside the checkout and may be absent; the samples ship.
    if (absl::StartsWith(path, CorpusDir()) && !std::filesystem::exists(path)) continue;
    absl::StatusOr<std::vector<v1::Transcript>> calls = ReadTranscripts(path);
    ASSERT_TRUE(calls.ok()) << calls.status();
    EXPECT_EQ(calls->size(), NonBlankLines(path));
    for (const v1::Transcript& t : *calls) {
      EXPECT_FALSE(t.policy().empty()) << t.call_id();
      EXPECT_GT(t.turns_size(), 0) << t.call_id();
    }
  }
}

TEST(CallStartFromTranscriptTest, CopiesWhatTheDialerKnows) {
  absl::StatusOr<v1::Transcript> t = ParseTranscriptLine(kCall);
  ASSERT_TRUE(t.ok());
  v1::CallStart start = CallStartFromTranscript(*t);
  EXPECT_EQ(start.call_id(), "t-1");
  EXPECT_EQ(start.policy(), "us-fdcpa");
  EXPECT_EQ(start.language(), "en");
  EXPECT_EQ(start.agency().name(), "Harbor Point Recovery");
  EXPECT_EQ(start.agent().name(), "Dana Ortiz");
  EXPECT_EQ(start.agent().agent_id(), "A77");
  EXPECT_EQ(start.debtor().name(), "Sam Hill");
  EXPECT_EQ(start.debtor().other_names(0), "Sammy");
  EXPECT_EQ(start.dialed(), v1::WORKPLACE);
}

TEST(ToJsonLineTest, PrintsDefaultsOnOneLineAndRoundTrips) {
  v1::Alert alert;
  alert.set_alert_id("c:1");
  alert.set_call_id("c");
  alert.set_turn(0);
  alert.set_violation(v1::PROHIBITED_THREAT);
  alert.set_message("threat\nof arrest");
  alert.add_evidence()->set_text("arrest");
  const std::string json = ToJsonLine(alert);
  EXPECT_THAT(json, HasSubstr("\"turn\":0"));
  EXPECT_THAT(json, HasSubstr("\"violation\":\"PROHIBITED_THREAT\""));
  EXPECT_THAT(json, HasSubstr("\"alertId\""));  // lowerCamelCase keys
  EXPECT_THAT(json, Not(HasSubstr("\n")));

  v1::Alert back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_EQ(back.SerializeAsString(), alert.SerializeAsString());
}

}  // namespace
}  // namespace callguard
