#ifndef CALLGUARD_ENGINE_COMPILED_POLICY_H_
#define CALLGUARD_ENGINE_COMPILED_POLICY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "callguard/v1/guard.pb.h"
#include "callguard/v1/policy.pb.h"
#include "negation_scope.h"
#include "pattern_matcher.h"

namespace callguard {

// Index of a phrase set within a compiled policy.
using SetId = int32_t;

struct CompiledRule {
  const v1::Rule* rule = nullptr;  // points into CompiledPolicy::source()
  std::vector<SetId> any_of, with_any_of, unless_any_of;
  std::vector<SetId> counterparty_any_of;   // ConfirmationCheck
  std::vector<SetId> greeting, person, organization, not_organization;  // IdentificationCheck
  std::vector<SetId> statement, debt;       // DisclosureStatementCheck
};

struct CompiledPartyInference {
  std::vector<SetId> self_confirm, self_name_prefix, third_party, wrong_number, affirmative,
      identity_question, denial, voicemail, spouse;
};

struct CompileOptions {
  // Where compiled pattern databases are kept between runs; "" for none.
  std::string cache_dir;
  // Build every start-of-match database at load time instead of on first hit (servers do,
  // so that no live call pays for a compilation).
  bool warm_up = false;
};

// One policy compiled: its phrase sets in a single PatternMatcher, its rules resolved to set
// ids, its negation scope. Immutable; shared by every call that uses it.
class CompiledPolicy {
 public:
  // Fails with INVALID_ARGUMENT naming the policy, rule or phrase set and the reason.
  static absl::StatusOr<std::unique_ptr<CompiledPolicy>> Create(v1::Policy policy, std::string source_path,
                                                                const CompileOptions& options = {});

  const v1::Policy& source() const { return policy_; }
  const std::string& source_path() const { return source_path_; }
  const std::string& id() const { return policy_.id(); }
  const std::string& version() const { return policy_.version(); }
  bool is_cjk() const { return policy_.language() == "zh"; }

  // The matcher's scopes (PatternMatcher::Options::scopes): the patterns of the sets read of
  // the agent's words, and of the counterparty's.
  static constexpr int kAgentScope = 0;
  static constexpr int kCounterpartyScope = 1;
  const PatternMatcher& matcher() const { return *matcher_; }
  const NegationScope& negation() const { return *negation_; }
  const std::vector<CompiledRule>& rules() const { return rules_; }
  const CompiledPartyInference& party_inference() const { return party_; }
  size_t set_count() const { return set_names_.size(); }
  const std::string& set_name(SetId id) const { return set_names_[id]; }
  // Which set a matcher pattern belongs to.
  SetId set_of_pattern(uint32_t pattern) const { return pattern_set_[pattern]; }
  // -1 if there is no such set.
  SetId FindSet(absl::string_view name) const;

  v1::PolicyInfo Info() const;

 private:
  CompiledPolicy() = default;
  v1::Policy policy_;
  std::string source_path_;
  std::unique_ptr<PatternMatcher> matcher_;
  std::unique_ptr<NegationScope> negation_;
  std::vector<std::string> set_names_;
  absl::flat_hash_map<std::string, SetId> set_index_;
  std::vector<SetId> pattern_set_;
  std::vector<CompiledRule> rules_;
  CompiledPartyInference party_;
};

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_COMPILED_POLICY_H_
