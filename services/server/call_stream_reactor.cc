#include "call_stream_reactor.h"

#include "wire_codec.h"

namespace callguard {

CallStreamReactor::CallStreamReactor(grpc::CallbackServerContext* context, size_t max_queued)
    : context_(context), max_queued_(max_queued) {}

void CallStreamReactor::OnReadDone(bool ok) {
  StreamActions actions;
  {
    absl::MutexLock lock(&mu_);
    if (ok) {
      HandleEventLocked(ReceivedBytes(read_buffer_).view());
      actions = PumpLocked(/*want_read=*/!flow_.finishing);
    } else {
      // The client closed its side, or the transport broke.
      if (!flow_.finishing) {
        if (context_->IsCancelled()) {
          BreakLocked();
        } else {
          EndCallsLocked();
        }
        flow_.finishing = true;
      }
      actions = PumpLocked(/*want_read=*/false);
    }
  }
  Apply(actions);
}

void CallStreamReactor::OnWriteDone(bool ok) {
  StreamActions actions;
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
    actions = PumpLocked(ResumeReadAfterWrite(queue_, flow_, max_queued_));
  }
  Apply(actions);
}

void CallStreamReactor::OnCancel() {
  StreamActions actions;
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

void CallStreamReactor::OnDone() {
  Detach();
  {
    absl::MutexLock lock(&mu_);
    flow_.broken = true;
    ReleaseLocked();
  }
  delete this;
}

void CallStreamReactor::BreakLocked() {
  flow_.broken = true;
  flow_.finishing = true;
  queue_.DropWaiting();
  BreakCallsLocked();
}

StreamActions CallStreamReactor::PumpLocked(bool want_read) {
  return PumpStream(queue_, flow_, want_read, max_queued_);
}

void CallStreamReactor::Apply(const StreamActions& actions) {
  if (actions.write != nullptr) StartWrite(actions.write);
  if (actions.read) StartRead(&read_buffer_);
  if (actions.finish) Finish(actions.finish_status);
}

}  // namespace callguard
