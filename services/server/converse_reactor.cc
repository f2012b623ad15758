#include "converse_reactor.h"

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc_status.h"
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

ConverseReactor::ConverseReactor(grpc::CallbackServerContext* context, const ConverseDeps& deps)
    : context_(context),
      deps_(deps),
      idle_handle_(std::make_shared<IdleHandle>()),
      recorder_(deps.store, deps.metrics, &deps.clock) {
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
      actions = PumpLocked(/*want_read=*/!finishing_);
    } else {
      // The client closed its side, or the transport broke.
      if (!finishing_) {
        if (context_->IsCancelled()) {
          broken_ = true;
          EndCallLocked(kBroken, /*send=*/false);
        } else if (state_ == CallState::kActive) {
          EndCallLocked(kClosedWithoutEnd, /*send=*/true);
        }
        finishing_ = true;
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
      broken_ = true;
      queue_.DropWaiting();
      if (!finishing_) {
        EndCallLocked(kBroken, /*send=*/false);
        finishing_ = true;
      }
    }
    const bool resume = read_paused_ && !finishing_ && queue_.size() < kMaxQueuedEvents;
    if (resume) read_paused_ = false;
    actions = PumpLocked(resume);
  }
  Apply(actions);
}

void ConverseReactor::OnCancel() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    if (finish_called_) return;
    broken_ = true;
    if (!finishing_) {
      EndCallLocked(kBroken, /*send=*/false);
      finishing_ = true;
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
    if (state_ != CallState::kActive || finishing_) return;
    // The call is over but the stream stays: later events get "call has ended".
    EndCallLocked(kIdleTimeout, /*send=*/true);
    actions = PumpLocked(/*want_read=*/false);
  }
  Apply(actions);
}

void ConverseReactor::Apply(const Actions& actions) {
  if (actions.write != nullptr) StartWrite(actions.write);
  if (actions.read) StartRead(&read_buffer_);
  if (actions.finish) Finish(actions.finish_status);
}

