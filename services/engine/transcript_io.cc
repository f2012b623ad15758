#include "transcript_io.h"

#include <fstream>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace callguard {
namespace {

// Labels that point outside the call, or at a counterparty turn, would make every score
// computed from the file meaningless, so they are refused when the file is read.
absl::Status ValidateTranscript(const v1::Transcript& t) {
  if (t.call_id().empty()) return absl::InvalidArgumentError("callId is empty");
  // Unknown enum names parse as the zero value when unknown keys are ignored; a turn nobody
  // said would silently drop out of the replay.
  for (int i = 0; i < t.turns_size(); ++i) {
    if (t.turns(i).speaker() == v1::SPEAKER_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("call ", t.call_id(), ": turn ", i,
                                                     " has no speaker (AGENT or COUNTERPARTY)"));
    }
  }
  for (const v1::ExpectedViolation& e : t.expect()) {
    if (e.turn() < 0 || e.turn() >= t.turns_size()) {
      return absl::InvalidArgumentError(absl::StrCat("call ", t.call_id(), ": expect turn ", e.turn(),
                                                     " is outside the call (", t.turns_size(),
                                                     " turns)"));
    }
    if (t.turns(e.turn()).speaker() != v1::AGENT) {
      return absl::InvalidArgumentError(absl::StrCat(
          "call ", t.call_id(), ": expect turn ", e.turn(),
          " is not an AGENT turn (only agent turns commit violations)"));
    }
    if (e.violation() == v1::VIOLATION_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("call ", t.call_id(), ": expect entry on turn ", e.turn(), " has no violation"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Transcript> ParseTranscriptLine(absl::string_view line) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  v1::Transcript transcript;
  const std::string input(line);
  auto status = google::protobuf::util::JsonStringToMessage(input, &transcript, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string(status.message()));
  }
  if (absl::Status valid = ValidateTranscript(transcript); !valid.ok()) return valid;
  return transcript;
}

absl::StatusOr<std::vector<v1::Transcript>> ReadTranscripts(std::istream& in, absl::string_view name) {
  std::vector<v1::Transcript> calls;
  absl::flat_hash_map<std::string, int> line_of_call;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    absl::string_view text = absl::StripAsciiWhitespace(line);  // also drops a CRLF's '\r'
    if (text.empty()) continue;
    absl::StatusOr<v1::Transcript> call = ParseTranscriptLine(text);
    if (!call.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ":", line_number, ": ", call.status().message()));
    }
    auto [it, inserted] = line_of_call.emplace(call->call_id(), line_number);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(name, ":", line_number, ": callId \"", call->call_id(),
                                                     "\" already used on line ", it->second));
    }
    calls.push_back(*std::move(call));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(name, ": read error after line ", line_number));
  return calls;
}

absl::StatusOr<std::vector<v1::Transcript>> ReadTranscripts(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  return ReadTranscripts(in, path);
}

v1::CallStart CallStartFromTranscript(const v1::Transcript& transcript) {
  v1::CallStart start;
  start.set_call_id(transcript.call_id());
  start.set_policy(transcript.policy());
  start.set_language(transcript.language());
  if (transcript.has_agency()) *start.mutable_agency() = transcript.agency();
  if (transcript.has_agent()) *start.mutable_agent() = transcript.agent();
  if (transcript.has_debtor()) *start.mutable_debtor() = transcript.debtor();
  start.set_dialed(transcript.dialed());
  return start;
}

std::string ToJsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;  // so "turn": 0 is printed, not dropped
  options.add_whitespace = false;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    // Only malformed Any/well-known-type payloads fail; keep the output a JSON line anyway.
    v1::EventError error;
    error.set_code(13);
    error.set_message(std::string(status.message()));
    json.clear();
    google::protobuf::util::MessageToJsonString(error, &json, options);
  }
  return json;
}

}  // namespace callguard
