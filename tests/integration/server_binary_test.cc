// The built callguard-server binary as a child process: ready line, a Check, SIGHUP, SIGTERM;
// and refusal to start on a broken policy folder.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "test_support.h"

extern char** environ;

namespace callguard::testing {
namespace {

// A child process with its stdout and stderr on pipes we read line by line.
class ChildServer {
 public:
  explicit ChildServer(const std::vector<std::string>& args) {
    int out[2], err[2];
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(err, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    std::vector<std::string> argv_strings = {CALLGUARD_SERVER_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    stdout_ = fdopen(out[0], "r");
    stderr_ = fdopen(err[0], "r");
  }

  ~ChildServer() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_ != nullptr) fclose(stdout_);
    if (stderr_ != nullptr) fclose(stderr_);
  }

  // Next line without its newline; nullopt at end of stream.
  static std::optional<std::string> ReadLine(FILE* from) {
    char* line = nullptr;
    size_t capacity = 0;
    const ssize_t n = getline(&line, &capacity, from);
    std::optional<std::string> out;
    if (n >= 0) out = std::string(line, n > 0 && line[n - 1] == '\n' ? n - 1 : n);
    free(line);
    return out;
  }
  std::optional<std::string> StdoutLine() { return ReadLine(stdout_); }
  // Reads stderr until a line containing `needle`; everything read is kept in `seen`.
  bool StderrUntil(const std::string& needle, std::string* seen) {
    while (auto line = ReadLine(stderr_)) {
      *seen += *line + "\n";
      if (line->find(needle) != std::string::npos) return true;
    }
    return false;
  }

  std::string StderrToEnd() {
    std::string all;
    while (auto line = ReadLine(stderr_)) all += *line + "\n";
    return all;
  }

  // The exit status (as from waitpid) once the child ends.
  int Wait() {
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    reaped_ = true;
    return status;
  }

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  FILE* stdout_ = nullptr;
  FILE* stderr_ = nullptr;
};

TEST(ServerBinaryTest, ServesTheShippedPoliciesUntilSigterm) {
  TempDir data;  // the alert store and the dashboard's port stay private to this test
  ChildServer child({"--listen", "127.0.0.1:0", "--db", data.path() + "/callguard.db",
                     "--http-listen", "127.0.0.1:0"});
  const auto ready = child.StdoutLine();
  ASSERT_TRUE(ready.has_value()) << "the server exited before it was ready";
  std::smatch match;
  ASSERT_TRUE(std::regex_match(*ready, match,
                               std::regex(R"(callguard-server listening on 127\.0\.0\.1:(\d+) \(policies: (.*)\))")))
      << *ready;
  EXPECT_NE(match[2].str().find("us-fdcpa"), std::string::npos) << *ready;
  const std::string address = "127.0.0.1:" + match[1].str();
  ASSERT_NE(match[1].str(), "0");

  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto guard = v1::CallGuard::NewStub(channel);
  v1::CheckRequest request;
  request.set_policy("us-fdcpa");
  request.set_text("if you dont pay today the police will come and arrest you");
  request.mutable_context()->set_party(v1::PARTY_DEBTOR);
  request.mutable_context()->set_agent_already_identified(true);
  request.mutable_context()->set_debt_collector_disclosed(true);
  v1::CheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  const grpc::Status status = guard->Check(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  bool threat = false;
  for (const auto& alert : response.alerts()) threat |= alert.violation() == v1::PROHIBITED_THREAT;
  EXPECT_TRUE(threat) << response.ShortDebugString();

  // SIGHUP reloads the same folder as the next generation and says so.
  ASSERT_EQ(kill(child.pid(), SIGHUP), 0);
  std::string log;
  ASSERT_TRUE(child.StderrUntil("policies reloaded (SIGHUP): generation 2", &log)) << log;
  auto admin = v1::PolicyAdmin::NewStub(channel);
  grpc::ClientContext list_context;
  v1::ListPoliciesResponse list;
  ASSERT_TRUE(admin->ListPolicies(&list_context, v1::ListPoliciesRequest(), &list).ok());
  EXPECT_EQ(list.snapshot_generation(), 2);

  ASSERT_EQ(kill(child.pid(), SIGTERM), 0);
  const int exit_status = child.Wait();
  ASSERT_TRUE(WIFEXITED(exit_status)) << exit_status;
  EXPECT_EQ(WEXITSTATUS(exit_status), 0);
  EXPECT_FALSE(child.StdoutLine().has_value()) << "exactly one line on stdout";
}

TEST(ServerBinaryTest, RefusesToStartOnABrokenPolicyFolder) {
  TempDir folder;
  folder.CopyFrom(TestPolicyDir());
  const std::string broken = folder.path() + "/test-zh.textproto";
  const int line = LineOf(broken, "language:");
  ASSERT_GT(line, 0);
  ReplaceInFile(broken, "language:", "langauge:");

  ChildServer child({"--listen", "127.0.0.1:0", "--policies", folder.path()});
  const std::string log = child.StderrToEnd();
  const int exit_status = child.Wait();
  ASSERT_TRUE(WIFEXITED(exit_status));
  EXPECT_NE(WEXITSTATUS(exit_status), 0);
  EXPECT_NE(log.find("test-zh.textproto:" + std::to_string(line) + ":"), std::string::npos) << log;
  EXPECT_NE(log.find("langauge"), std::string::npos) << log;
  EXPECT_FALSE(child.StdoutLine().has_value()) << "no ready line";
}

TEST(ServerBinaryTest, RefusesAnUnknownFlag) {
  ChildServer child({"--listen", "127.0.0.1:0", "--colour", "blue"});
  const std::string log = child.StderrToEnd();
  const int exit_status = child.Wait();
  ASSERT_TRUE(WIFEXITED(exit_status));
  EXPECT_EQ(WEXITSTATUS(exit_status), 2);
  EXPECT_NE(log.find("--colour"), std::string::npos) << log;
}

}  // namespace
}  // namespace callguard::testing
