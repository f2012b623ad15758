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
#include "pattern_matcher.h"

namespace callguard {

// Documented input limits (README "Limits").
struct CallLimits {
  size_t max_utterance_bytes = 4096;
  size_t max_call_id_bytes = 128;
  size_t max_utterance_id_bytes = 128;
  size_t max_name_bytes = 256;
  size_t max_utterances_per_call = 20000;
  // Per-utterance state (turn, speaker, alerts already raised) is kept for this many most
  // recent utterances, so that a long call holds bounded memory. An update to an utterance
  // older than that is judged as a new utterance: a new turn, and its alerts may be raised
  // again. Recognizers finalize an utterance long before this many others have begun.
  size_t recent_utterances = 64;
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
    // Interim results that extend the previous one of the same speaker are normalized and
    // scanned from where that one left off. Off, every update is evaluated from scratch: the
    // same answers, for tests and benchmarks that compare the two.
    bool incremental_updates = true;
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

  const std::string& call_id() const { return call_id_; }
  const CompiledPolicy& policy() const { return *policy_; }
  const Engine& engine() const { return *engine_; }
  v1::Party party() const { return party_.party(); }
  bool agent_identified() const { return agent_identified_; }
  bool debt_collector_disclosed() const { return dc_disclosed_; }
  int32_t turns() const { return next_turn_; }
  // The turn of the utterance the last successful OnUtterance() judged (-1 before any).
  int32_t last_turn() const { return last_turn_; }

 private:
  struct UtteranceState {
    uint64_t id_hash = 0;
    std::string id;
    int32_t turn = 0;
    v1::Speaker speaker = v1::SPEAKER_UNSPECIFIED;
    uint64_t raised = 0;  // bit i: rule i of the policy already raised on this utterance (i < 64)
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
  UtteranceState* FindRecent(absl::string_view id, uint64_t id_hash);
  // The state of the utterance `u` updates (null if it is new), or why `u` cannot be taken:
  // the call is at its utterance limit, or another speaker started that utterance.
  absl::StatusOr<UtteranceState*> Admit(const v1::Utterance& u, uint64_t id_hash);
  UtteranceState* AddRecent(absl::string_view id, uint64_t id_hash, v1::Speaker speaker);
  bool Raised(const UtteranceState& state, size_t rule_index) const;
  bool MarkRaised(UtteranceState* state, size_t rule_index);
  void EvaluateAgent(const View& v, std::vector<v1::Alert>* alerts);
  void EvaluatePhrases(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts);
  void EvaluateIdentification(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts);
  void EvaluateStatement(const CompiledRule& rule, const View& v, std::vector<v1::Alert>* alerts);
  bool PartyAllows(v1::PartyScope scope) const;
  bool IsSubstantive(const CompiledRule& rule, const View& v) const;
  // Spans of the agency's name and of organization phrases ("on behalf of X").
  void OrganizationSpans(const View& v, std::vector<Span>* out) const;
  // `spans` (normalized offsets) is sorted and merged in place.
  void Raise(const CompiledRule& rule, const View& v, std::vector<Span>* spans, std::vector<v1::Alert>* alerts);

  std::shared_ptr<const Engine> engine_;
  const CompiledPolicy* policy_ = nullptr;
  // What alerts repeat from the call start (the rest of it is needed only at Create()).
  std::string call_id_, agent_id_, agency_id_;
  // For the placeholders of a rule's coaching: {agent}, {agent_id}, {agency}, {debtor},
  // {debtor_first}, filled with the call's own names so the advice reads as something to say.
  struct CoachingNames {
    std::string agent, agency, debtor;
  } coaching_names_;
  std::string FillCoaching(absl::string_view coaching) const;
  CallLimits limits_;
  std::function<absl::Time()> clock_;
  PartyTracker party_;
  NameMatcher agent_name_, agent_number_, agency_name_;
  // From the identification rule: phrases naming the organization, and those that never do.
  std::vector<SetId> organization_sets_, not_organization_sets_;

  // The most recent utterances, a ring of at most limits_.recent_utterances entries.
  std::vector<UtteranceState> recent_;
  // The prefilter stream of the agent's utterance in progress, so that each interim result scans
  // only its new words. Keyed by nothing but the text: a stream serves whatever text extends
  // what it was fed, so two interleaved utterances cost a rescan, never a wrong answer. The
  // counterparty needs none: only its final results are read (see OnUtterance).
  PatternMatcher::GrowingScan agent_scan_;
  // Likewise the normalization of the agent's utterance in progress.
  GrowingNormalization agent_text_;
  bool incremental_updates_ = true;
  size_t recent_oldest_ = 0;  // once the ring is full, the entry a new utterance replaces
  // Rules past the 64th of a policy, raised: (turn, rule index). Empty for the shipped policies.
  std::vector<std::pair<int32_t, uint32_t>> raised_beyond_64_;
  int32_t next_turn_ = 0;
  int32_t last_turn_ = -1;
  int32_t alert_seq_ = 0;
  int32_t alert_count_ = 0;
  std::vector<std::pair<int32_t, int32_t>> kind_counts_;  // (violation kind, alerts)

  // Identification is judged once, on the first substantive agent turn, on its final text.
  std::string identification_utterance_;
  bool identification_judged_ = false;
  bool agent_identified_ = false;
  // With the policy's organization_after_verification: the first turn named the agent only,
  // and the organization is due by the first agent turn after the debtor is verified.
  bool organization_deferred_ = false;
  bool organization_named_ = false;

  // The debt-collector statement, counted only since the debtor was verified.
  bool dc_disclosed_ = false;
  bool dc_judged_ = false;
  bool debtor_seen_ = false;

  // Which sets the counterparty's last final utterance matched.
  std::vector<bool> last_counterparty_sets_;
};

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_CALL_SESSION_H_
