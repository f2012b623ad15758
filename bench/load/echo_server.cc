// callguard-echo-server: the transport floor for callguard-bench. The same proto, the same
// gRPC settings and threads (ConfigureServerTransport), the same callback API and raw
// ByteBuffer handling and bounded write queue as callguard-server's Converse and ConverseMany,
// but no engine: every want_verdict utterance gets an empty Verdict, a CallEnd gets an empty
// summary (on ConverseMany each wrapped with its call's id).
#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "callguard/v1/guard.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "outbound_queue.h"
#include "server_transport.h"
#include "wire_codec.h"

namespace callguard::bench {
namespace {

// What the floor remembers of one call: its id for the summary, its verdicts so far.
struct EchoCall {
  std::string call_id;
  int32_t turns = 0;
};

// The floor's answer to one event of `call`, if it gets one: an empty Verdict for a want_verdict
// utterance, a summary for the CallEnd. Returns whether `answer` was filled.
bool AnswerEvent(const v1::CallEvent& event, EchoCall& call, v1::GuardEvent* answer) {
  if (event.has_start()) {
    if (!event.start().call_id().empty()) call.call_id = event.start().call_id();
  } else if (event.has_utterance() && event.utterance().want_verdict()) {
    v1::Verdict* verdict = answer->mutable_verdict();
    verdict->set_utterance_id(event.utterance().utterance_id());
    verdict->set_is_final(event.utterance().is_final());
    verdict->set_turn(call.turns++);
    return true;
  } else if (event.has_end()) {
    answer->mutable_summary()->set_call_id(call.call_id);
    answer->mutable_summary()->set_end_reason(event.end().reason());
    return true;
  }
  return false;
}

// The stream half both RPCs share with callguard-server's reactors: one read at a time, the
// answers in a bounded write queue (reading pauses while it is full), the finish once a
// finishing stream has written everything. Subclasses only answer what they read.
class EchoReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  static constexpr size_t kMaxQueuedEvents = 32;  // as callguard-server

  // gRPC holds the read until the handler has returned the reactor, so the subclass is built.
  EchoReactor() { StartRead(&read_buffer_); }

  void OnReadDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      if (ok) {
        HandleLocked(ReceivedBytes(read_buffer_).view());
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

 protected:
  // Queues the answers to one message read; sets flow_.finishing to end the stream.
  virtual void HandleLocked(absl::string_view wire) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) = 0;

  absl::Mutex mu_;
  OutboundQueue queue_ ABSL_GUARDED_BY(mu_);
  StreamFlow flow_ ABSL_GUARDED_BY(mu_);

 private:
  using Actions = StreamActions;

  Actions PumpLocked(bool want_read) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return PumpStream(queue_, flow_, want_read, kMaxQueuedEvents);
  }

  void Apply(const Actions& actions) {
    if (actions.write != nullptr) StartWrite(actions.write);
    if (actions.read) StartRead(&read_buffer_);
    if (actions.finish) Finish(actions.finish_status);
  }

  grpc::ByteBuffer read_buffer_;
};

// Converse: one call; its CallEnd ends the stream.
class ConverseEcho final : public EchoReactor {
 private:
  void HandleLocked(absl::string_view wire) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) override {
    v1::CallEvent event;
    if (!ParseMessage(wire, &event).ok()) return;
    v1::GuardEvent answer;
    if (AnswerEvent(event, call_, &answer)) queue_.Push(MessageToByteBuffer(answer));
    if (event.has_end()) flow_.finishing = true;
  }

  EchoCall call_ ABSL_GUARDED_BY(mu_);
};

// ConverseMany: every event names its call and every answer says whose it is; a CallEnd ends
// only its call, the client's half-close ends the stream.
class ConverseManyEcho final : public EchoReactor {
 private:
  void HandleLocked(absl::string_view wire) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) override {
    v1::CallEventEnvelope envelope;
    if (!ParseMessage(wire, &envelope).ok()) return;
    EchoCall& call = calls_[envelope.call_id()];
    if (call.call_id.empty()) call.call_id = envelope.call_id();
    v1::GuardEventEnvelope answer;
    if (AnswerEvent(envelope.event(), call, answer.mutable_event())) {
      answer.set_call_id(envelope.call_id());
      queue_.Push(MessageToByteBuffer(answer));
    }
    if (envelope.event().has_end()) calls_.erase(envelope.call_id());
  }

  absl::flat_hash_map<std::string, EchoCall> calls_ ABSL_GUARDED_BY(mu_);
};

class EchoService final
    : public v1::CallGuard::WithRawCallbackMethod_Converse<v1::CallGuard::WithRawCallbackMethod_ConverseMany<
          v1::CallGuard::WithRawCallbackMethod_Check<v1::CallGuard::Service>>> {
 public:
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Converse(grpc::CallbackServerContext*) override {
    return new ConverseEcho();
  }
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ConverseMany(grpc::CallbackServerContext*) override {
    return new ConverseManyEcho();
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
