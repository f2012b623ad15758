#ifndef CALLGUARD_CLI_REMOTE_GUARD_H_
#define CALLGUARD_CLI_REMOTE_GUARD_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "callguard/v1/guard.grpc.pb.h"
#include "callguard/v1/transcript.pb.h"
#include "replay.h"

namespace callguard::cli {

// What a server answered on one call stream.
struct RemoteCallResult {
  std::vector<v1::Alert> alerts;        // in the order received
  std::vector<v1::EventError> errors;   // per-event problems; the call went on
  bool has_summary = false;
  v1::CallSummary summary;
};

// A client of a running callguard server (CallGuard service), for `replay --server` and
// `check --server`.
class RemoteGuard {
 public:
  // Does not connect yet: the first RPC does, and fails with UNAVAILABLE if nobody listens.
  static std::unique_ptr<RemoteGuard> Create(const std::string& target);

  // Streams a labelled call as a dialer would: CallStart, the utterances of every turn as
  // UtterancesForTurn builds them (identical to the in-process replay), then CallEnd.
  // A non-OK status means the stream itself failed.
  absl::StatusOr<RemoteCallResult> ReplayCall(const v1::Transcript& transcript,
                                              const ReplayOptions& options);

  absl::StatusOr<v1::CheckResponse> Check(const v1::CheckRequest& request);

 private:
  explicit RemoteGuard(std::unique_ptr<v1::CallGuard::Stub> stub) : stub_(std::move(stub)) {}
  std::unique_ptr<v1::CallGuard::Stub> stub_;
};

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_REMOTE_GUARD_H_
