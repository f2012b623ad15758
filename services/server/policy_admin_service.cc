#include "policy_admin_service.h"

#include "absl/strings/str_cat.h"
#include "grpc_status.h"

namespace callguard {

absl::StatusOr<std::shared_ptr<const Engine>> PolicyReloader::Reload(absl::string_view trigger) {
  auto engine = engines_->Reload();
  if (log_) {
    if (engine.ok()) {
      log_(absl::StrCat("callguard-server: policies reloaded (", trigger, "): generation ",
                        (*engine)->generation(), ", policies: ", DescribePolicies(**engine)));
    } else {
      log_(absl::StrCat("callguard-server: ", engine.status().message(), " (", trigger, ")"));
    }
  }
  return engine;
}

grpc::ServerUnaryReactor* PolicyAdminService::ListPolicies(grpc::CallbackServerContext* context,
                                                           const v1::ListPoliciesRequest* /*request*/,
                                                           v1::ListPoliciesResponse* response) {
  std::shared_ptr<const Engine> engine = engines_->Current();
  for (v1::PolicyInfo& info : engine->PolicyInfos()) *response->add_policies() = std::move(info);
  response->set_snapshot_generation(engine->generation());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* PolicyAdminService::ReloadPolicies(grpc::CallbackServerContext* context,
                                                             const v1::ReloadPoliciesRequest* /*request*/,
                                                             v1::ReloadPoliciesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto engine = reloader_->Reload("ReloadPolicies RPC");
  if (!engine.ok()) {
    reactor->Finish(ToGrpcStatus(engine.status()));
    return reactor;
  }
  for (v1::PolicyInfo& info : (*engine)->PolicyInfos()) *response->add_policies() = std::move(info);
  response->set_snapshot_generation((*engine)->generation());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace callguard
