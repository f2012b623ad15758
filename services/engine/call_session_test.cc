#include "call_session.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine.h"
#include "gmock/gmock.h"
#include "normalizer.h"
#include "gtest/gtest.h"
#include "policy_loader.h"
#include "status_util.h"
#include "transcript_io.h"

namespace callguard {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::shared_ptr<const Engine> MiniEngine() {
  static const auto* engine = [] {
    auto source = ParsePolicyFile(CALLGUARD_SOURCE_DIR "/services/engine/testdata/mini-en.textproto");
    EXPECT_TRUE(source.ok()) << source.status();
    auto e = Engine::Create(Engine::Options{{*source}, 1});
    EXPECT_TRUE(e.ok()) << e.status();
    return new std::shared_ptr<const Engine>(*e);
  }();
  return *engine;
}

class CallSessionTest : public ::testing::Test {
 protected:
  void Start(v1::DialedNumber dialed = v1::DEBTOR_PHONE) {
    CallSession::Options o;
    o.engine = MiniEngine();
    o.start.set_call_id("call-1");
    o.start.set_policy("mini-en");
    o.start.mutable_agency()->set_name("Summit Recovery Services LLC");
    o.start.mutable_agent()->set_name("Mark Lee");
    o.start.mutable_agent()->set_agent_id("A1042");
    o.start.mutable_debtor()->set_name("Christopher Taylor");
    o.start.set_dialed(dialed);
    o.clock = [] { return absl::FromUnixSeconds(1700000000); };
    auto s = CallSession::Create(std::move(o));
    ASSERT_TRUE(s.ok()) << s.status();
    session_ = *std::move(s);
  }

  std::vector<v1::Alert> Say(v1::Speaker speaker, const std::string& text, bool final = true, std::string id = "") {
    v1::Utterance u;
    u.set_utterance_id(id.empty() ? "u" + std::to_string(next_id_++) : id);
    u.set_speaker(speaker);
    u.set_text(text);
    u.set_is_final(final);
    auto alerts = session_->OnUtterance(u);
    EXPECT_TRUE(alerts.ok()) << alerts.status();
    return alerts.ok() ? *alerts : std::vector<v1::Alert>{};
  }
  std::vector<v1::Alert> Agent(const std::string& text) { return Say(v1::AGENT, text); }
  void Counterparty(const std::string& text) { EXPECT_THAT(Say(v1::COUNTERPARTY, text), IsEmpty()); }

  static std::vector<std::string> Rules(const std::vector<v1::Alert>& alerts) {
    std::vector<std::string> ids;
    for (const auto& a : alerts) ids.push_back(a.rule_id());
    return ids;
  }

