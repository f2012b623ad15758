#ifndef CALLGUARD_BENCH_LOAD_LATENCY_HISTOGRAM_H_
#define CALLGUARD_BENCH_LOAD_LATENCY_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace callguard::bench {

// Durations in ns, recorded lock-free from any thread into log-linear buckets: 64 per power
// of two, so a percentile is within about 1.6% of the true value.
class LatencyHistogram {
 public:
  void Record(int64_t ns) {
    if (ns < 0) ns = 0;
    buckets_[BucketOf(static_cast<uint64_t>(ns))].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
    uint64_t seen = max_.load(std::memory_order_relaxed);
    while (static_cast<uint64_t>(ns) > seen &&
           !max_.compare_exchange_weak(seen, static_cast<uint64_t>(ns), std::memory_order_relaxed)) {
    }
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double mean_ns() const {
    const uint64_t n = count();
    return n == 0 ? 0.0 : static_cast<double>(sum_.load(std::memory_order_relaxed)) / n;
  }
  double max_ns() const { return static_cast<double>(max_.load(std::memory_order_relaxed)); }

  // The value below which a fraction `q` (0..1) of the samples lie; 0 with no samples.
  double Quantile(double q) const {
    const uint64_t n = count();
    if (n == 0) return 0;
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(n - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen >= rank) return Midpoint(i);
    }
    return max_ns();
  }

 private:
  static constexpr int kSubBits = 6;
  static constexpr size_t kBuckets = (64 - kSubBits + 1) << kSubBits;

  static size_t BucketOf(uint64_t ns) {
    if (ns < (1u << kSubBits)) return static_cast<size_t>(ns);
    const int shift = (63 - std::countl_zero(ns)) - kSubBits;
    return (static_cast<size_t>(shift + 1) << kSubBits) + ((ns >> shift) & ((1u << kSubBits) - 1));
  }
  static double Midpoint(size_t bucket) {
    if (bucket < (1u << kSubBits)) return static_cast<double>(bucket);
    const int shift = static_cast<int>(bucket >> kSubBits) - 1;
    const uint64_t low = ((1ull << kSubBits) + (bucket & ((1u << kSubBits) - 1))) << shift;
    return static_cast<double>(low) + static_cast<double>(1ull << shift) / 2.0;
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace callguard::bench

#endif  // CALLGUARD_BENCH_LOAD_LATENCY_HISTOGRAM_H_
