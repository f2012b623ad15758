#ifndef CALLGUARD_SERVER_OUTBOUND_QUEUE_H_
#define CALLGUARD_SERVER_OUTBOUND_QUEUE_H_

#include <cstddef>
#include <utility>
#include <vector>

#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"
#include "movable_byte_buffer.h"

namespace callguard {

// The answers of one stream not yet written, in order. The one being written keeps its
// address until its write completes. Empty, it holds no heap memory: a std::deque would take
// about 600 bytes per stream up front, and a server holds thousands of mostly idle streams.
// Answers are held as MovableByteBuffer: queueing one moves it, it is never copied.
class OutboundQueue {
 public:
  // Waiting answers plus the one being written.
  size_t size() const { return waiting_.size() - head_ + (writing_ ? 1 : 0); }
  bool empty() const { return size() == 0; }
  bool writing() const { return writing_; }

  // Takes `message`'s contents, leaving it empty.
  void Push(grpc::ByteBuffer&& message) { waiting_.emplace_back(std::move(message)); }

  // The next answer to write, now in flight; null while a write is in flight or none waits.
  const grpc::ByteBuffer* StartNext() {
    if (writing_ || head_ == waiting_.size()) return nullptr;
    in_flight_ = std::move(waiting_[head_++]);
    if (head_ == waiting_.size()) {
      waiting_.clear();
      head_ = 0;
    }
    writing_ = true;
    return &in_flight_.get();
  }

  void WriteDone() {
    in_flight_.Clear();
    writing_ = false;
  }

  // Forgets every answer not yet handed to gRPC.
  void DropWaiting() {
    std::vector<MovableByteBuffer>().swap(waiting_);
    head_ = 0;
  }

 private:
  MovableByteBuffer in_flight_;
  bool writing_ = false;
  std::vector<MovableByteBuffer> waiting_;
  size_t head_ = 0;  // waiting_[0, head_) were already taken
};

// Where a bidi stream stands: reading paused for back-pressure, finishing (no more reads;
// finish once the queue drains), broken (the transport failed: write nothing more), finished.
struct StreamFlow {
  bool read_paused = false;
  bool finishing = false;
  bool broken = false;
  bool finish_called = false;
};

// What a reactor starts next, decided under its lock and started after releasing it.
struct StreamActions {
  const grpc::ByteBuffer* write = nullptr;
  bool read = false;
  bool finish = false;
  grpc::Status finish_status;
};

// The next steps of a stream with `queue` and `flow`: another read if wanted and fewer than
// `max_queued` answers wait (else reading pauses), the next write, or the finish once a
// finishing stream has written everything.
inline StreamActions PumpStream(OutboundQueue& queue, StreamFlow& flow, bool want_read, size_t max_queued) {
  StreamActions actions;
  if (flow.finish_called) return actions;
  if (want_read && !flow.finishing) {
    if (queue.size() < max_queued) {
      actions.read = true;
    } else {
      flow.read_paused = true;
    }
  }
  if (flow.broken) queue.DropWaiting();
  if (const grpc::ByteBuffer* next = queue.StartNext(); next != nullptr) {
    actions.write = next;
  } else if (flow.finishing && queue.empty()) {
    flow.finish_called = true;
    actions.finish = true;
    actions.finish_status =
        flow.broken ? grpc::Status(grpc::StatusCode::CANCELLED, "stream broken") : grpc::Status::OK;
  }
  return actions;
}

// After a write completed: whether a read paused for back-pressure may go on now.
inline bool ResumeReadAfterWrite(const OutboundQueue& queue, StreamFlow& flow, size_t max_queued) {
  if (!flow.read_paused || flow.finishing || queue.size() >= max_queued) return false;
  flow.read_paused = false;
  return true;
}

}  // namespace callguard

#endif  // CALLGUARD_SERVER_OUTBOUND_QUEUE_H_
