// The only translation unit with Boost.Beast in it: each one takes ~20 s to compile.
#include "dashboard_server.h"

#include <atomic>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"

namespace callguard {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr size_t kMaxBodyBytes = 64 * 1024;
constexpr uint32_t kMaxHeaderBytes = 16 * 1024;
// How much of the event backlog goes out in one socket write.
constexpr size_t kMaxEventChunkBytes = 256 * 1024;

std::string ToString(beast::string_view view) { return std::string(view.data(), view.size()); }

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(absl::ToChronoNanoseconds(d));
}

}  // namespace

struct DashboardServer::Impl {
  // Anything the server tracks so Shutdown can close it.
  class Connection : public std::enable_shared_from_this<Connection> {
   public:
    explicit Connection(Impl& server) : server_(server) {}
    virtual ~Connection() { server_.Unregister(id_); }
    // Closes from any thread (the work runs on the connection's strand).
    virtual void CloseSoon() = 0;
    void set_id(uint64_t id) { id_ = id; }

   protected:
    Impl& server_;
    uint64_t id_ = 0;
  };

  class EventSession;
  class HttpSession;

  explicit Impl(Options opts)
      : options(std::move(opts)),
        api(dashboard::DashboardApi::Options{options.store, options.hub, options.metrics,
                                             options.active_calls, options.clock}),
        ioc(std::max(1, options.io_threads)),
        work(net::make_work_guard(ioc)),
        acceptor(net::make_strand(ioc)) {}

  ~Impl() {
    // Handlers still queued (only if Shutdown had to stop the loop) die here, with their
    // connections, while everything they touch is still alive: ioc and acceptor are declared
    // last.
  }

  absl::Status Bind();
  void Accept();
  bool IsExtraRoute(absl::string_view target) const {
    return !options.extra_routes.path_prefix.empty() && options.extra_routes.handle &&
           absl::StartsWith(target, options.extra_routes.path_prefix);
  }
  void Register(const std::shared_ptr<Connection>& connection);
  void Unregister(uint64_t id);
  void Shutdown();

  Options options;
  dashboard::DashboardApi api;
  std::string address;
  int port = 0;

  absl::Mutex mu;
  std::map<uint64_t, std::weak_ptr<Connection>> connections ABSL_GUARDED_BY(mu);
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool started ABSL_GUARDED_BY(mu) = false;

  std::vector<std::thread> threads;
  net::io_context ioc;
  // Keeps the io threads running while there is nothing to do, so the closes Shutdown posts
  // always find a thread to run them.
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor;
};

// Wakes an event session when its subscription has events. The hub calls Notify on the store's
// writer thread, so it only posts, at most one wake-up in flight; Close makes later calls
// no-ops, which lets the io_context go away while the hub still holds the callback.
class EventWaker {
 public:
  EventWaker(net::any_io_executor executor, std::function<void()> wake)
      : executor_(std::move(executor)), wake_(std::move(wake)) {}

  void Notify() {
    absl::MutexLock lock(&mu_);
    if (closed_ || scheduled_.exchange(true)) return;
    net::post(executor_, wake_);
  }
  // Called on the session's strand before it drains the subscription.
  void Rearm() { scheduled_.store(false); }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> scheduled_{false};
  net::any_io_executor executor_;
  std::function<void()> wake_;
};

// One /api/events stream: the HTTP head once, then Server-Sent Events until the browser goes
// away, the hub closes the subscription, or the server shuts down.
class DashboardServer::Impl::EventSession : public Connection {
 public:
  EventSession(Impl& server, beast::tcp_stream stream,
               std::unique_ptr<WatchHub::Subscription> subscription,
               dashboard::EventCursor cursor)
      : Connection(server),
        stream_(std::move(stream)),
        subscription_(std::move(subscription)),
        formatter_(cursor),
        keepalive_(stream_.get_executor()) {
    if (server_.options.metrics != nullptr) server_.options.metrics->OnEventStreamOpened();
  }

  ~EventSession() override {
    if (waker_ != nullptr) waker_->Close();
    subscription_.reset();
    if (server_.options.metrics != nullptr) server_.options.metrics->OnEventStreamClosed();
  }

