#ifndef CALLGUARD_SUPERVISOR_WATCH_HUB_H_
#define CALLGUARD_SUPERVISOR_WATCH_HUB_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "alert_store.h"
#include "callguard/v1/supervisor.pb.h"

namespace callguard {

// Fans stored alerts and acknowledgements out to live watchers: gRPC WatchAlerts streams,
// the dashboard's Server-Sent Events, `callguard watch`. It listens to the AlertStore, so a
// watcher only ever sees what is already durable. A watcher resumes by sequence: stored
// events after its sequence first, then live ones, with no gap and no duplicate. Each
// watcher has a bounded buffer; one that falls too far behind gets a FellBehind event
// (with the sequences to resume from) and its subscription closes, so a slow watcher never
// slows calls or other watchers. Thread-safe.
//
// Create makes the hub the store's listener (the store has one: forward what else needs its
// events through Options); destroying the hub removes it and closes every subscription.
class WatchHub : public StoreListener {
 public:
  struct Options {
    AlertStore* store = nullptr;        // not owned; must outlive the hub
    size_t max_buffered_events = 4096;  // per watcher, before it is told it fell behind
    // Stored alerts read per store query while a watcher replays (bounds its memory too).
    int replay_page_size = 256;
    // Also told of every committed store transaction (on the writer thread: never block), for
    // a store write latency metric.
    std::function<void(int rows, absl::Duration latency)> on_batch_committed;
  };

  // One watcher's view. Events come out in sequence order.
  class Subscription {
   public:
    virtual ~Subscription() = default;
    // The next event if one is ready (false if none, or closed and drained).
    virtual bool TryNext(v1::WatchEvent* event) = 0;
    // Waits up to `timeout` for the next event.
    virtual bool WaitNext(v1::WatchEvent* event, absl::Duration timeout) = 0;
    // Called (from the store's writer thread: keep it cheap, never block) whenever an event
    // becomes ready; for async readers such as gRPC reactors and the HTTP server.
    virtual void SetWakeup(std::function<void()> wakeup) = 0;
    // True once the hub closed it (fell behind, or the hub shut down) and it is drained.
    virtual bool Done() const = 0;

    // Notes on the implementation's contract:
    // - One reader at a time: calls of TryNext/WaitNext are serialized. While the watcher
    //   replays stored events, TryNext/WaitNext read them from the store (a short query per
    //   replay_page_size events), so they return true until the replay is done: the wakeup
    //   only fires for live events and for the close. Set the wakeup before the first TryNext.
    // - SetWakeup waits for a wakeup that is running to return, so after SetWakeup(nullptr)
    //   the old one never runs again; do not call it while holding a lock the wakeup takes.
    // - After FellBehind, resume_after_sequence is the position up to which this stream gave
    //   every matching alert (a later sequence than the last one it sent when newer alerts did
    //   not match the filter); resuming there is exact.

    // Why it closed: OK while open or after FellBehind; UNAVAILABLE when the hub shut down;
    // the store's error if a replay query failed.
    virtual absl::Status status() const { return absl::OkStatus(); }
  };

  static absl::StatusOr<std::unique_ptr<WatchHub>> Create(Options options);
  ~WatchHub() override = default;

  // Starts a watcher for `request` (filter, after_sequence, after_ack_sequence).
  virtual absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(const v1::WatchRequest& request) = 0;
  // Closes every subscription (server shutdown).
  virtual void Shutdown() = 0;
  virtual size_t watcher_count() const = 0;
  // Subscriptions closed because their watcher fell behind, since the hub started.
  virtual int64_t fell_behind_count() const { return 0; }
  // The newest alert and acknowledgement sequences the store has told the hub of.
  virtual uint64_t last_sequence() const { return 0; }
  virtual uint64_t last_ack_sequence() const { return 0; }
};

}  // namespace callguard

#endif  // CALLGUARD_SUPERVISOR_WATCH_HUB_H_
