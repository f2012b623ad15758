#ifndef CALLGUARD_AGENT_CLIENT_LIB_CALL_STATE_H_
#define CALLGUARD_AGENT_CLIENT_LIB_CALL_STATE_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "callguard/v1/guard.pb.h"
#include "callguard_client.h"
#include "grpcpp/client_context.h"

namespace callguard::client::internal {

// Jittered by +-20%, so calls broken together do not reconnect in lock step.
absl::Duration Jittered(absl::Duration delay);
// The reconnect delay after `failures` failed attempts in a row: doubling from initial to max.
absl::Duration BackoffDelay(const CallguardClient::Options& options, int failures);
// Waits on `mu` (held) for `condition` until `deadline` by `clock`; returns whether it holds. In
// short slices, so that an injected clock decides when the deadline has passed.
bool AwaitUntilByClock(absl::Mutex& mu, const absl::Condition& condition, absl::Time deadline,
                       const std::function<absl::Time()>& clock) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

// One call's side of the resume protocol, whatever stream carries it: numbers the events, keeps
// them until the server acknowledges them, builds the start or resuming start of each new
// stream, reads the hand-shake's answer, drops answers that arrived before (GuardEvent.seq) and
// runs the dialer's callbacks. A transport (a Converse stream of its own, or a shared
// ConverseMany stream) moves events and answers; the call is on one stream at a time.
// Thread-safe.
class CallState {
 public:
  // What the transport does once a stream's hand-shake for this call is over.
  enum class Next {
    kSend,      // accepted: send what the server has not applied
    kRetryNow,  // hand-shake again at once (a fresh start after all, or a resume after all)
    kBackoff,   // no answer, or the server asks to retry: hand-shake again after a backoff
    kOver,      // the call is over (refused start, lost, ended, closed)
  };

  CallState(const CallguardClient::Options& options, v1::CallStart start, CallCallbacks callbacks);
  CallState(const CallState&) = delete;
  CallState& operator=(const CallState&) = delete;

  const std::string& call_id() const { return start_.call_id(); }

  // The dialer's side: see CallHandle.
  absl::Status AwaitOpen() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Enqueue(v1::CallEvent event) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::CallSummary> End(absl::string_view reason, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status status() const ABSL_LOCKS_EXCLUDED(mu_);
  CallHandle::Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

  // Called (outside the lock) when the call has something new for its transport: an event to
  // send, a hand-shake answer, its end. Set before the transport starts.
  void set_wake(std::function<void()> wake) { wake_ = std::move(wake); }

  // The handle of a call with a stream of its own is gone: stop, cancelling the stream (the
  // context given to BeginHandshake).
  void Close() ABSL_LOCKS_EXCLUDED(mu_);
  // The handle of a call on a shared stream is gone: no more callbacks (waits for one running on
  // another thread), its CallEnd (`reason`) is queued unless it ended already, and it is not
  // resumed after a break.
  void Abandon(absl::string_view reason) ABSL_LOCKS_EXCLUDED(mu_);
  bool abandoned() const ABSL_LOCKS_EXCLUDED(mu_);

  // The transport's side. Builds the first event of a new hand-shake (a fresh start, or the
  // resuming start after one went out before); false if the call is over or abandoned.
  // `context` (optional) is cancelled by Close.
  bool BeginHandshake(v1::CallEvent* first, grpc::ClientContext* context = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until the hand-shake is answered, the stream breaks, the call is over or `deadline`.
  Next AwaitHandshake(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // The hand-shake's outcome if it is over, without waiting; nullopt while it waits.
  std::optional<Next> HandshakeOutcome() const ABSL_LOCKS_EXCLUDED(mu_);
  // The next event the server has not got on this stream, counted as sent. TakeNextToSend
  // returns false at once if there is none; AwaitNextToSend blocks for one and returns false
  // when the stream broke or the call is over.
  bool TakeNextToSend(v1::CallEvent* event) ABSL_LOCKS_EXCLUDED(mu_);
  bool AwaitNextToSend(v1::CallEvent* event) ABSL_LOCKS_EXCLUDED(mu_);
  // One answer of the server for this call: acks, the hand-shake's answer, duplicates dropped,
  // the rest to the callbacks (on the calling thread, outside the lock).
  void OnAnswer(const v1::GuardEvent& answer) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream carrying the call broke (or, for a shared stream, the call left it).
  void OnStreamBroken() ABSL_LOCKS_EXCLUDED(mu_);
  // The stream is gone; clears the context given to BeginHandshake.
  void OnStreamGone() ABSL_LOCKS_EXCLUDED(mu_);
  bool Over() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits `delay` by the clock unless the call is closed meanwhile.
  void Backoff(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class Handshake { kWaiting, kDone, kFailed };

  // Waits for `condition` until `deadline` by the options' clock; returns whether it holds.
  bool AwaitUntil(const absl::Condition& condition, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return AwaitUntilByClock(mu_, condition, deadline, options_.clock);
  }
  bool OverLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closing_ || summary_.has_value() || !fatal_.ok();
  }
  void TrimLocked(uint64_t applied) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the CallEnd unless the call ended already; true if it did.
  bool QueueEndLocked(absl::string_view reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Decides what a refused hand-shake means; sets `lost` if the dialer must be told.
  Next SettleRefusalLocked(const absl::Status& error, std::optional<v1::EventError>* lost)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t NextWantedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::max(sent_upto_, last_acked_) + 1;
  }
  void Deliver(const v1::GuardEvent& answer) ABSL_LOCKS_EXCLUDED(mu_);
  void Wake() const {
    if (wake_) wake_();
  }

  const CallguardClient::Options& options_;
  const v1::CallStart start_;
  const CallCallbacks callbacks_;
  std::function<void()> wake_;

  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 2;  // 1 is the CallStart
  // Events after the last acknowledged one, by seq: sent (not yet acknowledged) or waiting.
  std::deque<v1::CallEvent> unacked_ ABSL_GUARDED_BY(mu_);
  uint64_t last_acked_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sent_upto_ ABSL_GUARDED_BY(mu_) = 0;      // on the current stream
  uint64_t last_received_ ABSL_GUARDED_BY(mu_) = 0;  // highest GuardEvent.seq delivered
  bool start_accepted_ ABSL_GUARDED_BY(mu_) = false;
  bool start_sent_ ABSL_GUARDED_BY(mu_) = false;  // a fresh CallStart went out once
  int fresh_starts_ ABSL_GUARDED_BY(mu_) = 0;
  int handshakes_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // CallEnd queued
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool abandoned_ ABSL_GUARDED_BY(mu_) = false;
  int delivering_ ABSL_GUARDED_BY(mu_) = 0;  // callbacks running now
  std::optional<v1::CallSummary> summary_ ABSL_GUARDED_BY(mu_);
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);
  // The current stream.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool resuming_ ABSL_GUARDED_BY(mu_) = false;  // the current hand-shake is a resume
  Handshake handshake_ ABSL_GUARDED_BY(mu_) = Handshake::kWaiting;
  Next refused_next_ ABSL_GUARDED_BY(mu_) = Next::kBackoff;  // when handshake_ is kFailed
  bool stream_broken_ ABSL_GUARDED_BY(mu_) = false;
  CallHandle::Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace callguard::client::internal

#endif  // CALLGUARD_AGENT_CLIENT_LIB_CALL_STATE_H_
