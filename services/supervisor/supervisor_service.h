#ifndef CALLGUARD_SUPERVISOR_SUPERVISOR_SERVICE_H_
#define CALLGUARD_SUPERVISOR_SUPERVISOR_SERVICE_H_

#include "alert_store.h"
#include "callguard/v1/supervisor.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "watch_hub.h"

namespace callguard {

// callguard.v1.Supervisor on the callback API: live alerts from the WatchHub, everything else
// from the AlertStore. Errors name the field at fault ("page_token: ...", "sequence: ...").
class SupervisorService final : public v1::Supervisor::CallbackService {
 public:
  struct Options {
    AlertStore* store = nullptr;  // not owned; outlives the service
    WatchHub* hub = nullptr;      // not owned; outlives the service
  };

  explicit SupervisorService(Options options) : options_(options) {}

  // One subscription per stream, one message in flight at a time: the hub's bounded buffer is
  // the only queue, so a client that stops reading falls behind instead of growing memory.
  grpc::ServerWriteReactor<v1::WatchEvent>* WatchAlerts(grpc::CallbackServerContext* context,
                                                        const v1::WatchRequest* request) override;
  grpc::ServerUnaryReactor* ListActiveCalls(grpc::CallbackServerContext* context,
                                            const v1::ListActiveCallsRequest* request,
                                            v1::ListActiveCallsResponse* response) override;
  grpc::ServerUnaryReactor* GetCall(grpc::CallbackServerContext* context,
                                    const v1::GetCallRequest* request,
                                    v1::CallTimeline* response) override;
  grpc::ServerUnaryReactor* ListAlerts(grpc::CallbackServerContext* context,
                                       const v1::ListAlertsRequest* request,
                                       v1::ListAlertsResponse* response) override;
  grpc::ServerUnaryReactor* AcknowledgeAlert(grpc::CallbackServerContext* context,
                                             const v1::AcknowledgeAlertRequest* request,
                                             v1::Acknowledgement* response) override;
  grpc::ServerUnaryReactor* GetAlertStats(grpc::CallbackServerContext* context,
                                          const v1::AlertStatsRequest* request,
                                          v1::AlertStatsResponse* response) override;

 private:
  const Options options_;
};

}  // namespace callguard

#endif  // CALLGUARD_SUPERVISOR_SUPERVISOR_SERVICE_H_