  std::unique_ptr<CallSession> session_;
  int next_id_ = 0;
};

TEST_F(CallSessionTest, FullIdentificationInFirstTurnRaisesNothing) {
  Start();
  EXPECT_THAT(Agent("Hi, this is Mark Lee from Summit Recovery Services. Is Christopher Taylor available?"), IsEmpty());
  EXPECT_TRUE(session_->agent_identified());
}

TEST_F(CallSessionTest, CoachingNamesTheCallsOwnPeople) {
  Start();
  const auto alerts = Agent("Hi, is Christopher Taylor there?");
  ASSERT_THAT(Rules(alerts), ElementsAre("mini.identification"));
  EXPECT_EQ(alerts[0].coaching(),
            "Say: this is Mark Lee (A1042) with Summit Recovery Services LLC, may I speak with "
            "Christopher Taylor? Or ask for Christopher.");
}

TEST_F(CallSessionTest, MissingOrganizationIsFlaggedOnFirstSubstantiveTurn) {
  Start();
  EXPECT_THAT(Agent("hello?"), IsEmpty());  // a bare greeting is not judged
  auto alerts = Agent("hey uh this is mark can i speak to christopher taylor");
  ASSERT_THAT(Rules(alerts), ElementsAre("mini.identification"));
  EXPECT_EQ(alerts[0].turn(), 1);
  EXPECT_EQ(alerts[0].violation(), v1::MISSING_SELF_IDENTIFICATION);
  // Supplying it later does not cure the first turn, and it is not judged again.
  Counterparty("who is this");
  EXPECT_THAT(Agent("its mark lee from summit recovery services"), IsEmpty());
  EXPECT_TRUE(session_->agent_identified());
}

TEST(OrganizationAfterVerificationTest, OrganizationMayWaitUntilTheDebtorIsVerified) {
  auto source = ParsePolicyFile(CALLGUARD_SOURCE_DIR "/services/engine/testdata/mini-en.textproto");
  ASSERT_TRUE(source.ok());
  source->policy.mutable_parameters()->set_organization_after_verification(true);
  auto engine = Engine::Create(Engine::Options{{*source}, 1, CompileOptions{}});
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto run = [&](const std::vector<std::pair<v1::Speaker, std::string>>& turns) {
    CallSession::Options o;
    o.engine = *engine;
    o.start.set_call_id("c");
    o.start.set_policy("mini-en");
    o.start.mutable_agency()->set_name("Summit Recovery Services");
    o.start.mutable_agent()->set_name("Mark Lee");
    o.start.mutable_debtor()->set_name("Christopher Taylor");
    auto s = CallSession::Create(std::move(o));
    EXPECT_TRUE(s.ok());
    std::vector<std::pair<int, std::string>> raised;
    int i = 0;
    for (const auto& [speaker, text] : turns) {
      v1::Utterance u;
      u.set_utterance_id("u" + std::to_string(i));
      u.set_speaker(speaker);
      u.set_text(text);
      u.set_is_final(true);
      auto alerts = (*s)->OnUtterance(u);
      EXPECT_TRUE(alerts.ok());
      for (const auto& a : *alerts) raised.emplace_back(i, a.rule_id());
      ++i;
    }
    return raised;
  };
  // Named after verification: compliant under this policy.
  EXPECT_THAT(run({{v1::AGENT, "hi this is mark, is this christopher taylor?"},
                   {v1::COUNTERPARTY, "yes"},
                   {v1::AGENT, "thanks, I am calling from summit recovery services"}}),
              IsEmpty());
  // Never named once verified: flagged on the first agent turn after verification.
  auto raised = run({{v1::AGENT, "hi this is mark, is this christopher taylor?"},
                     {v1::COUNTERPARTY, "yes"},
                     {v1::AGENT, "thanks christopher, how are you today"}});
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].first, 2);
  EXPECT_EQ(raised[0].second, "mini.identification");
  // Without a name the first turn fails as before.
  raised = run({{v1::AGENT, "is this christopher taylor?"}});
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].first, 0);
}

TEST_F(CallSessionTest, WorkNumberAndOnBehalfOfIdentify) {
  Start();
  EXPECT_THAT(Agent("agent 1042 calling on behalf of evergreen wireless, may I speak with Christopher?"), IsEmpty());
}

TEST_F(CallSessionTest, ImpersonatedOrganizationDoesNotIdentify) {
  Start();
  EXPECT_THAT(Rules(Agent("my name is mark, calling on behalf of the county court")),
              ElementsAre("mini.identification", "mini.impersonation"));
}

TEST_F(CallSessionTest, ImpersonatedOrganizationIsNotShieldedAsTheOrganization) {
  Start();
  Agent("Mark Lee from Summit Recovery Services.");
  EXPECT_THAT(Rules(Agent("I am calling on behalf of the county court")), ElementsAre("mini.impersonation"));
}

TEST_F(CallSessionTest, DebtMentionToUnverifiedAnswererIsDisclosure) {
  Start();
  auto alerts = Agent("Mark Lee with Summit Recovery Services. Are you Christopher? You owe us $500.");
  ASSERT_THAT(Rules(alerts), ElementsAre("mini.disclosure"));
  ASSERT_EQ(alerts[0].evidence_size(), 2);
  const std::string text = "Mark Lee with Summit Recovery Services. Are you Christopher? You owe us $500.";
  EXPECT_EQ(alerts[0].evidence(0).text(), "owe");
  EXPECT_EQ(text.substr(alerts[0].evidence(0).begin(), 3), "owe");
  EXPECT_EQ(alerts[0].evidence(1).text(), "$500");
  EXPECT_EQ(alerts[0].call_id(), "call-1");
  EXPECT_EQ(alerts[0].policy_id(), "mini-en");
  EXPECT_EQ(alerts[0].time().seconds(), 1700000000);
}

