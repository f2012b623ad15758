#ifndef CALLGUARD_TESTS_INTEGRATION_TEST_SUPPORT_H_
#define CALLGUARD_TESTS_INTEGRATION_TEST_SUPPORT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "callguard/v1/guard.grpc.pb.h"
#include "callguard_server.h"
#include "grpcpp/grpcpp.h"

namespace callguard::testing {

// The small policies of these tests (test-en, test-zh) and the shipped ones.
std::string TestPolicyDir();

// A folder under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Copies every file of `from` into this folder.
  void CopyFrom(const std::string& from) const;

 private:
  std::string path_;
};

// Replaces the first occurrence of `from` in the file; fails the test if absent.
void ReplaceInFile(const std::string& path, const std::string& from, const std::string& to);
// 1-based line number of the first line containing `needle`, 0 if none.
int LineOf(const std::string& path, const std::string& needle);

// A clock the test moves by hand.
class FakeClock {
 public:
  absl::Time Now() ABSL_LOCKS_EXCLUDED(mu_);
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  std::function<absl::Time()> AsFunction() {
    return [this] { return Now(); };
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1767225600);
};

struct ServerSetup {
  std::string policy_dir = TestPolicyDir();
  FakeClock* clock = nullptr;  // if set: no background idle sweep
  int max_utterance_bytes = 0;
  int idle_timeout_s = 0;
  int resume_grace_s = -1;  // -1: the server's default
};

// The real server on 127.0.0.1:0 in this process; fails the test if it cannot start.
std::unique_ptr<CallguardServer> StartServer(const ServerSetup& setup = {});
std::shared_ptr<grpc::Channel> ChannelTo(const CallguardServer& server);

// One Converse stream through the generated stub.
class ConverseClient {
 public:
  explicit ConverseClient(const std::shared_ptr<grpc::Channel>& channel);
  ~ConverseClient();

  bool Send(const v1::CallEvent& event);
  std::optional<v1::GuardEvent> Read();
  // Every answer to the events sent so far: sends a marker (an empty CallEvent, which the
  // server always answers with exactly one error on field "event") and returns what came
  // before its answer. Answers come back in event order, so this is exact, not a wait.
  std::vector<v1::GuardEvent> Drain();
  // Closes our side, reads what is left, returns the final status.
  grpc::Status CloseAndFinish(std::vector<v1::GuardEvent>* remaining = nullptr);
  // Reads what is left after the server finished on its own (after CallEnd).
  grpc::Status Finish(std::vector<v1::GuardEvent>* remaining = nullptr);

 private:
  std::unique_ptr<v1::CallGuard::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::CallEvent, v1::GuardEvent>> stream_;
  bool finished_ = false;
};

// Event builders.
v1::CallEvent StartEvent(const std::string& call_id, const std::string& policy = "test-en");
v1::CallEvent UtteranceEvent(const std::string& id, v1::Speaker speaker, const std::string& text,
                             bool is_final = true);
v1::CallEvent PartyEvent(v1::Party party);
v1::CallEvent EndEvent(const std::string& reason);

// Filters.
std::vector<v1::Alert> AlertsIn(const std::vector<v1::GuardEvent>& events);
std::vector<v1::EventError> ErrorsIn(const std::vector<v1::GuardEvent>& events);

}  // namespace callguard::testing

#endif  // CALLGUARD_TESTS_INTEGRATION_TEST_SUPPORT_H_
