// callguard-echo-server: the transport floor for callguard-bench. The same proto, the same
// gRPC settings and threads (ConfigureServerTransport), the same callback API and raw
// ByteBuffer handling and bounded write queue as callguard-server's Converse, but no engine:
// every want_verdict utterance gets an empty Verdict, a CallEnd gets an empty summary.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "callguard/v1/guard.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "outbound_queue.h"
#include "server_transport.h"
#include "wire_codec.h"

namespace callguard::bench {
namespace {

class EchoReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  static constexpr size_t kMaxQueuedEvents = 32;  // as callguard-server

  EchoReactor() { StartRead(&read_buffer_); }

  void OnReadDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      if (ok) {
        HandleLocked(ByteBufferToString(read_buffer_));
      } else {
        flow_.finishing = true;
      }
      actions = PumpLocked(ok && !flow_.finishing);
    }
    Apply(actions);
  }

  void OnWriteDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      queue_.WriteDone();
      if (!ok) {
        flow_.broken = true;
        flow_.finishing = true;
        queue_.DropWaiting();
      }
      const bool resume = ResumeReadAfterWrite(queue_, flow_, kMaxQueuedEvents);
      actions = PumpLocked(resume);
    }
    Apply(actions);
  }

  void OnCancel() override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      if (flow_.finish_called) return;
      flow_.broken = true;
      flow_.finishing = true;
      actions = PumpLocked(false);
    }
    Apply(actions);
  }

  void OnDone() override { delete this; }

 private:
  using Actions = StreamActions;

  void HandleLocked(const std::string& wire) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    v1::CallEvent event;
    if (!ParseMessage(wire, &event).ok()) return;
    if (event.has_start()) {
      call_id_ = event.start().call_id();
    } else if (event.has_utterance() && event.utterance().want_verdict()) {
      v1::GuardEvent answer;
      v1::Verdict* verdict = answer.mutable_verdict();
      verdict->set_utterance_id(event.utterance().utterance_id());
      verdict->set_is_final(event.utterance().is_final());
      verdict->set_turn(turns_++);
      queue_.Push(MessageToByteBuffer(answer));
    } else if (event.has_end()) {
      v1::GuardEvent answer;
      answer.mutable_summary()->set_call_id(call_id_);
      answer.mutable_summary()->set_end_reason(event.end().reason());
      queue_.Push(MessageToByteBuffer(answer));
      flow_.finishing = true;
    }
  }

  Actions PumpLocked(bool want_read) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return PumpStream(queue_, flow_, want_read, kMaxQueuedEvents);
  }

  void Apply(const Actions& actions) {
    if (actions.write != nullptr) StartWrite(actions.write);
    if (actions.read) StartRead(&read_buffer_);
    if (actions.finish) Finish(actions.finish_status);
  }

  grpc::ByteBuffer read_buffer_;
  absl::Mutex mu_;
  std::string call_id_ ABSL_GUARDED_BY(mu_);
  int32_t turns_ ABSL_GUARDED_BY(mu_) = 0;
  OutboundQueue queue_ ABSL_GUARDED_BY(mu_);
  StreamFlow flow_ ABSL_GUARDED_BY(mu_);
};

class EchoService final
    : public v1::CallGuard::WithRawCallbackMethod_Converse<
          v1::CallGuard::WithRawCallbackMethod_Check<v1::CallGuard::Service>> {
 public:
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Converse(grpc::CallbackServerContext*) override {
    return new EchoReactor();
  }
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context, const grpc::ByteBuffer*,
                                  grpc::ByteBuffer*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "the echo baseline only streams"));
    return reactor;
  }
};

int Main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  std::vector<std::pair<std::string, int>> channel_args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = i + 1 < argc ? std::string(argv[i + 1]).find('=') : std::string::npos;
    if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg == "--channel-arg" && eq != std::string::npos) {
      // For trying transport settings on the floor before changing callguard-server.
      const std::string kv = argv[++i];
      channel_args.emplace_back(kv.substr(0, eq), std::atoi(kv.c_str() + eq + 1));
    } else {
      std::cerr << "usage: callguard-echo-server [--listen HOST:PORT] [--channel-arg NAME=INT]...\n"
                   "  --listen defaults to 127.0.0.1:0; --channel-arg overrides a gRPC setting\n";
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as callguard-server
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  EchoService service;
  grpc::ServerBuilder builder;
  ConfigureServerTransport(&builder);
  for (const auto& [name, value] : channel_args) builder.AddChannelArgument(name, value);
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "callguard-echo-server: cannot listen on " << listen << "\n";
    return 1;
  }
  std::cout << "callguard-echo-server listening on " << listen.substr(0, listen.rfind(':')) << ":" << port
            << std::endl;
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace callguard::bench

int main(int argc, char** argv) { return callguard::bench::Main(argc, argv); }
