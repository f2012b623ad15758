#include "call_script.h"

#include <cstdint>
#include <utility>

#include "replay.h"
#include "transcript_io.h"

namespace callguard::bench {

grpc::ByteBuffer ToByteBuffer(const google::protobuf::Message& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

std::vector<CallScript> BuildScripts(const std::vector<v1::Transcript>& corpus, bool interim_results) {
  std::vector<CallScript> scripts;
  ReplayOptions replay;
  replay.interim_results = interim_results;
  for (const v1::Transcript& transcript : corpus) {
    CallScript script;
    script.name = transcript.call_id();
    script.start = CallStartFromTranscript(transcript);
    bool party_sent = false;
    for (int turn = 0; turn < transcript.turns_size(); ++turn) {
      std::vector<v1::Utterance> updates = UtterancesForTurn(transcript, turn, replay);
      for (v1::Utterance& u : updates) {
        u.set_want_verdict(true);
        ScriptStep step;
        step.is_utterance = true;
        step.is_final = u.is_final();
        step.utterance_id = u.utterance_id();
        step.wait_turns = 1.0 / static_cast<double>(updates.size());
        v1::CallEvent event;
        *event.mutable_utterance() = std::move(u);
        step.wire = ToByteBuffer(event);
        ++script.utterances;
        if (step.is_final) ++script.finals;
        script.steps.push_back(std::move(step));
      }
      if (!party_sent && transcript.turns(turn).speaker() == v1::COUNTERPARTY) {
        // What the agent desktop asserts once someone answered.
        v1::CallEvent event;
        event.mutable_party_update()->set_party(
            transcript.dialed() == v1::DEBTOR_PHONE ? v1::PARTY_DEBTOR : v1::PARTY_THIRD_PARTY);
        event.mutable_party_update()->set_note("asserted by the agent desktop");
        ScriptStep step;
        step.wire = ToByteBuffer(event);
        script.steps.push_back(std::move(step));
        party_sent = true;
      }
    }
    v1::CallEvent end;
    end.mutable_end()->set_reason("hangup");
    script.end = ToByteBuffer(end);
    scripts.push_back(std::move(script));
  }
  return scripts;
}

namespace {

// Protobuf wire format: tag = field number << 3 | wire type 2 (length-delimited).
constexpr char kCallIdTag = (1 << 3) | 2;
constexpr char kEventTag = (2 << 3) | 2;

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

}  // namespace

EnvelopeWriter::EnvelopeWriter(std::string_view call_id) {
  prefix_.push_back(kCallIdTag);
  AppendVarint(call_id.size(), &prefix_);
  prefix_.append(call_id);
  prefix_.push_back(kEventTag);
}

grpc::ByteBuffer EnvelopeWriter::Wrap(const grpc::ByteBuffer& event) const {
  std::vector<grpc::Slice> slices;
  // Dump only takes references; it fails only on a buffer that holds nothing at all.
  if (!event.Dump(&slices).ok()) slices.clear();
  std::string head = prefix_;
  AppendVarint(event.Length(), &head);
  slices.insert(slices.begin(), grpc::Slice(head));
  return grpc::ByteBuffer(slices.data(), slices.size());
}

grpc::ByteBuffer StartWire(const CallScript& script, const std::string& call_id) {
  v1::CallEvent event;
  *event.mutable_start() = script.start;
  event.mutable_start()->set_call_id(call_id);
  return ToByteBuffer(event);
}

}  // namespace callguard::bench
