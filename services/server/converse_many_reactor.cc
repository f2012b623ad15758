#include "converse_many_reactor.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpc_status.h"
#include "status_util.h"
#include "wire_codec.h"

namespace callguard {
namespace {

constexpr absl::string_view kClosedWithoutEnd = "stream closed without CallEnd";
constexpr absl::string_view kIdleTimeout = "idle timeout";

using Handle = ReactorHandle<ConverseManyReactor>;

// Fields are named relative to the CallEvent, as on Converse: "utterance.text", not
// "event.utterance.text".
std::string EventField(absl::string_view envelope_field) {
  return std::string(absl::StripPrefix(envelope_field, "event."));
}

}  // namespace

ConverseManyReactor::Slot::Slot(ConverseManyReactor* owner, std::string call_id, uint64_t serial,
                                const ConverseDeps& deps)
    : owner(owner),
      call_id(std::move(call_id)),
      serial(serial),
      lane(deps, this,
           [weak = std::weak_ptr<Handle>(owner->handle_), id = this->call_id, serial] {
             if (auto h = weak.lock()) h->With([&](ConverseManyReactor& r) { r.OnLaneIdle(id, serial); });
           },
           [weak = std::weak_ptr<Handle>(owner->handle_), id = this->call_id, serial] {
             if (auto h = weak.lock()) h->With([&](ConverseManyReactor& r) { r.OnLaneTakeOver(id, serial); });
           }) {}

void ConverseManyReactor::Slot::Push(grpc::ByteBuffer&& event) { owner->PushLocked(WrapInEnvelope(call_id, event)); }

ConverseManyReactor::ConverseManyReactor(grpc::CallbackServerContext* context, const ConverseDeps& deps)
    : CallStreamReactor(context, kMaxQueuedEvents), deps_(deps), handle_(std::make_shared<Handle>(this)) {
  StartReading();
}

ConverseManyReactor::Slot* ConverseManyReactor::FindLocked(const std::string& call_id, uint64_t serial) {
  auto it = slots_.find(call_id);
  return it == slots_.end() || it->second->serial != serial ? nullptr : it->second.get();
}

void ConverseManyReactor::OnLaneIdle(const std::string& call_id, uint64_t serial) {
  Update([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Slot* slot = FindLocked(call_id, serial);
    if (slot == nullptr) return;
    // Unlike Converse, the lane goes: later events of this id get "no live call".
    slot->lane.EndCall(kIdleTimeout, /*send=*/true);
    slots_.erase(call_id);
  });
}

void ConverseManyReactor::OnLaneTakeOver(const std::string& call_id, uint64_t serial) {
  Update([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Slot* slot = FindLocked(call_id, serial);
    // An unsequenced call cannot be parked: it stays, and the resume is refused.
    if (slot == nullptr || !slot->lane.sequenced() || slot->lane.state() != CallLane::State::kActive) return;
    slot->lane.Break();  // parks it; the stream goes on with its other calls
    slots_.erase(call_id);
  });
}

void ConverseManyReactor::HandleEventLocked(absl::string_view wire) {
  v1::CallEventEnvelope envelope;
  if (absl::Status status = ParseMessage(wire, &envelope); !status.ok()) {
    const std::string field = FieldOf(status);
    std::string call_id = field == "call_id" ? std::string() : ReadStringAt(wire, {1});
    const std::string utterance_id =
        absl::StartsWith(field, "event.utterance.") ? ReadStringAt(wire, {2, 2, 1}) : std::string();
    auto it = slots_.find(call_id);
    if (it != slots_.end()) {
      it->second->lane.Touch();
      it->second->lane.QueueError(status, EventField(field), utterance_id);
    } else {
      QueueStrayErrorLocked(call_id, status, EventField(field), utterance_id);
    }
    return;
  }
  const std::string& call_id = envelope.call_id();
  v1::CallEvent& event = *envelope.mutable_event();
  const bool is_start = event.has_start();
  const std::string utterance_id = event.has_utterance() ? event.utterance().utterance_id() : std::string();
  if (call_id.empty()) {
    QueueStrayErrorLocked("", InvalidField("call_id", "is required: every event on ConverseMany names its call"),
                          "call_id", utterance_id);
    return;
  }
  auto it = slots_.find(call_id);
  if (it == slots_.end()) {
    if (!is_start) {
      QueueStrayErrorLocked(call_id,
                            absl::FailedPreconditionError(absl::StrCat(
                                "no live call \"", call_id, "\" on this stream: send its CallStart first")),
                            "call_id", utterance_id);
      return;
    }
    v1::CallStart& start = *event.mutable_start();
    if (start.call_id().empty()) start.set_call_id(call_id);
    if (start.call_id() != call_id) {
      QueueStrayErrorLocked(call_id,
                            InvalidField("start.call_id", absl::StrCat("is \"", start.call_id(),
                                                                       "\" but the envelope's call_id is \"",
                                                                       call_id, "\"; they must be equal")),
                            "start.call_id");
      return;
    }
    auto slot = std::make_unique<Slot>(this, call_id, next_serial_++, deps_);
    slot->lane.OnEvent(event);
    // A refused start has been answered; nothing stays for it.
    if (slot->lane.state() == CallLane::State::kActive) slots_.emplace(call_id, std::move(slot));
    return;
  }
  CallLane& lane = it->second->lane;
  lane.Touch();
  if (is_start) {
    lane.QueueError(absl::FailedPreconditionError(absl::StrCat(
                        "call \"", call_id, "\" is already live on this stream; end it before starting it again")),
                    "start");
    return;
  }
  if (lane.OnEvent(event)) slots_.erase(it);  // its CallEnd: the summary is queued
}

void ConverseManyReactor::QueueStrayErrorLocked(absl::string_view call_id, const absl::Status& status,
                                                absl::string_view field, absl::string_view utterance_id) {
  v1::GuardEventEnvelope answer;
  answer.set_call_id(std::string(call_id));
  *answer.mutable_event()->mutable_error() = ToEventError(status, field, utterance_id);
  PushLocked(MessageToByteBuffer(answer));
}

void ConverseManyReactor::EndCallsLocked() {
  for (auto& [call_id, slot] : slots_) slot->lane.EndCall(kClosedWithoutEnd, /*send=*/true);
  slots_.clear();
}

void ConverseManyReactor::BreakCallsLocked() {
  for (auto& [call_id, slot] : slots_) slot->lane.Break();
  slots_.clear();
}

}  // namespace callguard
