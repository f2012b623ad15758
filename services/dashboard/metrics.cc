#include "metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace callguard {
namespace {

// "0.0005" rather than "5e-04": both parse, the first reads better in a scrape.
std::string FormatSeconds(double seconds) {
  std::string text = absl::StrFormat("%.9f", seconds);
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

void Header(std::string* out, const std::string& name, const char* type, const std::string& help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

// Bounds for the engine's own time per utterance: microseconds on a hit, up to a slow outlier.
std::vector<double> EvaluationBounds() {
  return {0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
          0.001,    0.0025,  0.005,    0.01,    0.025,  0.05,    0.1};
}

// Bounds for one store commit: tens of microseconds batched, milliseconds with fsync.
std::vector<double> StoreWriteBounds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
          0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1.0};
}

}  // namespace

LatencyHistogram::LatencyHistogram(std::vector<double> bounds_seconds)
    : bounds_seconds_(std::move(bounds_seconds)),
      buckets_(new std::atomic<uint64_t>[bounds_seconds_.size() + 1]) {
  std::sort(bounds_seconds_.begin(), bounds_seconds_.end());
  for (double bound : bounds_seconds_) bounds_ns_.push_back(static_cast<int64_t>(bound * 1e9 + 0.5));
  for (size_t i = 0; i <= bounds_seconds_.size(); ++i) buckets_[i].store(0);
}

void LatencyHistogram::Observe(absl::Duration latency) {
  int64_t ns = std::max<int64_t>(0, absl::ToInt64Nanoseconds(latency));
  // Prometheus buckets are "less than or equal": the first bound not below the value.
  size_t slot = std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns) - bounds_ns_.begin();
  buckets_[slot].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

uint64_t LatencyHistogram::count() const {
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_seconds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
  }
  return total;
}

void LatencyHistogram::Render(const std::string& name, const std::string& help,
                              std::string* out) const {
  Header(out, name, "histogram", help);
  // _count is the +Inf bucket, so a scrape is self-consistent even while observations land.
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_seconds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    absl::StrAppend(out, name, "_bucket{le=\"", FormatSeconds(bounds_seconds_[i]), "\"} ",
                    cumulative, "\n");
  }
  cumulative += buckets_[bounds_seconds_.size()].load(std::memory_order_relaxed);
  absl::StrAppend(out, name, "_bucket{le=\"+Inf\"} ", cumulative, "\n");
  absl::StrAppend(out, name, "_sum ",
                  FormatSeconds(static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9),
                  "\n");
  absl::StrAppend(out, name, "_count ", cumulative, "\n");
}

MetricsRegistry::MetricsRegistry()
    : evaluation_(EvaluationBounds()), store_write_(StoreWriteBounds()) {}

void MetricsRegistry::OnUtterance(int64_t eval_ns) {
  utterances_.fetch_add(1, std::memory_order_relaxed);
  evaluation_.Observe(absl::Nanoseconds(eval_ns));
}

void MetricsRegistry::OnAlert(v1::ViolationKind kind) {
  int index = v1::ViolationKind_IsValid(kind) ? static_cast<int>(kind) : 0;
  alerts_[index].fetch_add(1, std::memory_order_relaxed);
}

uint64_t MetricsRegistry::alerts(v1::ViolationKind kind) const {
  if (!v1::ViolationKind_IsValid(kind)) return 0;
  return alerts_[static_cast<int>(kind)].load(std::memory_order_relaxed);
}

void MetricsRegistry::SetActiveCalls(int64_t calls) {
  active_calls_.store(calls, std::memory_order_relaxed);
}

void MetricsRegistry::OnCallStarted() {
  calls_started_.fetch_add(1, std::memory_order_relaxed);
  active_calls_.fetch_add(1, std::memory_order_relaxed);
}

void MetricsRegistry::OnCallEnded() { active_calls_.fetch_sub(1, std::memory_order_relaxed); }

void MetricsRegistry::OnStoreBatch(int rows, absl::Duration latency) {
  store_rows_.fetch_add(static_cast<uint64_t>(std::max(rows, 0)), std::memory_order_relaxed);
  store_write_.Observe(latency);
}

void MetricsRegistry::OnEventStreamOpened() {
  event_streams_.fetch_add(1, std::memory_order_relaxed);
}

void MetricsRegistry::OnEventStreamClosed() {
  event_streams_.fetch_sub(1, std::memory_order_relaxed);
}

void MetricsRegistry::OnHttpResponse(int status) {
  int index = std::clamp(status / 100 - 2, 0, kStatusClasses - 1);
  http_responses_[index].fetch_add(1, std::memory_order_relaxed);
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::string out;
  Header(&out, "callguard_active_calls", "gauge", "Calls in progress.");
  absl::StrAppend(&out, "callguard_active_calls ",
                  std::max<int64_t>(0, active_calls_.load(std::memory_order_relaxed)), "\n");
  Header(&out, "callguard_calls_started_total", "counter", "Calls started since the server began.");
  absl::StrAppend(&out, "callguard_calls_started_total ",
                  calls_started_.load(std::memory_order_relaxed), "\n");
  Header(&out, "callguard_utterances_total", "counter", "Utterances evaluated by the engine.");
  absl::StrAppend(&out, "callguard_utterances_total ", utterances_.load(std::memory_order_relaxed),
                  "\n");
  Header(&out, "callguard_alerts_total", "counter", "Alerts raised, by violation kind.");
  for (int kind = 1; kind < kKinds; ++kind) {
    if (!v1::ViolationKind_IsValid(kind)) continue;
    absl::StrAppend(&out, "callguard_alerts_total{kind=\"",
                    v1::ViolationKind_Name(static_cast<v1::ViolationKind>(kind)), "\"} ",
                    alerts_[kind].load(std::memory_order_relaxed), "\n");
  }
  evaluation_.Render("callguard_evaluation_seconds",
                     "The engine's time per utterance (normalize, scan, rules).", &out);
  store_write_.Render("callguard_store_write_seconds",
                      "Time of one alert store transaction, BEGIN to COMMIT.", &out);
  Header(&out, "callguard_store_rows_written_total", "counter",
         "Records committed to the alert store.");
  absl::StrAppend(&out, "callguard_store_rows_written_total ",
                  store_rows_.load(std::memory_order_relaxed), "\n");
  Header(&out, "callguard_dashboard_event_streams", "gauge",
         "Dashboard Server-Sent Event streams open now.");
  absl::StrAppend(&out, "callguard_dashboard_event_streams ",
                  std::max<int64_t>(0, event_streams_.load(std::memory_order_relaxed)), "\n");
  Header(&out, "callguard_dashboard_http_responses_total", "counter",
         "Dashboard HTTP responses, by status class.");
  static constexpr const char* kClassNames[kStatusClasses] = {"2xx", "3xx", "4xx", "5xx"};
  for (int i = 0; i < kStatusClasses; ++i) {
    absl::StrAppend(&out, "callguard_dashboard_http_responses_total{code=\"", kClassNames[i],
                    "\"} ", http_responses_[i].load(std::memory_order_relaxed), "\n");
  }
  return out;
}

}  // namespace callguard