TEST_F(CallSessionTest, AgencyNameIsNotADisclosure) {
  Start();
  CallSession::Options o;
  o.engine = MiniEngine();
  o.start.set_call_id("call-2");
  o.start.set_policy("mini-en");
  o.start.mutable_agency()->set_name("Keystone Account Services");
  o.start.mutable_agent()->set_name("Ryan");
  auto s = CallSession::Create(std::move(o));
  ASSERT_TRUE(s.ok());
  v1::Utterance u;
  u.set_utterance_id("a");
  u.set_speaker(v1::AGENT);
  u.set_text("this is ryan from keystone account services");
  u.set_is_final(true);
  auto alerts = (*s)->OnUtterance(u);
  ASSERT_TRUE(alerts.ok());
  EXPECT_THAT(*alerts, IsEmpty());
}

TEST_F(CallSessionTest, VerifiedDebtorMayHearAboutTheDebt) {
  Start();
  Agent("Mark Lee, Summit Recovery Services, may I speak with Christopher Taylor?");
  Counterparty("speaking");
  EXPECT_EQ(session_->party(), v1::PARTY_DEBTOR);
  EXPECT_THAT(Agent("I am a debt collector. Your balance is $400."), IsEmpty());
}

TEST_F(CallSessionTest, ShortNameConfirmsTheDebtor) {
  Start();
  Agent("Mark Lee, Summit Recovery Services, may I speak with Christopher Taylor?");
  Counterparty("yeah this is chris");
  EXPECT_EQ(session_->party(), v1::PARTY_DEBTOR);
}

TEST_F(CallSessionTest, AffirmativeAnswerToIdentityQuestionConfirms) {
  Start();
  Agent("Mark Lee, Summit Recovery Services. Is this Christopher Taylor?");
  Counterparty("yes");
  EXPECT_EQ(session_->party(), v1::PARTY_DEBTOR);
}

TEST_F(CallSessionTest, ThirdPartyAndWrongNumberAndVoicemail) {
  Start();
  Agent("Mark Lee, Summit Recovery Services. Is this Christopher Taylor?");
  Counterparty("No, this is his wife.");
  EXPECT_EQ(session_->party(), v1::PARTY_THIRD_PARTY);
  EXPECT_THAT(Rules(Agent("Tell him his account is past due.")), ElementsAre("mini.disclosure"));
  Counterparty("sorry, wrong number");
  EXPECT_EQ(session_->party(), v1::PARTY_WRONG_NUMBER);
  Counterparty("please leave a message after the tone");
  EXPECT_EQ(session_->party(), v1::PARTY_VOICEMAIL);
}

TEST_F(CallSessionTest, YesToAThirdPartysGuessIsDisclosure) {
  Start();
  Agent("Mark Lee from Summit Recovery Services, is Christopher there?");
  Counterparty("hes not home. is this about his credit card?");
  EXPECT_THAT(Rules(Agent("yeah, please have him call me back")), ElementsAre("mini.confirm"));
}

TEST_F(CallSessionTest, NegatedThreatIsSilentConditionalThreatFires) {
  Start();
  Agent("Mark Lee from Summit Recovery Services.");
  EXPECT_THAT(Agent("nobody will arrest you"), IsEmpty());
  EXPECT_THAT(Agent("you will not be arrested"), IsEmpty());
  EXPECT_THAT(Rules(Agent("if you dont pay youll be arrested")), ElementsAre("mini.threat.arrest"));
}

