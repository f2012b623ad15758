#include "converse_reactor.h"

#include <utility>

#include "absl/strings/match.h"
#include "grpc_status.h"
#include "status_util.h"
#include "wire_codec.h"

namespace callguard {
namespace {

constexpr absl::string_view kClosedWithoutEnd = "stream closed without CallEnd";
constexpr absl::string_view kIdleTimeout = "idle timeout";

using Handle = ReactorHandle<ConverseReactor>;

// Only a weak pointer captured: small enough for std::function to keep without a heap block.
CallRegistry::IdleCallback IdleCallbackFor(const std::shared_ptr<Handle>& handle) {
  return [weak = std::weak_ptr<Handle>(handle)] {
    if (auto h = weak.lock()) h->With([](ConverseReactor& r) { r.OnIdleTimeout(); });
  };
}

CallRegistry::TakeoverCallback TakeoverCallbackFor(const std::shared_ptr<Handle>& handle) {
  return [weak = std::weak_ptr<Handle>(handle)] {
    if (auto h = weak.lock()) h->With([](ConverseReactor& r) { r.OnTakeOver(); });
  };
}

}  // namespace

ConverseReactor::ConverseReactor(grpc::CallbackServerContext* context, const ConverseDeps& deps)
    : CallStreamReactor(context, kMaxQueuedEvents),
      handle_(std::make_shared<Handle>(this)),
      lane_(deps, this, IdleCallbackFor(handle_), TakeoverCallbackFor(handle_)) {
  StartReading();
}

void ConverseReactor::OnIdleTimeout() {
  Update([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // The call is over but the stream stays: later events get "call has ended".
    lane_.EndCall(kIdleTimeout, /*send=*/true);
  });
}

void ConverseReactor::OnTakeOver() {
  Update([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // An unsequenced call cannot be parked: it keeps its stream, and the resume is refused.
    if (lane_.state() == CallLane::State::kActive && lane_.sequenced()) BreakLocked();
  });
}

void ConverseReactor::EndCallsLocked() { lane_.EndCall(kClosedWithoutEnd, /*send=*/true); }

void ConverseReactor::BreakCallsLocked() { lane_.Break(); }

void ConverseReactor::ReleaseLocked() { lane_.EndCall(CallLane::kStreamBroken, /*send=*/false); }

void ConverseReactor::HandleEventLocked(absl::string_view wire) {
  lane_.Touch();
  v1::CallEvent event;
  if (absl::Status status = ParseMessage(wire, &event); !status.ok()) {
    const std::string field = FieldOf(status);
    const std::string utterance_id =
        absl::StartsWith(field, "utterance.") ? ReadStringAt(wire, {2, 1}) : std::string();
    lane_.QueueError(status, field, utterance_id);
    return;
  }
  if (lane_.OnEvent(event)) flow_.finishing = true;  // CallEnd: nothing more to read
}

}  // namespace callguard
