#include "parked_call.h"

#include <utility>

namespace callguard {

void ResendRing::Add(uint64_t seq, const grpc::ByteBuffer& event) {
  last_seq_ = seq;
  if (events_.size() < kCapacity) {
    events_.emplace_back(grpc::ByteBuffer(event));
    return;
  }
  events_[start_] = MovableByteBuffer(grpc::ByteBuffer(event));
  start_ = (start_ + 1) % kCapacity;
}

std::vector<grpc::ByteBuffer> ResendRing::After(uint64_t seq) const {
  std::vector<grpc::ByteBuffer> out;
  const uint64_t oldest = oldest_seq();
  for (size_t i = 0; i < events_.size(); ++i) {
    if (oldest + i > seq) out.push_back(events_[(start_ + i) % events_.size()].get());
  }
  return out;
}

void ParkedCall::End(absl::string_view reason) {
  if (session == nullptr) return;
  v1::CallSummary summary = session->End(reason);
  if (summary.call_id().empty()) summary.set_call_id(call_id);
  if (summary.end_reason().empty()) summary.set_end_reason(std::string(reason));
  recorder.OnEnd(summary);
  session.reset();
}

}  // namespace callguard
