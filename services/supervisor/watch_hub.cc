#include "watch_hub.h"

#include <algorithm>
#include <deque>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "alert_filter.h"

namespace callguard {
namespace {

// One watcher's state, shared by the hub (which pushes live events into it) and the
// Subscription handed to the reader.
//
// Lock order: read_mu, then Core::mu, then mu. The wakeup runs under wakeup_mu only.
struct Watcher : std::enable_shared_from_this<Watcher> {
  enum class Phase { kReplay, kLive, kClosed };

  v1::AlertFilter filter;
  size_t max_buffered = 0;

  // Serializes readers; held across the replay's store queries.
  absl::Mutex read_mu;
  // Replay progress, touched only by the reader (under read_mu).
  bool alerts_replayed ABSL_GUARDED_BY(read_mu) = false;
  bool acks_replayed ABSL_GUARDED_BY(read_mu) = false;

  mutable absl::Mutex mu;
  Phase phase ABSL_GUARDED_BY(mu) = Phase::kReplay;
  std::deque<v1::WatchEvent> buffer ABSL_GUARDED_BY(mu);
  // Every matching alert (acknowledgement) up to these sequences is in the buffer or was read.
  uint64_t alert_cursor ABSL_GUARDED_BY(mu) = 0;
  uint64_t ack_cursor ABSL_GUARDED_BY(mu) = 0;
  absl::Status close_status ABSL_GUARDED_BY(mu);

  absl::Mutex wakeup_mu;
  std::function<void()> wakeup ABSL_GUARDED_BY(wakeup_mu);

  void Wake() ABSL_LOCKS_EXCLUDED(wakeup_mu, mu) {
    absl::MutexLock lock(&wakeup_mu);
    if (wakeup) wakeup();
  }

  // Closes with `status`; true if it was open (the caller then wakes the reader).
  bool CloseLocked(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (phase == Phase::kClosed) return false;
    phase = Phase::kClosed;
    close_status = std::move(status);
    return true;
  }
};

// Everything the hub shares with its subscriptions, so a subscription may outlive the hub
// object (it is closed by then and never touches the store again).
class Core {
 public:
  explicit Core(WatchHub::Options options) : options_(std::move(options)) {}

  const WatchHub::Options& options() const { return options_; }
  AlertStore& store() const { return *options_.store; }

  void Start() ABSL_LOCKS_EXCLUDED(mu_) {
    // The listener may already run before these reads: both take the larger value.
    absl::MutexLock lock(&mu_);
    last_sequence_ = std::max(last_sequence_, options_.store->LastSequence());
    last_ack_sequence_ = std::max(last_ack_sequence_, options_.store->LastAckSequence());
  }

  absl::StatusOr<std::shared_ptr<Watcher>> Subscribe(const v1::WatchRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_) {
    if (absl::Status status = ValidateAlertFilter(request.filter()); !status.ok()) return status;
    auto watcher = std::make_shared<Watcher>();
    watcher->filter = request.filter();
    watcher->max_buffered = std::max<size_t>(options_.max_buffered_events, 1);
    absl::MutexLock lock(&mu_);
    if (shut_down_) return absl::UnavailableError("the server is shutting down");
    // The store may have committed more than it has told us; only beyond that is unknown.
    const uint64_t newest = std::max(last_sequence_, options_.store->LastSequence());
    const uint64_t newest_ack = std::max(last_ack_sequence_, options_.store->LastAckSequence());
    if (request.has_after_sequence() && request.after_sequence() > newest) {
      return absl::OutOfRangeError(absl::StrCat(
          "after_sequence: ", request.after_sequence(), " is beyond the newest stored alert (",
          newest, "); was the alert database replaced?"));
    }
    if (request.has_after_ack_sequence() && request.after_ack_sequence() > newest_ack) {
      return absl::OutOfRangeError(absl::StrCat(
          "after_ack_sequence: ", request.after_ack_sequence(),
          " is beyond the newest stored acknowledgement (", newest_ack, ")"));
    }
    {
      absl::MutexLock watcher_lock(&watcher->mu);
      watcher->alert_cursor =
          request.has_after_sequence() ? request.after_sequence() : last_sequence_;
      watcher->ack_cursor =
          request.has_after_ack_sequence() ? request.after_ack_sequence() : last_ack_sequence_;
      GoLiveIfCaughtUpLocked(*watcher);
    }
    watchers_.insert(watcher);
    return watcher;
  }

