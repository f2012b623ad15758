// The stateless Check RPC against the real server on loopback.
#include <string>

#include "gtest/gtest.h"
#include "test_support.h"

namespace callguard::testing {
namespace {

class CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartServer({.max_utterance_bytes = 100});
    ASSERT_NE(server_, nullptr);
    stub_ = v1::CallGuard::NewStub(ChannelTo(*server_));
  }

  grpc::Status Check(const v1::CheckRequest& request, v1::CheckResponse* response) {
    grpc::ClientContext context;
    return stub_->Check(&context, request, response);
  }

  static v1::CheckRequest Request(const std::string& policy, const std::string& text) {
    v1::CheckRequest request;
    request.set_policy(policy);
    request.set_text(text);
    return request;
  }

  std::unique_ptr<CallguardServer> server_;
  std::unique_ptr<v1::CallGuard::Stub> stub_;
};

TEST_F(CheckTest, AThreatRaisesItsAlert) {
  v1::CheckResponse response;
  const std::string text = "the sheriff will arrest you tonight";
  ASSERT_TRUE(Check(Request("test-en", text), &response).ok());
  ASSERT_EQ(response.alerts_size(), 1);
  EXPECT_EQ(response.alerts(0).rule_id(), "test.threat.arrest");
  EXPECT_EQ(response.alerts(0).violation(), v1::PROHIBITED_THREAT);
  ASSERT_GT(response.alerts(0).evidence_size(), 0);
  const v1::Evidence& e = response.alerts(0).evidence(0);
  EXPECT_EQ(text.substr(e.begin(), e.end() - e.begin()), e.text());
  EXPECT_EQ(response.policy_version(), "1.0");
}

TEST_F(CheckTest, ContextDecidesWhoMayHearAboutTheDebt) {
  v1::CheckRequest request = Request("test-en", "you owe us for the loan");
  v1::CheckResponse to_unknown;
  ASSERT_TRUE(Check(request, &to_unknown).ok());
  ASSERT_EQ(to_unknown.alerts_size(), 1);
  EXPECT_EQ(to_unknown.alerts(0).violation(), v1::THIRD_PARTY_DISCLOSURE);

  request.mutable_context()->set_party(v1::PARTY_DEBTOR);
  v1::CheckResponse to_debtor;
  ASSERT_TRUE(Check(request, &to_debtor).ok());
  EXPECT_EQ(to_debtor.alerts_size(), 0);
}

TEST_F(CheckTest, CompliantTextRaisesNothing) {
  v1::CheckResponse response;
  ASSERT_TRUE(Check(Request("test-en", "hi this is Mark, please call me back"), &response).ok());
  EXPECT_EQ(response.alerts_size(), 0);
  EXPECT_EQ(response.policy_version(), "1.0");
}

TEST_F(CheckTest, AnUnknownPolicyIsRefusedWithTheKnownOnes) {
  v1::CheckResponse response;
  const grpc::Status status = Check(Request("de-inkasso", "hallo"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("policy"), std::string::npos) << status.error_message();
  EXPECT_NE(status.error_message().find("test-en, test-zh"), std::string::npos) << status.error_message();
}

TEST_F(CheckTest, BadTextIsRefusedNamingTheField) {
  for (const std::string& text : {std::string(), std::string("caf\xc3"), std::string(101, 'x')}) {
    v1::CheckResponse response;
    const grpc::Status status = Check(Request("test-en", text), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << text.size();
    EXPECT_EQ(status.error_message().rfind("text: ", 0), 0u) << status.error_message();
  }
}

}  // namespace
}  // namespace callguard::testing
