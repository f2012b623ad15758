#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace callguard::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Create(int upstream_port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return absl::InternalError(absl::StrCat("proxy listen: ", error));
  }
  std::unique_ptr<TcpProxy> proxy(new TcpProxy(fd, ntohs(addr.sin_port), upstream_port));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  Sever();
  ::close(listen_fd_);
}

void TcpProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    absl::MutexLock lock(&mu_);
    if (severed_) {
      ::close(client);  // the network is "down": the dialer's connect fails
      continue;
    }
    const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(upstream_port_);
    if (upstream < 0 || ::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (upstream >= 0) ::close(upstream);
      ::close(client);
      continue;
    }
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto link = std::make_unique<Link>();
    link->client_fd = client;
    link->upstream_fd = upstream;
    link->up = std::thread([client, upstream] { Pump(client, upstream); });
    link->down = std::thread([client, upstream] { Pump(upstream, client); });
    links_.push_back(std::move(link));
    ++forwarded_;
  }
}

void TcpProxy::Pump(int from, int to) {
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(from, buffer, sizeof(buffer));
    if (n <= 0) break;
    ssize_t written = 0;
    while (written < n) {
      const ssize_t w = ::send(to, buffer + written, static_cast<size_t>(n - written), MSG_NOSIGNAL);
      if (w <= 0) break;
      written += w;
    }
    if (written < n) break;
  }
  // One side gone: the whole connection is.
  ::shutdown(from, SHUT_RDWR);
  ::shutdown(to, SHUT_RDWR);
}

void TcpProxy::Reset(Link& link) {
  // Linger 0: close sends RST, as a dead network path or a restarted middlebox would.
  const linger abort{1, 0};
  for (int fd : {link.client_fd, link.upstream_fd}) {
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
    ::shutdown(fd, SHUT_RDWR);
  }
  link.up.join();
  link.down.join();
  ::close(link.client_fd);
  ::close(link.upstream_fd);
}

void TcpProxy::Sever() {
  std::vector<std::unique_ptr<Link>> links;
  {
    absl::MutexLock lock(&mu_);
    severed_ = true;
    links.swap(links_);
  }
  for (auto& link : links) Reset(*link);
}

void TcpProxy::Restore() {
  absl::MutexLock lock(&mu_);
  severed_ = false;
}

int TcpProxy::forwarded_connections() const {
  absl::MutexLock lock(&mu_);
  return forwarded_;
}

}  // namespace callguard::testing
