#include "callguard_server.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "grpcpp/health_check_service_interface.h"
#include "server_config.h"
#include "server_transport.h"
#include "sqlite_alert_store.h"
#include "webhook_ingest.h"

namespace callguard {
namespace {

absl::Duration DefaultSweepInterval(absl::Duration idle_timeout) {
  return std::clamp(idle_timeout / 10, absl::Milliseconds(100), absl::Seconds(10));
}

void LogToStderr(const std::string& line) { std::cerr << line << std::endl; }

absl::StatusOr<std::unique_ptr<AlertStore>> OpenStore(const v1::ServerConfig& config,
                                                      absl::Time now,
                                                      const PolicyReloader::LogFn& log) {
  const std::filesystem::path path(config.db_path());
  if (path.has_parent_path()) {
    std::error_code ignored;  // if this fails, opening the file says why
    std::filesystem::create_directories(path.parent_path(), ignored);
  }
  SqliteAlertStore::Options options;
  options.path = config.db_path();
  options.retention_days = config.retention_days();
  options.commit_delay = absl::Milliseconds(config.store_commit_delay_ms());
  auto store = SqliteAlertStore::Create(std::move(options));
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("cannot open the alert store ", config.db_path(), ": ",
                                     store.status().message()));
  }
  // A crashed or killed run could not end its calls.
  absl::StatusOr<int> closed = (*store)->CloseOpenCalls("server restarted", now);
  if (!closed.ok()) {
    return absl::Status(closed.status().code(),
                        absl::StrCat("alert store ", config.db_path(), ": ", closed.status().message()));
  }
  if (*closed > 0) {
    log(absl::StrCat("alert store: ended ", *closed, " call(s) a previous run left open"));
  }
  return std::unique_ptr<AlertStore>(*std::move(store));
}

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
  server->metrics_ = std::make_unique<MetricsRegistry>();

  if (!config.db_path().empty()) {
    auto store = OpenStore(config, options.clock(), options.log);
    if (!store.ok()) return store.status();
    server->store_ = *std::move(store);
    WatchHub::Options hub_options;
    hub_options.store = server->store_.get();
    if (options.watch_buffer_events > 0) hub_options.max_buffered_events = options.watch_buffer_events;
    hub_options.on_batch_committed = [metrics = server->metrics_.get()](int rows, absl::Duration latency) {
      metrics->OnStoreBatch(rows, latency);
    };
    auto hub = WatchHub::Create(std::move(hub_options));
    if (!hub.ok()) return hub.status();
    server->hub_ = *std::move(hub);
    server->supervisor_service_ = std::make_unique<SupervisorService>(
        SupervisorService::Options{server->store_.get(), server->hub_.get()});
  }
  if (!config.http_listen().empty()) {
    // ValidateServerConfig made sure there is a store.
    DashboardServer::Options dashboard_options;
    dashboard_options.listen_address = config.http_listen();
    dashboard_options.store = server->store_.get();
    dashboard_options.hub = server->hub_.get();
    dashboard_options.metrics = server->metrics_.get();
    // The dialers' JSON webhook under /v1/ on the same port, on the same engine, registry and
    // store as Converse calls. The routes own it; it ends its open calls when the dashboard
    // goes, while the store still exists.
    WebhookIngest::Options webhook_options;
    webhook_options.engines = server->engines_.get();
    webhook_options.registry = server->registry_.get();
    webhook_options.store = server->store_.get();
    webhook_options.metrics = server->metrics_.get();
    webhook_options.clock = options.clock;
    webhook_options.limits.max_utterance_bytes = static_cast<size_t>(config.max_utterance_bytes());
    webhook_options.limits.max_call_id_bytes = static_cast<size_t>(config.max_call_id_bytes());
    webhook_options.max_body_bytes = DashboardServer::max_body_bytes();
    auto webhook = WebhookIngest::Create(std::move(webhook_options));
    if (!webhook.ok()) return webhook.status();
    dashboard_options.extra_routes = WebhookIngest::Routes(*std::move(webhook));
    auto dashboard = DashboardServer::Create(std::move(dashboard_options));
    if (!dashboard.ok()) {
      return absl::Status(dashboard.status().code(),
                          absl::StrCat("cannot serve the dashboard on ", config.http_listen(), ": ",
                                       dashboard.status().message()));
    }
    server->dashboard_ = *std::move(dashboard);
  }

  ConverseDeps deps;
  deps.engines = server->engines_.get();
  deps.registry = server->registry_.get();
  deps.limits.max_utterance_bytes = static_cast<size_t>(config.max_utterance_bytes());
  deps.limits.max_call_id_bytes = static_cast<size_t>(config.max_call_id_bytes());
  deps.clock = options.clock;
  deps.store = server->store_.get();
  deps.metrics = server->metrics_.get();
  deps.resume_grace = absl::Seconds(config.resume_grace_s());
  server->guard_service_ = std::make_unique<GuardService>(std::move(deps));
  server->admin_service_ =
      std::make_unique<PolicyAdminService>(server->engines_.get(), server->reloader_.get());

  grpc::ServerBuilder builder;
  ConfigureServerTransport(&builder);
  builder.AddListeningPort(config.listen(), grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->guard_service_.get());
  builder.RegisterService(server->admin_service_.get());
  if (server->supervisor_service_ != nullptr) {
    builder.RegisterService(server->supervisor_service_.get());
  }
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
  if (server->supervisor_service_ != nullptr) {
    health->SetServingStatus(v1::Supervisor::service_full_name(), true);
  }
  const std::string& listen = config.listen();
  server->address_ = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", server->port_);
  if (server->dashboard_ != nullptr) {
    if (absl::Status status = server->dashboard_->Start(); !status.ok()) return status;
  }
  return server;
}

CallguardServer::~CallguardServer() {
  Shutdown(absl::ZeroDuration());
  if (server_ != nullptr) server_->Wait();
  // Calls parked after a broken stream are ended while the store they record to exists.
  if (registry_ != nullptr) registry_->Close("server shut down");
}

std::string CallguardServer::ReadyLine() const {
  std::string line = absl::StrCat("callguard-server listening on ", address_, " (policies: ",
                                  DescribePolicies(*engines_->Current()));
  if (store_ != nullptr) absl::StrAppend(&line, "; alert store: ", config_.db_path());
  if (dashboard_ != nullptr) absl::StrAppend(&line, "; dashboard: ", dashboard_->url());
  absl::StrAppend(&line, ")");
  return line;
}

void CallguardServer::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_ || server_ == nullptr) return;
    shut_down_ = true;
  }
  server_->GetHealthCheckService()->SetServingStatus(false);
  // Watch streams never end by themselves: close them first, or they would use up the grace.
  if (hub_ != nullptr) hub_->Shutdown();
  if (dashboard_ != nullptr) dashboard_->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
}

void CallguardServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace callguard
