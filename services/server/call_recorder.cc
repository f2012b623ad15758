#include "call_recorder.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace callguard {
namespace {

google::protobuf::Timestamp ToProto(absl::Time time) {
  google::protobuf::Timestamp stamp;
  const int64_t micros = absl::ToUnixMicros(time);
  stamp.set_seconds(micros / 1000000);
  stamp.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return stamp;
}

}  // namespace

void CallRecorder::OnStart(const v1::CallStart& start, const CallSession& session) {
  party_ = session.party();
  agent_identified_ = session.agent_identified();
  debt_collector_disclosed_ = session.debt_collector_disclosed();
  if (metrics_ != nullptr) metrics_->OnCallStarted();
  if (store_ == nullptr) return;
  // Queue errors are counted by the store; the call goes on regardless.
  store_->RecordCallStart(start, (*clock_)()).IgnoreError();
}

void CallRecorder::OnUtterance(const CallSession& session, const v1::Utterance& utterance,
                               int32_t turn, int64_t eval_ns,
                               const std::vector<v1::Alert>& alerts) {
  if (metrics_ != nullptr) {
    metrics_->OnUtterance(eval_ns);
    for (const v1::Alert& alert : alerts) metrics_->OnAlert(alert.violation());
  }
  if (store_ == nullptr) return;
  if (utterance.is_final()) {
    v1::TimelineUtterance record;
    record.set_turn(turn);
    record.set_utterance_id(utterance.utterance_id());
    record.set_speaker(utterance.speaker());
    record.set_text(utterance.text());
    record.set_is_final(true);
    record.set_start_ms(utterance.start_ms());
    record.set_end_ms(utterance.end_ms());
    *record.mutable_time() = ToProto((*clock_)());
    // RESOURCE_EXHAUSTED when the store is far behind: the utterance is dropped, not the call.
    store_->RecordUtterance(session.call_id(), record).IgnoreError();
  }
  for (const v1::Alert& alert : alerts) store_->AppendAlertAsync(alert, nullptr);
  RecordChangeIfAny(session, /*from_dialer=*/false, "", turn);
}

void CallRecorder::OnPartyUpdate(const CallSession& session, const v1::PartyUpdate& update) {
  if (store_ == nullptr) return;
  RecordChangeIfAny(session, /*from_dialer=*/true, update.note(), /*turn=*/-1);
}

void CallRecorder::OnEnd(const v1::CallSummary& summary) {
  if (metrics_ != nullptr) metrics_->OnCallEnded();
  if (store_ == nullptr) return;
  store_->RecordCallEnd(summary, (*clock_)()).IgnoreError();
}

void CallRecorder::RecordChangeIfAny(const CallSession& session, bool from_dialer,
                                     absl::string_view dialer_note, int32_t turn) {
  const v1::Party party = session.party();
  const bool identified = session.agent_identified();
  const bool disclosed = session.debt_collector_disclosed();
  if (party == party_ && identified == agent_identified_ && disclosed == debt_collector_disclosed_) {
    return;
  }
  std::vector<std::string> what;
  if (party != party_) what.push_back(absl::StrCat("party ", v1::Party_Name(party)));
  if (identified != agent_identified_) {
    what.push_back(identified ? "agent identified" : "agent no longer counted as identified");
  }
  if (disclosed != debt_collector_disclosed_) {
    what.push_back(disclosed ? "debt-collector statement made" : "debt-collector statement reset");
  }
  party_ = party;
  agent_identified_ = identified;
  debt_collector_disclosed_ = disclosed;

  v1::PartyChange change;
  change.set_after_turn(session.turns() - 1);
  change.set_party(party);
  change.set_agent_identified(identified);
  change.set_debt_collector_disclosed(disclosed);
  // Built only on a change: this runs on every utterance.
  const std::string note = !from_dialer           ? absl::StrCat("inferred from turn ", turn)
                           : dialer_note.empty() ? std::string("PartyUpdate from the dialer")
                                                 : std::string(dialer_note);
  change.set_note(absl::StrCat(note, ": ", absl::StrJoin(what, ", ")));
  change.set_from_dialer(from_dialer);
  *change.mutable_time() = ToProto((*clock_)());
  store_->RecordPartyChange(session.call_id(), change).IgnoreError();
}

}  // namespace callguard
