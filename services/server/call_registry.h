#ifndef CALLGUARD_SERVER_CALL_REGISTRY_H_
#define CALLGUARD_SERVER_CALL_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace callguard {

// The live calls of the whole server, by call id: refuses a second active call with the same
// id, caps how many run at once, and drops calls that went quiet. It also keeps the calls whose
// stream broke ("parked") until a new stream resumes them or their grace runs out; a parked call
// keeps its id and its slot (it counts against max_active_calls).
class CallRegistry {
 public:
  // Told that its call was dropped for idleness. Runs on the sweeping thread with no registry
  // lock held, so it may call back into the registry.
  using IdleCallback = std::function<void()>;
  // Asked to park its call at once because a new stream resumes it (the old stream's transport
  // may be half-open and not know yet). Runs with no registry lock held.
  using TakeoverCallback = std::function<void()>;

  // The state of a parked call, owned by the registry while parked.
  class Parked {
   public:
    virtual ~Parked() = default;
    // The grace ran out (or the server shuts down): end the call with `reason`. The registry
    // slot is already free. Runs with no registry lock held.
    virtual void End(absl::string_view reason) = 0;
  };
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

  // ALREADY_EXISTS (field start.call_id) if the id is active or parked, RESOURCE_EXHAUSTED at
  // the cap.
  absl::StatusOr<Ticket> Register(const std::string& call_id, IdleCallback on_idle,
                                  TakeoverCallback on_takeover = nullptr) ABSL_LOCKS_EXCLUDED(mu_);

  // Parks the registration `ticket` of `call_id` for `grace`: it stops being swept for idleness
  // and waits for Resume. Returns `parked` back (not taken) if that registration is gone.
  std::unique_ptr<Parked> Park(const std::string& call_id, Ticket ticket,
                               std::unique_ptr<Parked> parked, absl::Duration grace)
      ABSL_LOCKS_EXCLUDED(mu_);

  struct Resumption {
    Ticket ticket = 0;
    std::unique_ptr<Parked> parked;
  };
  // Hands the parked call `call_id` to a new stream under a new ticket. A call still attached
  // to a stream is first taken over (its TakeoverCallback parks it). NOT_FOUND (field
  // start.resume) if nothing is parked under that id; UNAVAILABLE if the old stream would not
  // let go (retry).
  absl::StatusOr<Resumption> Resume(const std::string& call_id, IdleCallback on_idle,
                                    TakeoverCallback on_takeover) ABSL_LOCKS_EXCLUDED(mu_);
  // Records activity; ignored if this registration was dropped meanwhile.
  void Touch(const std::string& call_id, Ticket ticket) ABSL_LOCKS_EXCLUDED(mu_);
  void Unregister(const std::string& call_id, Ticket ticket) ABSL_LOCKS_EXCLUDED(mu_);

  // Drops every call idle for longer than the timeout and tells each, and ends every parked
  // call whose grace ran out; returns how many calls it dropped or ended.
  int SweepIdle() ABSL_LOCKS_EXCLUDED(mu_);

  // Stops the background sweep and ends every parked call with `reason`. For shutdown, while
  // what the parked calls record to still exists. Idempotent.
  void Close(absl::string_view reason) ABSL_LOCKS_EXCLUDED(mu_);

  // Active plus parked.
  size_t active_calls() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t parked_calls() const ABSL_LOCKS_EXCLUDED(mu_);
  absl::Duration idle_timeout() const { return options_.idle_timeout; }

 private:
  struct Entry {
    Ticket ticket = 0;
    absl::Time last_event;
    IdleCallback on_idle;
    TakeoverCallback on_takeover;
    std::unique_ptr<Parked> parked;  // non-null while parked
    absl::Time resume_deadline;      // while parked
  };

  void SweepLoop() ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> calls_ ABSL_GUARDED_BY(mu_);
  Ticket next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  size_t parked_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread sweeper_;
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CALL_REGISTRY_H_
