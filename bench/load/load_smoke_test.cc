// A seconds-long run of callguard-bench against the real server (in this process) and against
// the echo baseline (a child process): it must finish with every utterance answered. Not a
// timed test: it checks correctness of the generator and of the verdict path under load.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "call_script.h"
#include "callguard_server.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace callguard::bench {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / absl::StrCat("callguard-load-", getpid(), "-", name)).string();
}

// Runs callguard-bench with `flags` and returns its JSON report.
google::protobuf::Struct RunBench(const std::string& flags, const std::string& name) {
  const std::string json = TempPath(name + ".json");
  const std::string command =
      absl::StrCat(CALLGUARD_BENCH_BINARY, " ", flags, " --json ", json, " > ", TempPath(name + ".txt"), " 2>&1");
  const int rc = std::system(command.c_str());
  std::stringstream text;
  text << std::ifstream(json).rdbuf();
  std::stringstream table;
  table << std::ifstream(TempPath(name + ".txt")).rdbuf();
  EXPECT_EQ(rc, 0) << command << "\n" << table.str();
  google::protobuf::Struct report;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), &report).ok()) << text.str();
  std::remove(json.c_str());
  std::remove(TempPath(name + ".txt").c_str());
  return report;
}

double Number(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  EXPECT_NE(it, s.fields().end()) << key;
  return it == s.fields().end() ? -1 : it->second.number_value();
}

void ExpectEverythingAnswered(const google::protobuf::Struct& report) {
  EXPECT_EQ(Number(report, "errors"), 0);
  EXPECT_EQ(Number(report, "lost"), 0);
  EXPECT_GT(Number(report, "throughput"), 0);
  EXPECT_GT(Number(report, "utterances_sent"), 0);
  EXPECT_EQ(Number(report, "verdicts"), Number(report, "utterances_sent"));
  EXPECT_EQ(Number(report, "streams_failed"), 0);
  EXPECT_EQ(Number(report, "streams_ok"), Number(report, "streams_started"));
  // Every call, finished or cut by the end of the run, closed with its CallEnd and summary.
  EXPECT_EQ(Number(report, "summaries"), Number(report, "calls_started"));
}

TEST(LoadSmokeTest, FiveCallsAsFastAsPossibleAgainstTheRealServer) {
  CallguardServer::Options options;
  options.config.set_listen("127.0.0.1:0");
  auto server = CallguardServer::Start(std::move(options));  // the shipped policies
  ASSERT_TRUE(server.ok()) << server.status();

  const google::protobuf::Struct report =
      RunBench(absl::StrCat("--target ", (*server)->address(),
                            " --calls 5 --duration-s 2 --ramp-s 0.2 --settle-s 0.2 --rate 0 --server-pid ",
                            getpid(), " --scenario smoke --label callguard"),
               "real");
  ExpectEverythingAnswered(report);
  EXPECT_EQ(Number(report, "calls_started"), Number(report, "streams_started")) << "one Converse stream per call";
  // The calls of the corpus raise alerts, and engine times come back in the verdicts.
  ASSERT_TRUE(report.fields().count("eval"));
  EXPECT_GT(report.fields().at("eval").struct_value().fields().at("p50_us").number_value(), 0);
  ASSERT_TRUE(report.fields().count("server")) << "--server-pid asks for the server's figures";
  const auto& server_figures = report.fields().at("server").struct_value().fields();
  EXPECT_GT(server_figures.at("peak_kib").number_value(), 0);
  EXPECT_GT(server_figures.at("cpu_us_per_utterance").number_value(), 0);
  EXPECT_EQ((*server)->registry().active_calls(), 0u) << "every call was ended";
}

