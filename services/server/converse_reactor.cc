#include "converse_reactor.h"

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc_status.h"
#include "judge_utterance.h"
#include "status_util.h"
#include "wire_codec.h"

namespace callguard {
namespace {

constexpr absl::string_view kClosedWithoutEnd = "stream closed without CallEnd";
constexpr absl::string_view kIdleTimeout = "idle timeout";
constexpr absl::string_view kBroken = "stream broken";

}  // namespace

void ConverseReactor::IdleHandle::Expire() {
  absl::MutexLock lock(&mu);
  // Holding `mu` keeps OnDone (and so the delete) waiting until we are out.
  if (reactor != nullptr) reactor->OnIdleTimeout();
}

void ConverseReactor::IdleHandle::TakeOver() {
  absl::MutexLock lock(&mu);
  if (reactor != nullptr) reactor->OnTakeOver();
}

ConverseReactor::ConverseReactor(grpc::CallbackServerContext* context, const ConverseDeps& deps)
    : context_(context),
      deps_(deps),
      idle_handle_(std::make_shared<IdleHandle>()),
      recorder_(std::in_place, deps.store, deps.metrics, &deps.clock) {
  {
    absl::MutexLock lock(&idle_handle_->mu);
    idle_handle_->reactor = this;
  }
  StartRead(&read_buffer_);
}

void ConverseReactor::OnReadDone(bool ok) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    if (ok) {
      HandleEventLocked(ByteBufferToString(read_buffer_));
      actions = PumpLocked(/*want_read=*/!flow_.finishing);
    } else {
      // The client closed its side, or the transport broke.
      if (!flow_.finishing) {
        if (context_->IsCancelled()) {
          BreakLocked();
        } else if (state_ == CallState::kActive) {
          EndCallLocked(kClosedWithoutEnd, /*send=*/true);
        }
        flow_.finishing = true;
      }
      actions = PumpLocked(/*want_read=*/false);
    }
  }
  Apply(actions);
}

void ConverseReactor::OnWriteDone(bool ok) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    queue_.WriteDone();
    if (!ok) {
      queue_.DropWaiting();
      if (!flow_.finishing) {
        BreakLocked();
      } else {
        flow_.broken = true;
      }
    }
    actions = PumpLocked(ResumeReadAfterWrite(queue_, flow_, kMaxQueuedEvents));
  }
  Apply(actions);
}

void ConverseReactor::OnCancel() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    if (flow_.finish_called) return;
    if (!flow_.finishing) {
      BreakLocked();
    } else {
      flow_.broken = true;
    }
    actions = PumpLocked(/*want_read=*/false);
  }
  Apply(actions);
}

void ConverseReactor::OnDone() {
  {
    absl::MutexLock lock(&idle_handle_->mu);
    idle_handle_->reactor = nullptr;
  }
  {
    absl::MutexLock lock(&mu_);
    EndCallLocked(kBroken, /*send=*/false);  // no-op unless the call is still live
  }
  delete this;
}

void ConverseReactor::OnIdleTimeout() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    if (state_ != CallState::kActive || flow_.finishing) return;
    // The call is over but the stream stays: later events get "call has ended".
    EndCallLocked(kIdleTimeout, /*send=*/true);
    actions = PumpLocked(/*want_read=*/false);
  }
  Apply(actions);
}

void ConverseReactor::OnTakeOver() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    // An unsequenced call cannot be parked: it keeps its stream, and the resume is refused.
    if (state_ != CallState::kActive || !sequenced_ || flow_.finishing || flow_.finish_called) return;
    BreakLocked();
    actions = PumpLocked(/*want_read=*/false);
  }
  Apply(actions);
}

void ConverseReactor::BreakLocked() {
  flow_.broken = true;
  flow_.finishing = true;
  queue_.DropWaiting();
  if (state_ == CallState::kActive && sequenced_ && deps_.resume_grace > absl::ZeroDuration()) {
    ParkLocked();
  } else {
    EndCallLocked(kBroken, /*send=*/false);
  }
}

void ConverseReactor::ParkLocked() {
  auto parked = std::make_unique<ParkedCall>(call_id_, std::move(session_), *recorder_);
  parked->last_applied_seq = last_applied_seq_;
  parked->applied_since_ack = applied_since_ack_;
  parked->ring = std::move(ring_);
  ring_ = ResendRing();
  state_ = CallState::kEnded;
  end_reason_ = std::string(kBroken);
  std::unique_ptr<CallRegistry::Parked> refused =
      deps_.registry->Park(call_id_, ticket_, std::move(parked), deps_.resume_grace);
  // Refused: the idle sweep dropped the call meanwhile; end it here.
  if (refused != nullptr) refused->End(kBroken);
}