TEST_F(CallSessionTest, InterimAlertIsNotRepeatedOnFinal) {
  Start();
  Agent("Mark Lee from Summit Recovery Services.");
  auto interim = Say(v1::AGENT, "if you dont pay you go to jail", false, "x");
  ASSERT_THAT(Rules(interim), ElementsAre("mini.threat.arrest"));
  EXPECT_TRUE(interim[0].interim());
  EXPECT_THAT(Say(v1::AGENT, "if you dont pay you go to jail tomorrow", true, "x"), IsEmpty());
  // Interim updates share the turn index of their utterance.
  auto next = Agent("jail");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].turn(), 2);
  EXPECT_EQ(interim[0].turn(), 1);
}

TEST_F(CallSessionTest, IdentificationWaitsForTheFinalText) {
  Start();
  EXPECT_THAT(Say(v1::AGENT, "hi this is mark lee", false, "a"), IsEmpty());
  EXPECT_THAT(Say(v1::AGENT, "hi this is mark lee from summit recovery", true, "a"), IsEmpty());
  EXPECT_TRUE(session_->agent_identified());
}

TEST_F(CallSessionTest, InducementOnlyToTheVerifiedDebtor) {
  Start();
  Agent("Mark Lee from Summit Recovery Services.");
  EXPECT_THAT(Agent("take a payday loan"), IsEmpty());  // not yet verified: not this kind
  Agent("is this Christopher?");
  Counterparty("yes");
  EXPECT_THAT(Rules(Agent("take a payday loan")), ElementsAre("mini.inducement"));
}

TEST_F(CallSessionTest, DebtCollectorStatementMustFollowVerification) {
  Start();
  Agent("Mark Lee from Summit Recovery Services, I am a debt collector, is this Christopher?");
  Counterparty("yes");
  // The statement before verification does not count.
  EXPECT_THAT(Rules(Agent("your balance is $300")), ElementsAre("mini.dc"));
  // Raised once per call.
  EXPECT_THAT(Agent("the balance is still $300"), IsEmpty());
}

TEST_F(CallSessionTest, DebtCollectorStatementInTheSameTurnSatisfies) {
  Start();
  Agent("Mark Lee from Summit Recovery Services, is this Christopher?");
  Counterparty("speaking");
  EXPECT_THAT(Agent("this is an attempt to collect a debt. you owe $300"), IsEmpty());
}

TEST_F(CallSessionTest, GuarantorOnGuarantorDialMayBeTold) {
  Start(v1::GUARANTOR);
  Agent("Mark Lee from Summit Recovery Services, am I speaking with Mr. Brown?");
  Counterparty("yes");
  EXPECT_EQ(session_->party(), v1::PARTY_GUARANTOR);
  EXPECT_THAT(Agent("you guaranteed a loan whose balance is past due"), IsEmpty());
}

TEST_F(CallSessionTest, PartyUpdateOverridesInference) {
  Start();
  Agent("Mark Lee from Summit Recovery Services.");
  v1::PartyUpdate update;
  update.set_party(v1::PARTY_DEBTOR);
  ASSERT_TRUE(session_->OnPartyUpdate(update).ok());
  EXPECT_THAT(Rules(Agent("you owe $50")), ElementsAre("mini.dc"));
  update.set_party(static_cast<v1::Party>(99));
  EXPECT_EQ(FieldOf(session_->OnPartyUpdate(update)), "party_update.party");
}

TEST_F(CallSessionTest, BadUtterancesNameTheField) {
  Start();
  v1::Utterance u;
  u.set_speaker(v1::AGENT);
  u.set_text("hello");
  EXPECT_EQ(FieldOf(session_->OnUtterance(u).status()), "utterance.utterance_id");
  u.set_utterance_id("a");
  u.set_speaker(v1::SPEAKER_UNSPECIFIED);
  EXPECT_EQ(FieldOf(session_->OnUtterance(u).status()), "utterance.speaker");
  u.set_speaker(v1::AGENT);
  u.set_text("   ");
  EXPECT_EQ(FieldOf(session_->OnUtterance(u).status()), "utterance.text");
  u.set_text(std::string(5000, 'a'));
  auto big = session_->OnUtterance(u);
  EXPECT_EQ(FieldOf(big.status()), "utterance.text");
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("4096"));
  u.set_text("bad \xff\xfe utf8");
  EXPECT_EQ(FieldOf(session_->OnUtterance(u).status()), "utterance.text");
  // The call goes on after errors, and the failed events took no turn.
  u.set_text("Mark Lee from Summit Recovery Services");
  auto ok = session_->OnUtterance(u);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(session_->turns(), 1);
  u.set_speaker(v1::COUNTERPARTY);
  EXPECT_EQ(FieldOf(session_->OnUtterance(u).status()), "utterance.speaker");
}

