#ifndef CALLGUARD_BENCH_LOAD_LOAD_GENERATOR_H_
#define CALLGUARD_BENCH_LOAD_LOAD_GENERATOR_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "call_script.h"

namespace callguard::bench {

struct LoadOptions {
  std::string target = "127.0.0.1:50051";
  std::vector<CallScript> scripts;  // calls loop over these
  int calls = 100;                   // concurrent calls
  // 1: each call on a Converse stream of its own; K > 1: K calls per ConverseMany stream, so
  // ceil(calls / K) streams.
  int calls_per_stream = 1;
  int connections = 0;               // 0: one per 100 calls
  // Final utterances per second per call, interim results spread in between; 0: as fast as
  // possible, `window` utterances in flight per call.
  double rate_per_call = 0;
  int window = 1;
  double ramp_s = 1;      // call starts are spread over this
  double settle_s = 0.5;  // then this passes before the measured window
  double duration_s = 10;
  double drain_timeout_s = 10;  // after the window; verdicts missing then are lost
  pid_t server_pid = 0;         // 0: no server-side figures
  std::string scenario;         // free labels carried into the report
  std::string label;
};

struct Quantiles {
  uint64_t count = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};

struct LoadReport {
  std::string target, scenario, label;
  int calls = 0, calls_per_stream = 1, streams = 0, connections = 0, window = 0;
  double rate_per_call = 0, duration_s = 0;

  // The whole run, ramp and drain included.
  int64_t utterances_sent = 0;
  int64_t finals_sent = 0;
  int64_t verdicts = 0;
  int64_t utterance_errors = 0;  // utterances answered with an EventError
  int64_t event_errors = 0;      // EventErrors on other events
  int64_t stray_events = 0;      // Alert events, which want_verdict rules out
  int64_t mismatched = 0;        // a verdict for another utterance than the next one due
  int64_t lost = 0;              // sent and never answered
  int64_t streams_started = 0, streams_ok = 0, streams_failed = 0;
  int64_t calls_started = 0, summaries = 0;

  // The measured window.
  double window_s = 0;
  int64_t window_answers = 0;
  double throughput = 0;  // answered utterances per second
  Quantiles latency;      // send -> verdict, utterances sent in the window
  Quantiles eval;         // the engine's own time, from the verdicts
  Quantiles lag;          // paced runs: how late the generator sent, behind its schedule
  double client_cpu_us_per_utterance = 0;

  bool server_measured = false;
  double server_cpu_us_per_utterance = 0;
  double server_cores = 0;  // server CPU seconds per second in the window
  int64_t rss_idle_kib = 0, rss_loaded_kib = 0, peak_kib = 0;
  int64_t open_calls_at_rss = 0;
  double rss_per_call_kib = 0;

  int64_t errors() const {
    return utterance_errors + event_errors + stray_events + mismatched + streams_failed;
  }
};

absl::StatusOr<LoadReport> RunLoad(LoadOptions options);

std::string ReportTable(const LoadReport& report);
std::string ReportJson(const LoadReport& report);

// The comparison of several JSON reports: per scenario, the median over repeated runs of each
// label, and each figure's ratio to the runs labelled `baseline`. Each expectation
// ("b:latency.p99_us<2000", "a:ratio:throughput>=0.85") is checked on those medians.
absl::StatusOr<std::string> CompareReports(const std::vector<std::string>& json_files,
                                           const std::string& baseline,
                                           const std::vector<std::string>& expectations = {});

}  // namespace callguard::bench

#endif  // CALLGUARD_BENCH_LOAD_LOAD_GENERATOR_H_
