#ifndef CALLGUARD_CLI_TRAINEE_INTENTS_H_
#define CALLGUARD_CLI_TRAINEE_INTENTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "callguard/v1/guard.pb.h"
#include "callguard/v1/training.pb.h"
#include "compiled_policy.h"

namespace callguard::cli {

// What the engine found on one trainee line, beside the line itself.
struct EngineFindings {
  const std::vector<v1::Alert>* alerts = nullptr;  // raised on this line
  bool became_identified = false;  // the session's agent-identified flag turned on with this line
  bool became_disclosed = false;   // the debt-collector statement was recognized on this line
};

// Tells what a trainee's line does (TraineeIntent), so the scripted counterparty can react.
// Sources, in this order of trust:
//  - the engine's alerts: threats, abuse and impersonation are THREATENED, inducement is
//    SUGGESTED_BORROWING, third-party disclosure and a missing debt-collector statement are
//    MENTIONED_DEBT;
//  - the session's flags: newly identified is IDENTIFIED_SELF, the debt-collector statement is
//    MENTIONED_DEBT;
//  - the scenario's `intents`: its keyword lists and the policy phrase sets it names.
// OTHER when nothing was found. Immutable after Create(); not tied to one call.
class IntentDetector {
 public:
  static absl::StatusOr<IntentDetector> Create(const v1::Scenario& scenario, const CompiledPolicy& policy);

  // Sorted by enum value, each once; never empty.
  absl::StatusOr<std::vector<v1::TraineeIntent>> Detect(absl::string_view line, const EngineFindings& findings) const;

 private:
  struct Keyword {
    v1::TraineeIntent intent;
    std::string normalized;
    bool word_bounded;  // Latin keywords match whole words only
  };
  IntentDetector() = default;
  const CompiledPolicy* policy_ = nullptr;
  std::vector<Keyword> keywords_;
  std::vector<std::pair<SetId, v1::TraineeIntent>> sets_;
};

// True if `needle` occurs in `haystack`; with `word_bounded`, not inside a longer ASCII word.
bool ContainsPhrase(absl::string_view haystack, absl::string_view needle, bool word_bounded);

// "ASKED_FOR_DEBTOR, MENTIONED_DEBT".
std::string IntentList(const std::vector<v1::TraineeIntent>& intents);

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_TRAINEE_INTENTS_H_
