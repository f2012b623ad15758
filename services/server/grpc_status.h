#ifndef CALLGUARD_SERVER_GRPC_STATUS_H_
#define CALLGUARD_SERVER_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "callguard/v1/guard.pb.h"
#include "grpcpp/support/status.h"

namespace callguard {

// Same code (absl and gRPC share the google.rpc numbering), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The per-event answer for a failed event; `field` is the full path the dialer sees.
v1::EventError ToEventError(const absl::Status& status, absl::string_view field,
                            absl::string_view utterance_id = "");

}  // namespace callguard

#endif  // CALLGUARD_SERVER_GRPC_STATUS_H_
