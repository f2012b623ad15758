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
#include "call_lane.h"
#include "converse_deps.h"
#include "grpcpp/grpcpp.h"
#include "outbound_queue.h"
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
class ConverseReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                        private LaneOutput {
 public:
  // GuardEvents queued but not yet written. At the cap the stream stops reading until the
  // client takes its answers, so a client that never reads cannot grow the queue.
  static constexpr size_t kMaxQueuedEvents = 32;

  ConverseReactor(grpc::CallbackServerContext* context, const ConverseDeps& deps);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // From the registry, through the handle: the call went quiet too long.
  void OnIdleTimeout() ABSL_LOCKS_EXCLUDED(mu_);
  // From the registry, through the handle: a new stream resumes this call; let go of it now
  // (park it and end this stream).
  void OnTakeOver() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Actions = StreamActions;

  void Apply(const Actions& actions);

  // LaneOutput; called by the lane under mu_.
  void Push(grpc::ByteBuffer event) override ABSL_NO_THREAD_SAFETY_ANALYSIS;

  void HandleEventLocked(const std::string& wire) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The transport failed: parks a sequenced call (if resuming is on), else ends it. Marks the
  // stream broken and finishing.
  void BreakLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the next write, or the finish once everything is written; decides whether to read.
  Actions PumpLocked(bool want_read) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::CallbackServerContext* const context_;
  const std::shared_ptr<ReactorHandle<ConverseReactor>> handle_;
  grpc::ByteBuffer read_buffer_;  // only touched by the single outstanding read

  absl::Mutex mu_;
  OutboundQueue queue_ ABSL_GUARDED_BY(mu_);
  StreamFlow flow_ ABSL_GUARDED_BY(mu_);
  CallLane lane_ ABSL_GUARDED_BY(mu_);
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CONVERSE_REACTOR_H_
