// Helpers for the client library's tests against the real server.
#ifndef CALLGUARD_AGENT_CLIENT_LIB_CLIENT_TEST_UTIL_H_
#define CALLGUARD_AGENT_CLIENT_LIB_CLIENT_TEST_UTIL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "callguard_client.h"
#include "callguard_server.h"
#include "gtest/gtest.h"
#include "replay.h"
#include "test_support.h"
#include "transcript_io.h"

namespace callguard::testing {

// What the guard decided about an alert, without when or under which id.
inline std::string Key(const v1::Alert& alert) {
  std::vector<std::string> words;
  for (const v1::Evidence& e : alert.evidence()) words.push_back(e.text());
  return absl::StrCat("turn ", alert.turn(), " ", alert.utterance_id(), " ",
                      v1::ViolationKind_Name(alert.violation()), " ", alert.rule_id(),
                      alert.interim() ? " interim" : "", " [", absl::StrJoin(words, "|"), "]");
}

inline std::vector<std::string> Keys(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> keys;
  for (const v1::Alert& alert : alerts) keys.push_back(Key(alert));
  return keys;
}

// Collects what a call's callbacks deliver, from the thread that reads its stream.
class Collected {
 public:
  client::CallCallbacks Callbacks() {
    client::CallCallbacks callbacks;
    callbacks.on_alert = [this](const v1::Alert& alert) {
      absl::MutexLock lock(&mu_);
      alerts_.push_back(alert);
    };
    callbacks.on_error = [this](const v1::EventError& error) {
      absl::MutexLock lock(&mu_);
      errors_.push_back(error);
    };
    callbacks.on_verdict = [this](const v1::Verdict& verdict) {
      absl::MutexLock lock(&mu_);
      verdicts_.push_back(verdict);
    };
    return callbacks;
  }
  std::vector<v1::Alert> alerts() {
    absl::MutexLock lock(&mu_);
    return alerts_;
  }
  std::vector<v1::EventError> errors() {
    absl::MutexLock lock(&mu_);
    return errors_;
  }
  std::vector<v1::Verdict> verdicts() {
    absl::MutexLock lock(&mu_);
    return verdicts_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::Alert> alerts_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::EventError> errors_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Verdict> verdicts_ ABSL_GUARDED_BY(mu_);
};

// Every update a recognizer would send for the call: growing interims, then the final, per turn.
inline std::vector<v1::Utterance> UpdatesOf(const v1::Transcript& transcript) {
  ReplayOptions options;
  options.interim_results = true;
  std::vector<v1::Utterance> updates;
  for (int turn = 0; turn < transcript.turns_size(); ++turn) {
    for (v1::Utterance& u : UtterancesForTurn(transcript, turn, options)) updates.push_back(std::move(u));
  }
  return updates;
}

inline client::CallguardClient::Options FastReconnect(int port) {
  client::CallguardClient::Options options;
  options.target = absl::StrCat("127.0.0.1:", port);
  options.initial_backoff = absl::Milliseconds(20);
  options.max_backoff = absl::Milliseconds(200);
  return options;
}

// A real server on a free loopback port that keeps broken calls `grace_s` for their resume.
inline std::unique_ptr<CallguardServer> StartResumingServer(const std::string& policies,
                                                            FakeClock* clock = nullptr,
                                                            const std::string& db_path = "",
                                                            int grace_s = 30) {
  CallguardServer::Options options;
  options.config.set_listen("127.0.0.1:0");
  options.config.set_policies_dir(policies);
  options.config.set_resume_grace_s(grace_s);
  options.config.set_db_path(db_path);
  if (clock != nullptr) {
    options.clock = clock->AsFunction();
    options.sweep_interval = absl::ZeroDuration();
  }
  auto server = CallguardServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// A suite on the shipped policies and the English sample calls, compiled once for the suite.
class SampleCallsSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = StartResumingServer(std::string(CALLGUARD_SOURCE_DIR) + "/policies").release();
    auto calls = ReadTranscripts(std::string(CALLGUARD_SOURCE_DIR) + "/examples/calls-en.jsonl");
    ASSERT_TRUE(calls.ok()) << calls.status();
    calls_ = new std::vector<v1::Transcript>(*std::move(calls));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete calls_;
    calls_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(calls_->size(), 2u);
  }

  static inline CallguardServer* server_ = nullptr;
  static inline std::vector<v1::Transcript>* calls_ = nullptr;
};

}  // namespace callguard::testing

#endif  // CALLGUARD_AGENT_CLIENT_LIB_CLIENT_TEST_UTIL_H_
