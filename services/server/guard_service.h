#ifndef CALLGUARD_SERVER_GUARD_SERVICE_H_
#define CALLGUARD_SERVER_GUARD_SERVICE_H_

#include "callguard/v1/guard.grpc.pb.h"
#include "converse_many_reactor.h"
#include "converse_reactor.h"

namespace callguard {

// callguard.v1.CallGuard on the callback API. Both methods take raw bytes so that a message with
// invalid UTF-8 is answered with the offending field instead of a bare parse failure.
class GuardService final
    : public v1::CallGuard::WithRawCallbackMethod_Converse<v1::CallGuard::WithRawCallbackMethod_ConverseMany<
          v1::CallGuard::WithRawCallbackMethod_Check<v1::CallGuard::Service>>> {
 public:
  explicit GuardService(ConverseDeps deps) : deps_(std::move(deps)) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Converse(
      grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ConverseMany(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;

 private:
  const ConverseDeps deps_;
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_GUARD_SERVICE_H_
