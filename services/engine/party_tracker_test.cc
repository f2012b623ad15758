#include "party_tracker.h"

#include "gtest/gtest.h"
#include "normalizer.h"
#include "policy_loader.h"

namespace callguard {
namespace {

class PartyTrackerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto source = ParsePolicyFile(CALLGUARD_SOURCE_DIR "/services/engine/testdata/mini-en.textproto");
    ASSERT_TRUE(source.ok()) << source.status();
    auto compiled = CompiledPolicy::Create(source->policy, source->path);
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    policy_ = compiled->release();
  }
  static void TearDownTestSuite() { delete policy_; }

  void Init(v1::DialedNumber dialed) { tracker_.Init(policy_, dialed, {"Andrea Walker", "Andy"}); }

  void Hear(v1::Speaker speaker, const std::string& text) {
    auto norm = Normalizer::Default().Normalize(text);
    ASSERT_TRUE(norm.ok());
    std::vector<PatternMatch> matches;
    ASSERT_TRUE(policy_->matcher().Scan(norm->text, &matches).ok());
    SetHits hits;
    hits.spans.resize(policy_->set_count());
    for (const auto& m : matches) hits.spans[policy_->set_of_pattern(m.pattern)].emplace_back(m.begin, m.end);
    if (speaker == v1::AGENT) {
      tracker_.OnAgent(norm->text, hits);
    } else {
      tracker_.OnCounterparty(norm->text, hits);
    }
  }

  static CompiledPolicy* policy_;
  PartyTracker tracker_;
};
CompiledPolicy* PartyTrackerTest::policy_ = nullptr;

TEST_F(PartyTrackerTest, UnknownUntilShown) {
  Init(v1::DEBTOR_PHONE);
  EXPECT_EQ(tracker_.party(), v1::PARTY_UNKNOWN);
  EXPECT_FALSE(tracker_.IsAllowedParty());
  Hear(v1::AGENT, "can I speak with Andrea Walker");
  Hear(v1::COUNTERPARTY, "yes");  // "yes" to "can I speak with" is not "I am her"
  EXPECT_EQ(tracker_.party(), v1::PARTY_UNKNOWN);
}

TEST_F(PartyTrackerTest, AReplyThatIsOnlyTheDebtorsNameConfirms) {
  Init(v1::DEBTOR_PHONE);
  Hear(v1::AGENT, "hi, who am I speaking with?");
  Hear(v1::COUNTERPARTY, "Uh, Andrea Walker.");
  EXPECT_EQ(tracker_.party(), v1::PARTY_DEBTOR);
}

TEST_F(PartyTrackerTest, TheNameInALongerReplyOrUnaskedDoesNotConfirm) {
  Init(v1::DEBTOR_PHONE);
  Hear(v1::AGENT, "am I speaking with Andrea Walker?");
  Hear(v1::COUNTERPARTY, "Andrea is my sister");
  EXPECT_EQ(tracker_.party(), v1::PARTY_UNKNOWN);
  Hear(v1::AGENT, "good morning");
  Hear(v1::COUNTERPARTY, "Andrea");  // not an answer to any question
  EXPECT_EQ(tracker_.party(), v1::PARTY_UNKNOWN);
}

TEST_F(PartyTrackerTest, SpeakingConfirmsTheDebtor) {
  Init(v1::DEBTOR_PHONE);
  Hear(v1::AGENT, "can I speak with Andrea Walker");
  Hear(v1::COUNTERPARTY, "Speaking.");
  EXPECT_EQ(tracker_.party(), v1::PARTY_DEBTOR);
  EXPECT_TRUE(tracker_.IsAllowedParty());
}

TEST_F(PartyTrackerTest, AliasFromTheCallStartConfirms) {
  Init(v1::DEBTOR_PHONE);
  Hear(v1::COUNTERPARTY, "oh hi its andy");
  EXPECT_EQ(tracker_.party(), v1::PARTY_DEBTOR);
}

TEST_F(PartyTrackerTest, AnotherNameDoesNotConfirm) {
  Init(v1::DEBTOR_PHONE);
  Hear(v1::COUNTERPARTY, "this is michael");
  EXPECT_EQ(tracker_.party(), v1::PARTY_UNKNOWN);
}

