#ifndef CALLGUARD_ENGINE_NEGATION_SCOPE_H_
#define CALLGUARD_ENGINE_NEGATION_SCOPE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace callguard {

struct NegationOptions {
  // Negation cues, normalized: "not", "no one", "nobody", "never", "wont", "不会", "没有", "别".
  std::vector<std::string> cues;
  // Words that close a cue's scope: a cue before them does not negate a match after them
  // ("if you dont pay | youll be arrested", "不还 | 就 抓你"). The clause marker "," always
  // closes the scope.
  std::vector<std::string> scope_breakers;
  // Words said in passing ("you know", "i mean", "就是说", "那个"): the scope reaches across
  // them, they neither negate nor close it, and they do not count toward the window. Without
  // them "我们不会就是说上门的" would end at the 就 of 就是说, a breaker.
  std::vector<std::string> fillers;
  int window_words = 5;  // Latin text: how many words back from the match a cue may stand
  int window_chars = 6;  // CJK text: how many characters back
};

// Decides whether a match in NORMALIZED text is negated by a cue shortly before it, in the
// same clause: "nobody will arrest you", "you will not be arrested", "我们不会联系你家人".
// A conditional ("if you dont pay youll be arrested") is not a negation of the consequence.
// Immutable and thread-safe.
class NegationScope {
 public:
  static absl::StatusOr<std::unique_ptr<NegationScope>> Create(const NegationOptions& options);

  // `match_begin` is a byte offset into `normalized` where the match starts.
  bool IsNegated(absl::string_view normalized, size_t match_begin) const;

 private:
  NegationScope() = default;
  bool LatinNegated(absl::string_view normalized, size_t match_begin, size_t scan_end) const;
  bool CjkNegated(absl::string_view normalized, size_t scan_end) const;

  int window_words_ = 5;
  int window_chars_ = 6;

  // Cues, breakers and fillers together, longest first, then fillers, breakers and cues of the
  // same length in that order, so that the first phrase that matches at a position is the one
  // that decides.
  enum class Role { kFiller, kBreaker, kCue };
  struct LatinPhrase {
    std::vector<std::string> words;
    Role role;
  };
  struct CjkPhrase {
    std::string text;
    Role role;
  };
  std::vector<LatinPhrase> latin_phrases_;
  std::vector<CjkPhrase> cjk_phrases_;
  // Indices into latin_phrases_ by each phrase's last word, and into cjk_phrases_ by its last
  // code point, in those vectors' order: a position is compared only with the phrases that
  // could end there.
  absl::flat_hash_map<std::string, std::vector<uint32_t>> latin_by_last_word_;
  absl::flat_hash_map<uint32_t, std::vector<uint32_t>> cjk_by_last_char_;
  size_t max_latin_phrase_words_ = 1;
  bool latin_fillers_ = false;  // some filler is Latin: look one window further back
};

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_NEGATION_SCOPE_H_
