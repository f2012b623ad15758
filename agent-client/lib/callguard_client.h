#ifndef CALLGUARD_AGENT_CLIENT_LIB_CALLGUARD_CLIENT_H_
#define CALLGUARD_AGENT_CLIENT_LIB_CALLGUARD_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "callguard/v1/guard.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace callguard::client {

// What a call tells the dialer. Every callback runs on the call's own reader thread, one at a
// time and in the order the server sent them; keep them short. They may call SendUtterance or
// SendPartyUpdate, but never End (End waits for that same thread).
struct CallCallbacks {
  // Each alert exactly once, in order, also across reconnects.
  std::function<void(const v1::Alert&)> on_alert;
  // A refused event (the call goes on), or a problem with resuming: answers the server no
  // longer kept (DATA_LOSS), or the call lost for good (NOT_FOUND on start.resume, after which
  // status() says the same).
  std::function<void(const v1::EventError&)> on_error;
  // Answers to utterances sent with want_verdict; optional.
  std::function<void(const v1::Verdict&)> on_verdict;
};

class CallHandle;

// A dialer's connection to callguard: one gRPC channel shared by every call it opens. Each call
// is a Converse stream that survives network faults: events are numbered, kept until the server
// acknowledges them, and after a broken stream the call reconnects (exponential backoff with
// jitter), resumes the server's parked call and re-sends what the server did not apply, while
// the server re-sends the answers the client missed. Thread-safe.
class CallguardClient {
 public:
  static constexpr size_t kMinBufferedEvents = 32;

  struct Options {
    std::string target;  // "host:port"
    // Default: insecure (plaintext), as callguard-server listens.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    // Reconnect delays: initial, doubling up to max, each +-20% jitter.
    absl::Duration initial_backoff = absl::Milliseconds(100);
    absl::Duration max_backoff = absl::Seconds(5);
    // Events per call not yet acknowledged by the server (sent or waiting for a connection).
    // At the limit Send* answers RESOURCE_EXHAUSTED instead of growing without bound. At
    // least kMinBufferedEvents: the server acknowledges every 16 applied events.
    size_t max_buffered_events = 1024;
    // How long OpenCall waits for the server to accept the CallStart, and each reconnect for
    // the server to answer its resume before trying again.
    absl::Duration open_timeout = absl::Seconds(10);
    // For deadlines (End, OpenCall, backoff). Default absl::Now.
    std::function<absl::Time()> clock;
  };

  static absl::StatusOr<std::unique_ptr<CallguardClient>> Create(Options options);

  // Starts a call and waits until the server accepted its CallStart. A refused start comes back
  // as its status (e.g. INVALID_ARGUMENT naming start.policy); no answer within open_timeout
  // is UNAVAILABLE. start.resume and the seq numbers are the library's: leave them unset.
  absl::StatusOr<std::unique_ptr<CallHandle>> OpenCall(const v1::CallStart& start,
                                                       CallCallbacks callbacks);

  const Options& options() const { return options_; }

 private:
  friend class CallHandle;
  explicit CallguardClient(Options options, std::shared_ptr<grpc::Channel> channel);

  const Options options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CallGuard::Stub> stub_;
};

// One live call. Every method is thread-safe: the dialer may send from several threads (the
// order between threads is the order the calls take the handle's lock).
class CallHandle {
 public:
  struct Stats {
    int reconnects = 0;          // streams opened after the first
    int resent_events = 0;       // events sent on resumed streams (the server had not applied them)
    int duplicate_answers = 0;   // answers the server re-sent that had already arrived
  };

  // Without End, the stream is cancelled: the server keeps the call for its resume grace, then
  // ends it as "stream broken, not resumed".
  ~CallHandle();
  CallHandle(const CallHandle&) = delete;
  CallHandle& operator=(const CallHandle&) = delete;

  // Queue an event for the server; returns at once. FAILED_PRECONDITION after End or once the
  // call is lost (status() says why), RESOURCE_EXHAUSTED when max_buffered_events are waiting.
  absl::Status SendUtterance(v1::Utterance utterance) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status SendPartyUpdate(v1::PartyUpdate update) ABSL_LOCKS_EXCLUDED(mu_);

  // Sends CallEnd and waits up to `timeout` for the call's summary (DEADLINE_EXCEEDED after).
  // If the call was lost, its status.
  absl::StatusOr<v1::CallSummary> End(absl::string_view reason,
                                      absl::Duration timeout = absl::Seconds(10))
      ABSL_LOCKS_EXCLUDED(mu_);

  // OK while the call goes on (also while reconnecting); otherwise why it is lost, e.g.
  // NOT_FOUND when the server no longer had it to resume (its grace ran out).
  absl::Status status() const ABSL_LOCKS_EXCLUDED(mu_);
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& call_id() const { return start_.call_id(); }

 private:
  friend class CallguardClient;
  using Stream = grpc::ClientReaderWriter<v1::CallEvent, v1::GuardEvent>;
  enum class Handshake { kWaiting, kDone, kFailed };

  CallHandle(CallguardClient* client, v1::CallStart start, CallCallbacks callbacks);
  // Waits until the server accepted the start, the call failed, or open_timeout passed.
  absl::Status AwaitOpen() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status Enqueue(v1::CallEvent event) ABSL_LOCKS_EXCLUDED(mu_);
  // The connection loop: connect, hand-shake (start or resume), send, reconnect.
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Reads one stream's answers until it ends.
  void ReadLoop(Stream* stream) ABSL_LOCKS_EXCLUDED(mu_);
  // Sends what the server has not got yet until the stream breaks or the call is over.
  void SendLoop(Stream* stream) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits `delay` (by the clock) unless the call is closed meanwhile.
  void Backoff(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for `condition` until `deadline` by the client's clock; returns whether it holds.
  bool AwaitUntil(const absl::Condition& condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool OverLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closing_ || summary_.has_value() || !fatal_.ok();
  }
  void TrimLocked(uint64_t applied) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  CallguardClient* const client_;
  const v1::CallStart start_;
  const CallCallbacks callbacks_;

  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 2;  // 1 is the CallStart
  // Events after the last acknowledged one, by seq: sent (not yet acknowledged) or waiting.
  std::deque<v1::CallEvent> unacked_ ABSL_GUARDED_BY(mu_);
  uint64_t last_acked_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t sent_upto_ ABSL_GUARDED_BY(mu_) = 0;      // on the current stream
  uint64_t last_received_ ABSL_GUARDED_BY(mu_) = 0;  // highest GuardEvent.seq delivered
  bool start_accepted_ ABSL_GUARDED_BY(mu_) = false;
  bool start_sent_ ABSL_GUARDED_BY(mu_) = false;     // a fresh CallStart went out once
  bool ended_ ABSL_GUARDED_BY(mu_) = false;          // CallEnd queued
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<v1::CallSummary> summary_ ABSL_GUARDED_BY(mu_);
  absl::Status fatal_ ABSL_GUARDED_BY(mu_);
  // The current stream.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool resuming_ ABSL_GUARDED_BY(mu_) = false;  // the current stream began with a resume
  Handshake handshake_ ABSL_GUARDED_BY(mu_) = Handshake::kWaiting;
  absl::Status handshake_error_ ABSL_GUARDED_BY(mu_);
  bool stream_broken_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

}  // namespace callguard::client

#endif  // CALLGUARD_AGENT_CLIENT_LIB_CALLGUARD_CLIENT_H_
