// Write throughput of the SQLite alert store: blocking alerts (one commit each when alone,
// grouped when several threads write at once) against queued records batched by the writer.
// Arguments: durability (0 = process crash / synchronous=NORMAL, 1 = power loss / FULL), and
// for the blocking case the number of writer threads.

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "sqlite_alert_store.h"

namespace callguard {
namespace {

class TempStore {
 public:
  explicit TempStore(int durability) {
    std::string pattern = (std::filesystem::temp_directory_path() / "alert_store_bench_XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = pattern;
    SqliteAlertStore::Options options;
    options.path = (std::filesystem::path(dir_) / "alerts.db").string();
    options.durability = durability == 0 ? SqliteAlertStore::Durability::kProcessCrash
                                         : SqliteAlertStore::Durability::kPowerLoss;
    auto store = SqliteAlertStore::Create(options);
    if (!store.ok()) std::abort();
    store_ = std::move(*store);
    v1::CallStart start;
    start.set_call_id("bench-call");
    start.mutable_agent()->set_agent_id("agent-1");
    start.mutable_agent()->set_team("team-1");
    start.mutable_agency()->set_id("agency-1");
    if (!store_->RecordCallStart(start, absl::Now()).ok()) std::abort();
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  SqliteAlertStore& operator*() { return *store_; }
  SqliteAlertStore* operator->() { return store_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<SqliteAlertStore> store_;
};

v1::Alert BenchAlert(int n) {
  v1::Alert alert;
  alert.set_alert_id(absl::StrCat("a-", n));
  alert.set_call_id("bench-call");
  alert.set_turn(n);
  alert.set_violation(v1::PROHIBITED_THREAT);
  alert.set_severity(v1::SEVERITY_HIGH);
  alert.set_rule_id("us-threat-property");
  alert.set_message("threatened to take property the collector cannot take");
  alert.set_coaching("describe only the actions you are allowed and intend to take");
  alert.add_evidence()->set_text("take your house");
  return alert;
}

v1::TimelineUtterance BenchUtterance(int n) {
  v1::TimelineUtterance u;
  u.set_turn(n);
  u.set_utterance_id(absl::StrCat("u-", n));
  u.set_speaker(v1::AGENT);
  u.set_text("if you do not pay today we will have to take further steps on this account");
  u.set_is_final(true);
  return u;
}

// Blocking AppendAlert from `threads` threads: with one thread, one commit per alert.
void BM_AppendAlertBlocking(benchmark::State& state) {
  TempStore store(static_cast<int>(state.range(0)));
  const int threads = static_cast<int>(state.range(1));
  constexpr int kPerThread = 200;
  for (auto _ : state) {
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          if (!store->AppendAlert(BenchAlert(t * kPerThread + i)).ok()) std::abort();
        }
      });
    }
    for (std::thread& w : writers) w.join();
  }
  state.SetItemsProcessed(state.iterations() * threads * kPerThread);
  const StoreStats stats = store->Stats();
  state.counters["rows_per_commit"] =
      static_cast<double>(stats.rows_written) / static_cast<double>(stats.batches_committed);
}
BENCHMARK(BM_AppendAlertBlocking)
    ->ArgsProduct({{0, 1}, {1, 8}})
    ->ArgNames({"power_loss", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Queued alerts from one thread, then Flush: the writer batches them.
void BM_AppendAlertQueued(benchmark::State& state) {
  TempStore store(static_cast<int>(state.range(0)));
  constexpr int kRows = 2000;
  for (auto _ : state) {
    for (int i = 0; i < kRows; ++i) store->AppendAlertAsync(BenchAlert(i), nullptr);
    if (!store->Flush().ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  const StoreStats stats = store->Stats();
  state.counters["rows_per_commit"] =
      static_cast<double>(stats.rows_written) / static_cast<double>(stats.batches_committed);
}
BENCHMARK(BM_AppendAlertQueued)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("power_loss")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Queued utterances (the hot-path record), then Flush.
void BM_RecordUtteranceQueued(benchmark::State& state) {
  TempStore store(static_cast<int>(state.range(0)));
  constexpr int kRows = 2000;
  for (auto _ : state) {
    for (int i = 0; i < kRows; ++i) {
      if (!store->RecordUtterance("bench-call", BenchUtterance(i)).ok()) std::abort();
    }
    if (!store->Flush().ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  const StoreStats stats = store->Stats();
  state.counters["rows_per_commit"] =
      static_cast<double>(stats.rows_written) / static_cast<double>(stats.batches_committed);
}
BENCHMARK(BM_RecordUtteranceQueued)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("power_loss")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace callguard

BENCHMARK_MAIN();
