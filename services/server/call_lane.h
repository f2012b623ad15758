#ifndef CALLGUARD_SERVER_CALL_LANE_H_
#define CALLGUARD_SERVER_CALL_LANE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "call_recorder.h"
#include "call_registry.h"
#include "call_session.h"
#include "callguard/v1/guard.pb.h"
#include "converse_deps.h"
#include "grpcpp/support/byte_buffer.h"
#include "parked_call.h"

namespace callguard {

// Where a lane's answers go: the stream that carries it.
class LaneOutput {
 public:
  virtual ~LaneOutput() = default;
  // Queues one serialized GuardEvent of the lane's call for writing (wrapped as the stream's
  // wire format wants), or drops it if the stream is broken. Takes `event`'s contents.
  virtual void Push(grpc::ByteBuffer&& event) = 0;
};

// One call as a stream carries it, transport aside: checks the start, judges utterances,
// applies party updates, ends the call with its summary, numbers the answers of a sequenced
// call and keeps them for re-sending, drops duplicate events, acknowledges, parks the call when
// the stream breaks and adopts a parked one (CallStart.resume). A Converse stream has one lane;
// a ConverseMany stream one per call it carries. Not thread-safe: the owning stream calls it
// under its lock.
class CallLane {
 public:
  enum class State { kAwaitingStart, kActive, kEnded };
  // A sequenced call is sent an Acknowledged after its start and then after this many events.
  static constexpr uint32_t kAckEvery = 16;
  // The end reason of a call whose stream broke (or was dropped) without CallEnd.
  static constexpr absl::string_view kStreamBroken = "stream broken";

  // `deps` and `output` must outlive the lane. The callbacks are handed to the registry with the
  // call (see CallRegistry::Register).
  CallLane(const ConverseDeps& deps, LaneOutput* output, CallRegistry::IdleCallback on_idle,
           CallRegistry::TakeoverCallback on_takeover);
  ~CallLane();
  CallLane(const CallLane&) = delete;
  CallLane& operator=(const CallLane&) = delete;

  State state() const { return state_; }
  bool sequenced() const { return sequenced_; }
  // The call's id once started or resumed; "" before.
  const std::string& call_id() const { return call_id_; }

  // Applies one decoded event; returns true if it was the CallEnd that ended the call.
  bool OnEvent(const v1::CallEvent& event);
  // Records activity with the registry (not idle); no-op unless active.
  void Touch();
  // Answers an event that could not be applied (numbered like every answer of the call).
  void QueueError(const absl::Status& status, absl::string_view field, absl::string_view utterance_id = "");
  // Ends a live call: frees its state and registry slot, records the summary and queues it if
  // `send`. No-op unless active.
  void EndCall(absl::string_view reason, bool send);
  // The stream broke: parks a sequenced call when resuming is on, else ends it unsent.
  void Break();

 private:
  bool HandleStart(const v1::CallStart& start);
  void HandleResume(const v1::CallStart& start);
  void HandleUtterance(const v1::Utterance& utterance);
  void HandlePartyUpdate(const v1::PartyUpdate& update);
  // Answers FAILED_PRECONDITION and returns true if the call state does not allow the event.
  bool RejectOutOfOrder(absl::string_view event_name, absl::string_view utterance_id = "");
  void Park();

  // Numbers the event (GuardEvent.seq) and keeps it for re-sending if the call is sequenced.
  void Queue(v1::GuardEvent event);
  // Resumed / Acknowledged: never numbered nor kept.
  void QueueControl(const v1::GuardEvent& event);
  void QueueAck();

  const ConverseDeps& deps_;
  LaneOutput* const output_;
  CallRegistry::IdleCallback on_idle_;
  CallRegistry::TakeoverCallback on_takeover_;
  State state_ = State::kAwaitingStart;
  std::unique_ptr<CallSession> session_;
  std::string call_id_;
  CallRegistry::Ticket ticket_ = 0;
  std::string end_reason_;
  // Always set; optional only so a resumed call can put its parked recorder back.
  std::optional<CallRecorder> recorder_;
  // Resuming (see guard.proto): set once a CallStart with a seq started (or resumed) the call.
  bool sequenced_ = false;
  uint64_t last_applied_seq_ = 0;
  uint32_t applied_since_ack_ = 0;
  ResendRing ring_;
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CALL_LANE_H_