// The echo baseline as a child process; returns its pid and HOST:PORT.
pid_t StartEcho(std::string* address) {
  int out[2];
  if (pipe(out) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(CALLGUARD_ECHO_BINARY, CALLGUARD_ECHO_BINARY, "--listen", "127.0.0.1:0", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c = 0;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  close(out[0]);
  const size_t at = line.rfind(' ');
  *address = at == std::string::npos ? "" : line.substr(at + 1);
  return pid;
}

TEST(LoadSmokeTest, PacedCallsAgainstTheEchoBaseline) {
  std::string address;
  const pid_t echo = StartEcho(&address);
  ASSERT_GT(echo, 0);
  ASSERT_NE(address.find("127.0.0.1:"), std::string::npos) << address;

  const google::protobuf::Struct report =
      RunBench(absl::StrCat("--target ", address,
                            " --calls 5 --duration-s 2 --ramp-s 0.2 --settle-s 0.2 --rate-per-call 4 --server-pid ",
                            echo, " --scenario smoke --label echo"),
               "echo");
  kill(echo, SIGTERM);
  int status = 0;
  waitpid(echo, &status, 0);
  ExpectEverythingAnswered(report);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the echo server shuts down cleanly";
}

// Several calls per ConverseMany stream: every call's verdicts come back to it through the
// envelopes, each slot goes on to its next call on the same stream, and the stream ends when
// the run does.
TEST(LoadSmokeTest, ManyCallsPerStreamAgainstTheEchoBaseline) {
  std::string address;
  const pid_t echo = StartEcho(&address);
  ASSERT_GT(echo, 0);
  ASSERT_NE(address.find("127.0.0.1:"), std::string::npos) << address;

  // As fast as possible, two utterances in flight per call: 12 calls on 3 streams (5, 5, 2).
  const google::protobuf::Struct fast =
      RunBench(absl::StrCat("--target ", address,
                            " --calls 12 --calls-per-stream 5 --window 2 --duration-s 2 --ramp-s 0.2 --settle-s 0.2"
                            " --rate 0 --server-pid ",
                            echo, " --scenario smoke-many --label echo"),
               "many-fast");
  ExpectEverythingAnswered(fast);
  EXPECT_EQ(Number(fast, "calls_per_stream"), 5);
  EXPECT_EQ(Number(fast, "streams"), 3);
  EXPECT_EQ(Number(fast, "streams_started"), 3) << "no stream per call, and none failed and restarted";
  // The corpus's calls take a fraction of a second at full speed, so every slot played more
  // than one call on its stream.
  EXPECT_GT(Number(fast, "calls_started"), 12);

  // Paced: the calls' timers interleave on each stream.
  const google::protobuf::Struct paced =
      RunBench(absl::StrCat("--target ", address,
                            " --calls 8 --calls-per-stream 4 --duration-s 2 --ramp-s 0.2 --settle-s 0.2"
                            " --rate-per-call 4 --server-pid ",
                            echo, " --scenario smoke-many --label echo"),
               "many-paced");
  ExpectEverythingAnswered(paced);
  EXPECT_EQ(Number(paced, "streams_started"), 2);
  EXPECT_GE(Number(paced, "calls_started"), 8);
  ASSERT_TRUE(paced.fields().count("server"));
  EXPECT_GT(paced.fields().at("server").struct_value().fields().at("open_calls").number_value(), 0)
      << "memory per call counts calls, not streams";

  kill(echo, SIGTERM);
  int status = 0;
  waitpid(echo, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the echo server shuts down cleanly";
}

// The envelope built around a pre-serialized event is byte for byte what protobuf would write,
// including lengths that take more than one varint byte.
TEST(EnvelopeWriterTest, MatchesTheProtobufEncoding) {
  for (const size_t id_length : {size_t{1}, size_t{12}, size_t{200}}) {
    for (const size_t text_length : {size_t{0}, size_t{100}, size_t{20000}}) {
      const std::string call_id(id_length, 'c');
      v1::CallEvent event;
      event.mutable_utterance()->set_utterance_id("u-1");
      event.mutable_utterance()->set_text(std::string(text_length, 't'));
      event.mutable_utterance()->set_want_verdict(true);

      const grpc::ByteBuffer wrapped = EnvelopeWriter(call_id).Wrap(ToByteBuffer(event));
      std::vector<grpc::Slice> slices;
      ASSERT_TRUE(wrapped.Dump(&slices).ok());
      std::string bytes;
      for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());

      v1::CallEventEnvelope expected;
      expected.set_call_id(call_id);
      *expected.mutable_event() = event;
      EXPECT_EQ(bytes, expected.SerializeAsString()) << id_length << " " << text_length;
      v1::CallEventEnvelope parsed;
      ASSERT_TRUE(parsed.ParseFromString(bytes));
      EXPECT_EQ(parsed.call_id(), call_id);
      EXPECT_EQ(parsed.event().utterance().text().size(), text_length);
    }
  }
}

}  // namespace
}  // namespace callguard::bench
