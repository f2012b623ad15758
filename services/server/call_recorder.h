#ifndef CALLGUARD_SERVER_CALL_RECORDER_H_
#define CALLGUARD_SERVER_CALL_RECORDER_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "alert_store.h"
#include "call_session.h"
#include "callguard/v1/guard.pb.h"
#include "metrics.h"

namespace callguard {

// Writes one call to the alert store as its Converse stream goes: the start, each final
// utterance, every alert, each change of who is on the line or of what the agent has said
// about themselves (from a PartyUpdate or inferred from speech), and the end with its summary.
// Every write is queued (the store's asynchronous methods), so the call never waits for the
// disk; an alert reaches watchers once it is durable. It also counts calls, utterances and
// alerts in the metrics. A null store (or metrics) is skipped. Not thread-safe: the stream's
// lock guards it. Small, as one lives in every stream.
class CallRecorder {
 public:
  // None owned; `clock` must outlive the recorder.
  CallRecorder(AlertStore* store, MetricsRegistry* metrics, const std::function<absl::Time()>* clock)
      : store_(store), metrics_(metrics), clock_(clock) {}

  void OnStart(const v1::CallStart& start, const CallSession& session);
  // After the session accepted `utterance` (at call turn `turn`), judging it in `eval_ns`, and
  // raised `alerts`.
  void OnUtterance(const CallSession& session, const v1::Utterance& utterance, int32_t turn,
                   int64_t eval_ns, const std::vector<v1::Alert>& alerts);
  // After the session accepted the update.
  void OnPartyUpdate(const CallSession& session, const v1::PartyUpdate& update);
  void OnEnd(const v1::CallSummary& summary);

 private:
  // Records a PartyChange if the session's party or flags differ from the last recorded; its
  // note is the dialer's (from_dialer) or says the change was inferred from `turn`.
  void RecordChangeIfAny(const CallSession& session, bool from_dialer, absl::string_view dialer_note,
                         int32_t turn);

  AlertStore* const store_;
  MetricsRegistry* const metrics_;
  const std::function<absl::Time()>* const clock_;
  v1::Party party_ = v1::PARTY_UNKNOWN;
  bool agent_identified_ = false;
  bool debt_collector_disclosed_ = false;
};

}  // namespace callguard

#endif  // CALLGUARD_SERVER_CALL_RECORDER_H_
