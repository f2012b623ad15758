#ifndef CALLGUARD_ENGINE_PARTY_TRACKER_H_
#define CALLGUARD_ENGINE_PARTY_TRACKER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "callguard/v1/common.pb.h"
#include "compiled_policy.h"
#include "name_matcher.h"

namespace callguard {

// Which phrase sets matched an utterance, and where (normalized byte offsets).
//
// Two ways to fill it: set `spans` directly (every span of every set), or Reset() with the
// patterns the matcher's single scan found, in which case a set's spans are located only
// when first asked for (PatternMatcher::Spans over that set's candidate patterns). Most
// utterances match a few sets whose spans no rule ever looks at, and locating spans costs a
// scan per pattern.
class SetHits {
 public:
  // By SetId. Filled up front by the caller, or (after Reset) set by set on first use.
  mutable std::vector<std::vector<Span>> spans;

  // Starts over for `text` (which must outlive this object's use) with the sorted, distinct
  // patterns of `policy`'s matcher that matched it. Fails if a pattern's span database cannot
  // be had, so that later span look-ups cannot fail for that reason.
  absl::Status Reset(const CompiledPolicy* policy, absl::string_view text, const std::vector<uint32_t>& candidates);

  bool Has(SetId id) const {
    if (id < 0 || id >= static_cast<SetId>(spans.size())) return false;
    return policy_ != nullptr ? first_candidate_[id] >= 0 : !spans[id].empty();
  }
  bool HasAny(const std::vector<SetId>& ids) const {
    for (SetId id : ids) if (Has(id)) return true;
    return false;
  }
  // The spans of set `id`, sorted by start (empty if the set did not match).
  const std::vector<Span>& SpansOf(SetId id) const;
  // True if some span of `ids` starts at or before `offset` (normalized bytes).
  bool AnyStartsBy(const std::vector<SetId>& ids, uint32_t offset) const;

  // The first error met while locating spans after Reset() (a scan failing); OK otherwise.
  const absl::Status& status() const { return status_; }

 private:
  void Locate(SetId id) const;

  const CompiledPolicy* policy_ = nullptr;  // null: `spans` was filled by the caller
  absl::string_view text_;
  std::vector<uint32_t> candidates_;
  // Per set: index in candidates_ of its first pattern, -1 if none; and whether located.
  std::vector<int32_t> first_candidate_;
  mutable std::vector<bool> located_;
  mutable std::vector<PatternMatch> matches_;  // reused between look-ups
  mutable absl::Status status_;
};

// Infers who is on the line from the dialed number, party updates from the dialer and what
// the counterparty says in answer to the agent ("speaking", "this is his wife", "是我",
// "我是他妈妈", "打错了"). Until someone is shown to be the debtor (or guarantor), the
// counterparty counts as a third party.
class PartyTracker {
 public:
  PartyTracker() = default;
  void Init(const CompiledPolicy* policy, v1::DialedNumber dialed, const std::vector<std::string>& debtor_names);

  v1::Party party() const { return party_; }
  // The debtor, or a guarantor where the policy allows it, or a spouse where allowed.
  bool IsAllowedParty() const;
  // The debtor has been verified on this call (drives the debt-collector statement rule).
  bool DebtorVerified() const { return party_ == v1::PARTY_DEBTOR; }

  // The dialer says who is on the line; this overrides inference.
  void Assert(v1::Party party) {
    party_ = party;
    spouse_ = false;
  }

  // Called with each final AGENT utterance (normalized) and its set hits: remembers whether
  // the agent just asked "is this <debtor>?".
  void OnAgent(absl::string_view normalized, const SetHits& hits);
  // Called with each final COUNTERPARTY utterance.
  void OnCounterparty(absl::string_view normalized, const SetHits& hits);

  // True if `normalized` names the debtor (any name token, or the full CJK name).
  bool MentionsDebtor(absl::string_view normalized) const;

 private:
  const CompiledPolicy* policy_ = nullptr;
  v1::DialedNumber dialed_ = v1::DIALED_NUMBER_UNSPECIFIED;
  v1::Party party_ = v1::PARTY_UNKNOWN;
  bool spouse_ = false;
  std::vector<NameMatcher> debtor_names_;
  // The reply is the debtor's name and little else ("Daniel Brooks.", "嗯，李娟").
  bool IsOnlyDebtorName(absl::string_view normalized) const;
  // True if `word`, right before the debtor's name in a self-introduction, still lets the name
  // be the speaker's own: a title, an initial or a filler, not another given name.
  static bool CanPrecedeOwnName(absl::string_view word);
  // The agent's identity question names someone with the debtor's surname but another given
  // name ("is this gregory wozniak" when Tyler Wozniak owes).
  bool AsksForNamesake(absl::string_view normalized, const SetHits& hits) const;
  // Whom the first words of Latin `text` name: the debtor, someone else with one of the
  // debtor's names after another given name or an article ("karen brooks", "the brooks
  // residence" when Daniel Brooks owes), or nobody.
  enum class NameAhead { kNone, kDebtor, kNamesake };
  NameAhead NameAt(absl::string_view text) const;

  bool agent_asked_identity_ = false;      // last agent turn: "is this X?", "请问是X吗"
  bool agent_named_debtor_ = false;        // last agent turn mentioned the debtor's name
};

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_PARTY_TRACKER_H_
