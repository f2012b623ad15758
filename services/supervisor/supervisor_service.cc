#include "supervisor_service.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace callguard {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// Names the request field an answer about it (unknown, already handled) is about.
absl::Status NameField(const absl::Status& status, absl::string_view field) {
  if (status.code() != absl::StatusCode::kNotFound &&
      status.code() != absl::StatusCode::kAlreadyExists) {
    return status;
  }
  if (absl::StartsWith(status.message(), absl::StrCat(field, ":"))) return status;
  return absl::Status(status.code(), absl::StrCat(field, ": ", status.message()));
}

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

// Streams one subscription. Driven from three sides: the hub's wakeup (a live event is ready),
// OnWriteDone (the previous message left) and OnCancel; Pump decides under the lock.
class WatchReactor : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  WatchReactor(WatchHub* hub, const v1::WatchRequest& request) {
    absl::StatusOr<std::unique_ptr<WatchHub::Subscription>> subscription = hub->Subscribe(request);
    if (!subscription.ok()) {
      {
        absl::MutexLock lock(&mu_);
        finished_ = true;
      }
      Finish(ToGrpc(subscription.status()));
      return;
    }
    subscription_ = *std::move(subscription);
    subscription_->SetWakeup([this] { Pump(); });
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) broken_ = true;
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      broken_ = true;
    }
    Pump();
  }

  void OnDone() override {
    // Waits for a wakeup under way; none runs after this.
    if (subscription_ != nullptr) subscription_->SetWakeup(nullptr);
    subscription_.reset();
    delete this;
  }

 private:
  void Pump() ABSL_LOCKS_EXCLUDED(mu_) {
    bool write = false;
    bool finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_) return;
      if (broken_) {
        finished_ = finish = true;
        status = grpc::Status(grpc::StatusCode::CANCELLED, "watcher went away");
      } else if (subscription_->TryNext(&writing_event_)) {
        writing_ = write = true;
      } else if (subscription_->Done()) {
        finished_ = finish = true;
        status = ToGrpc(subscription_->status());
      }
    }
    if (write) StartWrite(&writing_event_);
    if (finish) Finish(status);
  }

  std::unique_ptr<WatchHub::Subscription> subscription_;  // set before any Pump
  absl::Mutex mu_;
  v1::WatchEvent writing_event_ ABSL_GUARDED_BY(mu_);  // the message in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerWriteReactor<v1::WatchEvent>* SupervisorService::WatchAlerts(
    grpc::CallbackServerContext* context, const v1::WatchRequest* request) {
  return new WatchReactor(options_.hub, *request);
}

grpc::ServerUnaryReactor* SupervisorService::ListActiveCalls(
    grpc::CallbackServerContext* context, const v1::ListActiveCallsRequest* request,
    v1::ListActiveCallsResponse* response) {
  absl::StatusOr<v1::ListActiveCallsResponse> calls = options_.store->ListActiveCalls(*request);
  if (calls.ok()) *response = *std::move(calls);
  return FinishWith(context, calls.status());
}

grpc::ServerUnaryReactor* SupervisorService::GetCall(grpc::CallbackServerContext* context,
                                                     const v1::GetCallRequest* request,
                                                     v1::CallTimeline* response) {
  if (request->call_id().empty()) {
    return FinishWith(context, absl::InvalidArgumentError("call_id: required"));
  }
  absl::StatusOr<v1::CallTimeline> timeline = options_.store->GetCall(request->call_id());
  if (timeline.ok()) *response = *std::move(timeline);
  return FinishWith(context, NameField(timeline.status(), "call_id"));
}

grpc::ServerUnaryReactor* SupervisorService::ListAlerts(grpc::CallbackServerContext* context,
                                                        const v1::ListAlertsRequest* request,
                                                        v1::ListAlertsResponse* response) {
  absl::StatusOr<v1::ListAlertsResponse> alerts = options_.store->ListAlerts(*request);
  if (alerts.ok()) *response = *std::move(alerts);
  return FinishWith(context, alerts.status());
}

grpc::ServerUnaryReactor* SupervisorService::AcknowledgeAlert(
    grpc::CallbackServerContext* context, const v1::AcknowledgeAlertRequest* request,
    v1::Acknowledgement* response) {
  if (request->sequence() == 0) {
    return FinishWith(context, absl::InvalidArgumentError("sequence: required"));
  }
  if (request->supervisor().empty()) {
    return FinishWith(context, absl::InvalidArgumentError("supervisor: required"));
  }
  // Returns once durable; the hub has told the watchers by then.
  absl::StatusOr<v1::StoredAlert> stored =
      options_.store->Acknowledge(request->sequence(), request->supervisor(), request->note());
  if (stored.ok()) *response = stored->acknowledgement();
  return FinishWith(context, NameField(stored.status(), "sequence"));
}

grpc::ServerUnaryReactor* SupervisorService::GetAlertStats(grpc::CallbackServerContext* context,
                                                           const v1::AlertStatsRequest* request,
                                                           v1::AlertStatsResponse* response) {
  absl::StatusOr<v1::AlertStatsResponse> stats = options_.store->AlertStats(*request);
  if (stats.ok()) *response = *std::move(stats);
  return FinishWith(context, stats.status());
}

}  // namespace callguard