ConverseReactor::Actions ConverseReactor::PumpLocked(bool want_read) {
  Actions actions;
  if (finish_called_) return actions;
  if (want_read && !finishing_) {
    if (queue_.size() < kMaxQueuedEvents) {
      actions.read = true;
    } else {
      read_paused_ = true;
    }
  }
  if (broken_) queue_.DropWaiting();
  if (const grpc::ByteBuffer* next = queue_.StartNext(); next != nullptr) {
    actions.write = next;
  } else if (finishing_ && queue_.empty()) {
    finish_called_ = true;
    actions.finish = true;
    actions.finish_status =
        broken_ ? grpc::Status(grpc::StatusCode::CANCELLED, "stream broken") : grpc::Status::OK;
  }
  return actions;
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
  switch (event.event_case()) {
    case v1::CallEvent::kStart:
      HandleStartLocked(event.start());
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
}

void ConverseReactor::HandleStartLocked(const v1::CallStart& start) {
  if (state_ != CallState::kAwaitingStart) {
    QueueErrorLocked(absl::FailedPreconditionError(absl::StrCat(
                         "this stream already carried call \"", call_id_,
                         "\"; open a new stream for each call")),
                     "start");
    return;
  }
  std::shared_ptr<const Engine> engine = deps_.engines->Current();
  if (engine->FindPolicy(start.policy()) == nullptr) {
    const absl::Status status = engine->UnknownPolicyError(start.policy(), "start.policy");
    QueueErrorLocked(status, QualifyField("start", FieldOf(status).empty() ? "policy" : FieldOf(status)));
    return;
  }
  CallSession::Options options;
  options.engine = std::move(engine);
  options.start = start;
  options.limits = deps_.limits;
  options.clock = deps_.clock;
  auto session = CallSession::Create(std::move(options));
  if (!session.ok()) {
    QueueErrorLocked(session.status(), QualifyField("start", FieldOf(session.status())));
    return;
  }
  std::weak_ptr<IdleHandle> handle = idle_handle_;
  auto ticket = deps_.registry->Register(start.call_id(), [handle] {
    if (auto h = handle.lock()) h->Expire();
  });
  if (!ticket.ok()) {
    QueueErrorLocked(ticket.status(), QualifyField("start", FieldOf(ticket.status())));
    return;
  }
  session_ = *std::move(session);
  call_id_ = start.call_id();
  ticket_ = *ticket;
  state_ = CallState::kActive;
  recorder_.OnStart(start, *session_);
}

void ConverseReactor::HandleUtteranceLocked(const v1::Utterance& utterance) {
  if (RejectOutOfOrderLocked("utterance", utterance.utterance_id())) return;
  const int32_t turns_before = session_->turns();
  const auto eval_start = std::chrono::steady_clock::now();
  auto alerts = session_->OnUtterance(utterance);
  const auto eval_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now() - eval_start);
  if (!alerts.ok()) {
    QueueErrorLocked(alerts.status(), QualifyField("utterance", FieldOf(alerts.status())),
                     utterance.utterance_id());
    return;
  }
  const int32_t turn = TurnOfLocked(utterance, turns_before);
  recorder_.OnUtterance(*session_, utterance, turn, eval_ns.count(), *alerts);
  if (utterance.want_verdict()) {
    v1::GuardEvent event;
    v1::Verdict* verdict = event.mutable_verdict();
    verdict->set_utterance_id(utterance.utterance_id());
    verdict->set_turn(turn);
    verdict->set_is_final(utterance.is_final());
    verdict->set_eval_ns(eval_ns.count());
    verdict->mutable_alerts()->Reserve(static_cast<int>(alerts->size()));
    for (v1::Alert& alert : *alerts) *verdict->add_alerts() = std::move(alert);
    QueueLocked(event);
    return;
  }
  for (v1::Alert& alert : *alerts) {
    v1::GuardEvent event;
    *event.mutable_alert() = std::move(alert);
    QueueLocked(event);
  }
}

int32_t ConverseReactor::TurnOfLocked(const v1::Utterance& utterance, int32_t turns_before) {
  if (session_->turns() > turns_before) {
    const int32_t turn = session_->turns() - 1;
    turn_of_.emplace(utterance.utterance_id(), turn);
    return turn;
  }
  auto it = turn_of_.find(utterance.utterance_id());
  return it == turn_of_.end() ? turns_before - 1 : it->second;
}

void ConverseReactor::HandlePartyUpdateLocked(const v1::PartyUpdate& update) {
  if (RejectOutOfOrderLocked("party_update")) return;
  if (absl::Status status = session_->OnPartyUpdate(update); !status.ok()) {
    QueueErrorLocked(status, QualifyField("party_update", FieldOf(status)));
    return;
  }
  recorder_.OnPartyUpdate(*session_, update);
}

void ConverseReactor::HandleEndLocked(const v1::CallEnd& end) {
  if (RejectOutOfOrderLocked("end")) return;
  EndCallLocked(end.reason(), /*send=*/true);
  finishing_ = true;
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
  recorder_.OnEnd(summary);
  deps_.registry->Unregister(call_id_, ticket_);
  session_.reset();
  turn_of_ = {};  // frees its memory, unlike clear()
  state_ = CallState::kEnded;
  end_reason_ = std::string(reason);
  if (send) {
    v1::GuardEvent event;
    *event.mutable_summary() = std::move(summary);
    QueueLocked(event);
  }
}

void ConverseReactor::QueueLocked(const v1::GuardEvent& event) {
  if (broken_) return;
  queue_.Push(MessageToByteBuffer(event));
}

void ConverseReactor::QueueErrorLocked(const absl::Status& status, absl::string_view field,
                                       absl::string_view utterance_id) {
  v1::GuardEvent event;
  *event.mutable_error() = ToEventError(status, field, utterance_id);
  QueueLocked(event);
}

}  // namespace callguard
