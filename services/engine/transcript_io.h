#ifndef CALLGUARD_ENGINE_TRANSCRIPT_IO_H_
#define CALLGUARD_ENGINE_TRANSCRIPT_IO_H_

#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "callguard/v1/guard.pb.h"
#include "callguard/v1/transcript.pb.h"

namespace callguard {

// One labelled call from one JSON line (protobuf JSON mapping, unknown keys ignored).
absl::StatusOr<v1::Transcript> ParseTranscriptLine(absl::string_view line);

// Every call of a JSONL file; blank lines are skipped. Errors name the file and line number.
absl::StatusOr<std::vector<v1::Transcript>> ReadTranscripts(const std::string& path);
absl::StatusOr<std::vector<v1::Transcript>> ReadTranscripts(std::istream& in, absl::string_view name);

// The CallStart a dialer would send for this call.
v1::CallStart CallStartFromTranscript(const v1::Transcript& transcript);

// JSON (protobuf mapping, default values printed, one line) of any message: what
// `callguard replay` prints.
std::string ToJsonLine(const google::protobuf::Message& message);

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_TRANSCRIPT_IO_H_
