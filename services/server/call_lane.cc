#include "call_lane.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "field_path.h"
#include "grpc_status.h"
#include "judge_utterance.h"
#include "status_util.h"
#include "wire_codec.h"

namespace callguard {
CallLane::CallLane(const ConverseDeps& deps, LaneOutput* output, CallRegistry::IdleCallback on_idle,
                   CallRegistry::TakeoverCallback on_takeover)
    : deps_(deps),
      output_(output),
      on_idle_(std::move(on_idle)),
      on_takeover_(std::move(on_takeover)),
      recorder_(std::in_place, deps.store, deps.metrics, &deps.clock) {}

CallLane::~CallLane() { EndCall(kStreamBroken, /*send=*/false); }

void CallLane::Touch() {
  if (state_ == State::kActive) deps_.registry->Touch(call_id_, ticket_);
}

bool CallLane::OnEvent(const v1::CallEvent& event) {
  const uint64_t seq = event.seq();
  bool ack_due = false;
  if (sequenced_ && seq != 0) {
    // A duplicate re-sent after a reconnect: already applied, and answered.
    if (seq <= last_applied_seq_) return false;
    last_applied_seq_ = seq;
    ack_due = ++applied_since_ack_ >= kAckEvery;
  }
  bool ended = false;
  switch (event.event_case()) {
    case v1::CallEvent::kStart:
      if (event.start().resume()) {
        HandleResume(event.start());
      } else if (HandleStart(event.start()) && seq != 0) {
        sequenced_ = true;
        last_applied_seq_ = seq;
        QueueAck();
      }
      break;
    case v1::CallEvent::kUtterance:
      HandleUtterance(event.utterance());
      break;
    case v1::CallEvent::kPartyUpdate:
      HandlePartyUpdate(event.party_update());
      break;
    case v1::CallEvent::kEnd:
      if (!RejectOutOfOrder("end")) {
        EndCall(event.end().reason(), /*send=*/true);
        ended = true;
      }
      break;
    case v1::CallEvent::EVENT_NOT_SET:
      QueueError(
          absl::InvalidArgumentError("empty CallEvent: set one of start, utterance, party_update, end"),
          "event");
      break;
  }
  // After the event's own answers; not once the call has ended (the summary says it all).
  if (ack_due && state_ == State::kActive) QueueAck();
  return ended;
}

void CallLane::HandleResume(const v1::CallStart& start) {
  if (state_ != State::kAwaitingStart) {
    QueueError(absl::FailedPreconditionError(absl::StrCat(
                   "this stream already carried call \"", call_id_, "\"; resume on a new stream")),
               "start.resume");
    return;
  }
  if (deps_.resume_grace <= absl::ZeroDuration()) {
    QueueError(absl::FailedPreconditionError("this server does not keep broken calls (resume_grace_s is 0)"),
               "start.resume");
    return;
  }
  auto resumption = deps_.registry->Resume(start.call_id(), on_idle_, on_takeover_);
  if (!resumption.ok()) {
    const std::string field = FieldOf(resumption.status());
    QueueError(resumption.status(), field.empty() ? "start.resume" : field);
    return;
  }
  auto* parked = static_cast<ParkedCall*>(resumption->parked.get());
  session_ = std::move(parked->session);
  recorder_.emplace(parked->recorder);
  last_applied_seq_ = parked->last_applied_seq;
  applied_since_ack_ = parked->applied_since_ack;
  ring_ = std::move(parked->ring);
  call_id_ = start.call_id();
  ticket_ = resumption->ticket;
  sequenced_ = true;
  state_ = State::kActive;

  v1::GuardEvent resumed;
  resumed.mutable_resumed()->set_last_applied_seq(last_applied_seq_);
  QueueControl(resumed);
  const uint64_t received = start.last_received_seq();
  if (ring_.size() > 0 && received + 1 < ring_.oldest_seq()) {
    // Unnumbered: it concerns this stream, not the call's answers.
    v1::GuardEvent lost;
    *lost.mutable_error() = ToEventError(
        absl::DataLossError(absl::StrCat("answers ", received + 1, " to ", ring_.oldest_seq() - 1,
                                         " of call \"", call_id_, "\" are no longer kept (the last ",
                                         ResendRing::kCapacity, " are); re-sending from ",
                                         ring_.oldest_seq())),
        "start.last_received_seq");
    QueueControl(lost);
  }
  for (grpc::ByteBuffer& event : ring_.After(received)) output_->Push(std::move(event));
}

bool CallLane::HandleStart(const v1::CallStart& start) {
  if (state_ != State::kAwaitingStart) {
    QueueError(absl::FailedPreconditionError(absl::StrCat("this stream already carried call \"", call_id_,
                                                          "\"; open a new stream for each call")),
               "start");
    return false;
  }
  // The session checks the start (call id, policy, names) as the webhook's does.
  CallSession::Options options;
  options.engine = deps_.engines->Current();
  options.start = start;
  options.limits = deps_.limits;
  options.clock = deps_.clock;
  auto session = CallSession::Create(std::move(options));
  if (!session.ok()) {
    QueueError(session.status(), QualifyField("start", FieldOf(session.status())));
    return false;
  }
  auto ticket = deps_.registry->Register(start.call_id(), on_idle_, on_takeover_);
  if (!ticket.ok()) {
    QueueError(ticket.status(), QualifyField("start", FieldOf(ticket.status())));
    return false;
  }
  session_ = *std::move(session);
  call_id_ = start.call_id();
  ticket_ = *ticket;
  state_ = State::kActive;
  recorder_->OnStart(start, *session_);
  return true;
}

void CallLane::HandleUtterance(const v1::Utterance& utterance) {
  if (RejectOutOfOrder("utterance", utterance.utterance_id())) return;
  absl::StatusOr<v1::Verdict> verdict = JudgeUtterance(*session_, *recorder_, utterance);
  if (!verdict.ok()) {
    QueueError(verdict.status(), QualifyField("utterance", FieldOf(verdict.status())), utterance.utterance_id());
    return;
  }
  if (utterance.want_verdict()) {
    v1::GuardEvent event;
    *event.mutable_verdict() = *std::move(verdict);
    Queue(std::move(event));
    return;
  }
  for (v1::Alert& alert : *verdict->mutable_alerts()) {
    v1::GuardEvent event;
    *event.mutable_alert() = std::move(alert);
    Queue(std::move(event));
  }
}

void CallLane::HandlePartyUpdate(const v1::PartyUpdate& update) {
  if (RejectOutOfOrder("party_update")) return;
  if (absl::Status status = session_->OnPartyUpdate(update); !status.ok()) {
    QueueError(status, QualifyField("party_update", FieldOf(status)));
    return;
  }
  recorder_->OnPartyUpdate(*session_, update);
}

bool CallLane::RejectOutOfOrder(absl::string_view event_name, absl::string_view utterance_id) {
  switch (state_) {
    case State::kActive:
      return false;
    case State::kAwaitingStart:
      QueueError(absl::FailedPreconditionError(
                     absl::StrCat("no call on this stream yet: send CallStart before ", event_name)),
                 "start", utterance_id);
      return true;
    case State::kEnded:
      QueueError(absl::FailedPreconditionError(absl::StrCat("call \"", call_id_, "\" has ended (", end_reason_,
                                                            "); open a new stream for a new call")),
                 event_name, utterance_id);
      return true;
  }
  return true;
}

void CallLane::EndCall(absl::string_view reason, bool send) {
  if (session_ == nullptr) return;
  v1::CallSummary summary = session_->End(reason);
  if (summary.call_id().empty()) summary.set_call_id(call_id_);
  if (summary.end_reason().empty()) summary.set_end_reason(std::string(reason));
  recorder_->OnEnd(summary);
  deps_.registry->Unregister(call_id_, ticket_);
  session_.reset();
  state_ = State::kEnded;
  end_reason_ = std::string(reason);
  if (send) {
    v1::GuardEvent event;
    *event.mutable_summary() = std::move(summary);
    Queue(std::move(event));
  }
}

void CallLane::Break() {
  if (state_ == State::kActive && sequenced_ && deps_.resume_grace > absl::ZeroDuration()) {
    Park();
  } else {
    EndCall(kStreamBroken, /*send=*/false);
  }
}

void CallLane::Park() {
  auto parked = std::make_unique<ParkedCall>(call_id_, std::move(session_), *recorder_);
  parked->last_applied_seq = last_applied_seq_;
  parked->applied_since_ack = applied_since_ack_;
  parked->ring = std::move(ring_);
  ring_ = ResendRing();
  state_ = State::kEnded;
  end_reason_ = std::string(kStreamBroken);
  std::unique_ptr<CallRegistry::Parked> refused =
      deps_.registry->Park(call_id_, ticket_, std::move(parked), deps_.resume_grace);
  // Refused: the idle sweep dropped the call meanwhile; end it here.
  if (refused != nullptr) refused->End(kStreamBroken);
}

void CallLane::Queue(v1::GuardEvent event) {
  if (!sequenced_) {
    output_->Push(MessageToByteBuffer(event));
    return;
  }
  const uint64_t seq = ring_.last_seq() + 1;
  event.set_seq(seq);
  grpc::ByteBuffer bytes = MessageToByteBuffer(event);
  ring_.Add(seq, bytes);
  output_->Push(std::move(bytes));
}

void CallLane::QueueControl(const v1::GuardEvent& event) { output_->Push(MessageToByteBuffer(event)); }

void CallLane::QueueAck() {
  applied_since_ack_ = 0;
  v1::GuardEvent ack;
  ack.mutable_ack()->set_last_applied_seq(last_applied_seq_);
  QueueControl(ack);
}

void CallLane::QueueError(const absl::Status& status, absl::string_view field, absl::string_view utterance_id) {
  v1::GuardEvent event;
  *event.mutable_error() = ToEventError(status, field, utterance_id);
  Queue(std::move(event));
}

}  // namespace callguard
