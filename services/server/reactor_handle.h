#ifndef CALLGUARD_SERVER_REACTOR_HANDLE_H_
#define CALLGUARD_SERVER_REACTOR_HANDLE_H_

#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace callguard {

// Lets the call registry's sweeper and other streams reach a stream's reactor only while it
// exists: the reactor clears the handle in OnDone, before it deletes itself, and the registry
// holds callbacks with weak pointers to the handle.
template <typename Reactor>
class ReactorHandle {
 public:
  explicit ReactorHandle(Reactor* reactor) : reactor_(reactor) {}

  // Runs fn(reactor) if the reactor still exists; holding mu_ keeps its OnDone (and so the
  // delete) waiting until fn returns.
  template <typename Fn>
  void With(Fn&& fn) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (reactor_ != nullptr) std::forward<Fn>(fn)(*reactor_);
  }
  void Clear() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_);
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_REACTOR_HANDLE_H_
