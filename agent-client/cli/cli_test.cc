#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_split.h"
#include "commands.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "transcript_io.h"

namespace callguard::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

struct RunResult {
  int code = -1;
  std::string out;
  std::string err;
};

RunResult RunCli(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  RunResult r;
  r.code = RunCallguard(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string SamplePath(const std::string& name) {
  return std::string(CALLGUARD_SOURCE_DIR) + "/examples/" + name;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// A scratch folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("callguard_cli_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string file = (path_ / name).string();
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::filesystem::path path_;
};

// The smallest policy that compiles: one phrase rule and two examples, one of which is wrong.
constexpr char kTinyPolicy[] = R"pb(id: "tiny"
version: "1"
language: "en"
phrase_sets { name: "arrest" patterns: "\\barrest" }
rules {
  id: "tiny.threat"
  kind: PROHIBITED_THREAT
  severity: SEVERITY_HIGH
  title: "Threat of arrest"
  coaching: "Do not mention arrest."
  citations { authority: "FDCPA" section: "15 U.S.C. 1692e(4)" }
  phrases { any_of: "arrest" }
}
examples {
  name: "arrest-is-a-threat"
  text: "you will be arrested tomorrow"
  party: PARTY_DEBTOR
  expect: PROHIBITED_THREAT
}
examples {
  name: "wrongly-expects-a-threat"
  text: "have a nice day"
  party: PARTY_DEBTOR
  expect: PROHIBITED_THREAT
}
)pb";

// ---- usage -------------------------------------------------------------------------------

TEST(CliUsageTest, HelpListsTheCommands) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"}, {"help"}, {"-h"}}) {
    RunResult r = RunCli(args);
    EXPECT_EQ(r.code, kExitOk);
    for (const char* command : {"replay", "check", "eval", "test-policy", "lint-policy"}) {
      EXPECT_THAT(r.out, HasSubstr(command));
    }
  }
  RunResult check_help = RunCli({"help", "check"});
  EXPECT_EQ(check_help.code, kExitOk);
  EXPECT_THAT(check_help.out, HasSubstr("--party"));
  EXPECT_EQ(RunCli({"replay", "--help"}).code, kExitOk);
}

TEST(CliUsageTest, UnknownOrMissingCommandExitsTwo) {
  RunResult none = RunCli({});
  EXPECT_EQ(none.code, kExitUsage);
  RunResult unknown = RunCli({"frobnicate"});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command frobnicate"));
  EXPECT_EQ(RunCli({"help", "frobnicate"}).code, kExitUsage);
}

TEST(CliUsageTest, CheckWithBadUsageExitsTwoWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"check", "you owe us money"}, "--policy"},
      {{"check", "--policy", "us-fdcpa"}, "exactly one TEXT"},
      {{"check", "--policy", "us-fdcpa", "you", "owe"}, "exactly one TEXT"},
      {{"check", "--policy", "us-fdcpa", "--party", "neighbour", "hi"}, "unknown --party neighbour"},
      {{"check", "--policy", "us-fdcpa", "--dialed", "moon", "hi"}, "unknown --dialed moon"},
      {{"check", "--policy", "us-fdcpa", "--speaker", "robot", "hi"}, "unknown --speaker robot"},
      {{"check", "--policy", "us-fdcpa", "--loud", "hi"}, "unknown option --loud"},
      {{"check", "--policy"}, "--policy needs a value"},
      {{"check", "--policy", "a", "--policy", "b", "hi"}, "given twice"},
      {{"check", "--identified=yes", "--policy", "a", "hi"}, "takes no value"},
      {{"check", "--policy", "us-fdcpa", "--policies", "p", "--server", "localhost:1", "hi"}, "exclude"},
  };
  for (const Case& c : cases) {
    RunResult r = RunCli(c.args);
    EXPECT_EQ(r.code, kExitUsage) << c.message;
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_THAT(r.err, HasSubstr("usage: callguard check"));
    EXPECT_THAT(r.out, IsEmpty());
  }
}

TEST(CliUsageTest, OtherCommandsNeedTheirFiles) {
  EXPECT_EQ(RunCli({"replay"}).code, kExitUsage);
  EXPECT_EQ(RunCli({"eval"}).code, kExitUsage);
  EXPECT_EQ(RunCli({"test-policy"}).code, kExitUsage);
  EXPECT_EQ(RunCli({"test-policy", "a.textproto", "b.textproto"}).code, kExitUsage);
  EXPECT_EQ(RunCli({"lint-policy"}).code, kExitUsage);
  EXPECT_EQ(RunCli({"replay", "x.jsonl", "--policies", "p", "--server", "localhost:1"}).code, kExitUsage);
}