CallRegistry::IdleCallback ConverseReactor::IdleCallbackFor() const {
  std::weak_ptr<IdleHandle> handle = idle_handle_;
  return [handle] {
    if (auto h = handle.lock()) h->Expire();
  };
}

CallRegistry::TakeoverCallback ConverseReactor::TakeoverCallbackFor() const {
  std::weak_ptr<IdleHandle> handle = idle_handle_;
  return [handle] {
    if (auto h = handle.lock()) h->TakeOver();
  };
}

void ConverseReactor::Apply(const Actions& actions) {
  if (actions.write != nullptr) StartWrite(actions.write);
  if (actions.read) StartRead(&read_buffer_);
  if (actions.finish) Finish(actions.finish_status);
}

ConverseReactor::Actions ConverseReactor::PumpLocked(bool want_read) {
  return PumpStream(queue_, flow_, want_read, kMaxQueuedEvents);
}

void ConverseReactor::HandleEventLocked(const std::string& wire) {
  if (state_ == CallState::kActive) deps_.registry->Touch(call_id_, ticket_);
  v1::CallEvent event;
  if (absl::Status status = ParseMessage(wire, &event); !status.ok()) {
    const std::string field = FieldOf(status);
    const std::string utterance_id =
        absl::StartsWith(field, "utterance.") ? ReadStringAt(wire, {2, 1}) : std::string();
    QueueErrorLocked(status, field, utterance_id);
    return;
  }
  const uint64_t seq = event.seq();
  bool ack_due = false;
  if (sequenced_ && seq != 0) {
    // A duplicate re-sent after a reconnect: already applied, and answered.
    if (seq <= last_applied_seq_) return;
    last_applied_seq_ = seq;
    ack_due = ++applied_since_ack_ >= kAckEvery;
  }
  switch (event.event_case()) {
    case v1::CallEvent::kStart:
      if (event.start().resume()) {
        HandleResumeLocked(event.start());
      } else if (HandleStartLocked(event.start()) && seq != 0) {
        sequenced_ = true;
        last_applied_seq_ = seq;
        QueueAckLocked();
      }
      break;
    case v1::CallEvent::kUtterance:
      HandleUtteranceLocked(event.utterance());
      break;
    case v1::CallEvent::kPartyUpdate:
      HandlePartyUpdateLocked(event.party_update());
      break;
    case v1::CallEvent::kEnd:
      HandleEndLocked(event.end());
      break;
    case v1::CallEvent::EVENT_NOT_SET:
      QueueErrorLocked(
          absl::InvalidArgumentError("empty CallEvent: set one of start, utterance, party_update, end"),
          "event");
      break;
  }
  // After the event's own answers; not once the call has ended (the summary says it all).
  if (ack_due && state_ == CallState::kActive) QueueAckLocked();
}

void ConverseReactor::HandleResumeLocked(const v1::CallStart& start) {
  if (state_ != CallState::kAwaitingStart) {
    QueueErrorLocked(absl::FailedPreconditionError(absl::StrCat(
                         "this stream already carried call \"", call_id_,
                         "\"; resume on a new stream")),
                     "start.resume");
    return;
  }
  if (deps_.resume_grace <= absl::ZeroDuration()) {
    QueueErrorLocked(absl::FailedPreconditionError(
                         "this server does not keep broken calls (resume_grace_s is 0)"),
                     "start.resume");
    return;
  }
  auto resumption = deps_.registry->Resume(start.call_id(), IdleCallbackFor(), TakeoverCallbackFor());
  if (!resumption.ok()) {
    const std::string field = FieldOf(resumption.status());
    QueueErrorLocked(resumption.status(), field.empty() ? "start.resume" : field);
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
  state_ = CallState::kActive;

  v1::GuardEvent resumed;
  resumed.mutable_resumed()->set_last_applied_seq(last_applied_seq_);
  QueueControlLocked(resumed);
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
    QueueControlLocked(lost);
  }
  for (grpc::ByteBuffer& event : ring_.After(received)) queue_.Push(std::move(event));
}