  void Start() {
    stream_.expires_never();
    std::weak_ptr<EventSession> weak =
        std::static_pointer_cast<EventSession>(shared_from_this());
    waker_ = std::make_shared<EventWaker>(stream_.get_executor(), [weak] {
      if (auto self = weak.lock()) self->OnWake();
    });
    subscription_->SetWakeup([waker = waker_] { waker->Notify(); });
    pending_ = absl::StrCat(
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "X-Accel-Buffering: no\r\n"
        "Server: callguard\r\n\r\n",
        formatter_.Preamble());
    if (server_.options.metrics != nullptr) server_.options.metrics->OnHttpResponse(200);
    WatchForClose();
    ArmKeepalive();
    Pump();
  }

  void CloseSoon() override {
    if (waker_ != nullptr) waker_->Close();
    net::post(stream_.get_executor(),
              [self = std::static_pointer_cast<EventSession>(shared_from_this())] {
                self->Close();
              });
  }

 private:
  void OnWake() {
    waker_->Rearm();
    Pump();
  }

  // Writes whatever is ready; one write at a time, and the next as soon as it completes.
  void Pump() {
    if (closed_ || writing_) return;
    std::string chunk = std::move(pending_);
    pending_.clear();
    v1::WatchEvent event;
    while (!ending_ && chunk.size() < kMaxEventChunkBytes && subscription_->TryNext(&event)) {
      bool last = false;
      chunk += formatter_.Format(event, &last);
      ending_ = last;
    }
    if (chunk.empty()) {
      if (ending_ || subscription_->Done()) Close();
      return;
    }
    writing_ = true;
    out_ = std::move(chunk);
    net::async_write(stream_, net::buffer(out_),
                     [self = std::static_pointer_cast<EventSession>(shared_from_this())](
                         beast::error_code ec, size_t) {
                       self->writing_ = false;
                       if (ec) return self->Close();
                       self->Pump();
                     });
  }

  // The browser sends nothing after its request; a completed read means it hung up.
  void WatchForClose() {
    stream_.async_read_some(
        net::buffer(read_buffer_),
        [self = std::static_pointer_cast<EventSession>(shared_from_this())](beast::error_code ec,
                                                                           size_t) {
          if (ec) return self->Close();
          self->WatchForClose();
        });
  }

  void ArmKeepalive() {
    keepalive_.expires_after(ToChrono(server_.options.event_keepalive));
    keepalive_.async_wait(
        [self = std::static_pointer_cast<EventSession>(shared_from_this())](beast::error_code ec) {
          if (ec || self->closed_) return;
          if (!self->writing_ && self->pending_.empty()) self->pending_ = ": keepalive\n\n";
          self->Pump();
          self->ArmKeepalive();
        });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (waker_ != nullptr) waker_->Close();
    keepalive_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::unique_ptr<WatchHub::Subscription> subscription_;
  dashboard::EventStreamFormatter formatter_;
  net::steady_timer keepalive_;
  std::shared_ptr<EventWaker> waker_;
  std::string pending_;  // bytes to send with the next write
  std::string out_;      // bytes of the write in flight
  std::array<char, 256> read_buffer_{};
  bool writing_ = false;
  bool ending_ = false;  // the last event (fell behind) is queued
  bool closed_ = false;
};

// A keep-alive HTTP/1.1 connection: request, response, repeat. An /api/events request hands
// the socket over to an EventSession.
class DashboardServer::Impl::HttpSession : public Connection {
 public:
  HttpSession(Impl& server, tcp::socket socket)
      : Connection(server), stream_(std::move(socket)) {}

  void Run() {
    net::dispatch(stream_.get_executor(),
                  [self = std::static_pointer_cast<HttpSession>(shared_from_this())] {
                    self->Read();
                  });
  }

  void CloseSoon() override {
    net::post(stream_.get_executor(),
              [self = std::static_pointer_cast<HttpSession>(shared_from_this())] {
                self->Close();
              });
  }