TEST(CliBinaryTest, TheBuiltBinaryUsesTheSameExitCodes) {
  auto exit_code = [](const std::string& args) {
    const int status = std::system((std::string(CALLGUARD_BINARY) + " " + args + " >/dev/null 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(exit_code("--help"), kExitOk);
  EXPECT_EQ(exit_code("check 'you owe money'"), kExitUsage);
  EXPECT_EQ(exit_code("replay no-such-file.jsonl"), kExitFailure);
}

// ---- replay ------------------------------------------------------------------------------

TEST(ReplayCommandTest, PrintsOneAlertPerJsonLine) {
  RunResult r = RunCli({"replay", SamplePath("calls-en.jsonl"), SamplePath("calls-zh.jsonl")});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  std::set<std::string> call_ids;
  for (const std::string& path : {SamplePath("calls-en.jsonl"), SamplePath("calls-zh.jsonl")}) {
    absl::StatusOr<std::vector<v1::Transcript>> calls = ReadTranscripts(path);
    ASSERT_TRUE(calls.ok()) << calls.status();
    for (const v1::Transcript& t : *calls) call_ids.insert(t.call_id());
  }
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_FALSE(lines.empty()) << "the samples contain violations, so some alert is expected";
  bool saw_turn_zero = false;
  for (const std::string& line : lines) {
    v1::Alert alert;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &alert).ok()) << line;
    EXPECT_THAT(line, HasSubstr("\"turn\":")) << "turn must be printed even when it is 0";
    EXPECT_TRUE(call_ids.contains(alert.call_id())) << line;
    EXPECT_NE(alert.violation(), v1::VIOLATION_KIND_UNSPECIFIED) << line;
    EXPECT_THAT(alert.alert_id(), StartsWith(alert.call_id() + ":")) << line;
    if (alert.turn() == 0) {
      saw_turn_zero = true;
      EXPECT_THAT(line, HasSubstr("\"turn\":0"));
    }
  }
  // sample-en-002 and sample-zh-003 lack identification on turn 0, judged when that final
  // utterance arrives: the alert carries turn 0, which must not be dropped as a default value.
  EXPECT_TRUE(saw_turn_zero) << r.out;
}

TEST(ReplayCommandTest, ReportsABadFileWithItsLine) {
  TempDir dir;
  const std::string file =
      dir.Write("bad.jsonl", R"({"callId": "a", "policy": "us-fdcpa", "turns": []})"
                             "\n{\"callId\": \"b\", \"turns\": [\n");
  RunResult r = RunCli({"replay", file});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr(file + ":2:"));
  EXPECT_THAT(r.out, IsEmpty());
}

TEST(ReplayCommandTest, NamesTheCallThatCannotBeReplayedAndGoesOn) {
  TempDir dir;
  std::ifstream sample(SamplePath("calls-en.jsonl"));
  std::string good_call;
  std::getline(sample, good_call);
  const std::string file = dir.Write(
      "mixed.jsonl",
      R"({"callId": "no-such-policy-call", "policy": "xx-none", "language": "en", "turns": [{"speaker": "AGENT", "text": "hi"}]})"
      "\n" + good_call + "\n");
  RunResult r = RunCli({"replay", file});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("no-such-policy-call"));
}

TEST(ReplayCommandTest, UnreachableServerIsAnErrorNamingTheCall) {
  // Port 1 on loopback: nothing listens there, so the stream fails at once.
  RunResult r = RunCli({"replay", SamplePath("calls-en.jsonl"), "--server", "127.0.0.1:1"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("sample-en-001"));
  EXPECT_THAT(r.out, IsEmpty());
}

// ---- check -------------------------------------------------------------------------------

TEST(CheckCommandTest, ThreatToTheDebtorIsAlerted) {
  RunResult r = RunCli({"check", "--policy", "us-fdcpa", "--party", "debtor", "--identified", "--disclosed",
                     "If you don't pay by Friday the police will arrest you."});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  std::set<v1::ViolationKind> kinds;
  for (const std::string& line : Lines(r.out)) {
    v1::Alert alert;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &alert).ok()) << line;
    kinds.insert(alert.violation());
  }
  EXPECT_TRUE(kinds.contains(v1::PROHIBITED_THREAT)) << r.out;
}

TEST(CheckCommandTest, NoAlertStillExitsZero) {
  RunResult r = RunCli({"check", "--policy", "us-fdcpa", "--party", "debtor", "--identified", "--disclosed",
                     "--agency", "Copper Ridge Associates", "Thank you, have a good afternoon."});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, IsEmpty());
}

