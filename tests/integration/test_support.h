#ifndef CALLGUARD_TESTS_INTEGRATION_TEST_SUPPORT_H_
#define CALLGUARD_TESTS_INTEGRATION_TEST_SUPPORT_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
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

// A CallGuard bidi stream whose answers a background thread collects, so a test waits for each
// with a bound (20 s: a hang guard, not a timing assertion) instead of blocking forever, and can
// cut the stream as a broken network would.
template <typename Request, typename Response>
class BackgroundStream {
 public:
  using Stream = grpc::ClientReaderWriter<Request, Response>;
  using Opener = std::function<std::unique_ptr<Stream>(v1::CallGuard::Stub*, grpc::ClientContext*)>;

  BackgroundStream(const std::shared_ptr<grpc::Channel>& channel, const Opener& open)
      : stub_(v1::CallGuard::NewStub(channel)) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stream_ = open(stub_.get(), &context_);
    reader_ = std::thread([this] {
      Response answer;
      while (stream_->Read(&answer)) {
        absl::MutexLock lock(&mu_);
        answers_.push_back(answer);
      }
      absl::MutexLock lock(&mu_);
      done_ = true;
    });
  }
  ~BackgroundStream() {
    if (finished_) return;
    context_.TryCancel();
    reader_.join();
    (void)stream_->Finish();
  }

  bool Write(const Request& request) { return stream_->Write(request); }
  // The next answer, or nullopt if the stream ended or nothing came within the bound.
  std::optional<Response> Next() {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !answers_.empty() || done_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(20));
    if (answers_.empty()) return std::nullopt;
    Response answer = std::move(answers_.front());
    answers_.pop_front();
    return answer;
  }
  void Cut() { context_.TryCancel(); }
  // Whether the server ended the stream (within the bound).
  bool WaitDone() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(20));
  }
  // Closes our side; returns what came before the server finished, and its status.
  grpc::Status CloseAndFinish(std::vector<Response>* remaining) {
    stream_->WritesDone();
    reader_.join();  // it stops when the server has finished
    finished_ = true;
    {
      absl::MutexLock lock(&mu_);
      remaining->assign(answers_.begin(), answers_.end());
      answers_.clear();
    }
    return stream_->Finish();
  }

 private:
  std::unique_ptr<v1::CallGuard::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  std::thread reader_;
  bool finished_ = false;
  absl::Mutex mu_;
  std::deque<Response> answers_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// Polls a server-side condition until it holds: the server notices a cut stream on its own
// threads. Bounded (20 s); not a timing assertion.
bool Eventually(const std::function<bool()>& condition);

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
