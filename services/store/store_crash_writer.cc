// Test helper: writes calls, utterances and alerts to the store at the given path as fast as it
// can and, for each alert the store reported durable, writes "SEQUENCE ALERT_ID\n" to stdout.
// Runs until killed (the durability test sends SIGKILL) or until it has stored --max alerts.
//
//   store_crash_writer DB_PATH [--max N]

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "sqlite_alert_store.h"

namespace {

// Writes the whole line with one write(2): a kill can cut the stream only between lines.
void Report(const callguard::v1::StoredAlert& stored) {
  const std::string line = absl::StrCat(stored.sequence(), " ", stored.alert().alert_id(), "\n");
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, line.data() + written, line.size() - written);
    if (n <= 0) std::_Exit(3);  // the reader is gone
    written += static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_crash_writer DB_PATH [--max N]\n");
    return 2;
  }
  int64_t max_alerts = -1;
  if (argc == 4 && std::string(argv[2]) == "--max" && !absl::SimpleAtoi(argv[3], &max_alerts)) {
    std::fprintf(stderr, "--max: not a number\n");
    return 2;
  }
  callguard::SqliteAlertStore::Options options;
  options.path = argv[1];
  auto store = callguard::SqliteAlertStore::Create(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }

  // At most this many alerts in flight, so there is always a batch being committed.
  constexpr int kInFlight = 32;
  absl::Mutex mu;
  int in_flight = 0;
  bool failed = false;

  for (int64_t i = 0; max_alerts < 0 || i < max_alerts; ++i) {
    const std::string call_id = absl::StrCat("crash-call-", i / 10);
    if (i % 10 == 0) {
      callguard::v1::CallStart start;
      start.set_call_id(call_id);
      start.set_policy("us-fdcpa");
      start.mutable_agent()->set_agent_id(absl::StrCat("agent-", i % 7));
      start.mutable_agency()->set_id("agency-1");
      if (!(*store)->RecordCallStart(start, absl::Now()).ok()) return 1;
    }
    callguard::v1::TimelineUtterance utterance;
    utterance.set_turn(static_cast<int32_t>(i % 10));
    utterance.set_speaker(callguard::v1::AGENT);
    utterance.set_text("you have to pay today or we will take your house");
    utterance.set_is_final(true);
    (*store)->RecordUtterance(call_id, utterance).IgnoreError();  // droppable by design

    callguard::v1::Alert alert;
    alert.set_alert_id(absl::StrCat("crash-alert-", i));
    alert.set_call_id(call_id);
    alert.set_violation(callguard::v1::PROHIBITED_THREAT);
    alert.set_severity(callguard::v1::SEVERITY_HIGH);
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](int* n) { return *n < kInFlight; }, &in_flight));
      if (failed) return 1;
      ++in_flight;
    }
    (*store)->AppendAlertAsync(alert, [&](absl::StatusOr<callguard::v1::StoredAlert> stored) {
      if (stored.ok()) Report(*stored);
      absl::MutexLock lock(&mu);
      if (!stored.ok()) failed = true;
      --in_flight;
    });
  }
  absl::Status flushed = (*store)->Flush();
  return flushed.ok() ? 0 : 1;
}