bool ConverseReactor::HandleStartLocked(const v1::CallStart& start) {
  if (state_ != CallState::kAwaitingStart) {
    QueueErrorLocked(absl::FailedPreconditionError(absl::StrCat(
                         "this stream already carried call \"", call_id_,
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
    QueueErrorLocked(session.status(), QualifyField("start", FieldOf(session.status())));
    return false;
  }
  auto ticket = deps_.registry->Register(start.call_id(), IdleCallbackFor(), TakeoverCallbackFor());
  if (!ticket.ok()) {
    QueueErrorLocked(ticket.status(), QualifyField("start", FieldOf(ticket.status())));
    return false;
  }
  session_ = *std::move(session);
  call_id_ = start.call_id();
  ticket_ = *ticket;
  state_ = CallState::kActive;
  recorder_->OnStart(start, *session_);
  return true;
}

void ConverseReactor::HandleUtteranceLocked(const v1::Utterance& utterance) {
  if (RejectOutOfOrderLocked("utterance", utterance.utterance_id())) return;
  absl::StatusOr<v1::Verdict> verdict = JudgeUtterance(*session_, *recorder_, utterance);
  if (!verdict.ok()) {
    QueueErrorLocked(verdict.status(), QualifyField("utterance", FieldOf(verdict.status())),
                     utterance.utterance_id());
    return;
  }
  if (utterance.want_verdict()) {
    v1::GuardEvent event;
    *event.mutable_verdict() = *std::move(verdict);
    QueueLocked(std::move(event));
    return;
  }
  for (v1::Alert& alert : *verdict->mutable_alerts()) {
    v1::GuardEvent event;
    *event.mutable_alert() = std::move(alert);
    QueueLocked(std::move(event));
  }
}

void ConverseReactor::HandlePartyUpdateLocked(const v1::PartyUpdate& update) {
  if (RejectOutOfOrderLocked("party_update")) return;
  if (absl::Status status = session_->OnPartyUpdate(update); !status.ok()) {
    QueueErrorLocked(status, QualifyField("party_update", FieldOf(status)));
    return;
  }
  recorder_->OnPartyUpdate(*session_, update);
}

void ConverseReactor::HandleEndLocked(const v1::CallEnd& end) {
  if (RejectOutOfOrderLocked("end")) return;
  EndCallLocked(end.reason(), /*send=*/true);
  flow_.finishing = true;
}

bool ConverseReactor::RejectOutOfOrderLocked(absl::string_view event_name,
                                             absl::string_view utterance_id) {
  switch (state_) {
    case CallState::kActive:
      return false;
    case CallState::kAwaitingStart:
      QueueErrorLocked(absl::FailedPreconditionError(absl::StrCat(
                           "no call on this stream yet: send CallStart before ", event_name)),
                       "start", utterance_id);
      return true;
    case CallState::kEnded:
      QueueErrorLocked(absl::FailedPreconditionError(absl::StrCat(
                           "call \"", call_id_, "\" has ended (", end_reason_,
                           "); open a new stream for a new call")),
                       event_name, utterance_id);
      return true;
  }
  return true;
}

void ConverseReactor::EndCallLocked(absl::string_view reason, bool send) {
  if (session_ == nullptr) return;
  v1::CallSummary summary = session_->End(reason);
  if (summary.call_id().empty()) summary.set_call_id(call_id_);
  if (summary.end_reason().empty()) summary.set_end_reason(std::string(reason));
  recorder_->OnEnd(summary);
  deps_.registry->Unregister(call_id_, ticket_);
  session_.reset();
  state_ = CallState::kEnded;
  end_reason_ = std::string(reason);
  if (send) {
    v1::GuardEvent event;
    *event.mutable_summary() = std::move(summary);
    QueueLocked(std::move(event));
  }
}

void ConverseReactor::QueueLocked(v1::GuardEvent event) {
  if (!sequenced_) {
    if (!flow_.broken) queue_.Push(MessageToByteBuffer(event));
    return;
  }
  const uint64_t seq = ring_.last_seq() + 1;
  event.set_seq(seq);
  grpc::ByteBuffer bytes = MessageToByteBuffer(event);
  ring_.Add(seq, bytes);
  if (!flow_.broken) queue_.Push(std::move(bytes));
}

void ConverseReactor::QueueControlLocked(const v1::GuardEvent& event) {
  if (!flow_.broken) queue_.Push(MessageToByteBuffer(event));
}

void ConverseReactor::QueueAckLocked() {
  applied_since_ack_ = 0;
  v1::GuardEvent ack;
  ack.mutable_ack()->set_last_applied_seq(last_applied_seq_);
  QueueControlLocked(ack);
}

void ConverseReactor::QueueErrorLocked(const absl::Status& status, absl::string_view field,
                                       absl::string_view utterance_id) {
  v1::GuardEvent event;
  *event.mutable_error() = ToEventError(status, field, utterance_id);
  QueueLocked(std::move(event));
}

}  // namespace callguard
