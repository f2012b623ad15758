#include "trainee_intents.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "normalizer.h"

namespace callguard::cli {
namespace {

bool IsWordByte(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

bool AllAscii(absl::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

bool ContainsPhrase(absl::string_view haystack, absl::string_view needle, bool word_bounded) {
  if (needle.empty()) return false;
  for (size_t pos = haystack.find(needle); pos != absl::string_view::npos; pos = haystack.find(needle, pos + 1)) {
    if (!word_bounded) return true;
    const size_t end = pos + needle.size();
    const bool left_ok = pos == 0 || !IsWordByte(haystack[pos - 1]) || !IsWordByte(needle.front());
    const bool right_ok = end == haystack.size() || !IsWordByte(haystack[end]) || !IsWordByte(needle.back());
    if (left_ok && right_ok) return true;
  }
  return false;
}

std::string IntentList(const std::vector<v1::TraineeIntent>& intents) {
  std::string out;
  for (v1::TraineeIntent i : intents) absl::StrAppend(&out, out.empty() ? "" : ", ", v1::TraineeIntent_Name(i));
  return out;
}

absl::StatusOr<IntentDetector> IntentDetector::Create(const v1::Scenario& scenario, const CompiledPolicy& policy) {
  IntentDetector detector;
  detector.policy_ = &policy;
  const Normalizer& normalizer = Normalizer::Default();
  for (const v1::IntentPhrases& entry : scenario.intents()) {
    for (const std::string& phrase : entry.phrases()) {
      std::string normalized = normalizer.NormalizeForMatch(phrase);
      if (normalized.empty()) continue;
      const bool latin = AllAscii(normalized);
      detector.keywords_.push_back({entry.intent(), std::move(normalized), latin});
    }
    for (const std::string& set : entry.policy_sets()) {
      const SetId id = policy.FindSet(set);
      if (id < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("scenario ", scenario.id(), ": policy ", policy.id(), " has no phrase set '", set, "'"));
      }
      detector.sets_.emplace_back(id, entry.intent());
    }
  }
  return detector;
}

absl::StatusOr<std::vector<v1::TraineeIntent>> IntentDetector::Detect(absl::string_view line,
                                                                      const EngineFindings& findings) const {
  std::vector<v1::TraineeIntent> found;
  if (findings.alerts != nullptr) {
    for (const v1::Alert& alert : *findings.alerts) {
      switch (alert.violation()) {
        case v1::PROHIBITED_THREAT:
        case v1::ABUSIVE_LANGUAGE:
        case v1::IMPERSONATION:
          found.push_back(v1::THREATENED);
          break;
        case v1::NEW_DEBT_INDUCEMENT:
          found.push_back(v1::SUGGESTED_BORROWING);
          break;
        case v1::THIRD_PARTY_DISCLOSURE:
        case v1::MISSING_DEBT_COLLECTOR_DISCLOSURE:
          found.push_back(v1::MENTIONED_DEBT);
          break;
        default:
          break;
      }
    }
  }
  if (findings.became_identified) found.push_back(v1::IDENTIFIED_SELF);
  if (findings.became_disclosed) found.push_back(v1::MENTIONED_DEBT);

  absl::StatusOr<NormalizedText> normalized = Normalizer::Default().Normalize(line);
  if (!normalized.ok()) return normalized.status();
  for (const Keyword& k : keywords_) {
    if (ContainsPhrase(normalized->text, k.normalized, k.word_bounded)) found.push_back(k.intent);
  }
  if (!sets_.empty()) {
    std::vector<uint32_t> patterns;
    absl::Status scanned = policy_->matcher().Candidates(normalized->text, &patterns);
    if (!scanned.ok()) return scanned;
    for (uint32_t p : patterns) {
      const SetId set = policy_->set_of_pattern(p);
      for (const auto& [id, intent] : sets_) {
        if (id == set) found.push_back(intent);
      }
    }
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  if (found.empty()) found.push_back(v1::OTHER);
  return found;
}

}  // namespace callguard::cli
