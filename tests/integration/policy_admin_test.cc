// PolicyAdmin: listing and reloading the policy folder of a running server.
#include <string>

#include "gtest/gtest.h"
#include "test_support.h"

namespace callguard::testing {
namespace {

class PolicyAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_.CopyFrom(TestPolicyDir());
    server_ = StartServer({.policy_dir = folder_.path()});
    ASSERT_NE(server_, nullptr);
    channel_ = ChannelTo(*server_);
    admin_ = v1::PolicyAdmin::NewStub(channel_);
    guard_ = v1::CallGuard::NewStub(channel_);
  }

  v1::ListPoliciesResponse List() {
    grpc::ClientContext context;
    v1::ListPoliciesResponse response;
    EXPECT_TRUE(admin_->ListPolicies(&context, v1::ListPoliciesRequest(), &response).ok());
    return response;
  }

  grpc::Status Reload(v1::ReloadPoliciesResponse* response) {
    grpc::ClientContext context;
    return admin_->ReloadPolicies(&context, v1::ReloadPoliciesRequest(), response);
  }

  int CheckAlerts(const std::string& text) {
    grpc::ClientContext context;
    v1::CheckRequest request;
    request.set_policy("test-en");
    request.set_text(text);
    v1::CheckResponse response;
    EXPECT_TRUE(guard_->Check(&context, request, &response).ok());
    return response.alerts_size();
  }

  std::string EnPolicy() const { return folder_.path() + "/test-en.textproto"; }

  TempDir folder_;
  std::unique_ptr<CallguardServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PolicyAdmin::Stub> admin_;
  std::unique_ptr<v1::CallGuard::Stub> guard_;
};

TEST_F(PolicyAdminTest, ListsTheRunningPolicies) {
  const v1::ListPoliciesResponse list = List();
  EXPECT_EQ(list.snapshot_generation(), 1);
  ASSERT_EQ(list.policies_size(), 2);
  EXPECT_EQ(list.policies(0).id(), "test-en");
  EXPECT_EQ(list.policies(0).version(), "1.0");
  EXPECT_EQ(list.policies(0).language(), "en");
  EXPECT_EQ(list.policies(0).rules(), 2);
  EXPECT_NE(list.policies(0).source().find("test-en.textproto"), std::string::npos);
  EXPECT_EQ(list.policies(1).id(), "test-zh");
  EXPECT_EQ(server_->ReadyLine(), "callguard-server listening on " + server_->address() +
                                      " (policies: test-en 1.0, test-zh 1.0)");
}

TEST_F(PolicyAdminTest, AGoodReloadSwapsInTheNewSetAndBumpsTheGeneration) {
  ReplaceInFile(EnPolicy(), "version: \"1.0\"", "version: \"1.1\"");
  ReplaceInFile(EnPolicy(), "\\\\barrest", "\\\\bjail");
  v1::ReloadPoliciesResponse reloaded;
  const grpc::Status status = Reload(&reloaded);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reloaded.snapshot_generation(), 2);
  ASSERT_EQ(reloaded.policies_size(), 2);
  EXPECT_EQ(reloaded.policies(0).version(), "1.1");
  EXPECT_EQ(List().snapshot_generation(), 2);
  EXPECT_EQ(CheckAlerts("you will be arrested"), 0);
  EXPECT_EQ(CheckAlerts("you will go to jail"), 1);
}

TEST_F(PolicyAdminTest, ABrokenFolderIsRefusedAndTheRunningSetStays) {
  const int line = LineOf(EnPolicy(), "severity: SEVERITY_CRITICAL");
  ASSERT_GT(line, 0);
  ReplaceInFile(EnPolicy(), "severity: SEVERITY_CRITICAL", "severety: SEVERITY_CRITICAL");
  v1::ReloadPoliciesResponse reloaded;
  const grpc::Status status = Reload(&reloaded);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("test-en.textproto:" + std::to_string(line) + ":"), std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find("severety"), std::string::npos) << status.error_message();

  EXPECT_EQ(List().snapshot_generation(), 1);
  EXPECT_EQ(CheckAlerts("you will be arrested"), 1) << "the old set keeps serving";

  // Fixed again, the next reload goes through.
  ReplaceInFile(EnPolicy(), "severety: SEVERITY_CRITICAL", "severity: SEVERITY_CRITICAL");
  ASSERT_TRUE(Reload(&reloaded).ok());
  EXPECT_EQ(reloaded.snapshot_generation(), 2);
}

TEST_F(PolicyAdminTest, ACallStartedBeforeAReloadFinishesOnItsSnapshot) {
  ConverseClient old_call(channel_);
  ASSERT_TRUE(old_call.Send(StartEvent("before-reload")));
  EXPECT_TRUE(old_call.Drain().empty());

  ReplaceInFile(EnPolicy(), "version: \"1.0\"", "version: \"2.0\"");
  ReplaceInFile(EnPolicy(), "\\\\barrest", "\\\\bjail");
  v1::ReloadPoliciesResponse reloaded;
  ASSERT_TRUE(Reload(&reloaded).ok());

  ASSERT_TRUE(old_call.Send(UtteranceEvent("u1", v1::AGENT, "you will be arrested")));
  auto alerts = AlertsIn(old_call.Drain());
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].policy_version(), "1.0");

  ConverseClient new_call(channel_);
  ASSERT_TRUE(new_call.Send(StartEvent("after-reload")));
  ASSERT_TRUE(new_call.Send(UtteranceEvent("u1", v1::AGENT, "you will be arrested")));
  EXPECT_TRUE(new_call.Drain().empty());

  ASSERT_TRUE(old_call.Send(EndEvent("done")));
  auto old_summary = old_call.Read();
  ASSERT_TRUE(old_summary.has_value() && old_summary->has_summary());
  EXPECT_EQ(old_summary->summary().policy_version(), "1.0");
  ASSERT_TRUE(new_call.Send(EndEvent("done")));
  auto new_summary = new_call.Read();
  ASSERT_TRUE(new_summary.has_value() && new_summary->has_summary());
  EXPECT_EQ(new_summary->summary().policy_version(), "2.0");
}

}  // namespace
}  // namespace callguard::testing
