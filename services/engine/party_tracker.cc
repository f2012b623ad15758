#include "party_tracker.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace callguard {
namespace {

// Words around a name in a spoken reply or self-introduction that name nobody: "uh, andrea
// walker", "yes this is well walker speaking".
bool IsAnswerFiller(absl::string_view word) {
  static const auto* const kFillers = new absl::flat_hash_set<absl::string_view>{
      "uh", "um", "umm", "oh", "well", "hi", "hello", "hey", "yes", "yeah", "yep", "speaking", "here"};
  return kFillers->contains(word);
}

// How far (bytes, after the cue) the debtor's name may stand from a "this is" cue:
// "this is uh mandy" still confirms.
constexpr size_t kNameGapBytes = 12;
// An affirmative or denial must open the reply to count as the answer to the question.
constexpr uint32_t kAnswerStartBytes = 4;

}  // namespace

absl::Status SetHits::Reset(const CompiledPolicy* policy, absl::string_view text,
                            const std::vector<uint32_t>& candidates) {
  policy_ = policy;
  text_ = text;
  status_ = absl::OkStatus();
  candidates_.assign(candidates.begin(), candidates.end());
  const size_t sets = policy->set_count();
  spans.resize(sets);
  first_candidate_.assign(sets, -1);
  located_.assign(sets, false);
  for (size_t i = 0; i < candidates_.size(); ++i) {
    const SetId set = policy->set_of_pattern(candidates_[i]);
    if (first_candidate_[set] < 0) first_candidate_[set] = static_cast<int32_t>(i);
  }
  return policy->matcher().PrepareSpans(candidates_);
}

const std::vector<Span>& SetHits::SpansOf(SetId id) const {
  static const std::vector<Span>* const kNone = new std::vector<Span>();
  if (!Has(id)) return *kNone;
  if (policy_ != nullptr && !located_[id]) Locate(id);
  return spans[id];
}

void SetHits::Locate(SetId id) const {
  located_[id] = true;
  matches_.clear();
  for (size_t i = static_cast<size_t>(first_candidate_[id]); i < candidates_.size(); ++i) {
    if (policy_->set_of_pattern(candidates_[i]) != id) continue;
    if (absl::Status s = policy_->matcher().Spans(candidates_[i], text_, &matches_); !s.ok() && status_.ok()) {
      status_ = s;
    }
  }
  std::sort(matches_.begin(), matches_.end(), [](const PatternMatch& a, const PatternMatch& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.pattern < b.pattern;
  });
  std::vector<Span>& out = spans[id];
  out.clear();
  for (const PatternMatch& m : matches_) out.emplace_back(m.begin, m.end);
}

bool SetHits::AnyStartsBy(const std::vector<SetId>& ids, uint32_t offset) const {
  for (SetId id : ids) {
    for (const auto& s : SpansOf(id)) {
      if (s.first <= offset) return true;
    }
  }
  return false;
}

void PartyTracker::Init(const CompiledPolicy* policy, v1::DialedNumber dialed,
                        const std::vector<std::string>& debtor_names) {
  policy_ = policy;
  dialed_ = dialed;
  party_ = v1::PARTY_UNKNOWN;
  const auto& presumed = policy->source().parameters().presumed_debtor_dials();
  if (std::find(presumed.begin(), presumed.end(), dialed) != presumed.end()) party_ = v1::PARTY_DEBTOR;
  debtor_names_.clear();
  for (const auto& n : debtor_names) {
    if (n.empty()) continue;
    debtor_names_.push_back(NameMatcher::Create(n, NameMatcher::Kind::kPerson, policy->is_cjk()));
  }
}

bool PartyTracker::IsAllowedParty() const {
  const auto& params = policy_->source().parameters();
  switch (party_) {
    case v1::PARTY_DEBTOR:
      return true;
    case v1::PARTY_GUARANTOR: {
      const auto& dials = params.guarantor_dials();
      return std::find(dials.begin(), dials.end(), dialed_) != dials.end();
    }
    case v1::PARTY_THIRD_PARTY:
      return spouse_ && params.spouse_may_be_told();
    default:
      return false;
  }
}

bool PartyTracker::MentionsDebtor(absl::string_view normalized) const {
  for (const auto& n : debtor_names_) {
    if (n.Contains(normalized)) return true;
  }
  return false;
}

void PartyTracker::OnAgent(absl::string_view normalized, const SetHits& hits) {
  agent_asked_identity_ = hits.HasAny(policy_->party_inference().identity_question);
  // "may i speak with gregory wozniak" when Tyler Wozniak owes asks for a namesake (a parent, a
  // co-signer): a yes confirms that person, not the debtor.
  agent_named_debtor_ = MentionsDebtor(normalized) && !(agent_asked_identity_ && AsksForNamesake(normalized, hits));
}

bool PartyTracker::AsksForNamesake(absl::string_view normalized, const SetHits& hits) const {
  if (policy_->is_cjk()) return false;
  for (SetId id : policy_->party_inference().identity_question) {
    for (const auto& span : hits.SpansOf(id)) {
      if (NameAt(normalized.substr(span.second)) == NameAhead::kNamesake) return true;
    }
  }
  return false;
}

