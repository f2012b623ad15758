#include "server_main.h"

#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "callguard_server.h"
#include "google/protobuf/stubs/logging.h"
#include "server_config.h"

namespace callguard {
namespace {

// The service answers every event with invalid UTF-8 itself (GuardEvent.error); protobuf's own
// log line for each would let one bad client flood the log.
void ProtobufLog(google::protobuf::LogLevel level, const char* filename, int line, const std::string& message) {
  if (absl::StrContains(message, "invalid UTF-8")) return;
  std::cerr << "[libprotobuf " << filename << ":" << line << "] " << message << std::endl;
}

}  // namespace

int RunServerMain(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::cout << ServerUsage();
      return 0;
    }
  }
  auto config = ServerConfigFromArgs(args);
  if (!config.ok()) {
    std::cerr << "callguard-server: " << config.status().message() << "\n" << ServerUsage();
    return 2;
  }

  google::protobuf::SetLogHandler(&ProtobufLog);
  // The distribution's Abseil is built with its debug-only deadlock detector on: a global
  // lock and graph update on every mutex acquisition, which costs latency and memory per call.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Blocked before gRPC starts its threads, so only the signal thread below ever sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  CallguardServer::Options options;
  options.config = *config;
  auto server = CallguardServer::Start(std::move(options));
  if (!server.ok()) {
    std::cerr << "callguard-server: " << server.status().message() << std::endl;
    return 1;
  }
  CallguardServer& running = **server;
  std::cout << running.ReadyLine() << std::endl;

  std::thread signal_thread([&running, signals] {
    for (;;) {
      int signal_number = 0;
      if (sigwait(&signals, &signal_number) != 0) continue;
      if (signal_number == SIGHUP) {
        (void)running.reloader().Reload("SIGHUP");
        continue;
      }
      std::cerr << "callguard-server: " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
                << ", shutting down" << std::endl;
      running.Shutdown();
      return;
    }
  });
  running.Wait();
  signal_thread.join();
  return 0;
}

}  // namespace callguard
