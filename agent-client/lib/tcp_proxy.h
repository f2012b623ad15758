#ifndef CALLGUARD_AGENT_CLIENT_LIB_TCP_PROXY_H_
#define CALLGUARD_AGENT_CLIENT_LIB_TCP_PROXY_H_

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace callguard::testing {

// A TCP forwarder on 127.0.0.1:0 to 127.0.0.1:upstream_port that a test can cut, to break a
// real connection the way a network fault does. Sever() resets every forwarded connection
// and refuses new ones (accepted, then closed at once) until Restore(). Test-only: one thread
// per direction per connection.
class TcpProxy {
 public:
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Create(int upstream_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void Sever() ABSL_LOCKS_EXCLUDED(mu_);
  void Restore() ABSL_LOCKS_EXCLUDED(mu_);
  // Connections forwarded so far (refused ones not counted).
  int forwarded_connections() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Link {
    int client_fd = -1;
    int upstream_fd = -1;
    std::thread up;
    std::thread down;
  };

  TcpProxy(int listen_fd, int port, int upstream_port)
      : listen_fd_(listen_fd), port_(port), upstream_port_(upstream_port) {}
  void AcceptLoop();
  static void Pump(int from, int to);
  static void Reset(Link& link);

  const int listen_fd_;
  const int port_;
  const int upstream_port_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable absl::Mutex mu_;
  bool severed_ ABSL_GUARDED_BY(mu_) = false;
  int forwarded_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<Link>> links_ ABSL_GUARDED_BY(mu_);
};

}  // namespace callguard::testing

#endif  // CALLGUARD_AGENT_CLIENT_LIB_TCP_PROXY_H_
