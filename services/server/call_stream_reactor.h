#ifndef CALLGUARD_SERVER_CALL_STREAM_REACTOR_H_
#define CALLGUARD_SERVER_CALL_STREAM_REACTOR_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "outbound_queue.h"

namespace callguard {

// What the Converse and ConverseMany streams share: reading raw events one at a time, writing
// answers in order through a bounded queue (reading pauses at max_queued), finishing once the
// client closed its side and everything is written, and telling a client's close from a broken
// transport. Subclasses say what an event does and what happens to their calls at the end.
// Deletes itself in OnDone.
class CallStreamReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  void OnReadDone(bool ok) final ABSL_LOCKS_EXCLUDED(mu_);
  void OnWriteDone(bool ok) final ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel() final ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() final ABSL_LOCKS_EXCLUDED(mu_);

 protected:
  CallStreamReactor(grpc::CallbackServerContext* context, size_t max_queued);
  virtual ~CallStreamReactor() = default;
  // Subclasses call this last in their constructor, once they can take events.
  void StartReading() { StartRead(&read_buffer_); }

  // One event read off the wire.
  virtual void HandleEventLocked(absl::string_view wire) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // The client closed its side: end the live calls, queueing their summaries.
  virtual void EndCallsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // The transport broke: park or end the live calls; nothing more can be written.
  virtual void BreakCallsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // The stream is done and about to be deleted: let go of everything, nothing is sent.
  virtual void ReleaseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;
  // Before ReleaseLocked, without the lock: cut what lets others reach this stream.
  virtual void Detach() {}

  // Queues an answer unless the stream is broken.
  void PushLocked(grpc::ByteBuffer&& answer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!flow_.broken) queue_.Push(std::move(answer));
  }
  // Marks the stream broken and finishing, drops unwritten answers, breaks the calls.
  void BreakLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs fn under the lock unless the stream is finishing, then writes what it queued.
  template <typename Fn>
  void Update(Fn&& fn) ABSL_LOCKS_EXCLUDED(mu_) {
    StreamActions actions;
    {
      absl::MutexLock lock(&mu_);
      if (flow_.finishing || flow_.finish_called) return;
      fn();
      actions = PumpLocked(/*want_read=*/false);
    }
    Apply(actions);
  }

  absl::Mutex mu_;
  StreamFlow flow_ ABSL_GUARDED_BY(mu_);

 private:
  StreamActions PumpLocked(bool want_read) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Apply(const StreamActions& actions);

  grpc::CallbackServerContext* const context_;
  const size_t max_queued_;
  grpc::ByteBuffer read_buffer_;  // only touched by the single outstanding read
  OutboundQueue queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CALL_STREAM_REACTOR_H_
