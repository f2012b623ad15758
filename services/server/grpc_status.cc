#include "grpc_status.h"

namespace callguard {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

v1::EventError ToEventError(const absl::Status& status, absl::string_view field,
                            absl::string_view utterance_id) {
  v1::EventError error;
  error.set_code(static_cast<int32_t>(status.code()));
  error.set_message(std::string(status.message()));
  error.set_field(std::string(field));
  error.set_utterance_id(std::string(utterance_id));
  return error;
}

}  // namespace callguard