// The counterparty's interim results are checked and numbered but not judged: only the final
// result moves the party inference.
TEST_F(CallSessionTest, CounterpartyInterimIsCheckedNotJudged) {
  Start();
  Agent("Mark Lee, Summit Recovery Services. Is this Christopher Taylor?");
  EXPECT_THAT(Say(v1::COUNTERPARTY, "sorry wrong", /*final=*/false, "c1"), IsEmpty());
  EXPECT_THAT(Say(v1::COUNTERPARTY, "sorry wrong number", /*final=*/false, "c1"), IsEmpty());
  EXPECT_NE(session_->party(), v1::PARTY_WRONG_NUMBER);
  EXPECT_EQ(session_->last_turn(), 1);
  EXPECT_EQ(session_->turns(), 2);
  EXPECT_THAT(Say(v1::COUNTERPARTY, "sorry wrong number", /*final=*/true, "c1"), IsEmpty());
  EXPECT_EQ(session_->party(), v1::PARTY_WRONG_NUMBER);
  EXPECT_EQ(session_->turns(), 2);

  v1::Utterance u;
  u.set_utterance_id("c2");
  u.set_speaker(v1::COUNTERPARTY);
  u.set_is_final(false);
  u.set_text("bad \xff\xfe utf8");
  auto bad = session_->OnUtterance(u);
  EXPECT_EQ(FieldOf(bad.status()), "utterance.text");
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("UTF-8"));
  u.set_text("who is this");
  ASSERT_TRUE(session_->OnUtterance(u).ok());
  // The agent may not take over an utterance the counterparty started, interim or not.
  u.set_speaker(v1::AGENT);
  EXPECT_EQ(FieldOf(session_->OnUtterance(u).status()), "utterance.speaker");
  EXPECT_EQ(session_->turns(), 3);
}

TEST_F(CallSessionTest, BadStartNamesTheField) {
  CallSession::Options o;
  o.engine = MiniEngine();
  o.start.set_policy("mini-en");
  EXPECT_EQ(FieldOf(CallSession::Create(o).status()), "start.call_id");
  o.start.set_call_id("c");
  o.start.set_policy("nope");
  auto unknown = CallSession::Create(o);
  EXPECT_EQ(FieldOf(unknown.status()), "start.policy");
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("mini-en"));
  o.start.set_policy("mini-en");
  o.start.set_language("zh");
  EXPECT_EQ(FieldOf(CallSession::Create(o).status()), "start.language");
}

TEST_F(CallSessionTest, SummaryCountsAlertsByKind) {
  Start();
  Agent("hello this is mark");
  Agent("you will go to jail");
  auto summary = session_->End("hangup");
  EXPECT_EQ(summary.call_id(), "call-1");
  EXPECT_EQ(summary.turns(), 2);
  EXPECT_EQ(summary.alerts(), 2);
  EXPECT_EQ(summary.by_kind_size(), 2);
  EXPECT_FALSE(summary.agent_identified());
  EXPECT_EQ(summary.end_reason(), "hangup");
}

TEST(CheckUtteranceTest, StatelessCheckUsesTheGivenContext) {
  v1::CheckRequest request;
  request.set_policy("mini-en");
  request.set_text("you owe $200");
  request.mutable_context()->set_agent_already_identified(true);
  auto response = CheckUtterance(MiniEngine(), request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->alerts_size(), 1);
  EXPECT_EQ(response->alerts(0).violation(), v1::THIRD_PARTY_DISCLOSURE);
  request.mutable_context()->set_party(v1::PARTY_DEBTOR);
  request.mutable_context()->set_debt_collector_disclosed(true);
  response = CheckUtterance(MiniEngine(), request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->alerts_size(), 0);
  request.set_policy("missing");
  EXPECT_EQ(FieldOf(CheckUtterance(MiniEngine(), request).status()), "policy");
}