  void Unsubscribe(const std::shared_ptr<Watcher>& watcher) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    watchers_.erase(watcher);
    live_.erase(std::remove(live_.begin(), live_.end(), watcher), live_.end());
  }

  // Moves a replaying watcher to live if the replay has reached what the listener delivered;
  // returns false if it must replay more.
  bool TryGoLive(Watcher& watcher) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    absl::MutexLock watcher_lock(&watcher.mu);
    if (watcher.phase != Watcher::Phase::kReplay) return true;
    return GoLiveIfCaughtUpLocked(watcher);
  }

  void OnAlertStored(const v1::StoredAlert& stored) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::shared_ptr<Watcher>> to_wake;
    {
      absl::MutexLock lock(&mu_);
      const uint64_t sequence = stored.sequence();
      if (sequence <= last_sequence_) return;  // counted by Start already
      last_sequence_ = sequence;
      FanOutLocked(stored, sequence, /*ack=*/false, &to_wake);
    }
    for (const auto& watcher : to_wake) watcher->Wake();
  }

  void OnAlertAcknowledged(const v1::StoredAlert& stored) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::shared_ptr<Watcher>> to_wake;
    {
      absl::MutexLock lock(&mu_);
      const uint64_t ack_sequence = stored.acknowledgement().ack_sequence();
      if (ack_sequence <= last_ack_sequence_) return;
      last_ack_sequence_ = ack_sequence;
      FanOutLocked(stored, ack_sequence, /*ack=*/true, &to_wake);
    }
    for (const auto& watcher : to_wake) watcher->Wake();
  }

  // Offers one stored alert (or, with `ack`, its acknowledgement), numbered `sequence` in its
  // own series, to every live watcher that has not seen it: a watcher whose filter matches
  // gets it buffered; a watcher whose buffer is full falls behind and leaves the live set.
  void FanOutLocked(const v1::StoredAlert& stored, uint64_t sequence, bool ack,
                    std::vector<std::shared_ptr<Watcher>>* to_wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = live_.begin(); it != live_.end();) {
      Watcher& watcher = **it;
      absl::MutexLock watcher_lock(&watcher.mu);
      uint64_t& cursor = ack ? watcher.ack_cursor : watcher.alert_cursor;
      if (sequence <= cursor) {  // the replay read it from the store already
        ++it;
        continue;
      }
      const uint64_t before = cursor;
      cursor = sequence;
      if (!AlertMatches(watcher.filter, stored)) {
        ++it;
        continue;
      }
      const bool was_empty = watcher.buffer.empty();
      if (watcher.buffer.size() >= watcher.max_buffered) {
        // Resume from where it was in the series that overflowed, as it was in the other.
        if (ack) {
          FallBehindLocked(watcher, watcher.alert_cursor, before);
        } else {
          FallBehindLocked(watcher, before, watcher.ack_cursor);
        }
        to_wake->push_back(*it);
        it = live_.erase(it);
        continue;
      }
      if (ack) {
        *watcher.buffer.emplace_back().mutable_acknowledgement() = stored.acknowledgement();
      } else {
        *watcher.buffer.emplace_back().mutable_alert() = stored;
      }
      if (was_empty) to_wake->push_back(*it);
      ++it;
    }
  }

  void OnBatchCommitted(int rows, absl::Duration latency) {
    if (options_.on_batch_committed) options_.on_batch_committed(rows, latency);
  }

  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::shared_ptr<Watcher>> to_wake;
    {
      absl::MutexLock lock(&mu_);
      shut_down_ = true;
      for (const auto& watcher : watchers_) {
        absl::MutexLock watcher_lock(&watcher->mu);
        if (watcher->CloseLocked(absl::UnavailableError("the server is shutting down"))) {
          to_wake.push_back(watcher);
        }
      }
      live_.clear();
    }
    for (const auto& watcher : to_wake) watcher->Wake();
  }

  size_t watcher_count() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return watchers_.size();
  }
  int64_t fell_behind_count() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return fell_behind_;
  }
  uint64_t last_sequence() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return last_sequence_;
  }
  uint64_t last_ack_sequence() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return last_ack_sequence_;
  }

 private:
  bool GoLiveIfCaughtUpLocked(Watcher& watcher) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, watcher.mu) {
    if (watcher.alert_cursor < last_sequence_ || watcher.ack_cursor < last_ack_sequence_) {
      return false;
    }
    watcher.phase = Watcher::Phase::kLive;
    v1::CaughtUp* caught_up = watcher.buffer.emplace_back().mutable_caught_up();
    caught_up->set_last_sequence(watcher.alert_cursor);
    caught_up->set_last_ack_sequence(watcher.ack_cursor);
    live_.push_back(watcher.shared_from_this());
    return true;
  }

  // The event that did not fit is dropped; what is buffered is still delivered, then the
  // FellBehind that says where to resume.
  void FallBehindLocked(Watcher& watcher, uint64_t alerts_complete, uint64_t acks_complete)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, watcher.mu) {
    v1::FellBehind* fell = watcher.buffer.emplace_back().mutable_fell_behind();
    fell->set_resume_after_sequence(alerts_complete);
    fell->set_resume_after_ack_sequence(acks_complete);
    watcher.CloseLocked(absl::OkStatus());
    ++fell_behind_;
  }

  const WatchHub::Options options_;
  mutable absl::Mutex mu_;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_ack_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_set<std::shared_ptr<Watcher>> watchers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Watcher>> live_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  int64_t fell_behind_ ABSL_GUARDED_BY(mu_) = 0;
};

