// MetricsRegistry: what it counts and the Prometheus text it renders.
#include "metrics.h"

#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace callguard {
namespace {

// name{labels} -> value, for every sample line; fails the test on a line that is neither a
// sample nor a HELP/TYPE comment.
std::map<std::string, double> Samples(const std::string& text) {
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"\})?) ([-+0-9.eE]+|\+Inf)$)");
  static const std::regex kComment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  std::map<std::string, double> samples;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "the exposition format ends every line with a newline";
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::string l(line);
    std::smatch match;
    if (std::regex_match(l, kComment)) continue;
    if (!std::regex_match(l, match, kSample)) {
      ADD_FAILURE() << "not a Prometheus sample line: " << l;
      continue;
    }
    double value = 0;
    EXPECT_TRUE(absl::SimpleAtod(match[3].str(), &value)) << l;
    EXPECT_EQ(samples.count(match[1].str()), 0u) << "duplicate sample " << match[1];
    samples[match[1].str()] = value;
  }
  return samples;
}

TEST(MetricsRegistryTest, CountsUtterancesAlertsCallsAndStoreWrites) {
  MetricsRegistry metrics;
  metrics.OnUtterance(3000);
  metrics.OnUtterance(40000);
  metrics.OnAlert(v1::THIRD_PARTY_DISCLOSURE);
  metrics.OnAlert(v1::THIRD_PARTY_DISCLOSURE);
  metrics.OnAlert(v1::PROHIBITED_THREAT);
  metrics.OnCallStarted();
  metrics.OnCallStarted();
  metrics.OnCallEnded();
  metrics.OnStoreBatch(12, absl::Microseconds(300));
  metrics.OnStoreBatch(3, absl::Milliseconds(7));

  auto samples = Samples(metrics.RenderPrometheus());
  EXPECT_EQ(samples["callguard_utterances_total"], 2);
  EXPECT_EQ(samples["callguard_alerts_total{kind=\"THIRD_PARTY_DISCLOSURE\"}"], 2);
  EXPECT_EQ(samples["callguard_alerts_total{kind=\"PROHIBITED_THREAT\"}"], 1);
  EXPECT_EQ(samples.count("callguard_alerts_total{kind=\"IMPERSONATION\"}"), 1u)
      << "every kind is present, at zero, so rates work from the first scrape";
  EXPECT_EQ(samples["callguard_alerts_total{kind=\"IMPERSONATION\"}"], 0);
  EXPECT_EQ(samples["callguard_active_calls"], 1);
  EXPECT_EQ(samples["callguard_calls_started_total"], 2);
  EXPECT_EQ(samples["callguard_store_rows_written_total"], 15);
  EXPECT_EQ(samples["callguard_store_write_seconds_count"], 2);
  EXPECT_NEAR(samples["callguard_store_write_seconds_sum"], 0.0073, 1e-9);
  EXPECT_EQ(samples["callguard_evaluation_seconds_count"], 2);
  EXPECT_NEAR(samples["callguard_evaluation_seconds_sum"], 0.000043, 1e-12);

  metrics.SetActiveCalls(7);
  EXPECT_EQ(Samples(metrics.RenderPrometheus())["callguard_active_calls"], 7);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeAndEndWithTheCount) {
  MetricsRegistry metrics;
  // 3 us, 10 us exactly (a bound: "less or equal" puts it in that bucket), 2 ms, 5 s.
  for (int64_t ns : std::vector<int64_t>{3000, 10000, 2000000, 5000000000}) metrics.OnUtterance(ns);
  auto samples = Samples(metrics.RenderPrometheus());
  EXPECT_EQ(samples["callguard_evaluation_seconds_bucket{le=\"0.000005\"}"], 1);
  EXPECT_EQ(samples["callguard_evaluation_seconds_bucket{le=\"0.00001\"}"], 2);
  EXPECT_EQ(samples["callguard_evaluation_seconds_bucket{le=\"0.001\"}"], 2);
  EXPECT_EQ(samples["callguard_evaluation_seconds_bucket{le=\"0.0025\"}"], 3);
  EXPECT_EQ(samples["callguard_evaluation_seconds_bucket{le=\"0.1\"}"], 3);
  EXPECT_EQ(samples["callguard_evaluation_seconds_bucket{le=\"+Inf\"}"], 4);
  EXPECT_EQ(samples["callguard_evaluation_seconds_count"], 4);

  // Cumulative: in the order rendered, never decreasing.
  std::string text = metrics.RenderPrometheus();
  double previous = -1;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "callguard_evaluation_seconds_bucket")) continue;
    double value = 0;
    ASSERT_TRUE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value));
    EXPECT_GE(value, previous) << line;
    previous = value;
  }
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry metrics;
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics] {
      for (int i = 0; i < kEach; ++i) {
        metrics.OnUtterance(1000 + i);
        metrics.OnAlert(v1::ABUSIVE_LANGUAGE);
        metrics.OnStoreBatch(1, absl::Microseconds(50));
      }
    });
  }
  // Scrapes while the counters move must still be well-formed.
  for (int i = 0; i < 20; ++i) Samples(metrics.RenderPrometheus());
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(metrics.utterances(), static_cast<uint64_t>(kThreads * kEach));
  EXPECT_EQ(metrics.alerts(v1::ABUSIVE_LANGUAGE), static_cast<uint64_t>(kThreads * kEach));
  EXPECT_EQ(metrics.store_rows(), static_cast<uint64_t>(kThreads * kEach));
  auto samples = Samples(metrics.RenderPrometheus());
  EXPECT_EQ(samples["callguard_evaluation_seconds_count"], kThreads * kEach);
}

TEST(MetricsRegistryTest, HttpResponsesAreCountedByClass) {
  MetricsRegistry metrics;
  metrics.OnHttpResponse(200);
  metrics.OnHttpResponse(204);
  metrics.OnHttpResponse(404);
  metrics.OnHttpResponse(503);
  auto samples = Samples(metrics.RenderPrometheus());
  EXPECT_EQ(samples["callguard_dashboard_http_responses_total{code=\"2xx\"}"], 2);
  EXPECT_EQ(samples["callguard_dashboard_http_responses_total{code=\"4xx\"}"], 1);
  EXPECT_EQ(samples["callguard_dashboard_http_responses_total{code=\"5xx\"}"], 1);
}

}  // namespace
}  // namespace callguard
