#include "supervisor_support.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace callguard::testing {

std::unique_ptr<CallguardServer> StartServerWithStore(const StoreServerSetup& setup) {
  CallguardServer::Options options;
  options.config.set_listen("127.0.0.1:0");
  options.config.set_policies_dir(setup.policy_dir);
  options.config.set_db_path(setup.db_path);
  options.watch_buffer_events = setup.watch_buffer_events;
  options.config.set_http_listen(setup.http_listen);
  auto server = CallguardServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  EXPECT_NE((*server)->store(), nullptr);
  return *std::move(server);
}

WatchStream::WatchStream(const std::shared_ptr<grpc::Channel>& channel,
                         const v1::WatchRequest& request)
    : stub_(v1::Supervisor::NewStub(channel)) {
  // Guards against a hung test, not a timing assertion.
  context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
  reader_ = stub_->WatchAlerts(&context_, request);
}

WatchStream::~WatchStream() {
  if (!finished_) Cancel();
}

std::optional<v1::WatchEvent> WatchStream::Next() {
  v1::WatchEvent event;
  if (finished_ || !reader_->Read(&event)) return std::nullopt;
  return event;
}

std::vector<v1::StoredAlert> WatchStream::UntilCaughtUp() {
  std::vector<v1::StoredAlert> replayed;
  while (auto event = Next()) {
    if (event->has_caught_up()) return replayed;
    if (event->has_alert()) replayed.push_back(event->alert());
  }
  ADD_FAILURE() << "the stream ended before CaughtUp";
  return replayed;
}

std::vector<v1::StoredAlert> WatchStream::Alerts(size_t count, std::vector<v1::WatchEvent>* others) {
  std::vector<v1::StoredAlert> alerts;
  while (alerts.size() < count) {
    auto event = Next();
    if (!event.has_value()) {
      ADD_FAILURE() << "the stream ended after " << alerts.size() << " of " << count << " alerts";
      break;
    }
    if (event->has_alert()) {
      alerts.push_back(event->alert());
    } else if (others != nullptr) {
      others->push_back(*event);
    }
  }
  return alerts;
}

grpc::Status WatchStream::Cancel() {
  context_.TryCancel();
  return Finish();
}

grpc::Status WatchStream::Finish(std::vector<v1::WatchEvent>* rest) {
  if (finished_) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "finished already");
  v1::WatchEvent event;
  while (reader_->Read(&event)) {
    if (rest != nullptr) rest->push_back(event);
  }
  finished_ = true;
  return reader_->Finish();
}

std::string HttpGet(const std::string& address, const std::string& path, int* status) {
  *status = 0;
  const size_t colon = address.rfind(':');
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(address.substr(0, colon).c_str(), address.substr(colon + 1).c_str(), &hints,
                  &found) != 0) {
    return "";
  }
  const int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  const bool connected = fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  freeaddrinfo(found);
  if (!connected) {
    if (fd >= 0) close(fd);
    return "";
  }
  timeval patience{60, 0};  // guards against a hung test
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof(patience));
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: ", address, "\r\nConnection: close\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string response;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, n);
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  if (response.size() > 12) absl::SimpleAtoi(response.substr(9, 3), status);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

v1::WatchRequest WatchAfter(uint64_t sequence) {
  v1::WatchRequest request;
  request.set_after_sequence(sequence);
  return request;
}

std::vector<uint64_t> SequencesOf(const std::vector<v1::StoredAlert>& alerts) {
  std::vector<uint64_t> out;
  for (const v1::StoredAlert& a : alerts) out.push_back(a.sequence());
  return out;
}

std::vector<uint64_t> SequenceRange(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

v1::CallEvent StartEventFor(const std::string& call_id, const std::string& agent_id,
                            const std::string& team, const std::string& policy) {
  v1::CallEvent event = StartEvent(call_id, policy);
  event.mutable_start()->mutable_agent()->set_agent_id(agent_id);
  event.mutable_start()->mutable_agent()->set_team(team);
  return event;
}

}  // namespace callguard::testing
