// `callguard replay --server` and `check --server` against a real server on a loopback port
// must print what the in-process guard prints (apart from the alert time).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "callguard_server.h"
#include "commands.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "policy_loader.h"
#include "transcript_io.h"

namespace callguard::cli {
namespace {

using ::testing::IsEmpty;

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

// The alerts printed, as JSON lines again but without the time each was raised.
std::vector<std::string> AlertsWithoutTime(const std::string& out, bool require_time) {
  std::vector<std::string> alerts;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    v1::Alert alert;
    const std::string text(line);
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &alert).ok()) << text;
    if (require_time) {
      EXPECT_TRUE(alert.has_time()) << "replay prints the alert time: " << text;
    }
    alert.clear_time();
    alerts.push_back(ToJsonLine(alert));
  }
  return alerts;
}

std::string SamplePath(const std::string& name) {
  return std::string(CALLGUARD_SOURCE_DIR) + "/examples/" + name;
}

class ServerModeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Both sides read one frozen copy of the shipped policies, so an edit to the folder while
    // the test runs cannot make them differ.
    policies_ = new std::string(::testing::TempDir() + "cli_server_test_policies_" + std::to_string(::getpid()));
    std::filesystem::create_directories(*policies_);
    for (const auto& entry : std::filesystem::directory_iterator(DefaultPolicyDirectory())) {
      if (entry.path().extension() == ".textproto") {
        std::filesystem::copy_file(entry.path(), std::filesystem::path(*policies_) / entry.path().filename());
      }
    }
    CallguardServer::Options options;
    options.config.set_listen("127.0.0.1:0");
    options.config.set_policies_dir(*policies_);
    absl::StatusOr<std::unique_ptr<CallguardServer>> server = CallguardServer::Start(std::move(options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    std::filesystem::remove_all(*policies_);
    delete policies_;
  }
  static std::string Address() { return server_->address(); }

  static const std::string& Policies() { return *policies_; }

  static CallguardServer* server_;
  static std::string* policies_;
};

CallguardServer* ServerModeTest::server_ = nullptr;
std::string* ServerModeTest::policies_ = nullptr;

TEST_F(ServerModeTest, ReplayPrintsTheSameAlertsAsInProcess) {
  for (bool interim : {false, true}) {
    SCOPED_TRACE(interim ? "with interim results" : "final results only");
    std::vector<std::string> args = {"replay", SamplePath("calls-en.jsonl"), SamplePath("calls-zh.jsonl")};
    if (interim) args.push_back("--interim");
    std::vector<std::string> local_args = args;
    local_args.insert(local_args.end(), {"--policies", Policies()});
    std::vector<std::string> remote_args = args;
    remote_args.insert(remote_args.end(), {"--server", Address()});

    RunResult local = RunCli(local_args);
    RunResult remote = RunCli(remote_args);
    ASSERT_EQ(local.code, kExitOk) << local.err;
    ASSERT_EQ(remote.code, kExitOk) << remote.err;
    EXPECT_THAT(remote.err, IsEmpty());
    const std::vector<std::string> local_alerts = AlertsWithoutTime(local.out, true);
    EXPECT_FALSE(local_alerts.empty()) << "the sample calls contain violations";
    EXPECT_EQ(AlertsWithoutTime(remote.out, true), local_alerts);
  }
}

TEST_F(ServerModeTest, CheckPrintsTheSameAlertsAsInProcess) {
  const std::vector<std::string> args = {"check", "--policy", "us-fdcpa", "--party", "unknown",
                                         "--agency", "Copper Ridge Associates", "--agent", "Rachel Moreno",
                                         "Is this Daniel? You owe $900 and the police will arrest you."};
  std::vector<std::string> local_args = args;
  local_args.insert(local_args.begin() + 1, {"--policies", Policies()});
  RunResult local = RunCli(local_args);
  std::vector<std::string> remote_args = args;
  remote_args.insert(remote_args.begin() + 1, {"--server", Address()});
  RunResult remote = RunCli(remote_args);
  ASSERT_EQ(local.code, kExitOk) << local.err;
  ASSERT_EQ(remote.code, kExitOk) << remote.err;
  const std::vector<std::string> local_alerts = AlertsWithoutTime(local.out, false);
  EXPECT_FALSE(local_alerts.empty());
  EXPECT_EQ(AlertsWithoutTime(remote.out, false), local_alerts);
}

TEST_F(ServerModeTest, ServerErrorsGoToStderrWithTheCallId) {
  std::ostringstream calls;
  calls << R"({"callId": "unknown-policy-call", "policy": "xx-none", "turns": [{"speaker": "AGENT", "text": "hello"}]})"
        << "\n";
  const std::string path = ::testing::TempDir() + "server_errors.jsonl";
  {
    std::ofstream(path) << calls.str();
  }
  RunResult r = RunCli({"replay", path, "--server", Address()});
  std::remove(path.c_str());
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, ::testing::HasSubstr("unknown-policy-call"));
  EXPECT_THAT(r.out, IsEmpty());
}

}  // namespace
}  // namespace callguard::cli