TEST_F(PartyTrackerTest, TheDebtorsSurnameAfterAnotherGivenNameDoesNotConfirm) {
  for (const char* relative : {"this is Karen Walker", "hi this is uh Karen Walker speaking",
                               "this is the Walker residence", "yeah this is Tom Walker"}) {
    Init(v1::DEBTOR_PHONE);
    Hear(v1::COUNTERPARTY, relative);
    EXPECT_EQ(tracker_.party(), v1::PARTY_UNKNOWN) << relative;
  }
  for (const char* debtor : {"this is Walker", "this is Mrs. Walker", "this is Mr Walker",
                             "this is Andrea Walker", "this is uh Walker"}) {
    Init(v1::DEBTOR_PHONE);
    Hear(v1::COUNTERPARTY, debtor);
    EXPECT_EQ(tracker_.party(), v1::PARTY_DEBTOR) << debtor;
  }
}

TEST_F(PartyTrackerTest, AYesToANamesakeDoesNotConfirmTheDebtor) {
  // A co-signer with the debtor's surname, asked for by name on a guarantor dial.
  Init(v1::GUARANTOR);
  Hear(v1::AGENT, "Hi, this is Sam with Acme. Is this Gregory Walker?");
  Hear(v1::COUNTERPARTY, "yes");
  EXPECT_EQ(tracker_.party(), v1::PARTY_GUARANTOR);
  // On the debtor's own phone a yes to a namesake confirms nobody we may tell.
  Init(v1::DEBTOR_PHONE);
  Hear(v1::AGENT, "am I speaking with Tom Walker?");
  Hear(v1::COUNTERPARTY, "yeah");
  EXPECT_EQ(tracker_.party(), v1::PARTY_UNKNOWN);
  // The debtor asked for by surname alone, with a title, or by full name, still confirms.
  for (const char* question : {"is this Mrs. Walker?", "is this Walker?", "am I speaking with Andrea Walker?"}) {
    Init(v1::DEBTOR_PHONE);
    Hear(v1::AGENT, question);
    Hear(v1::COUNTERPARTY, "yes");
    EXPECT_EQ(tracker_.party(), v1::PARTY_DEBTOR) << question;
  }
}

TEST_F(PartyTrackerTest, DenialToIdentityQuestionMeansThirdParty) {
  Init(v1::DEBTOR_PHONE);
  Hear(v1::AGENT, "Is this Andrea Walker?");
  Hear(v1::COUNTERPARTY, "no");
  EXPECT_EQ(tracker_.party(), v1::PARTY_THIRD_PARTY);
}

TEST_F(PartyTrackerTest, ThirdPartyMarkerWinsOverYes) {
  Init(v1::DEBTOR_PHONE);
  Hear(v1::AGENT, "Is this Andrea Walker?");
  Hear(v1::COUNTERPARTY, "yes this is her mother");
  EXPECT_EQ(tracker_.party(), v1::PARTY_THIRD_PARTY);
}

TEST_F(PartyTrackerTest, GuarantorDialConfirmsTheGuarantor) {
  Init(v1::GUARANTOR);
  Hear(v1::AGENT, "am I speaking with Mr. Brown?");
  Hear(v1::COUNTERPARTY, "yes");
  EXPECT_EQ(tracker_.party(), v1::PARTY_GUARANTOR);
  EXPECT_TRUE(tracker_.IsAllowedParty());
  // Asking for the debtor by name on a guarantor dial confirms the debtor instead.
  Init(v1::GUARANTOR);
  Hear(v1::AGENT, "is this Andrea Walker?");
  Hear(v1::COUNTERPARTY, "yes");
  EXPECT_EQ(tracker_.party(), v1::PARTY_DEBTOR);
}

TEST_F(PartyTrackerTest, ConfirmedGuarantorOnAnotherDialIsNotAllowed) {
  Init(v1::DEBTOR_PHONE);
  tracker_.Assert(v1::PARTY_GUARANTOR);
  EXPECT_FALSE(tracker_.IsAllowedParty());
}

TEST_F(PartyTrackerTest, WrongNumberAndVoicemail) {
  Init(v1::UNKNOWN_NUMBER);
  Hear(v1::COUNTERPARTY, "you have the wrong number");
  EXPECT_EQ(tracker_.party(), v1::PARTY_WRONG_NUMBER);
  Hear(v1::COUNTERPARTY, "please leave a message");
  EXPECT_EQ(tracker_.party(), v1::PARTY_VOICEMAIL);
  EXPECT_FALSE(tracker_.IsAllowedParty());
}

}  // namespace
}  // namespace callguard
