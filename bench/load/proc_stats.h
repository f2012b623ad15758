#ifndef CALLGUARD_BENCH_LOAD_PROC_STATS_H_
#define CALLGUARD_BENCH_LOAD_PROC_STATS_H_

#include <sys/types.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace callguard::bench {

// What /proc tells about one process at one moment.
struct ProcessSample {
  double cpu_s = 0;      // user + system time so far
  int64_t rss_kib = 0;   // VmRSS
  int64_t peak_kib = 0;  // VmHWM
};

absl::StatusOr<ProcessSample> SampleProcess(pid_t pid);

// This process's own user + system time (the generator's cost, for context).
double SelfCpuSeconds();

}  // namespace callguard::bench

#endif  // CALLGUARD_BENCH_LOAD_PROC_STATS_H_
