#ifndef CALLGUARD_SERVER_CONVERSE_REACTOR_H_
#define CALLGUARD_SERVER_CONVERSE_REACTOR_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "call_lane.h"
#include "call_stream_reactor.h"
#include "converse_deps.h"
#include "grpcpp/grpcpp.h"
#include "reactor_handle.h"

namespace callguard {

// One Converse stream: one call. Reads raw CallEvents one at a time, answers each bad event with
// a GuardEvent.error and goes on, and finishes OK after the CallEnd summary or when the client
// closes its side. An utterance sent with want_verdict is answered with exactly one Verdict
// (its alerts inside) or, if it is refused, one error. Deletes itself in OnDone.
//
// The call itself is a CallLane: sequenced calls (CallEvent.seq set, see guard.proto) survive a
// broken stream there (parked in the registry for deps.resume_grace and adopted by a later
// stream with CallStart.resume).
class ConverseReactor : public CallStreamReactor, private LaneOutput {
 public:
  // GuardEvents queued but not yet written. At the cap the stream stops reading until the
  // client takes its answers, so a client that never reads cannot grow the queue.
  static constexpr size_t kMaxQueuedEvents = 32;

  ConverseReactor(grpc::CallbackServerContext* context, const ConverseDeps& deps);

  // From the registry, through the handle: the call went quiet too long.
  void OnIdleTimeout() ABSL_LOCKS_EXCLUDED(mu_);
  // From the registry, through the handle: a new stream resumes this call; let go of it now
  // (park it and end this stream).
  void OnTakeOver() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void HandleEventLocked(absl::string_view wire) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndCallsLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BreakCallsLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Detach() override { handle_->Clear(); }
  // LaneOutput; called by the lane under mu_.
  void Push(grpc::ByteBuffer&& event) override ABSL_NO_THREAD_SAFETY_ANALYSIS { PushLocked(std::move(event)); }

  const std::shared_ptr<ReactorHandle<ConverseReactor>> handle_;
  CallLane lane_ ABSL_GUARDED_BY(mu_);
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CONVERSE_REACTOR_H_
