#include "negation_scope.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "normalizer.h"
#include "status_util.h"

namespace callguard {
namespace {

// Code points in valid UTF-8 text: the bytes that do not continue a sequence.
size_t CodePointsIn(absl::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// "you dont want to end up in jail" warns rather than denies: a cue right before one of these
// words is not a cue.
// "do not take out a loan or borrow from anyone": a disjunction of two predicates under one
// negation. "or" still ends the scope when a new clause starts after it ("dont pay or we
// will sue"), told by its first word.
bool StartsNewClause(absl::string_view word) {
  static const auto* const kStarters = new absl::flat_hash_set<absl::string_view>{
      "i",    "you",  "we",    "they",   "he",     "she",   "it",    "youll", "well", "theyll", "ill",
      "hell", "shell", "itll", "im",     "youre",  "were",  "theyre", "else", "otherwise", "then",
      "your", "his",  "her",   "their",  "our",    "my",    "there", "theres", "this", "that"};
  return kStarters->contains(word);
}

bool CancelsCue(absl::string_view next_word) {
  return next_word == "want" || next_word == "wants" || next_word == "wanna" || next_word == "wanted";
}

enum class Script { kLatin, kCjk, kMixed };

Script ScriptOf(absl::string_view phrase) {
  bool cjk = false;
  bool latin = false;
  size_t pos = 0;
  while (pos < phrase.size()) {
    const uint32_t cp = DecodeUtf8(phrase, &pos);
    if (cp == ' ') continue;
    (IsCjkCodePoint(cp) ? cjk : latin) = true;
  }
  if (cjk && latin) return Script::kMixed;
  return cjk ? Script::kCjk : Script::kLatin;
}

// Start of the code point that ends at `end` (end > 0).
size_t PreviousCodePointStart(absl::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return start;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NegationScope>> NegationScope::Create(const NegationOptions& options) {
  if (options.window_words < 1 || options.window_words > 64) {
    return InvalidField("window_words", "must be between 1 and 64");
  }
  if (options.window_chars < 1 || options.window_chars > 64) {
    return InvalidField("window_chars", "must be between 1 and 64");
  }
  std::unique_ptr<NegationScope> scope(new NegationScope());
  scope->window_words_ = options.window_words;
  scope->window_chars_ = options.window_chars;

  // Phrases are normalized like the text they are compared with, so "won't" and "不會" work.
  const Normalizer& normalizer = Normalizer::Default();
  auto add = [&](const std::string& raw, Role role, absl::string_view field, size_t index) -> absl::Status {
    const std::string field_name = absl::StrCat(field, "[", index, "]");
    std::string phrase = normalizer.NormalizeForMatch(raw);
    if (phrase.empty()) return InvalidField(field_name, absl::StrCat("\"", raw, "\" is empty once normalized"));
    if (phrase.find(',') != std::string::npos) {
      return InvalidField(field_name, absl::StrCat("\"", raw, "\" contains clause punctuation"));
    }
    switch (ScriptOf(phrase)) {
      case Script::kMixed:
        return InvalidField(field_name, absl::StrCat("\"", raw, "\" mixes CJK and Latin text"));
      case Script::kCjk:
        phrase.erase(std::remove(phrase.begin(), phrase.end(), ' '), phrase.end());
        scope->cjk_phrases_.push_back({std::move(phrase), role});
        break;
      case Script::kLatin: {
        std::vector<std::string> words = absl::StrSplit(phrase, ' ', absl::SkipEmpty());
        scope->max_latin_phrase_words_ = std::max(scope->max_latin_phrase_words_, words.size());
        scope->latin_fillers_ = scope->latin_fillers_ || role == Role::kFiller;
        scope->latin_phrases_.push_back({std::move(words), role});
        break;
      }
    }
    return absl::OkStatus();
  };
  for (size_t i = 0; i < options.cues.size(); ++i) {
    absl::Status status = add(options.cues[i], Role::kCue, "cues", i);
    if (!status.ok()) return status;
  }
  for (size_t i = 0; i < options.scope_breakers.size(); ++i) {
    absl::Status status = add(options.scope_breakers[i], Role::kBreaker, "scope_breakers", i);
    if (!status.ok()) return status;
  }
  for (size_t i = 0; i < options.fillers.size(); ++i) {
    absl::Status status = add(options.fillers[i], Role::kFiller, "fillers", i);
    if (!status.ok()) return status;
  }
  std::stable_sort(scope->latin_phrases_.begin(), scope->latin_phrases_.end(),
                   [](const LatinPhrase& a, const LatinPhrase& b) {
                     if (a.words.size() != b.words.size()) return a.words.size() > b.words.size();
                     return a.role < b.role;
                   });
  std::stable_sort(scope->cjk_phrases_.begin(), scope->cjk_phrases_.end(),
                   [](const CjkPhrase& a, const CjkPhrase& b) {
                     if (a.text.size() != b.text.size()) return a.text.size() > b.text.size();
                     return a.role < b.role;
                   });
  for (size_t i = 0; i < scope->latin_phrases_.size(); ++i) {
    scope->latin_by_last_word_[scope->latin_phrases_[i].words.back()].push_back(static_cast<uint32_t>(i));
  }
  for (size_t i = 0; i < scope->cjk_phrases_.size(); ++i) {
    const std::string& text = scope->cjk_phrases_[i].text;
    size_t last = PreviousCodePointStart(text, text.size());
    scope->cjk_by_last_char_[DecodeUtf8(text, &last)].push_back(static_cast<uint32_t>(i));
  }
  return scope;
}

bool NegationScope::IsNegated(absl::string_view normalized, size_t match_begin) const {
  match_begin = std::min(match_begin, normalized.size());
  size_t scan_end = match_begin;
  while (scan_end > 0 && normalized[scan_end - 1] == ' ') --scan_end;
  if (scan_end == 0) return false;
  size_t pos = PreviousCodePointStart(normalized, scan_end);
  const uint32_t before = DecodeUtf8(normalized, &pos);
  if (IsCjkCodePoint(before)) return CjkNegated(normalized, scan_end);
  return LatinNegated(normalized, match_begin, scan_end);
}

bool NegationScope::LatinNegated(absl::string_view text, size_t match_begin, size_t scan_end) const {
  size_t pos = scan_end;
  if (pos == match_begin && match_begin < text.size() && text[match_begin] != ' ') {
    // The match starts inside a word: the part before it belongs to the matched word.
    while (pos > 0 && text[pos - 1] != ' ') --pos;
    while (pos > 0 && text[pos - 1] == ' ') --pos;
  }
  // Words before the match, nearest first; enough for the window plus the longest phrase.
  // Twice the window: a coordinating "or" lets the scope reach one window further.
  // Plus one window of filler words, if the policy has any.
  const size_t windows = latin_fillers_ ? 3 : 2;
  const size_t wanted = windows * static_cast<size_t>(window_words_) + max_latin_phrase_words_ - 1;
  absl::InlinedVector<absl::string_view, 16> words;
  while (pos > 0 && words.size() < wanted) {
    size_t start = pos;
    while (start > 0 && text[start - 1] != ' ') --start;
    words.push_back(text.substr(start, pos - start));
    pos = start;
    while (pos > 0 && text[pos - 1] == ' ') --pos;
  }
  size_t match_word_end = match_begin;
  while (match_word_end < text.size() && text[match_word_end] != ' ') ++match_word_end;
  const absl::string_view match_word = text.substr(match_begin, match_word_end - match_begin);

  size_t window = std::min(words.size(), static_cast<size_t>(window_words_));
  bool extended = false;
  size_t skipped = 0;  // filler words passed, not counted toward the window
  for (size_t j = 0; j < window; ++j) {
    if (words[j] == ",") return false;
    if (!extended && (words[j] == "or" || words[j] == "nor") &&
        !StartsNewClause(j == 0 ? match_word : words[j - 1])) {
      extended = true;
      window = std::min(words.size(), j + 1 + static_cast<size_t>(window_words_));
      continue;
    }
    const auto candidates = latin_by_last_word_.find(words[j]);
    if (candidates == latin_by_last_word_.end()) continue;
    for (uint32_t index : candidates->second) {
      const LatinPhrase& phrase = latin_phrases_[index];
      const size_t k = phrase.words.size();
      if (j + k > words.size()) continue;
      bool matches = true;
      for (size_t m = 0; m < k && matches; ++m) matches = words[j + m] == phrase.words[k - 1 - m];
      if (!matches) continue;
      if (phrase.role == Role::kFiller) {
        // At most one window's worth of filler words, all among the words collected above.
        if (skipped + k <= static_cast<size_t>(window_words_)) {
          skipped += k;
          window = std::min(words.size(), window + k);
        }
        j += k - 1;
        break;
      }
      if (phrase.role == Role::kBreaker) return false;
      const absl::string_view next = j == 0 ? match_word : words[j - 1];
      if (CancelsCue(next)) continue;
      return true;
    }
  }
  return false;
}

bool NegationScope::CjkNegated(absl::string_view text, size_t scan_end) const {
  size_t pos = scan_end;
  size_t skipped_chars = 0;  // characters of fillers passed, at most one window's worth
  for (int step = 0; step < window_chars_ && pos > 0; ++step) {
    if (text[pos - 1] == ',') return false;
    size_t filler_start = std::string::npos;
    const size_t start = PreviousCodePointStart(text, pos);
    size_t decode = start;
    const auto candidates = cjk_by_last_char_.find(DecodeUtf8(text, &decode));
    if (candidates != cjk_by_last_char_.end()) {
      for (uint32_t index : candidates->second) {
        const CjkPhrase& phrase = cjk_phrases_[index];
        const size_t len = phrase.text.size();
        if (len > pos || text.substr(pos - len, len) != phrase.text) continue;
        if (phrase.role != Role::kFiller) return phrase.role == Role::kCue;
        // Skip the filler whole; it does not count toward the window.
        filler_start = pos - len;
        break;
      }
    }
    if (filler_start != std::string::npos && skipped_chars < static_cast<size_t>(window_chars_)) {
      skipped_chars += CodePointsIn(text.substr(filler_start, pos - filler_start));
      pos = filler_start;
      --step;
    } else {
      pos = start;
    }
    while (pos > 0 && text[pos - 1] == ' ') --pos;
  }
  return false;
}

}  // namespace callguard
