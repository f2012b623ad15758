#ifndef CALLGUARD_SERVER_CONVERSE_REACTOR_H_
#define CALLGUARD_SERVER_CONVERSE_REACTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alert_store.h"
#include "call_recorder.h"
#include "call_registry.h"
#include "call_session.h"
#include "callguard/v1/guard.pb.h"
#include "engine_holder.h"
#include "grpcpp/grpcpp.h"
#include "outbound_queue.h"
#include "parked_call.h"

namespace callguard {

// What every Converse stream shares; owned by the server, outlives every stream.
struct ConverseDeps {
  EngineHolder* engines = nullptr;
  CallRegistry* registry = nullptr;
  CallLimits limits;
  std::function<absl::Time()> clock;
  AlertStore* store = nullptr;  // optional: every call is recorded there (CallRecorder)
  MetricsRegistry* metrics = nullptr;  // optional: calls, utterances, alerts counted there
  // How long a sequenced call whose stream broke waits in the registry to be resumed; zero:
  // a broken stream ends its call at once.
  absl::Duration resume_grace = absl::ZeroDuration();
};

// One Converse stream: one call. Reads raw CallEvents one at a time, answers each bad event with
// a GuardEvent.error and goes on, and finishes OK after the CallEnd summary or when the client
// closes its side. An utterance sent with want_verdict is answered with exactly one Verdict
// (its alerts inside) or, if it is refused, one error. Deletes itself in OnDone.
//
// Sequenced calls (CallEvent.seq set, see guard.proto) survive a broken stream: the call's state
// is parked in the registry (ParkedCall) for deps.resume_grace, and a later stream with
// CallStart.resume adopts it, re-sends the answers the client missed (from a ResendRing) and
// drops events it has already applied.
class ConverseReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  // GuardEvents queued but not yet written. At the cap the stream stops reading until the
  // client takes its answers, so a client that never reads cannot grow the queue.
  static constexpr size_t kMaxQueuedEvents = 32;
  // A sequenced call is sent an Acknowledged after its start and then after this many events.
  static constexpr uint32_t kAckEvery = 16;

  ConverseReactor(grpc::CallbackServerContext* context, const ConverseDeps& deps);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  enum class CallState { kAwaitingStart, kActive, kEnded };

  // What to ask of gRPC once the lock is released.
  using Actions = StreamActions;

  // Lets the registry's sweeper reach this stream only while it exists.
  struct IdleHandle {
    absl::Mutex mu;
    ConverseReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
    void Expire() ABSL_LOCKS_EXCLUDED(mu);
    void TakeOver() ABSL_LOCKS_EXCLUDED(mu);
  };

  void OnIdleTimeout() ABSL_LOCKS_EXCLUDED(mu_);
  // A new stream resumes this call: let go of it now (park it and end this stream).
  void OnTakeOver() ABSL_LOCKS_EXCLUDED(mu_);
  void Apply(const Actions& actions);

  void HandleEventLocked(const std::string& wire) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns whether the call started.
  bool HandleStartLocked(const v1::CallStart& start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleResumeLocked(const v1::CallStart& start) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleUtteranceLocked(const v1::Utterance& utterance) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandlePartyUpdateLocked(const v1::PartyUpdate& update) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleEndLocked(const v1::CallEnd& end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the call, frees its state and its registry slot; queues the summary if `send`.
  void EndCallLocked(absl::string_view reason, bool send) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The transport failed: parks a sequenced call (if resuming is on), else ends it. Marks the
  // stream broken and finishing.
  void BreakLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the call's state into the registry; ends it if the registry refuses.
  void ParkLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  CallRegistry::IdleCallback IdleCallbackFor() const;
  CallRegistry::TakeoverCallback TakeoverCallbackFor() const;
  // Answers FAILED_PRECONDITION and returns true if the call state does not allow the event.
  bool RejectOutOfOrderLocked(absl::string_view event_name, absl::string_view utterance_id = "")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Numbers the event (GuardEvent.seq) and keeps it for re-sending if the call is sequenced.
  void QueueLocked(v1::GuardEvent event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Resumed / Acknowledged: never numbered nor kept.
  void QueueControlLocked(const v1::GuardEvent& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueAckLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueErrorLocked(const absl::Status& status, absl::string_view field,
                        absl::string_view utterance_id = "") ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the next write, or the finish once everything is written; decides whether to read.
  Actions PumpLocked(bool want_read) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* const context_;
  const ConverseDeps& deps_;  // the service's: outlives every stream
  const std::shared_ptr<IdleHandle> idle_handle_;
  grpc::ByteBuffer read_buffer_;  // only touched by the single outstanding read

  absl::Mutex mu_;
  CallState state_ ABSL_GUARDED_BY(mu_) = CallState::kAwaitingStart;
  std::unique_ptr<CallSession> session_ ABSL_GUARDED_BY(mu_);
  std::string call_id_ ABSL_GUARDED_BY(mu_);
  CallRegistry::Ticket ticket_ ABSL_GUARDED_BY(mu_) = 0;
  std::string end_reason_ ABSL_GUARDED_BY(mu_);
  OutboundQueue queue_ ABSL_GUARDED_BY(mu_);
  // Always set; optional only so a resumed call can put its parked recorder back.
  std::optional<CallRecorder> recorder_ ABSL_GUARDED_BY(mu_);
  // Resuming (see guard.proto): set once a CallStart with a seq started (or resumed) the call.
  bool sequenced_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t last_applied_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t applied_since_ack_ ABSL_GUARDED_BY(mu_) = 0;
  ResendRing ring_ ABSL_GUARDED_BY(mu_);
  StreamFlow flow_ ABSL_GUARDED_BY(mu_);
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CONVERSE_REACTOR_H_
