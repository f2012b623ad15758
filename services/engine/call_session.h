#ifndef CALLGUARD_ENGINE_CALL_SESSION_H_
#define CALLGUARD_ENGINE_CALL_SESSION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "callguard/v1/guard.pb.h"
#include "engine.h"
#include "name_matcher.h"
#include "normalizer.h"
#include "party_tracker.h"

namespace callguard {

// Documented input limits (README "Limits").
struct CallLimits {
  size_t max_utterance_bytes = 4096;
  size_t max_call_id_bytes = 128;
  size_t max_utterance_id_bytes = 128;
  size_t max_name_bytes = 256;
  size_t max_utterances_per_call = 20000;
};

// The state of one live call and the evaluation of its events. Not thread-safe: the service
// feeds one call's events in order from one stream.
class CallSession {
 public:
  struct Options {
    std::shared_ptr<const Engine> engine;  // the snapshot this call keeps until it ends
    v1::CallStart start;
    CallLimits limits;
    std::function<absl::Time()> clock;  // default absl::Now
  };

  // Validates the call start (call_id, policy, names); errors name the field.
  static absl::StatusOr<std::unique_ptr<CallSession>> Create(Options options);

  // Judges one recognizer result. Returns the alerts it raises; an alert already raised for
  // this utterance id (same rule) is not raised again by a later interim or final update.
  // Errors (empty, oversized or invalid text, unknown speaker) leave the call as it was.
  absl::StatusOr<std::vector<v1::Alert>> OnUtterance(const v1::Utterance& utterance);

  absl::Status OnPartyUpdate(const v1::PartyUpdate& update);

  // Ends the call and returns its summary.
  v1::CallSummary End(absl::string_view reason);

  // For stateless checks: start from a given state instead of a fresh call.
  void PresetState(v1::Party party, bool agent_identified, bool debt_collector_disclosed);
  absl::Status PresetPreviousCounterparty(absl::string_view text);

  const std::string& call_id() const { return start_.call_id(); }
  const CompiledPolicy& policy() const { return *policy_; }
  const Engine& engine() const { return *engine_; }
  v1::Party party() const { return party_.party(); }
  bool agent_identified() const { return agent_identified_; }
  bool debt_collector_disclosed() const { return dc_disclosed_; }
  int32_t turns() const { return next_turn_; }

 private:
  struct UtteranceState {
    int32_t turn = 0;
    v1::Speaker speaker = v1::SPEAKER_UNSPECIFIED;
    absl::flat_hash_set<std::string> raised;  // rule ids already raised on this utterance
  };
  // One utterance as the rules see it.
  struct View {
    const v1::Utterance* utterance;
    UtteranceState* state;
    const NormalizedText* text;
    const SetHits* hits;
  };

  CallSession() = default;
  absl::Status Validate(const v1::Utterance& u) const;
  void EvaluateAgent(const View& v, std::vector<v1::Alert>* alerts);
  void EvaluatePhrases(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts);
  void EvaluateIdentification(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts);
  void EvaluateStatement(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts);
  bool PartyAllows(v1::PartyScope scope) const;
  bool IsSubstantive(const CompiledRule& rule, const View& v) const;
  // Spans of the agency's name and of organization phrases ("on behalf of X").
  void OrganizationSpans(const View& v, std::vector<Span>* out) const;
  void Raise(const CompiledRule& rule, const View& v, std::vector<Span> spans, std::vector<v1::Alert>* alerts);

  std::shared_ptr<const Engine> engine_;
  const CompiledPolicy* policy_ = nullptr;
  v1::CallStart start_;
  CallLimits limits_;
  std::function<absl::Time()> clock_;
  PartyTracker party_;
  NameMatcher agent_name_, agent_number_, agency_name_;
  std::vector<SetId> organization_sets_;  // from the identification rule

  absl::flat_hash_map<std::string, UtteranceState> utterances_;
  int32_t next_turn_ = 0;
  int32_t alert_seq_ = 0;
  int32_t alert_count_ = 0;
  absl::flat_hash_map<int32_t, int32_t> kind_counts_;

  // Identification is judged once, on the first substantive agent turn, on its final text.
  std::string identification_utterance_;
  bool identification_judged_ = false;
  bool agent_identified_ = false;

  // The debt-collector statement, counted only since the debtor was verified.
  bool dc_disclosed_ = false;
  bool dc_judged_ = false;
  bool debtor_seen_ = false;

  // Which sets the counterparty's last final utterance matched.
  std::vector<bool> last_counterparty_sets_;
};

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_CALL_SESSION_H_