// A turn's updates as a recognizer might send them: the text grown a code point at a time,
// sometimes taken back to the previous word (a revision), then the final text.
std::vector<v1::Utterance> GrowingUpdates(const v1::Turn& turn, const std::string& id) {
  std::vector<v1::Utterance> out;
  auto add = [&](absl::string_view text, bool final) {
    v1::Utterance& u = out.emplace_back();
    u.set_utterance_id(id);
    u.set_speaker(turn.speaker());
    u.set_text(std::string(text));
    u.set_is_final(final);
  };
  const std::string& text = turn.text();
  size_t last_space = 0;
  int step = 0;
  for (size_t pos = 0; pos < text.size();) {
    DecodeUtf8(text, &pos);
    if (pos >= text.size()) break;
    if (text[pos] == ' ') last_space = pos;
    if (absl::StripAsciiWhitespace(text.substr(0, pos)).empty()) continue;
    add(absl::string_view(text).substr(0, pos), false);
    if (++step % 23 == 0 && last_space > 0) add(absl::string_view(text).substr(0, last_space), false);
  }
  add(text, true);
  return out;
}

// Interim results evaluated incrementally raise exactly what evaluating every update from
// scratch raises: the shipped policies over their example calls.
TEST(IncrementalUpdatesTest, GrowingInterimResultsMatchWholeTextEvaluation) {
  std::vector<PolicySource> sources;
  for (const char* policy : {"us-fdcpa", "cn-collection"}) {
    auto source = ParsePolicyFile(absl::StrCat(CALLGUARD_SOURCE_DIR "/policies/", policy, ".textproto"));
    ASSERT_TRUE(source.ok()) << source.status();
    sources.push_back(*std::move(source));
  }
  auto engine = Engine::Create(Engine::Options{std::move(sources), 1});
  ASSERT_TRUE(engine.ok()) << engine.status();
  size_t updates = 0, alerts = 0;
  for (const char* file : {"calls-en.jsonl", "calls-zh.jsonl"}) {
    auto calls = ReadTranscripts(absl::StrCat(CALLGUARD_SOURCE_DIR "/examples/", file));
    ASSERT_TRUE(calls.ok()) << calls.status();
    for (const v1::Transcript& call : *calls) {
      std::unique_ptr<CallSession> sessions[2];
      for (int k = 0; k < 2; ++k) {
        CallSession::Options o;
        o.engine = *engine;
        o.start = CallStartFromTranscript(call);
        o.clock = [] { return absl::FromUnixSeconds(1700000000); };
        o.incremental_updates = k == 0;
        auto s = CallSession::Create(std::move(o));
        ASSERT_TRUE(s.ok()) << s.status();
        sessions[k] = *std::move(s);
      }
      for (int turn = 0; turn < call.turns_size(); ++turn) {
        for (const v1::Utterance& u : GrowingUpdates(call.turns(turn), absl::StrCat("u", turn))) {
          auto incremental = sessions[0]->OnUtterance(u);
          auto whole = sessions[1]->OnUtterance(u);
          ASSERT_EQ(incremental.status(), whole.status()) << call.call_id() << ": " << u.text();
          if (!whole.ok()) continue;
          ASSERT_EQ(incremental->size(), whole->size()) << call.call_id() << ": " << u.text();
          for (size_t i = 0; i < whole->size(); ++i) {
            EXPECT_EQ((*incremental)[i].SerializeAsString(), (*whole)[i].SerializeAsString())
                << call.call_id() << ": " << u.text() << "\n" << (*whole)[i].DebugString();
          }
          ++updates;
          alerts += whole->size();
        }
      }
      EXPECT_EQ(sessions[0]->End("done").SerializeAsString(), sessions[1]->End("done").SerializeAsString())
          << call.call_id();
    }
  }
  EXPECT_GT(updates, 1000u);
  EXPECT_GT(alerts, 5u);
}

}  // namespace
}  // namespace callguard
