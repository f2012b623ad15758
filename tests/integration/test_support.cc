#include "test_support.h"

#include "absl/time/clock.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace callguard::testing {

std::string TestPolicyDir() { return std::string(CALLGUARD_SOURCE_DIR) + "/tests/data/server-policies"; }

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "callguard-it-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::CopyFrom(const std::string& from) const {
  for (const auto& entry : std::filesystem::directory_iterator(from)) {
    if (entry.is_regular_file()) {
      std::filesystem::copy_file(entry.path(), std::filesystem::path(path_) / entry.path().filename(),
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }
}

void ReplaceInFile(const std::string& path, const std::string& from, const std::string& to) {
  std::stringstream buffer;
  buffer << std::ifstream(path).rdbuf();
  std::string text = buffer.str();
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in " << path;
  text.replace(at, from.size(), to);
  std::ofstream(path, std::ios::trunc) << text;
}

int LineOf(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find(needle) != std::string::npos) return n;
  }
  return 0;
}

absl::Time FakeClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

std::unique_ptr<CallguardServer> StartServer(const ServerSetup& setup) {
  CallguardServer::Options options;
  options.config.set_listen("127.0.0.1:0");
  options.config.set_policies_dir(setup.policy_dir);
  options.config.set_max_utterance_bytes(setup.max_utterance_bytes);
  options.config.set_idle_timeout_s(setup.idle_timeout_s);
  if (setup.resume_grace_s >= 0) options.config.set_resume_grace_s(setup.resume_grace_s);
  if (setup.clock != nullptr) {
    options.clock = setup.clock->AsFunction();
    options.sweep_interval = absl::ZeroDuration();
  }
  auto server = CallguardServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  EXPECT_NE((*server)->port(), 0);
  return *std::move(server);
}

std::shared_ptr<grpc::Channel> ChannelTo(const CallguardServer& server) {
  return grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
}

ConverseClient::ConverseClient(const std::shared_ptr<grpc::Channel>& channel)
    : stub_(v1::CallGuard::NewStub(channel)) {
  // Guards against a hung test, not a timing assertion.
  context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  stream_ = stub_->Converse(&context_);
}

ConverseClient::~ConverseClient() {
  if (!finished_) {
    context_.TryCancel();
    stream_->Finish();
  }
}

bool ConverseClient::Send(const v1::CallEvent& event) { return stream_->Write(event); }

std::optional<v1::GuardEvent> ConverseClient::Read() {
  v1::GuardEvent event;
  if (!stream_->Read(&event)) return std::nullopt;
  return event;
}

std::vector<v1::GuardEvent> ConverseClient::Drain() {
  std::vector<v1::GuardEvent> before;
  EXPECT_TRUE(Send(v1::CallEvent()));
  for (;;) {
    auto event = Read();
    if (!event.has_value()) {
      ADD_FAILURE() << "stream ended before the marker was answered";
      return before;
    }
    if (event->has_error() && event->error().field() == "event") return before;
    before.push_back(*std::move(event));
  }
}

grpc::Status ConverseClient::CloseAndFinish(std::vector<v1::GuardEvent>* remaining) {
  stream_->WritesDone();
  return Finish(remaining);
}

grpc::Status ConverseClient::Finish(std::vector<v1::GuardEvent>* remaining) {
  v1::GuardEvent event;
  while (stream_->Read(&event)) {
    if (remaining != nullptr) remaining->push_back(event);
  }
  finished_ = true;
  return stream_->Finish();
}

bool Eventually(const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

v1::CallEvent StartEvent(const std::string& call_id, const std::string& policy) {
  v1::CallEvent event;
  v1::CallStart* start = event.mutable_start();
  start->set_call_id(call_id);
  start->set_policy(policy);
  start->mutable_agency()->set_name("Summit Recovery Services");
  start->mutable_agency()->set_id("AG-1");
  start->mutable_agent()->set_name("Mark Lee");
  start->mutable_agent()->set_agent_id("A1042");
  start->mutable_debtor()->set_name("John Smith");
  start->set_dialed(v1::DEBTOR_PHONE);
  return event;
}

v1::CallEvent UtteranceEvent(const std::string& id, v1::Speaker speaker, const std::string& text,
                             bool is_final) {
  v1::CallEvent event;
  v1::Utterance* u = event.mutable_utterance();
  u->set_utterance_id(id);
  u->set_speaker(speaker);
  u->set_text(text);
  u->set_is_final(is_final);
  return event;
}

v1::CallEvent PartyEvent(v1::Party party) {
  v1::CallEvent event;
  event.mutable_party_update()->set_party(party);
  return event;
}

v1::CallEvent EndEvent(const std::string& reason) {
  v1::CallEvent event;
  event.mutable_end()->set_reason(reason);
  return event;
}

std::vector<v1::Alert> AlertsIn(const std::vector<v1::GuardEvent>& events) {
  std::vector<v1::Alert> out;
  for (const auto& e : events) {
    if (e.has_alert()) out.push_back(e.alert());
  }
  return out;
}

std::vector<v1::EventError> ErrorsIn(const std::vector<v1::GuardEvent>& events) {
  std::vector<v1::EventError> out;
  for (const auto& e : events) {
    if (e.has_error()) out.push_back(e.error());
  }
  return out;
}

}  // namespace callguard::testing
