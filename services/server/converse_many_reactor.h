#ifndef CALLGUARD_SERVER_CONVERSE_MANY_REACTOR_H_
#define CALLGUARD_SERVER_CONVERSE_MANY_REACTOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "call_lane.h"
#include "converse_deps.h"
#include "call_stream_reactor.h"
#include "grpcpp/grpcpp.h"
#include "reactor_handle.h"

namespace callguard {

// One ConverseMany stream: many calls, each a CallLane keyed by the call id its events name
// (CallEventEnvelope.call_id), each answered in GuardEventEnvelopes with that id. A call's first
// event must be its CallStart (or a resume); its CallEnd ends only it; the stream lives until the
// client closes its side, which ends every call still live with a summary. A broken stream
// parks (sequenced) or ends each of its calls. Deletes itself in OnDone.
//
// Why it exists: gRPC holds ~18 KiB per stream, most of a live call's memory on a stream of its
// own; a dialer carrying hundreds of agents pays it once per stream instead.
class ConverseManyReactor : public CallStreamReactor {
 public:
  // Answers queued but not yet written; at the cap the stream stops reading (back-pressure).
  static constexpr size_t kMaxQueuedEvents = 128;

  ConverseManyReactor(grpc::CallbackServerContext* context, const ConverseDeps& deps);

  // From the registry, through the handle; `serial` tells the lane from a later one of the
  // same call id.
  void OnLaneIdle(const std::string& call_id, uint64_t serial) ABSL_LOCKS_EXCLUDED(mu_);
  void OnLaneTakeOver(const std::string& call_id, uint64_t serial) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // A lane and the envelope its answers go out in.
  struct Slot : LaneOutput {
    Slot(ConverseManyReactor* owner, std::string call_id, uint64_t serial, const ConverseDeps& deps);
    void Push(grpc::ByteBuffer&& event) override ABSL_NO_THREAD_SAFETY_ANALYSIS;

    ConverseManyReactor* const owner;
    const std::string call_id;
    const uint64_t serial;
    CallLane lane;
  };

  void HandleEventLocked(absl::string_view wire) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndCallsLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BreakCallsLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseLocked() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { slots_.clear(); }
  void Detach() override { handle_->Clear(); }
  // The live lane of `call_id` numbered `serial`, or null.
  Slot* FindLocked(const std::string& call_id, uint64_t serial) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An answer about an event that reached no lane: never numbered.
  void QueueStrayErrorLocked(absl::string_view call_id, const absl::Status& status, absl::string_view field,
                             absl::string_view utterance_id = "") ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ConverseDeps& deps_;
  const std::shared_ptr<ReactorHandle<ConverseManyReactor>> handle_;
  absl::flat_hash_map<std::string, std::unique_ptr<Slot>> slots_ ABSL_GUARDED_BY(mu_);
  uint64_t next_serial_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CONVERSE_MANY_REACTOR_H_
