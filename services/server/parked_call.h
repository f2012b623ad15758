#ifndef CALLGUARD_SERVER_PARKED_CALL_H_
#define CALLGUARD_SERVER_PARKED_CALL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "call_recorder.h"
#include "call_registry.h"
#include "call_session.h"
#include "movable_byte_buffer.h"
#include "grpcpp/support/byte_buffer.h"

namespace callguard {

// The last numbered answers (GuardEvent.seq) of a sequenced call, kept so that a client that
// resumes after a broken stream can be sent the ones it missed. Holds at most kCapacity
// (oldest dropped first) and, empty, no heap memory: most calls never raise anything. The
// buffers share their bytes with the ones queued for writing (gRPC slices are ref-counted).
class ResendRing {
 public:
  static constexpr size_t kCapacity = 64;

  // `seq` must be one more than the last added.
  void Add(uint64_t seq, const grpc::ByteBuffer& event);
  // The seq of the oldest answer still kept; 0 when empty.
  uint64_t oldest_seq() const { return events_.empty() ? 0 : last_seq_ - events_.size() + 1; }
  uint64_t last_seq() const { return last_seq_; }
  size_t size() const { return events_.size(); }
  // The kept answers numbered after `seq`, oldest first.
  std::vector<grpc::ByteBuffer> After(uint64_t seq) const;

 private:
  std::vector<MovableByteBuffer> events_;  // a circle once full: events_[start_] is the oldest
  size_t start_ = 0;
  uint64_t last_seq_ = 0;
};

// What a Converse stream keeps of its call while no stream is attached: everything needed to
// go on where it stopped. Owned by the CallRegistry until resumed or its grace runs out.
struct ParkedCall : CallRegistry::Parked {
  ParkedCall(std::string call_id, std::unique_ptr<CallSession> session, const CallRecorder& recorder)
      : call_id(std::move(call_id)), session(std::move(session)), recorder(recorder) {}

  // Ends the session and records its summary with `reason`; never touches the stream.
  void End(absl::string_view reason) override;

  std::string call_id;
  std::unique_ptr<CallSession> session;
  CallRecorder recorder;
  uint64_t last_applied_seq = 0;  // the client's last CallEvent.seq applied
  uint32_t applied_since_ack = 0;
  ResendRing ring;                // its last_seq() is the last GuardEvent.seq sent
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_PARKED_CALL_H_
