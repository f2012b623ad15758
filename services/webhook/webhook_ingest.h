#ifndef CALLGUARD_WEBHOOK_WEBHOOK_INGEST_H_
#define CALLGUARD_WEBHOOK_WEBHOOK_INGEST_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alert_store.h"
#include "call_recorder.h"
#include "call_registry.h"
#include "call_session.h"
#include "dashboard_api.h"
#include "dashboard_server.h"
#include "engine_holder.h"
#include "metrics.h"

namespace callguard {

// Calls fed by HTTP POSTs instead of a Converse stream, for dialers and speech services that can
// only send one JSON document per transcript segment:
//
//   POST /v1/calls/{call_id}:start        callguard.v1.CallStart    -> {callId, policyId, ...}
//   POST /v1/calls/{call_id}/utterances   callguard.v1.Utterance    -> callguard.v1.Verdict
//   POST /v1/calls/{call_id}/party        callguard.v1.PartyUpdate  -> {callId, party, ...}
//   POST /v1/calls/{call_id}:end          callguard.v1.CallEnd      -> callguard.v1.CallSummary
//
// Bodies and answers are the protobuf JSON mapping. Each call runs on the same engine, call
// registry (id uniqueness, the active-call cap, the idle sweep) and recording (alert store,
// metrics, supervisors' feed) as a Converse call, so both kinds are judged and stored alike.
// Errors answer with an HTTP status and {"code": "INVALID_ARGUMENT", "message": ..., "field":
// "utterance.text"}, the code, message and field a Converse stream would send for the same
// event. Transport-free: the dashboard's HTTP server hands requests to Handle().
//
// Thread-safe. Each call has its own lock: POSTs to one call are judged one at a time, in the
// order they take the lock; different calls run in parallel. No authentication (like gRPC).
class WebhookIngest {
 public:
  // The routes' common prefix; the HTTP server sends every target under it here.
  static constexpr absl::string_view kPathPrefix = "/v1/";
  // The documented largest request body.
  static constexpr size_t kDefaultMaxBodyBytes = 64 * 1024;
  // Ended call ids remembered, so a late event hears why its call is gone.
  static constexpr size_t kRememberedEndedCalls = 1024;

  struct Options {
    EngineHolder* engines = nullptr;     // required; not owned
    CallRegistry* registry = nullptr;    // required; not owned
    AlertStore* store = nullptr;         // optional; not owned
    MetricsRegistry* metrics = nullptr;  // optional; not owned
    std::function<absl::Time()> clock;   // default absl::Now
    CallLimits limits;                   // the same as the Converse calls'
    size_t max_body_bytes = kDefaultMaxBodyBytes;
  };

  static absl::StatusOr<std::unique_ptr<WebhookIngest>> Create(Options options);
  // Ends the calls still open (reason "server shutting down"), recording their ends.
  ~WebhookIngest();
  WebhookIngest(const WebhookIngest&) = delete;
  WebhookIngest& operator=(const WebhookIngest&) = delete;

  // Answers one request. `target` is the path and query as sent; the query is ignored.
  dashboard::HttpResponse Handle(absl::string_view method, absl::string_view target,
                                 absl::string_view content_type, absl::string_view body)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The 413 answer for a request whose body the transport refused to read.
  dashboard::HttpResponse BodyTooLarge() const;

  size_t open_calls() const ABSL_LOCKS_EXCLUDED(mu_);

  // The dashboard server's extra routes for `ingest` (which they keep alive).
  static DashboardServer::ExtraRoutes Routes(std::shared_ptr<WebhookIngest> ingest);

 private:
  // One webhook call: what a ConverseReactor keeps for its stream.
  struct Call {
    Call(std::string id, const Options& options)
        : call_id(std::move(id)), recorder(options.store, options.metrics, &options.clock) {}

    const std::string call_id;
    absl::Mutex mu;
    CallRegistry::Ticket ticket ABSL_GUARDED_BY(mu) = 0;
    std::unique_ptr<CallSession> session ABSL_GUARDED_BY(mu);  // null once the call ended
    CallRecorder recorder ABSL_GUARDED_BY(mu);
  };

  explicit WebhookIngest(Options options);

  dashboard::HttpResponse Start(const std::string& call_id, absl::string_view body)
      ABSL_LOCKS_EXCLUDED(mu_);
  dashboard::HttpResponse Utterance(const std::string& call_id, absl::string_view body)
      ABSL_LOCKS_EXCLUDED(mu_);
  dashboard::HttpResponse Party(const std::string& call_id, absl::string_view body)
      ABSL_LOCKS_EXCLUDED(mu_);
  dashboard::HttpResponse End(const std::string& call_id, absl::string_view body)
      ABSL_LOCKS_EXCLUDED(mu_);

  // What the utterance, party and end routes share: parse the body as an `Event` (errors name
  // `field`), find the open call, and run `handle(call, event)` under the call's lock.
  template <typename Event, typename Fn>
  dashboard::HttpResponse OnOpenCall(const std::string& call_id, absl::string_view body,
                                     absl::string_view field, Fn handle) ABSL_LOCKS_EXCLUDED(mu_);

  // The open call, or the NOT_FOUND status saying it never started or why it ended.
  absl::StatusOr<std::shared_ptr<Call>> Find(const std::string& call_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends `call`'s session (its lock held), records the end and forgets the call.
  v1::CallSummary EndLocked(Call& call, absl::string_view reason, bool unregister)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(call.mu) ABSL_LOCKS_EXCLUDED(mu_);
  void OnIdle(const std::weak_ptr<Call>& weak_call) ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Call>> calls_ ABSL_GUARDED_BY(mu_);
  // Why each recently ended call ended, and the order they ended in (bounded).
  struct Ended {
    std::string reason;
    uint64_t serial = 0;
  };
  absl::flat_hash_map<std::string, Ended> ended_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::string, uint64_t>> ended_order_ ABSL_GUARDED_BY(mu_);
  uint64_t next_serial_ ABSL_GUARDED_BY(mu_) = 1;
  // Lets the registry's idle callbacks reach this object only while it exists.
  struct IdleHandle {
    absl::Mutex mu;
    WebhookIngest* ingest ABSL_GUARDED_BY(mu) = nullptr;
  };
  const std::shared_ptr<IdleHandle> idle_handle_;
};

// Helpers of the JSON mapping, exposed for tests.
namespace webhook {

// The message of `json` as a `prefix` event ("utterance"). Errors are INVALID_ARGUMENT naming
// the field: "utterance.text" for text that is not UTF-8 (the same message a Converse stream
// gives), "utterance.speaker" for a value of the wrong type, "utterance.bogus" for an unknown
// member, "utterance" for malformed JSON. An empty (or blank) body is `{}`.
absl::Status ParseJsonEvent(absl::string_view json, absl::string_view prefix,
                            google::protobuf::Message* message);

// {"code": "INVALID_ARGUMENT", "message": ..., "field": ...} (field left out if none).
std::string ErrorBody(const absl::Status& status, absl::string_view field);

}  // namespace webhook

}  // namespace callguard

#endif  // CALLGUARD_WEBHOOK_WEBHOOK_INGEST_H_
