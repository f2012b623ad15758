// Runs the integration examples (C++ and Python) as child processes against the real server
// on loopback and checks that they report exactly the violations labelled for the call.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "child_process.h"
#include "gtest/gtest.h"
#include "test_support.h"
#include "transcript_io.h"

namespace callguard::testing {
namespace {

const std::string kCalls = std::string(CALLGUARD_SOURCE_DIR) + "/examples/calls-en.jsonl";

struct Output {
  std::set<std::string> kinds;  // from the ALERT lines
  int alerts = 0;
  int coaching_lines = 0;
  std::string summary_line;
  std::string all;
  int exit_status = -1;
};

Output RunExample(const std::string& program, const std::vector<std::string>& args) {
  ChildProcess child(program, args);
  Output out;
  while (auto line = child.StdoutLine()) {
    absl::StrAppend(&out.all, *line, "\n");
    if (absl::StartsWith(*line, "ALERT ")) {
      std::vector<std::string> parts = absl::StrSplit(*line, ' ');
      out.kinds.insert(parts[1]);
      ++out.alerts;
    } else if (absl::StartsWith(*line, "  better: ") && line->size() > 12) {
      ++out.coaching_lines;
    } else if (absl::StartsWith(*line, "SUMMARY ")) {
      out.summary_line = *line;
    }
  }
  std::string err;
  while (auto line = child.StderrLine(absl::Seconds(5))) absl::StrAppend(&err, *line, "\n");
  absl::StrAppend(&out.all, err);
  out.exit_status = child.Wait();
  return out;
}

class ExamplesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CallguardServer::Options options;
    options.config.set_listen("127.0.0.1:0");
    options.config.set_policies_dir(std::string(CALLGUARD_SOURCE_DIR) + "/policies");
    auto server = CallguardServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    auto calls = ReadTranscripts(kCalls);
    ASSERT_TRUE(calls.ok()) << calls.status();
    calls_ = new std::vector<v1::Transcript>(*std::move(calls));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete calls_;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_FALSE(calls_->empty());
  }

  // The calls the examples are run on: the first (their default) and the first with labels.
  static std::vector<const v1::Transcript*> CallsToRun() {
    std::vector<const v1::Transcript*> out = {&calls_->front()};
    for (const v1::Transcript& t : *calls_) {
      if (t.expect_size() > 0) {
        if (&t != out.front()) out.push_back(&t);
        break;
      }
    }
    return out;
  }

  static void Check(const Output& out, const v1::Transcript& call) {
    EXPECT_EQ(out.exit_status, 0) << out.all;
    std::set<std::string> expected;
    for (const v1::ExpectedViolation& e : call.expect()) expected.insert(v1::ViolationKind_Name(e.violation()));
    EXPECT_EQ(out.kinds, expected) << call.call_id() << "\n" << out.all;
    EXPECT_EQ(out.coaching_lines, out.alerts) << out.all;  // every alert says what to say instead
    EXPECT_TRUE(absl::StartsWith(out.summary_line, absl::StrCat("SUMMARY turns=", call.turns_size(), " ")))
        << out.all;
  }

  static CallguardServer* server_;
  static std::vector<v1::Transcript>* calls_;
};

CallguardServer* ExamplesTest::server_ = nullptr;
std::vector<v1::Transcript>* ExamplesTest::calls_ = nullptr;

TEST_F(ExamplesTest, CppExampleReportsTheLabelledViolations) {
  for (const v1::Transcript* call : CallsToRun()) {
    std::vector<std::string> args = {"--target", server_->address(), "--calls", kCalls};
    if (call != &calls_->front()) args.insert(args.end(), {"--call-id", call->call_id()});
    Check(RunExample(CALLGUARD_STREAM_CALL_BINARY, args), *call);
  }
}

TEST_F(ExamplesTest, PythonExampleReportsTheLabelledViolations) {
  if (!CALLGUARD_HAVE_PYTHON_STUBS) GTEST_SKIP() << "grpc_python_plugin was not found at configure time";
  const std::string script = std::string(CALLGUARD_SOURCE_DIR) + "/agent-client/examples/python/stream_call.py";
  for (const v1::Transcript* call : CallsToRun()) {
    // Debian's interpreter, with Debian's python3-grpcio and python3-protobuf.
    std::vector<std::string> args = {script, "--target", server_->address(), "--stubs",
                                     CALLGUARD_PYTHON_STUBS, "--calls", kCalls};
    if (call != &calls_->front()) args.insert(args.end(), {"--call-id", call->call_id()});
    Check(RunExample("/usr/bin/python3", args), *call);
  }
}

}  // namespace
}  // namespace callguard::testing
