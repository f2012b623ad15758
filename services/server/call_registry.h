#ifndef CALLGUARD_SERVER_CALL_REGISTRY_H_
#define CALLGUARD_SERVER_CALL_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace callguard {

// The live calls of the whole server, by call id: refuses a second active call with the same
// id, caps how many run at once, and drops calls that went quiet.
class CallRegistry {
 public:
  // Told that its call was dropped for idleness. Runs on the sweeping thread with no registry
  // lock held, so it may call back into the registry.
  using IdleCallback = std::function<void()>;
  // Tells one registration from a later one that reuses the same call id.
  using Ticket = uint64_t;

  struct Options {
    absl::Duration idle_timeout = absl::Seconds(900);
    size_t max_active_calls = 20000;
    std::function<absl::Time()> clock;  // default absl::Now
    // How often a background thread sweeps; zero means no thread (call SweepIdle yourself).
    absl::Duration sweep_interval = absl::ZeroDuration();
  };

  explicit CallRegistry(Options options);
  ~CallRegistry();
  CallRegistry(const CallRegistry&) = delete;
  CallRegistry& operator=(const CallRegistry&) = delete;

  // ALREADY_EXISTS (field start.call_id) if the id is active, RESOURCE_EXHAUSTED at the cap.
  absl::StatusOr<Ticket> Register(const std::string& call_id, IdleCallback on_idle)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Records activity; ignored if this registration was dropped meanwhile.
  void Touch(const std::string& call_id, Ticket ticket) ABSL_LOCKS_EXCLUDED(mu_);
  void Unregister(const std::string& call_id, Ticket ticket) ABSL_LOCKS_EXCLUDED(mu_);

  // Drops every call idle for longer than the timeout and tells each; returns how many.
  int SweepIdle() ABSL_LOCKS_EXCLUDED(mu_);

  size_t active_calls() const ABSL_LOCKS_EXCLUDED(mu_);
  absl::Duration idle_timeout() const { return options_.idle_timeout; }

 private:
  struct Entry {
    Ticket ticket = 0;
    absl::Time last_event;
    IdleCallback on_idle;
  };

  void SweepLoop() ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> calls_ ABSL_GUARDED_BY(mu_);
  Ticket next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sweeper_;
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CALL_REGISTRY_H_
