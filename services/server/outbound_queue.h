#ifndef CALLGUARD_SERVER_OUTBOUND_QUEUE_H_
#define CALLGUARD_SERVER_OUTBOUND_QUEUE_H_

#include <cstddef>
#include <utility>
#include <vector>

#include "grpcpp/support/byte_buffer.h"

namespace callguard {

// The answers of one stream not yet written, in order. The one being written keeps its
// address until its write completes. Empty, it holds no heap memory: a std::deque would take
// about 600 bytes per stream up front, and a server holds thousands of mostly idle streams.
class OutboundQueue {
 public:
  // Waiting answers plus the one being written.
  size_t size() const { return waiting_.size() - head_ + (writing_ ? 1 : 0); }
  bool empty() const { return size() == 0; }
  bool writing() const { return writing_; }

  void Push(grpc::ByteBuffer message) { waiting_.push_back(std::move(message)); }

  // The next answer to write, now in flight; null while a write is in flight or none waits.
  const grpc::ByteBuffer* StartNext() {
    if (writing_ || head_ == waiting_.size()) return nullptr;
    in_flight_ = std::move(waiting_[head_++]);
    if (head_ == waiting_.size()) {
      waiting_.clear();
      head_ = 0;
    }
    writing_ = true;
    return &in_flight_;
  }

  void WriteDone() {
    in_flight_.Clear();
    writing_ = false;
  }

  // Forgets every answer not yet handed to gRPC.
  void DropWaiting() {
    std::vector<grpc::ByteBuffer>().swap(waiting_);
    head_ = 0;
  }

 private:
  grpc::ByteBuffer in_flight_;
  bool writing_ = false;
  std::vector<grpc::ByteBuffer> waiting_;
  size_t head_ = 0;  // waiting_[0, head_) were already taken
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_OUTBOUND_QUEUE_H_
