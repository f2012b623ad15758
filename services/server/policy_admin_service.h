#ifndef CALLGUARD_SERVER_POLICY_ADMIN_SERVICE_H_
#define CALLGUARD_SERVER_POLICY_ADMIN_SERVICE_H_

#include <functional>
#include <string>

#include "callguard/v1/guard.grpc.pb.h"
#include "engine_holder.h"

namespace callguard {

// Reloads the policy folder for the whole server: shared by the RPC and SIGHUP, and logs the
// outcome either way.
class PolicyReloader {
 public:
  using LogFn = std::function<void(const std::string&)>;
  PolicyReloader(EngineHolder* engines, LogFn log) : engines_(engines), log_(std::move(log)) {}

  absl::StatusOr<std::shared_ptr<const Engine>> Reload(absl::string_view trigger);

 private:
  EngineHolder* const engines_;
  const LogFn log_;
};

// callguard.v1.PolicyAdmin: lists the running policies and reloads them.
class PolicyAdminService final : public v1::PolicyAdmin::CallbackService {
 public:
  PolicyAdminService(EngineHolder* engines, PolicyReloader* reloader)
      : engines_(engines), reloader_(reloader) {}

  grpc::ServerUnaryReactor* ListPolicies(grpc::CallbackServerContext* context,
                                         const v1::ListPoliciesRequest* request,
                                         v1::ListPoliciesResponse* response) override;
  // Compiles on the callback thread: reloads are rare admin actions and take well under a second.
  grpc::ServerUnaryReactor* ReloadPolicies(grpc::CallbackServerContext* context,
                                           const v1::ReloadPoliciesRequest* request,
                                           v1::ReloadPoliciesResponse* response) override;

 private:
  EngineHolder* const engines_;
  PolicyReloader* const reloader_;
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_POLICY_ADMIN_SERVICE_H_
