#ifndef CALLGUARD_AGENT_CLIENT_LIB_CALL_MUX_H_
#define CALLGUARD_AGENT_CLIENT_LIB_CALL_MUX_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "call_state.h"
#include "call_transport.h"
#include "callguard/v1/guard.grpc.pb.h"
#include "callguard_client.h"

namespace callguard::client::internal {

// Up to `capacity` calls on one ConverseMany stream at a time, with one writer thread (the
// connection loop: connect, hand-shake each call, send their events in turn, reconnect) and
// one reader thread per connection that routes answers to their calls and runs the callbacks.
// When the stream breaks, every call on it resumes on the next connection (after a backoff with
// jitter), each by its own resuming CallStart; a call whose hand-shake is refused or lost
// leaves the stream without disturbing the others. Thread-safe.
class SharedCallStream {
 public:
  SharedCallStream(v1::CallGuard::Stub* stub, const CallguardClient::Options& options, int capacity);
  // Cancels the stream: calls still on it are parked by the server.
  ~SharedCallStream();
  SharedCallStream(const SharedCallStream&) = delete;
  SharedCallStream& operator=(const SharedCallStream&) = delete;

  // Takes the call if there is room and no call with its id is on the stream (the server would
  // refuse a second one there, answering in the first one's name).
  bool TryAdd(const std::shared_ptr<CallState>& call) ABSL_LOCKS_EXCLUDED(mu_);
  // Something changed for one of the calls: the writer looks again.
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);
  // Calls carried now; for tests and the mux.
  int size() const ABSL_LOCKS_EXCLUDED(mu_);
  // Connections opened so far.
  int connections() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Stream = grpc::ClientReaderWriter<v1::CallEventEnvelope, v1::GuardEventEnvelope>;
  enum class Phase {
    kHandshake,  // its start or resume goes out next
    kAnswer,     // waiting for the server's answer to it, until `deadline`
    kAttached,   // its events go out
    kRetry,      // hand-shakes again at `deadline`
  };
  struct Member {
    std::shared_ptr<CallState> call;
    Phase phase = Phase::kHandshake;
    absl::Time deadline;
    int failures = 0;  // refused hand-shakes in a row (UNAVAILABLE)
  };

  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Sends until the connection breaks (true), the stream stops or it carries no call any more.
  bool Serve(Stream* stream) ABSL_LOCKS_EXCLUDED(mu_);
  void ReadLoop(Stream* stream) ABSL_LOCKS_EXCLUDED(mu_);
  // Moves one call on as far as it goes now; appends what to write. False: the call left.
  bool StepLocked(const std::string& call_id, Member& member, absl::Time now,
                  std::vector<v1::CallEventEnvelope>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  v1::CallGuard::Stub* const stub_;
  const CallguardClient::Options& options_;
  const int capacity_;

  mutable absl::Mutex mu_;
  std::map<std::string, Member> members_ ABSL_GUARDED_BY(mu_);
  uint64_t wakes_ ABSL_GUARDED_BY(mu_) = 0;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // the current connection
  bool answered_ ABSL_GUARDED_BY(mu_) = false;  // the current connection got any answer
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread writer_;
};

// Places calls on shared streams: the first with room, or a new one when all are full.
class CallMux {
 public:
  CallMux(v1::CallGuard::Stub* stub, const CallguardClient::Options& options);

  std::unique_ptr<CallTransport> Add(const std::shared_ptr<CallState>& call) ABSL_LOCKS_EXCLUDED(mu_);
  int streams() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  v1::CallGuard::Stub* const stub_;
  const CallguardClient::Options& options_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<SharedCallStream>> streams_ ABSL_GUARDED_BY(mu_);
};

// A call's place on a shared stream, for its CallHandle.
class SharedStreamTransport : public CallTransport {
 public:
  SharedStreamTransport(SharedCallStream* stream, std::shared_ptr<CallState> call)
      : stream_(stream), call_(std::move(call)) {}
  ~SharedStreamTransport() override = default;
  // Ends the call (one call of a shared stream cannot be cancelled alone): its CallEnd goes
  // out after its queued events, and the stream drops it once the summary arrives.
  void Detach() override;

 private:
  SharedCallStream* const stream_;
  const std::shared_ptr<CallState> call_;
};

}  // namespace callguard::client::internal

#endif  // CALLGUARD_AGENT_CLIENT_LIB_CALL_MUX_H_
