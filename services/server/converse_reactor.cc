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
    : context_(context),
      handle_(std::make_shared<Handle>(this)),
      lane_(deps, this, IdleCallbackFor(handle_), TakeoverCallbackFor(handle_)) {
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
        } else if (lane_.state() == CallLane::State::kActive) {
          lane_.EndCall(kClosedWithoutEnd, /*send=*/true);
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
  handle_->Clear();
  {
    absl::MutexLock lock(&mu_);
    lane_.EndCall("stream broken", /*send=*/false);  // no-op unless the call is still live
  }
  delete this;
}

void ConverseReactor::OnIdleTimeout() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    if (lane_.state() != CallLane::State::kActive || flow_.finishing) return;
    // The call is over but the stream stays: later events get "call has ended".
    lane_.EndCall(kIdleTimeout, /*send=*/true);
    actions = PumpLocked(/*want_read=*/false);
  }
  Apply(actions);
}

void ConverseReactor::OnTakeOver() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    // An unsequenced call cannot be parked: it keeps its stream, and the resume is refused.
    if (lane_.state() != CallLane::State::kActive || !lane_.sequenced() || flow_.finishing ||
        flow_.finish_called) {
      return;
    }
    BreakLocked();
    actions = PumpLocked(/*want_read=*/false);
  }
  Apply(actions);
}

void ConverseReactor::BreakLocked() {
  flow_.broken = true;
  flow_.finishing = true;
  queue_.DropWaiting();
  lane_.Break();
}

void ConverseReactor::Push(grpc::ByteBuffer event) {
  if (!flow_.broken) queue_.Push(std::move(event));
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
