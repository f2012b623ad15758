#ifndef CALLGUARD_DASHBOARD_DASHBOARD_API_H_
#define CALLGUARD_DASHBOARD_DASHBOARD_API_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "alert_store.h"
#include "callguard/v1/supervisor.pb.h"
#include "http_util.h"
#include "metrics.h"
#include "watch_hub.h"

namespace callguard::dashboard {

// What the HTTP layer hands over: nothing of Beast leaks past dashboard_server.cc, so this
// logic compiles fast and reads as plain C++.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string content_type;
  std::string last_event_id;  // the Last-Event-ID header of a reconnecting EventSource
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type and length
};

// Where an event stream stands: the last alert and acknowledgement sequences it delivered.
// It is each event's SSE id, "ALERT:ACK", so a reconnecting EventSource (Last-Event-ID)
// resumes both exactly: no gap, no duplicate.
struct EventCursor {
  uint64_t alert_sequence = 0;
  uint64_t ack_sequence = 0;

  std::string ToId() const;
  // "A:K", or a bare "A" (acknowledgements then resume from `default_ack`).
  static absl::StatusOr<EventCursor> FromId(absl::string_view id, uint64_t default_ack);
};

// An /api/events request, parsed.
struct EventStreamRequest {
  v1::WatchRequest watch;  // after_sequence and after_ack_sequence always set
  EventCursor cursor;      // the same two sequences
};

// Formats each WatchEvent of a stream as a Server-Sent Event and moves the cursor.
class EventStreamFormatter {
 public:
  explicit EventStreamFormatter(EventCursor cursor) : cursor_(cursor) {}
  // The SSE text of `event`. Sets `*last` if the stream must end after it (fell behind).
  std::string Format(const v1::WatchEvent& event, bool* last);
  // The first bytes of a stream: the reconnect delay and a "ready" event with the cursor.
  std::string Preamble() const;
  const EventCursor& cursor() const { return cursor_; }

 private:
  EventCursor cursor_;
};

// Lists calls in progress; by default the store's ListActiveCalls.
using ActiveCallsSource = std::function<absl::StatusOr<v1::ListActiveCallsResponse>(
    const v1::ListActiveCallsRequest&)>;

// Every route of the dashboard except the event stream's transport: pages, assets, the JSON
// API, /healthz and /metrics. Thread-safe (it keeps no state of its own).
class DashboardApi {
 public:
  struct Options {
    AlertStore* store = nullptr;          // required; not owned
    WatchHub* hub = nullptr;              // optional; without it /api/events answers 503
    MetricsRegistry* metrics = nullptr;   // optional; not owned
    ActiveCallsSource active_calls;       // default: store->ListActiveCalls
    std::function<absl::Time()> clock;    // default absl::Now; /api/stats's "last N hours"
  };

  explicit DashboardApi(Options options);

  // Whether the request is for /api/events, which the server streams itself.
  static bool IsEventStream(const HttpRequest& request);
  // Validates an /api/events request and fixes its starting cursor: Last-Event-ID first (a
  // reconnect), then after_sequence / after_ack_sequence, else "from now".
  absl::StatusOr<EventStreamRequest> ParseEventStream(const HttpRequest& request) const;

  // Answers any other request.
  HttpResponse Handle(const HttpRequest& request) const;

  // A JSON error response for `status`: `http_status`, or 4xx/5xx by the status code if 0.
  static HttpResponse Error(const absl::Status& status, int http_status = 0);

  WatchHub* hub() const { return options_.hub; }
  MetricsRegistry* metrics() const { return options_.metrics; }

 private:
  HttpResponse Page(absl::string_view asset) const;
  HttpResponse Asset(absl::string_view name) const;
  HttpResponse Health() const;
  HttpResponse Metrics() const;
  absl::StatusOr<HttpResponse> ListAlerts(const QueryParams& query) const;
  absl::StatusOr<HttpResponse> GetAlert(absl::string_view sequence) const;
  absl::StatusOr<HttpResponse> Acknowledge(absl::string_view sequence,
                                           const HttpRequest& request) const;
  absl::StatusOr<HttpResponse> ListCalls(const QueryParams& query) const;
  absl::StatusOr<HttpResponse> GetCall(absl::string_view call_id) const;
  absl::StatusOr<HttpResponse> Stats(const QueryParams& query) const;

  Options options_;
};

}  // namespace callguard::dashboard

#endif  // CALLGUARD_DASHBOARD_DASHBOARD_API_H_
