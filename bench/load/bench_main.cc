// callguard-bench: streams realistic calls at a running callguard server (or the echo
// baseline) and reports throughput, latency, errors, lost answers and the server's cost.
#include <signal.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "call_script.h"
#include "load_generator.h"
#include "transcript_io.h"

namespace callguard::bench {
namespace {

std::string Usage() {
  return absl::StrFormat(
      "usage: callguard-bench [flags]\n"
      "       callguard-bench compare [--baseline LABEL] [--expect SCENARIO:PATH<=N]... REPORT.json...\n"
      "  --target HOST:PORT      server to load (default 127.0.0.1:50051)\n"
      "  --corpus FILE           labelled calls (JSONL) to play; repeatable (default: the\n"
      "                          repository's examples/calls-*.jsonl)\n"
      "  --calls N               concurrent calls (default 100)\n"
      "  --calls-per-stream K    1: one Converse stream per call (default); K > 1: the calls\n"
      "                          share ceil(N/K) ConverseMany streams, K each\n"
      "  --connections N         TCP connections the calls share (default: one per 100 calls)\n"
      "  --rate-per-call R       final utterances per second per call, interim results in\n"
      "                          between; 0 = as fast as possible (default 0; alias --rate)\n"
      "  --window N              as fast as possible: utterances in flight per call (default 1)\n"
      "  --no-interim            final utterances only\n"
      "  --duration-s S          measured window (default 10)\n"
      "  --ramp-s S              call starts are spread over this first (default 1)\n"
      "  --settle-s S            wait after the ramp before measuring (default 0.5)\n"
      "  --drain-timeout-s S     answers missing this long after the window are lost (default 10)\n"
      "  --server-pid PID        also report the server's CPU and memory from /proc\n"
      "  --json FILE             also write the report as JSON (\"-\": stdout, table to stderr)\n"
      "  --scenario NAME, --label NAME   names carried into the report\n"
      "Every utterance asks for a verdict; latency is from handing it to gRPC to its verdict.\n");
}

absl::Status ParseDouble(const std::string& name, const std::string& value, double* out) {
  if (!absl::SimpleAtod(value, out) || *out < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " wants a non-negative number, got \"", value, "\""));
  }
  return absl::OkStatus();
}

absl::Status ParseInt(const std::string& name, const std::string& value, int* out) {
  if (!absl::SimpleAtoi(value, out) || *out < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " wants a non-negative integer, got \"", value, "\""));
  }
  return absl::OkStatus();
}

int Compare(const std::vector<std::string>& args) {
  std::string baseline = "echo";
  std::vector<std::string> files, expectations;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--baseline" && i + 1 < args.size()) {
      baseline = args[++i];
    } else if (args[i] == "--expect" && i + 1 < args.size()) {
      expectations.push_back(args[++i]);
    } else {
      files.push_back(args[i]);
    }
  }
  auto table = CompareReports(files, baseline, expectations);
  if (!table.ok()) {
    std::cerr << "callguard-bench compare: " << table.status().message() << "\n";
    return 1;
  }
  std::cout << *table;
  return 0;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "compare") return Compare({args.begin() + 1, args.end()});

  LoadOptions options;
  std::vector<std::string> corpus;
  std::string json_path;
  bool interim = true;
  absl::Status status;
  for (size_t i = 0; i < args.size() && status.ok(); ++i) {
    std::string name = args[i];
    if (name == "--help" || name == "-h") {
      std::cout << Usage();
      return 0;
    }
    if (name == "--no-interim") {
      interim = false;
      continue;
    }
    if (name.rfind("--", 0) != 0) {
      status = absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", name, "\""));
      break;
    }
    name = name.substr(2);
    std::string value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      status = absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      break;
    }
    int pid = 0;
    if (name == "target") {
      options.target = value;
    } else if (name == "corpus") {
      corpus.push_back(value);
    } else if (name == "calls") {
      status = ParseInt(name, value, &options.calls);
    } else if (name == "calls-per-stream") {
      status = ParseInt(name, value, &options.calls_per_stream);
      if (status.ok() && options.calls_per_stream == 0) {
        status = absl::InvalidArgumentError("--calls-per-stream wants at least 1");
      }
    } else if (name == "connections") {
      status = ParseInt(name, value, &options.connections);
    } else if (name == "rate-per-call" || name == "rate") {
      status = ParseDouble(name, value, &options.rate_per_call);
    } else if (name == "window") {
      status = ParseInt(name, value, &options.window);
    } else if (name == "duration-s") {
      status = ParseDouble(name, value, &options.duration_s);
    } else if (name == "ramp-s") {
      status = ParseDouble(name, value, &options.ramp_s);
    } else if (name == "settle-s") {
      status = ParseDouble(name, value, &options.settle_s);
    } else if (name == "drain-timeout-s") {
      status = ParseDouble(name, value, &options.drain_timeout_s);
    } else if (name == "server-pid") {
      status = ParseInt(name, value, &pid);
      options.server_pid = pid;
    } else if (name == "json") {
      json_path = value;
    } else if (name == "scenario") {
      options.scenario = value;
    } else if (name == "label") {
      options.label = value;
    } else {
      status = absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
  }
  if (!status.ok()) {
    std::cerr << "callguard-bench: " << status.message() << "\n" << Usage();
    return 2;
  }
  if (corpus.empty()) {
    corpus = {std::string(CALLGUARD_SOURCE_DIR) + "/examples/calls-en.jsonl",
              std::string(CALLGUARD_SOURCE_DIR) + "/examples/calls-zh.jsonl"};
  }
  std::vector<v1::Transcript> transcripts;
  for (const std::string& path : corpus) {
    auto calls = ReadTranscripts(path);
    if (!calls.ok()) {
      std::cerr << "callguard-bench: " << calls.status().message() << "\n";
      return 1;
    }
    for (auto& call : *calls) transcripts.push_back(std::move(call));
  }
  options.scripts = BuildScripts(transcripts, interim);

  // A server that goes away mid-run must show up as failed streams, not kill us.
  signal(SIGPIPE, SIG_IGN);
  auto report = RunLoad(std::move(options));
  if (!report.ok()) {
    std::cerr << "callguard-bench: " << report.status().message() << "\n";
    return 1;
  }
  (json_path == "-" ? std::cerr : std::cout) << ReportTable(*report);
  if (json_path == "-") {
    std::cout << ReportJson(*report) << std::endl;
  } else if (!json_path.empty()) {
    std::ofstream out(json_path, std::ios::trunc);
    out << ReportJson(*report) << "\n";
    if (!out) {
      std::cerr << "callguard-bench: cannot write " << json_path << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace callguard::bench

int main(int argc, char** argv) { return callguard::bench::Main(argc, argv); }
