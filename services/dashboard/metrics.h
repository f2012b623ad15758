#ifndef CALLGUARD_DASHBOARD_METRICS_H_
#define CALLGUARD_DASHBOARD_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "callguard/v1/common.pb.h"

namespace callguard {

// A latency histogram with fixed bucket bounds: one relaxed atomic add per observation.
class LatencyHistogram {
 public:
  // Upper bounds in seconds, ascending; a +Inf bucket is implied.
  explicit LatencyHistogram(std::vector<double> bounds_seconds);

  void Observe(absl::Duration latency);

  // Appends the Prometheus text of this histogram (HELP, TYPE, buckets, _sum, _count).
  void Render(const std::string& name, const std::string& help, std::string* out) const;

  uint64_t count() const;

 private:
  std::vector<double> bounds_seconds_;
  std::vector<int64_t> bounds_ns_;
  // One slot per bound plus +Inf; not cumulative (the rendering sums them).
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> sum_ns_{0};
};

// The server's counters for `/metrics`. Every method is thread-safe, lock-free and cheap enough
// for the hot path of each utterance.
class MetricsRegistry {
 public:
  MetricsRegistry();

  // One utterance evaluated by the engine in `eval_ns` (Verdict.eval_ns).
  void OnUtterance(int64_t eval_ns);
  // One alert raised (counted whether or not it was interim).
  void OnAlert(v1::ViolationKind kind);
  // Calls in progress: set it outright, or move it with OnCallStarted/OnCallEnded.
  void SetActiveCalls(int64_t calls);
  void OnCallStarted();
  void OnCallEnded();
  // One store transaction of `rows` records committed in `latency`
  // (StoreListener::OnBatchCommitted).
  void OnStoreBatch(int rows, absl::Duration latency);
  // Dashboard event streams open now.
  void OnEventStreamOpened();
  void OnEventStreamClosed();
  // One HTTP response sent by the dashboard with this status code.
  void OnHttpResponse(int status);

  int64_t active_calls() const { return active_calls_.load(std::memory_order_relaxed); }
  uint64_t utterances() const { return utterances_.load(std::memory_order_relaxed); }
  uint64_t alerts(v1::ViolationKind kind) const;
  uint64_t store_rows() const { return store_rows_.load(std::memory_order_relaxed); }
  int64_t event_streams() const { return event_streams_.load(std::memory_order_relaxed); }

  // Everything in the Prometheus text exposition format (version 0.0.4).
  std::string RenderPrometheus() const;

 private:
  static constexpr int kKinds = v1::ViolationKind_ARRAYSIZE;
  // 2xx, 3xx, 4xx, 5xx.
  static constexpr int kStatusClasses = 4;

  std::atomic<int64_t> active_calls_{0};
  std::atomic<uint64_t> calls_started_{0};
  std::atomic<uint64_t> utterances_{0};
  std::array<std::atomic<uint64_t>, kKinds> alerts_{};
  std::atomic<uint64_t> store_rows_{0};
  std::atomic<int64_t> event_streams_{0};
  std::array<std::atomic<uint64_t>, kStatusClasses> http_responses_{};
  LatencyHistogram evaluation_;
  LatencyHistogram store_write_;
};

}  // namespace callguard

#endif  // CALLGUARD_DASHBOARD_METRICS_H_
