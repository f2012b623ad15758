#ifndef CALLGUARD_SERVER_WIRE_CODEC_H_
#define CALLGUARD_SERVER_WIRE_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"

namespace callguard {

// The service reads raw bytes instead of letting gRPC parse: the stock parser rejects a message
// whose string field holds invalid UTF-8 without saying which field, and a failed parse in a
// generated streaming handler ends the whole stream. These helpers parse and, on failure, name
// the field so the call can go on.

std::string ByteBufferToString(const grpc::ByteBuffer& buffer);
// Serialized straight into the one slice gRPC will send.
grpc::ByteBuffer MessageToByteBuffer(const google::protobuf::Message& message);

// A received message's bytes in one piece: gRPC's own slice when the message came in one (as
// small messages do), else a copy. The view is valid while this object lives.
class ReceivedBytes {
 public:
  explicit ReceivedBytes(const grpc::ByteBuffer& buffer);
  ReceivedBytes(const ReceivedBytes&) = delete;
  ReceivedBytes& operator=(const ReceivedBytes&) = delete;
  absl::string_view view() const { return view_; }

 private:
  grpc::Slice slice_;
  std::string copy_;
  absl::string_view view_;
};

// `event` (a serialized message) as field 2 of an envelope whose field 1 is `call_id`
// (CallEventEnvelope, GuardEventEnvelope), sharing event's bytes instead of copying them.
grpc::ByteBuffer WrapInEnvelope(absl::string_view call_id, const grpc::ByteBuffer& event);

// Parses `wire` into `message`. A failure is INVALID_ARGUMENT; its FieldOf() is the dotted path
// of the offending string field ("utterance.text", "start.debtor.other_names[1]") when the
// cause is invalid UTF-8, else empty.
absl::Status ParseMessage(absl::string_view wire, google::protobuf::Message* message);

// The dotted path of the first string field holding invalid UTF-8, or "" if none (or if the
// bytes are not a well-formed message at all).
std::string FindInvalidUtf8Field(const google::protobuf::Descriptor& descriptor, absl::string_view wire);

// The raw value of a length-delimited field reached by field numbers ({2, 1}: the utterance_id
// of a CallEvent's utterance), if present and valid UTF-8; "" otherwise.
std::string ReadStringAt(absl::string_view wire, std::initializer_list<int> field_numbers);

}  // namespace callguard

#endif  // CALLGUARD_SERVER_WIRE_CODEC_H_