PartyTracker::NameAhead PartyTracker::NameAt(absl::string_view text) const {
  text = absl::StripLeadingAsciiWhitespace(text);
  // The next few words (skipping fillers like "uh") may hold the name.
  text = text.substr(0, std::min(text.size(), kNameGapBytes + 16));
  bool after_other_word = false;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (word == ",") break;
    bool matched = false;
    for (const auto& n : debtor_names_) matched = matched || n.MatchesWord(word);
    if (matched) return after_other_word ? NameAhead::kNamesake : NameAhead::kDebtor;
    after_other_word = !CanPrecedeOwnName(word);
  }
  return NameAhead::kNone;
}

void PartyTracker::OnCounterparty(absl::string_view normalized, const SetHits& hits) {
  const CompiledPartyInference& pi = policy_->party_inference();
  const bool guarantor_dial = dialed_ == v1::GUARANTOR;
  // On a guarantor dial the person asked for is the guarantor unless the agent named the debtor.
  const v1::Party confirmed = guarantor_dial && !agent_named_debtor_ ? v1::PARTY_GUARANTOR : v1::PARTY_DEBTOR;
  const bool asked = agent_asked_identity_ && (agent_named_debtor_ || guarantor_dial);
  const bool asked_anything = agent_asked_identity_;
  agent_asked_identity_ = false;

  if (hits.HasAny(pi.voicemail)) {
    party_ = v1::PARTY_VOICEMAIL;
    return;
  }
  if (hits.HasAny(pi.wrong_number)) {
    party_ = v1::PARTY_WRONG_NUMBER;
    return;
  }
  if (hits.HasAny(pi.spouse)) {
    party_ = v1::PARTY_THIRD_PARTY;
    spouse_ = true;
    return;
  }
  if (hits.HasAny(pi.third_party)) {
    party_ = v1::PARTY_THIRD_PARTY;
    spouse_ = false;
    return;
  }
  if (asked && hits.AnyStartsBy(pi.denial, kAnswerStartBytes)) {
    party_ = v1::PARTY_THIRD_PARTY;
    return;
  }
  if (hits.HasAny(pi.self_confirm)) {
    party_ = confirmed;
    return;
  }
  // "this is mandy", "我是李娟": a self-introduction with the debtor's name.
  for (SetId id : pi.self_name_prefix) {
    for (const auto& span : hits.SpansOf(id)) {
      absl::string_view rest = normalized.substr(span.second);
      rest = absl::StripLeadingAsciiWhitespace(rest);
      if (policy_->is_cjk()) {
        for (const auto& n : debtor_names_) {
          if (n.MatchesWord(rest)) {
            party_ = v1::PARTY_DEBTOR;
            return;
          }
        }
        continue;
      }
      // The debtor's surname after another given name ("this is karen brooks" when Daniel
      // Brooks owes) or an article ("the brooks residence") is a relative or the household.
      if (NameAt(rest) == NameAhead::kDebtor) {
        party_ = v1::PARTY_DEBTOR;
        return;
      }
    }
  }
  if (asked && hits.AnyStartsBy(pi.affirmative, kAnswerStartBytes)) {
    party_ = confirmed;
    return;
  }
  // "Who am I speaking with?" "Daniel Brooks." A reply that is nothing but the debtor's name.
  if (asked_anything && !guarantor_dial && IsOnlyDebtorName(normalized)) party_ = v1::PARTY_DEBTOR;
}

bool PartyTracker::CanPrecedeOwnName(absl::string_view word) {
  // Titles, initials and the fillers of a spoken self-introduction ("this is uh mr j brooks").
  static const auto* const kWords = new absl::flat_hash_set<absl::string_view>{
      "mr", "mister", "mrs", "missus", "ms", "miss", "dr", "doctor", "just", "actually"};
  return word.size() == 1 || kWords->contains(word) || IsAnswerFiller(word);
}

bool PartyTracker::IsOnlyDebtorName(absl::string_view normalized) const {
  if (debtor_names_.empty()) return false;
  if (policy_->is_cjk()) {
    std::string compact;
    for (char c : normalized) {
      if (c != ' ' && c != ',') compact.push_back(c);
    }
    // "我叫" and "我是" are self-introductions the phrase sets handle; here only the bare name,
    // perhaps after an interjection.
    for (absl::string_view filler : {"嗯", "喂", "啊", "哦"}) {
      while (absl::StartsWith(compact, filler)) compact.erase(0, filler.size());
    }
    for (const auto& n : debtor_names_) {
      if (!n.MatchesWord(compact)) continue;
      // Nothing after the name but a particle: "李娟" or "李娟啊", not "李娟是我姐".
      for (const auto& v : n.variants()) {
        if (!absl::StartsWith(compact, v)) continue;
        absl::string_view rest = absl::string_view(compact).substr(v.size());
        if (rest.empty() || rest == "啊" || rest == "呀" || rest == "吧" || rest == "嘛") return true;
      }
    }
    return false;
  }
  int name_words = 0;
  int words = 0;
  for (absl::string_view word : absl::StrSplit(normalized, ' ', absl::SkipEmpty())) {
    if (word == "," || IsAnswerFiller(word)) continue;
    if (++words > 3) return false;
    bool matched = false;
    for (const auto& n : debtor_names_) matched = matched || n.MatchesWord(word);
    if (!matched) return false;
    ++name_words;
  }
  return name_words > 0;
}

}  // namespace callguard
