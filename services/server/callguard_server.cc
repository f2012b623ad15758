#include "callguard_server.h"

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server_config.h"

namespace callguard {
namespace {

absl::Duration DefaultSweepInterval(absl::Duration idle_timeout) {
  return std::clamp(idle_timeout / 10, absl::Milliseconds(100), absl::Seconds(10));
}

void LogToStderr(const std::string& line) { std::cerr << line << std::endl; }

}  // namespace

absl::StatusOr<std::unique_ptr<CallguardServer>> CallguardServer::Start(Options options) {
  v1::ServerConfig config = WithDefaults(std::move(options.config));
  if (absl::Status status = ValidateServerConfig(config); !status.ok()) return status;
  if (!options.clock) options.clock = [] { return absl::Now(); };
  if (!options.log) options.log = LogToStderr;

  std::unique_ptr<CallguardServer> server(new CallguardServer());
  server->config_ = config;
  auto engines = EngineHolder::Create(config.policies_dir());
  if (!engines.ok()) {
    return absl::Status(engines.status().code(),
                        absl::StrCat("cannot load policies from ", config.policies_dir(), ": ",
                                     engines.status().message()));
  }
  server->engines_ = *std::move(engines);

  const absl::Duration idle_timeout = absl::Seconds(config.idle_timeout_s());
  CallRegistry::Options registry_options;
  registry_options.idle_timeout = idle_timeout;
  registry_options.max_active_calls = static_cast<size_t>(config.max_active_calls());
  registry_options.clock = options.clock;
  registry_options.sweep_interval = options.sweep_interval.value_or(DefaultSweepInterval(idle_timeout));
  server->registry_ = std::make_unique<CallRegistry>(std::move(registry_options));
  server->reloader_ = std::make_unique<PolicyReloader>(server->engines_.get(), options.log);

  ConverseDeps deps;
  deps.engines = server->engines_.get();
  deps.registry = server->registry_.get();
  deps.limits.max_utterance_bytes = static_cast<size_t>(config.max_utterance_bytes());
  deps.limits.max_call_id_bytes = static_cast<size_t>(config.max_call_id_bytes());
  deps.clock = options.clock;
  server->guard_service_ = std::make_unique<GuardService>(std::move(deps));
  server->admin_service_ =
      std::make_unique<PolicyAdminService>(server->engines_.get(), server->reloader_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Without this a second server could bind the same port and split the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Finds dialers that vanished without closing their streams.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder.AddListeningPort(config.listen(), grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->guard_service_.get());
  builder.RegisterService(server->admin_service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    if (server->server_ != nullptr) server->server_->Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen()));
  }
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(true);
  // Probes may ask per service as well as for the server as a whole ("").
  health->SetServingStatus(v1::CallGuard::service_full_name(), true);
  health->SetServingStatus(v1::PolicyAdmin::service_full_name(), true);
  const std::string& listen = config.listen();
  server->address_ = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", server->port_);
  return server;
}

CallguardServer::~CallguardServer() {
  Shutdown(absl::ZeroDuration());
  if (server_ != nullptr) server_->Wait();
}

std::string CallguardServer::ReadyLine() const {
  return absl::StrCat("callguard-server listening on ", address_, " (policies: ",
                      DescribePolicies(*engines_->Current()), ")");
}

void CallguardServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_ || server_ == nullptr) return;
    shut_down_ = true;
  }
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

void CallguardServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace callguard
