#ifndef CALLGUARD_DASHBOARD_DASHBOARD_SERVER_H_
#define CALLGUARD_DASHBOARD_DASHBOARD_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "alert_store.h"
#include "dashboard_api.h"
#include "metrics.h"
#include "watch_hub.h"

namespace callguard {

// The supervisors' web dashboard: HTTP/1.1 on its own port, with the pages and scripts compiled
// into the binary (no files, no CDN, no internet).
//
//   /                 live alert feed (Server-Sent Events), filters, acknowledge
//   /calls            calls in progress
//   /calls/{id}       one call's timeline with the evidence highlighted
//   /charts           alerts per kind and per agent over the last hours
//   /api/alerts       GET: history (filters, paging); /api/alerts/{seq}; POST /api/alerts/{seq}/ack
//   /api/calls        GET: active calls; /api/calls/{id}: a call's timeline
//   /api/stats        GET: alert counts per time bucket, kind and agent
//   /api/events       Server-Sent Events: new alerts and acknowledgements, resumable
//   /healthz, /metrics (Prometheus text format)
//   Options::extra_routes  another component's routes on the same port (the webhook, /v1/)
//
// The dashboard has no login of its own: bind it to loopback or a trusted network (or put it
// behind a proxy that authenticates). The store, hub and metrics must outlive the server.
class DashboardServer {
 public:
  // Requests whose path starts with `path_prefix` go to `handle` instead of the dashboard. It
  // runs on an io thread, so it must answer promptly. A request under the prefix whose body
  // exceeds max_body_bytes() is not read: `body_too_large` answers it (with the request's
  // method, target and content type, and an empty body), or the dashboard's own 413 if unset.
  struct ExtraRoutes {
    std::string path_prefix;  // e.g. "/v1/"; empty: no extra routes
    std::function<dashboard::HttpResponse(const dashboard::HttpRequest&)> handle;
    std::function<dashboard::HttpResponse(const dashboard::HttpRequest&)> body_too_large;
  };

  // The largest request body read, for every route (64 KiB).
  static size_t max_body_bytes();

  struct Options {
    std::string listen_address = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
    AlertStore* store = nullptr;         // required; not owned
    WatchHub* hub = nullptr;             // live events; without it /api/events answers 503
    MetricsRegistry* metrics = nullptr;  // for /metrics; optional; not owned
    dashboard::ActiveCallsSource active_calls;  // default: store->ListActiveCalls
    std::function<absl::Time()> clock;          // default absl::Now
    int io_threads = 2;
    // An idle event stream gets a comment this often, so proxies keep it open and a vanished
    // browser is noticed.
    absl::Duration event_keepalive = absl::Seconds(15);
    // A keep-alive connection with no request for this long is closed.
    absl::Duration idle_timeout = absl::Seconds(60);
    // Routes another component serves on this port (the dialers' webhook under /v1/), so the
    // dashboard needs no knowledge of calls or the engine. Optional.
    ExtraRoutes extra_routes;
  };

  // Validates the options and binds the port (so port() is known), without serving yet.
  // INVALID_ARGUMENT for bad options, UNAVAILABLE if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<DashboardServer>> Create(Options options);
  ~DashboardServer();  // Shutdown()
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // Starts accepting connections on the io threads. FAILED_PRECONDITION if already started or
  // shut down.
  absl::Status Start();
  // Stops accepting, closes every connection and event stream, joins the threads. Idempotent.
  void Shutdown();

  int port() const;
  // HOST:PORT with the port actually bound, e.g. "127.0.0.1:8080".
  const std::string& address() const;
  // "http://127.0.0.1:8080/"
  std::string url() const;

 private:
  struct Impl;
  explicit DashboardServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace callguard

#endif  // CALLGUARD_DASHBOARD_DASHBOARD_SERVER_H_
