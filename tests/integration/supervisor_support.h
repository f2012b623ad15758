#ifndef CALLGUARD_TESTS_INTEGRATION_SUPERVISOR_SUPPORT_H_
#define CALLGUARD_TESTS_INTEGRATION_SUPERVISOR_SUPPORT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "callguard/v1/supervisor.grpc.pb.h"
#include "callguard_server.h"
#include "grpcpp/grpcpp.h"
#include "test_support.h"

namespace callguard::testing {

struct StoreServerSetup {
  std::string db_path;                     // required
  std::string policy_dir = TestPolicyDir();
  size_t watch_buffer_events = 0;          // 0: the server's default
  std::string http_listen;                 // the dashboard's HOST:PORT; empty: none
};

// The body of GET `path` from an HTTP/1.1 server at HOST:PORT (empty on failure), and its
// status code in `status`.
std::string HttpGet(const std::string& address, const std::string& path, int* status);

// The real server on 127.0.0.1:0 in this process, with its alert store in `db_path`.
std::unique_ptr<CallguardServer> StartServerWithStore(const StoreServerSetup& setup);

// One Supervisor.WatchAlerts stream. Reads block; the stream's deadline guards against a
// hung test.
class WatchStream {
 public:
  WatchStream(const std::shared_ptr<grpc::Channel>& channel, const v1::WatchRequest& request);
  ~WatchStream();

  std::optional<v1::WatchEvent> Next();
  // Reads up to and including the CaughtUp; returns the alerts replayed before it.
  std::vector<v1::StoredAlert> UntilCaughtUp();
  // Reads until `count` alerts arrived (other events are kept in `others` if given).
  std::vector<v1::StoredAlert> Alerts(size_t count, std::vector<v1::WatchEvent>* others = nullptr);
  // Cancels the stream and returns its final status.
  grpc::Status Cancel();
  // Reads to the end and returns the final status.
  grpc::Status Finish(std::vector<v1::WatchEvent>* rest = nullptr);

 private:
  std::unique_ptr<v1::Supervisor::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  bool finished_ = false;
};

v1::WatchRequest WatchAfter(uint64_t sequence);
std::vector<uint64_t> SequencesOf(const std::vector<v1::StoredAlert>& alerts);
std::vector<uint64_t> SequenceRange(uint64_t first, uint64_t last);

// The CallStart of StartEvent, for another agent (and team).
v1::CallEvent StartEventFor(const std::string& call_id, const std::string& agent_id,
                            const std::string& team = "", const std::string& policy = "test-en");

}  // namespace callguard::testing

#endif  // CALLGUARD_TESTS_INTEGRATION_SUPERVISOR_SUPPORT_H_