TEST(CheckCommandTest, UnknownPolicyIsAFailureNotAUsageError) {
  RunResult r = RunCli({"check", "--policy", "xx-none", "hello"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("xx-none"));
}

// ---- eval --------------------------------------------------------------------------------

TEST(EvalCommandTest, PrintsTheTableWithTheLabelCounts) {
  const std::vector<std::string> files = {SamplePath("calls-en.jsonl"), SamplePath("calls-zh.jsonl")};
  std::map<std::string, int> labels;  // kind -> distinct labels
  int compliant = 0;
  for (const std::string& path : files) {
    absl::StatusOr<std::vector<v1::Transcript>> calls = ReadTranscripts(path);
    ASSERT_TRUE(calls.ok());
    for (const v1::Transcript& t : *calls) {
      if (t.expect().empty()) ++compliant;
      std::set<std::pair<int, int>> distinct;
      for (const auto& e : t.expect()) distinct.insert({e.turn(), e.violation()});
      for (const auto& [turn, kind] : distinct) ++labels[v1::ViolationKind_Name(kind)];
    }
  }
  RunResult r = RunCli({"eval", files[0], files[1], "--mismatches"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("| kind | expected | alerts | TP | FP | FN | precision | recall | F1 |"));
  for (const auto& [kind, count] : labels) {
    EXPECT_THAT(r.out, HasSubstr("| " + kind + " | " + std::to_string(count) + " | ")) << kind;
  }
  EXPECT_THAT(r.out, HasSubstr("core mean F1: "));
  EXPECT_THAT(r.out, HasSubstr("compliant calls with any alert: "));
  EXPECT_THAT(r.out, HasSubstr("/" + std::to_string(compliant) + " ("));
  EXPECT_THAT(r.out, HasSubstr("mismatches ("));
}

TEST(EvalCommandTest, MismatchesOnlyWhenAsked) {
  RunResult r = RunCli({"eval", SamplePath("calls-en.jsonl")});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("core mean F1"));
  EXPECT_THAT(r.out, Not(HasSubstr("mismatches (")));
}

// ---- test-policy and lint-policy -----------------------------------------------------------

TEST(TestPolicyCommandTest, ASyntaxErrorExitsOneWithFileAndLine) {
  TempDir dir;
  const std::string file = dir.Write("broken.textproto", "id: \"broken\"\nversion: \"1\"\nrules { id: \"r\" kind: NOT_A_KIND }\n");
  RunResult r = RunCli({"test-policy", file});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr(file + ":3:"));
}

TEST(TestPolicyCommandTest, AnUnknownPhraseSetIsACompileErrorNamingIt) {
  TempDir dir;
  std::string text = kTinyPolicy;
  text.replace(text.find("any_of: \"arrest\""), 16, "any_of: \"no_such_set\"");
  const std::string file = dir.Write("unknown_set.textproto", text);
  RunResult r = RunCli({"test-policy", file});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr(file));
  EXPECT_THAT(r.err, HasSubstr("no_such_set"));
}

TEST(TestPolicyCommandTest, ReportsEachExampleAndFailsOnAWrongOne) {
  TempDir dir;
  const std::string file = dir.Write("tiny.textproto", kTinyPolicy);
  RunResult r = RunCli({"test-policy", file});
  EXPECT_EQ(r.code, kExitFailure) << r.err;
  EXPECT_THAT(r.out, HasSubstr("PASS arrest-is-a-threat [PROHIBITED_THREAT]"));
  EXPECT_THAT(r.out, HasSubstr("FAIL wrongly-expects-a-threat: expected [PROHIBITED_THREAT], got []"));
  EXPECT_THAT(r.out, HasSubstr("1/2 examples passed"));

  // Without the wrong example every example passes.
  std::string fixed = kTinyPolicy;
  fixed.erase(fixed.find("examples {\n  name: \"wrongly"));
  RunResult ok = RunCli({"test-policy", dir.Write("fixed.textproto", fixed)});
  EXPECT_EQ(ok.code, kExitOk) << ok.out << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("1/1 examples passed"));
}

TEST(LintPolicyCommandTest, WarnsWithFileAndLineAndFailsOnlyOnErrorsOrWerror) {
  TempDir dir;
  std::string text = kTinyPolicy;
  text.insert(text.find("rules {"), "phrase_sets { name: \"leftover\" patterns: \"old\" }\n");
  const std::string file = dir.Write("lint.textproto", text);
  RunResult r = RunCli({"lint-policy", file});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(file + ":5: warning: phrase set \"leftover\" is never used"));
  EXPECT_THAT(r.out, HasSubstr("0 error(s), 1 warning(s)"));
  EXPECT_EQ(RunCli({"lint-policy", "--werror", file}).code, kExitFailure);

  const std::string broken = dir.Write("broken.textproto", "id: \"b\"\nrules {\n");
  RunResult bad = RunCli({"lint-policy", broken, file});
  EXPECT_EQ(bad.code, kExitFailure);
  EXPECT_THAT(bad.out, HasSubstr(broken + ":"));
  EXPECT_THAT(bad.out, HasSubstr("1 error(s), 1 warning(s)"));
}

}  // namespace
}  // namespace callguard::cli