 private:
  void Read() {
    if (closed_) return;
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(kMaxHeaderBytes);
    stream_.expires_after(ToChrono(server_.options.idle_timeout));
    http::async_read(stream_, buffer_, *parser_,
                     [self = std::static_pointer_cast<HttpSession>(shared_from_this())](
                         beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      // The head is parsed by now: a route of the extra handler answers in its own format.
      dashboard::HttpRequest head = HeadOf(parser_->get());
      if (server_.options.extra_routes.body_too_large && server_.IsExtraRoute(head.target)) {
        return Reply(server_.options.extra_routes.body_too_large(head), parser_->get().version(),
                     /*keep_alive=*/false, /*head=*/false);
      }
      return Reply(dashboard::DashboardApi::Error(
                       dashboard::WithParameter(
                           absl::InvalidArgumentError(
                               absl::StrCat("the body is larger than ", kMaxBodyBytes, " bytes")),
                           "body"),
                       413),
                   11, /*keep_alive=*/false, /*head=*/false);
    }
    if (ec == http::error::header_limit) {
      return Reply(dashboard::DashboardApi::Error(
                       dashboard::WithParameter(absl::InvalidArgumentError(absl::StrCat(
                                                    "the headers are larger than ",
                                                    kMaxHeaderBytes, " bytes")),
                                                "headers"),
                       431),
                   11, false, false);
    }
    if (ec) {
      return Reply(dashboard::DashboardApi::Error(dashboard::WithParameter(
                       absl::InvalidArgumentError(
                           absl::StrCat("malformed HTTP request: ", ec.message())),
                       "request")),
                   11, false, false);
    }
    http::request<http::string_body> request = parser_->release();
    dashboard::HttpRequest plain = HeadOf(request);
    plain.body = std::move(request.body());
    const bool head = request.method() == http::verb::head;

    if (server_.IsExtraRoute(plain.target)) {
      return Reply(server_.options.extra_routes.handle(plain), request.version(),
                   request.keep_alive(), head);
    }
    if (dashboard::DashboardApi::IsEventStream(plain)) return StartEvents(plain, request.version());
    Reply(server_.api.Handle(plain), request.version(), request.keep_alive(), head);
  }

  // Everything of a request but its body.
  static dashboard::HttpRequest HeadOf(const http::request<http::string_body>& request) {
    dashboard::HttpRequest plain;
    plain.method = ToString(request.method_string());
    plain.target = ToString(request.target());
    plain.content_type = ToString(request[http::field::content_type]);
    plain.last_event_id = ToString(request["Last-Event-ID"]);
    return plain;
  }

  void StartEvents(const dashboard::HttpRequest& request, unsigned version) {
    auto parsed = server_.api.ParseEventStream(request);
    if (!parsed.ok()) {
      return Reply(dashboard::DashboardApi::Error(parsed.status()), version, false, false);
    }
    auto subscription = server_.api.hub()->Subscribe(parsed->watch);
    if (!subscription.ok()) {
      return Reply(dashboard::DashboardApi::Error(subscription.status()), version, false, false);
    }
    auto session = std::make_shared<EventSession>(server_, std::move(stream_),
                                                  *std::move(subscription), parsed->cursor);
    server_.Register(session);
    session->Start();
    closed_ = true;  // the socket is the event session's now
  }

  void Reply(const dashboard::HttpResponse& plain, unsigned version, bool keep_alive, bool head) {
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(plain.status), version);
    response->set(http::field::server, "callguard");
    response->set(http::field::content_type, plain.content_type);
    response->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : plain.headers) response->set(name, value);
    response->keep_alive(keep_alive);
    response->body() = plain.body;
    response->prepare_payload();
    if (head) response->body().clear();  // Content-Length still says what GET would send
    if (server_.options.metrics != nullptr) server_.options.metrics->OnHttpResponse(plain.status);
    http::async_write(
        stream_, *response,
        [self = std::static_pointer_cast<HttpSession>(shared_from_this()), response, keep_alive](
            beast::error_code ec, size_t) {
          if (ec || !keep_alive) return self->Close();
          self->Read();
        });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool closed_ = false;
};

absl::Status DashboardServer::Impl::Bind() {
  absl::string_view text = options.listen_address;
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address ", text, ": want HOST:PORT, e.g. 127.0.0.1:8080"));
  }
  absl::string_view host = text.substr(0, colon);
  absl::string_view port_text = text.substr(colon + 1);
  int wanted_port = 0;
  if (!absl::SimpleAtoi(port_text, &wanted_port) || wanted_port < 0 || wanted_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address ", text, ": the port must be 0..65535"));
  }
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  if (host.empty() || host == "*") host = "0.0.0.0";

  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto endpoints = resolver.resolve(std::string(host), std::string(port_text),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address ", text, ": cannot resolve ", host, ": ", ec.message()));
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", text, " for the dashboard: ", ec.message()));
  }
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  port = bound.port();
  std::string bound_host = bound.address().to_string();
  address = bound.address().is_v6() ? absl::StrCat("[", bound_host, "]:", port)
                                    : absl::StrCat(bound_host, ":", port);
  return absl::OkStatus();
}

