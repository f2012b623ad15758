#ifndef CALLGUARD_AGENT_CLIENT_LIB_CALLGUARD_CLIENT_H_
#define CALLGUARD_AGENT_CLIENT_LIB_CALLGUARD_CLIENT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "callguard/v1/guard.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace callguard::client {

// What a call tells the dialer. Every callback runs on the thread that reads the call's stream,
// one at a time and in the order the server sent them: the call's own reader thread, or with
// Options::calls_per_stream the shared stream's reader, which runs the callbacks of every call
// on that stream. Keep them short and never block in them (on a shared stream a slow callback
// holds up the other calls' answers). They may call SendUtterance or SendPartyUpdate, but never
// End nor destroy the handle (both wait for that same thread).
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

namespace internal {
class CallMux;
class CallState;
class CallTransport;
}  // namespace internal

// A dialer's connection to callguard: one gRPC channel shared by every call it opens. Each call
// is a Converse stream that survives network faults: events are numbered, kept until the server
// acknowledges them, and after a broken stream the call reconnects (exponential backoff with
// jitter), resumes the server's parked call and re-sends what the server did not apply, while
// the server re-sends the answers the client missed. With Options::calls_per_stream, calls
// share ConverseMany streams instead (same guarantees per call). Thread-safe. Destroy every
// CallHandle before the client.
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
    // 0: every call has a Converse stream of its own, with a sender and a reader thread.
    // N > 0: calls share ConverseMany streams, at most N live calls each (a new stream opens
    // when all are full), each stream with one writer and one reader thread for all its calls.
    // For processes with many calls: it saves the threads and the server's per-stream memory.
    // When a shared stream breaks, each of its calls resumes on the next one as it would on a
    // stream of its own.
    int calls_per_stream = 0;
  };

  static absl::StatusOr<std::unique_ptr<CallguardClient>> Create(Options options);

  // Starts a call and waits until the server accepted its CallStart. A refused start comes back
  // as its status (e.g. INVALID_ARGUMENT naming start.policy); no answer within open_timeout
  // is UNAVAILABLE. start.resume and the seq numbers are the library's: leave them unset.
  absl::StatusOr<std::unique_ptr<CallHandle>> OpenCall(const v1::CallStart& start,
                                                       CallCallbacks callbacks);

  const Options& options() const { return options_; }
  // ConverseMany streams the client holds, connected or reconnecting (0 without
  // calls_per_stream). A stream stays once opened, disconnected while it carries no call.
  int shared_streams() const;

  ~CallguardClient();
  CallguardClient(const CallguardClient&) = delete;
  CallguardClient& operator=(const CallguardClient&) = delete;

 private:
  explicit CallguardClient(Options options, std::shared_ptr<grpc::Channel> channel);

  const Options options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CallGuard::Stub> stub_;
  std::unique_ptr<internal::CallMux> mux_;  // with calls_per_stream > 0
};

// One live call. Every method is thread-safe: the dialer may send from several threads (the
// order between threads is the order the calls take the handle's lock).
class CallHandle {
 public:
  static constexpr absl::string_view kAbandonedReason = "call handle destroyed without End";

  struct Stats {
    int reconnects = 0;          // times the call connected again (hand-shakes after the first)
    int resent_events = 0;       // events sent on resumed streams (the server had not applied them)
    int duplicate_answers = 0;   // answers the server re-sent that had already arrived
  };

  // Without End, on a stream of its own, the stream is cancelled: the server keeps the call for
  // its resume grace, then ends it as "stream broken, not resumed". On a shared stream, where
  // one call cannot be cancelled alone, the call is ended: its CallEnd (reason
  // kAbandonedReason) goes out after its queued events, without waiting for the summary (if the
  // stream is down then, the server parks the call as above). Either way no callback runs once
  // the destructor returns.
  ~CallHandle();
  CallHandle(const CallHandle&) = delete;
  CallHandle& operator=(const CallHandle&) = delete;

  // Queue an event for the server; returns at once. FAILED_PRECONDITION after End or once the
  // call is lost (status() says why), RESOURCE_EXHAUSTED when max_buffered_events are waiting.
  absl::Status SendUtterance(v1::Utterance utterance);
  absl::Status SendPartyUpdate(v1::PartyUpdate update);

  // Sends CallEnd and waits up to `timeout` for the call's summary (DEADLINE_EXCEEDED after).
  // If the call was lost, its status.
  absl::StatusOr<v1::CallSummary> End(absl::string_view reason,
                                      absl::Duration timeout = absl::Seconds(10));

  // OK while the call goes on (also while reconnecting); otherwise why it is lost, e.g.
  // NOT_FOUND when the server no longer had it to resume (its grace ran out).
  absl::Status status() const;
  Stats stats() const;
  const std::string& call_id() const;

 private:
  friend class CallguardClient;
  CallHandle(std::shared_ptr<internal::CallState> state, std::unique_ptr<internal::CallTransport> transport);

  // Shared with the transport, which may outlive the handle on a shared stream.
  const std::shared_ptr<internal::CallState> state_;
  std::unique_ptr<internal::CallTransport> transport_;
};

}  // namespace callguard::client

#endif  // CALLGUARD_AGENT_CLIENT_LIB_CALLGUARD_CLIENT_H_
