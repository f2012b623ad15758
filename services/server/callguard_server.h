#ifndef CALLGUARD_SERVER_CALLGUARD_SERVER_H_
#define CALLGUARD_SERVER_CALLGUARD_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alert_store.h"
#include "call_registry.h"
#include "callguard/v1/config.pb.h"
#include "dashboard_server.h"
#include "engine_holder.h"
#include "grpcpp/grpcpp.h"
#include "guard_service.h"
#include "metrics.h"
#include "policy_admin_service.h"
#include "supervisor_service.h"
#include "watch_hub.h"

namespace callguard {

// The whole gRPC server: CallGuard, PolicyAdmin, health and reflection on one port, and with an
// alert store (config.db_path) the Supervisor service too, and the web dashboard on its own
// port (config.http_listen). The binary runs one; tests start one in-process on 127.0.0.1:0.
class CallguardServer {
 public:
  struct Options {
    v1::ServerConfig config;             // unset fields take their defaults
    std::function<absl::Time()> clock;   // default absl::Now; calls and the idle sweep use it
    // How often idle calls are swept. Default: a tenth of the idle timeout, within [0.1 s, 10 s].
    // Zero: no background sweep (tests call registry().SweepIdle() with a fake clock).
    std::optional<absl::Duration> sweep_interval;
    PolicyReloader::LogFn log;           // default: one line on stderr
    // Events buffered per supervisor watcher before it is told it fell behind; 0: the hub's
    // default (4096).
    size_t watch_buffer_events = 0;
  };

  // Loads the policies (refusing to start if any file fails to parse or compile: the status
  // names the file, line and reason), opens the alert store if config.db_path names one
  // (creating its folder; calls a crashed run left open are closed), binds both ports, and
  // starts serving.
  static absl::StatusOr<std::unique_ptr<CallguardServer>> Start(Options options);
  ~CallguardServer();  // shuts down without grace
  CallguardServer(const CallguardServer&) = delete;
  CallguardServer& operator=(const CallguardServer&) = delete;

  int port() const { return port_; }
  // HOST:PORT with the port actually bound.
  const std::string& address() const { return address_; }
  // "callguard-server listening on 127.0.0.1:50051 (policies: cn-collection 1.0, us-fdcpa 1.0;
  // alert store: PATH; dashboard: http://127.0.0.1:8080/)"
  std::string ReadyLine() const;
  const v1::ServerConfig& config() const { return config_; }

  EngineHolder& engines() { return *engines_; }
  CallRegistry& registry() { return *registry_; }
  PolicyReloader& reloader() { return *reloader_; }
  // Null without config.db_path.
  AlertStore* store() { return store_.get(); }
  WatchHub* hub() { return hub_.get(); }
  MetricsRegistry& metrics() { return *metrics_; }
  // Null without config.http_listen.
  DashboardServer* dashboard() { return dashboard_.get(); }

  // Ends the supervisors' streams (they resume by sequence), stops taking calls, lets live
  // ones run for `grace`, then cancels them. Idempotent. Queued store writes are committed
  // when the server is destroyed.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // Blocks until the server has shut down.
  void Wait();

 private:
  CallguardServer() = default;

  v1::ServerConfig config_;
  std::string address_;
  int port_ = 0;
  // Declared in dependency order: destroyed server first, engines last.
  std::unique_ptr<EngineHolder> engines_;
  std::unique_ptr<CallRegistry> registry_;
  std::unique_ptr<PolicyReloader> reloader_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<AlertStore> store_;  // outlives every stream that writes to it
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<GuardService> guard_service_;
  std::unique_ptr<PolicyAdminService> admin_service_;
  std::unique_ptr<SupervisorService> supervisor_service_;
  std::unique_ptr<DashboardServer> dashboard_;
  std::unique_ptr<grpc::Server> server_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CALLGUARD_SERVER_H_