void DashboardServer::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      auto session = std::make_shared<HttpSession>(*this, std::move(socket));
      Register(session);
      session->Run();
    }
    Accept();
  });
}

void DashboardServer::Impl::Register(const std::shared_ptr<Connection>& connection) {
  bool close = false;
  {
    absl::MutexLock lock(&mu);
    uint64_t id = next_id++;
    connection->set_id(id);
    connections.emplace(id, connection);
    close = stopping;
  }
  if (close) connection->CloseSoon();
}

void DashboardServer::Impl::Unregister(uint64_t id) {
  absl::MutexLock lock(&mu);
  connections.erase(id);
}

void DashboardServer::Impl::Shutdown() {
  std::vector<std::shared_ptr<Connection>> open;
  {
    absl::MutexLock lock(&mu);
    if (stopping) return;
    stopping = true;
    for (auto& [id, weak] : connections) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  if (threads.empty()) {
    beast::error_code ignored;
    acceptor.close(ignored);  // never started: nothing else touches it
  } else {
    net::post(acceptor.get_executor(), [this] {
      beast::error_code ignored;
      acceptor.close(ignored);
    });
  }
  for (auto& connection : open) connection->CloseSoon();
  open.clear();
  {
    // Closed connections finish their handlers and go; a wedged one must not hang shutdown.
    absl::MutexLock lock(&mu);
    auto all_gone = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return connections.empty(); };
    if (!threads.empty()) mu.AwaitWithTimeout(absl::Condition(&all_gone), absl::Seconds(3));
  }
  work.reset();
  ioc.stop();
  for (std::thread& thread : threads) thread.join();
  threads.clear();
}

DashboardServer::DashboardServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

size_t DashboardServer::max_body_bytes() { return kMaxBodyBytes; }

DashboardServer::~DashboardServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Create(Options options) {
  if (options.store == nullptr) return absl::InvalidArgumentError("dashboard: no alert store");
  if (options.io_threads < 1) {
    return absl::InvalidArgumentError("dashboard: io_threads must be at least 1");
  }
  if (options.event_keepalive <= absl::ZeroDuration() ||
      options.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("dashboard: keepalive and idle timeout must be positive");
  }
  if (!options.extra_routes.path_prefix.empty() &&
      (options.extra_routes.path_prefix[0] != '/' || !options.extra_routes.handle)) {
    return absl::InvalidArgumentError(
        "dashboard: extra routes need a path prefix starting with / and a handler");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status bound = impl->Bind(); !bound.ok()) return bound;
  return std::unique_ptr<DashboardServer>(new DashboardServer(std::move(impl)));
}

absl::Status DashboardServer::Start() {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->started || impl_->stopping) {
      return absl::FailedPreconditionError("dashboard: already started or shut down");
    }
    impl_->started = true;
  }
  impl_->Accept();
  for (int i = 0; i < impl_->options.io_threads; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] {
      for (;;) {
        try {
          impl->ioc.run();
          return;
        } catch (const std::exception& e) {
          // A handler that throws (out of memory) loses its connection, not the dashboard.
          std::cerr << "callguard dashboard: " << e.what() << std::endl;
        }
      }
    });
  }
  return absl::OkStatus();
}

void DashboardServer::Shutdown() { impl_->Shutdown(); }

int DashboardServer::port() const { return impl_->port; }

const std::string& DashboardServer::address() const { return impl_->address; }

std::string DashboardServer::url() const { return absl::StrCat("http://", impl_->address, "/"); }

}  // namespace callguard
