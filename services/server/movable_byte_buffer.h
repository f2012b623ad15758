#ifndef CALLGUARD_SERVER_MOVABLE_BYTE_BUFFER_H_
#define CALLGUARD_SERVER_MOVABLE_BYTE_BUFFER_H_

#include "grpcpp/support/byte_buffer.h"

namespace callguard {

// A grpc::ByteBuffer that moves. gRPC 1.51's ByteBuffer has no move constructor: std::move
// copies it (a heap block and a reference per slice, then a free when the source dies), and a
// std::vector of them copies every element when it grows. Answers change hands several times
// between the engine and the wire, so the queues hold these instead.
class MovableByteBuffer {
 public:
  MovableByteBuffer() = default;
  // Takes `buffer`'s contents, leaving it empty.
  explicit MovableByteBuffer(grpc::ByteBuffer&& buffer) noexcept { buffer_.Swap(&buffer); }
  MovableByteBuffer(MovableByteBuffer&& other) noexcept { buffer_.Swap(&other.buffer_); }
  MovableByteBuffer& operator=(MovableByteBuffer&& other) noexcept {
    if (this != &other) {
      buffer_.Clear();
      buffer_.Swap(&other.buffer_);
    }
    return *this;
  }
  // A copy shares the slices (a reference each), as ByteBuffer's own copy does.
  MovableByteBuffer(const MovableByteBuffer& other) = default;
  MovableByteBuffer& operator=(const MovableByteBuffer& other) = default;

  const grpc::ByteBuffer& get() const { return buffer_; }
  grpc::ByteBuffer& get() { return buffer_; }
  void Clear() { buffer_.Clear(); }

 private:
  grpc::ByteBuffer buffer_;
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_MOVABLE_BYTE_BUFFER_H_