class SubscriptionImpl : public WatchHub::Subscription {
 public:
  SubscriptionImpl(std::shared_ptr<Core> core, std::shared_ptr<Watcher> watcher)
      : core_(std::move(core)), watcher_(std::move(watcher)) {}

  ~SubscriptionImpl() override {
    core_->Unsubscribe(watcher_);
    SetWakeup(nullptr);
  }

  bool TryNext(v1::WatchEvent* event) override {
    absl::MutexLock read_lock(&watcher_->read_mu);
    return NextLocked(event);
  }

  bool WaitNext(v1::WatchEvent* event, absl::Duration timeout) override {
    const absl::Time deadline = absl::Now() + timeout;
    absl::MutexLock read_lock(&watcher_->read_mu);
    if (NextLocked(event)) return true;
    Watcher& w = *watcher_;
    absl::MutexLock lock(&w.mu);
    auto ready = [&w]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(w.mu) {
      return !w.buffer.empty() || w.phase == Watcher::Phase::kClosed;
    };
    w.mu.AwaitWithDeadline(absl::Condition(&ready), deadline);
    if (w.buffer.empty()) return false;
    *event = std::move(w.buffer.front());
    w.buffer.pop_front();
    return true;
  }

  void SetWakeup(std::function<void()> wakeup) override {
    absl::MutexLock lock(&watcher_->wakeup_mu);
    watcher_->wakeup = std::move(wakeup);
  }

  bool Done() const override {
    absl::MutexLock lock(&watcher_->mu);
    return watcher_->phase == Watcher::Phase::kClosed && watcher_->buffer.empty();
  }

  absl::Status status() const override {
    absl::MutexLock lock(&watcher_->mu);
    return watcher_->close_status;
  }

