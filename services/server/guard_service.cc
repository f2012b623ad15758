#include "guard_service.h"

#include "absl/strings/str_cat.h"
#include "grpc_status.h"
#include "status_util.h"
#include "wire_codec.h"

namespace callguard {

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GuardService::Converse(
    grpc::CallbackServerContext* context) {
  return new ConverseReactor(context, deps_);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GuardService::ConverseMany(
    grpc::CallbackServerContext* context) {
  return new ConverseManyReactor(context, deps_);
}

grpc::ServerUnaryReactor* GuardService::Check(grpc::CallbackServerContext* context,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::CheckRequest check;
  if (absl::Status status = ParseMessage(ReceivedBytes(*request).view(), &check); !status.ok()) {
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  std::shared_ptr<const Engine> engine = deps_.engines->Current();
  if (engine->FindPolicy(check.policy()) == nullptr) {
    reactor->Finish(ToGrpcStatus(engine->UnknownPolicyError(check.policy(), "policy")));
    return reactor;
  }
  if (check.text().size() > deps_.limits.max_utterance_bytes) {
    reactor->Finish(ToGrpcStatus(InvalidField(
        "text", absl::StrCat("is ", check.text().size(), " bytes; the limit is ",
                             deps_.limits.max_utterance_bytes))));
    return reactor;
  }
  auto result = CheckUtterance(std::move(engine), check);
  if (!result.ok()) {
    reactor->Finish(ToGrpcStatus(result.status()));
    return reactor;
  }
  *response = MessageToByteBuffer(*result);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace callguard
