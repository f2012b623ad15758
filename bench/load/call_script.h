#ifndef CALLGUARD_BENCH_LOAD_CALL_SCRIPT_H_
#define CALLGUARD_BENCH_LOAD_CALL_SCRIPT_H_

#include <string>
#include <string_view>
#include <vector>

#include "callguard/v1/guard.pb.h"
#include "callguard/v1/transcript.pb.h"
#include "grpcpp/support/byte_buffer.h"

namespace callguard::bench {

// One event of a scripted call, serialized once and sent by every stream that plays it.
struct ScriptStep {
  grpc::ByteBuffer wire;
  bool is_utterance = false;
  bool is_final = false;
  std::string utterance_id;
  // Paced runs: the share of the turn's period to wait before sending (the updates of a turn
  // are spread evenly over it, the final one at its end).
  double wait_turns = 0;
};

// The events a dialer sends for one labelled call: the CallStart, then every turn of both
// speakers as growing interim results and a final one (all with want_verdict), a party update
// after the first counterparty turn, and the CallEnd.
struct CallScript {
  std::string name;    // the transcript's call id
  v1::CallStart start;  // each stream sets its own call_id
  std::vector<ScriptStep> steps;
  grpc::ByteBuffer end;
  int utterances = 0;
  int finals = 0;
};

std::vector<CallScript> BuildScripts(const std::vector<v1::Transcript>& corpus, bool interim_results);

// The serialized CallStart of one stream.
grpc::ByteBuffer StartWire(const CallScript& script, const std::string& call_id);

grpc::ByteBuffer ToByteBuffer(const google::protobuf::Message& message);

// Wraps pre-serialized CallEvents of one call into CallEventEnvelope{call_id, event} without
// parsing or copying them: the envelope is a few prefix bytes (field 1 with the call id, the tag
// and length of field 2) followed by the event's own slices, shared by reference.
class EnvelopeWriter {
 public:
  explicit EnvelopeWriter(std::string_view call_id);

  grpc::ByteBuffer Wrap(const grpc::ByteBuffer& event) const;

 private:
  std::string prefix_;  // field 1 whole, then field 2's tag; each event adds its length
};

}  // namespace callguard::bench

#endif  // CALLGUARD_BENCH_LOAD_CALL_SCRIPT_H_
