#ifndef CALLGUARD_ENGINE_NAME_MATCHER_H_
#define CALLGUARD_ENGINE_NAME_MATCHER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace callguard {

using Span = std::pair<uint32_t, uint32_t>;

// Finds a name known only when a call starts (the agent, the agency, the debtor) in
// normalized utterances. Such names cannot go into the policy's compiled database, and a
// plain substring search over a few variants costs far less than compiling per call.
class NameMatcher {
 public:
  enum class Kind { kPerson, kOrganization, kWorkNumber };

  NameMatcher() = default;
  // `name` is raw (it is normalized here); `cjk` selects the Chinese variant rules.
  static NameMatcher Create(absl::string_view name, Kind kind, bool cjk);

  // Every occurrence of any variant, at word boundaries in Latin text.
  void FindAll(absl::string_view normalized, std::vector<Span>* out) const;
  bool Contains(absl::string_view normalized) const;
  // True if `word` (one normalized Latin word, or a CJK string) is this name or a short form
  // of it ("chris" for "christopher", "建国" for "周建国").
  bool MatchesWord(absl::string_view word) const;
  // Contains(), or (Latin) some word of at least 4 letters is a short form of a name token:
  // an agent who says "jess from lakemont" has named herself as Jessica.
  bool ContainsNameOrShortForm(absl::string_view normalized) const;
  bool empty() const { return variants_.empty(); }
  const std::vector<std::string>& variants() const { return variants_; }

 private:
  std::vector<std::string> variants_;
  std::vector<std::string> tokens_;  // Latin name tokens, for MatchesWord
  bool cjk_ = false;
  bool digits_ = false;
};

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_NAME_MATCHER_H_