 private:
  // Pops the next event, replaying from the store while the watcher is not live yet.
  bool NextLocked(v1::WatchEvent* event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(watcher_->read_mu) {
    Watcher& w = *watcher_;
    for (;;) {
      {
        absl::MutexLock lock(&w.mu);
        if (!w.buffer.empty()) {
          *event = std::move(w.buffer.front());
          w.buffer.pop_front();
          return true;
        }
        if (w.phase != Watcher::Phase::kReplay) return false;
      }
      ReplayStep();
    }
  }

  // One page of stored alerts, or of acknowledgements, or the switch to live.
  void ReplayStep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(watcher_->read_mu) {
    Watcher& w = *watcher_;
    const int page_size = core_->options().replay_page_size;
    if (!w.alerts_replayed || !w.acks_replayed) {
      const bool alerts = !w.alerts_replayed;
      uint64_t cursor;
      {
        absl::MutexLock lock(&w.mu);
        cursor = alerts ? w.alert_cursor : w.ack_cursor;
      }
      // Read before the query: the query's snapshot holds everything up to it.
      const uint64_t known = alerts ? core_->last_sequence() : core_->last_ack_sequence();
      absl::StatusOr<std::vector<v1::StoredAlert>> page =
          alerts ? core_->store().AlertsAfter(cursor, w.filter, page_size)
                 : core_->store().AcknowledgementsAfter(cursor, w.filter, page_size);
      absl::MutexLock lock(&w.mu);
      if (w.phase != Watcher::Phase::kReplay) return;  // closed meanwhile
      if (!page.ok()) {
        w.CloseLocked(absl::Status(page.status().code(),
                                   absl::StrCat("reading stored alerts: ", page.status().message())));
        return;
      }
      for (v1::StoredAlert& stored : *page) {
        if (alerts) {
          w.alert_cursor = stored.sequence();
          *w.buffer.emplace_back().mutable_alert() = std::move(stored);
        } else {
          w.ack_cursor = stored.acknowledgement().ack_sequence();
          *w.buffer.emplace_back().mutable_acknowledgement() =
              std::move(*stored.mutable_acknowledgement());
        }
      }
      if (static_cast<int>(page->size()) < page_size) {
        uint64_t& done = alerts ? w.alert_cursor : w.ack_cursor;
        done = std::max(done, known);
        (alerts ? w.alerts_replayed : w.acks_replayed) = true;
      }
      return;
    }
    // More may have been committed during the replay: then replay that too.
    if (!core_->TryGoLive(w)) w.alerts_replayed = w.acks_replayed = false;
  }

  const std::shared_ptr<Core> core_;
  const std::shared_ptr<Watcher> watcher_;
};

class WatchHubImpl : public WatchHub {
 public:
  explicit WatchHubImpl(Options options) : core_(std::make_shared<Core>(std::move(options))) {}

  ~WatchHubImpl() override {
    core_->store().SetListener(nullptr);  // returns once no listener call is under way
    core_->Shutdown();
  }

  void Start() {
    core_->store().SetListener(this);
    core_->Start();
  }

  void OnAlertStored(const v1::StoredAlert& stored) override { core_->OnAlertStored(stored); }
  void OnAlertAcknowledged(const v1::StoredAlert& stored) override {
    core_->OnAlertAcknowledged(stored);
  }
  void OnBatchCommitted(int rows, absl::Duration latency) override {
    core_->OnBatchCommitted(rows, latency);
  }

  absl::StatusOr<std::unique_ptr<Subscription>> Subscribe(
      const v1::WatchRequest& request) override {
    absl::StatusOr<std::shared_ptr<Watcher>> watcher = core_->Subscribe(request);
    if (!watcher.ok()) return watcher.status();
    return std::make_unique<SubscriptionImpl>(core_, *std::move(watcher));
  }

  void Shutdown() override { core_->Shutdown(); }
  size_t watcher_count() const override { return core_->watcher_count(); }
  int64_t fell_behind_count() const override { return core_->fell_behind_count(); }
  uint64_t last_sequence() const override { return core_->last_sequence(); }
  uint64_t last_ack_sequence() const override { return core_->last_ack_sequence(); }

 private:
  const std::shared_ptr<Core> core_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<WatchHub>> WatchHub::Create(Options options) {
  if (options.store == nullptr) return absl::InvalidArgumentError("store: required");
  if (options.max_buffered_events == 0) {
    return absl::InvalidArgumentError("max_buffered_events: must be positive");
  }
  if (options.replay_page_size < 1 || options.replay_page_size > 10000) {
    return absl::InvalidArgumentError("replay_page_size: must be 1..10000");
  }
  auto hub = std::make_unique<WatchHubImpl>(std::move(options));
  hub->Start();
  return hub;
}

}  // namespace callguard
