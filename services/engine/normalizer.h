#ifndef CALLGUARD_ENGINE_NORMALIZER_H_
#define CALLGUARD_ENGINE_NORMALIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace callguard {

// Text as the matcher sees it, with a map back to the original bytes.
struct NormalizedText {
  std::string text;
  // For byte i of `text`, the original bytes [orig_begin[i], orig_end[i]) it came from.
  std::vector<uint32_t> orig_begin;
  std::vector<uint32_t> orig_end;

  // The original byte span covering normalized bytes [begin, end). Requires begin < end.
  std::pair<uint32_t, uint32_t> ToOriginal(size_t begin, size_t end) const;
  void Clear();
};

// The normalization of one growing text: the interim results of one utterance, each the whole
// text so far. Kept by the caller between updates so that an update extending the previous
// text normalizes only from the last point where the earlier output could not change (the
// start of the last word or number phrase, roughly); any other text starts over. The output
// is always exactly what Normalizer::Normalize gives. Not thread-safe; movable, not copyable.
class GrowingNormalization {
 public:
  // Bounds on the memory kept (about 10 bytes per byte of text): at most kMaxLive growing texts
  // in the process, each at most kMaxTextBytes long. Beyond either, NormalizeGrowing answers
  // RESOURCE_EXHAUSTED and the caller normalizes the text whole (the same answer, more work).
  static constexpr int kMaxLive = 8192;
  static constexpr size_t kMaxTextBytes = 1024;
  // How many hold state now (for tests and metrics).
  static int live();

  GrowingNormalization();
  ~GrowingNormalization();
  GrowingNormalization(GrowingNormalization&& other) noexcept;
  GrowingNormalization& operator=(GrowingNormalization&& other) noexcept;
  GrowingNormalization(const GrowingNormalization&) = delete;
  GrowingNormalization& operator=(const GrowingNormalization&) = delete;

  // The text as last normalized; valid until the next update or Reset().
  const NormalizedText& normalized() const;
  bool active() const { return state_ != nullptr; }
  // Ends the text (it is complete). Its buffers become this thread's spare (one at most) for
  // the next text to start with; otherwise they are freed.
  void Reset();
  // Copies the output into *out, then Reset().
  void Release(NormalizedText* out);

 private:
  friend class Normalizer;
  struct State;
  static std::unique_ptr<State>& ThreadSpare();
  std::unique_ptr<State> state_;
};

struct NormalizerOptions {
  bool fold_traditional_to_simplified = true;
  bool convert_number_words = true;  // "three hundred eighty" -> "380", "一千三百四" -> "1340"
  bool drop_fillers = true;          // "uh", "um", "er" as words (not "uh huh", "mm hmm")
  bool collapse_repeated_words = true;  // a stutter: "the the police" -> "the police"
};

// Turns recognizer text into one canonical form so that one pattern covers its spellings:
//  - NFKC case folding (full-width to half-width, ligatures, case); combining marks dropped;
//  - Traditional Chinese folded to Simplified;
//  - apostrophes inside words dropped ("don't", "don’t" -> "dont");
//  - clause punctuation (. , ! ? ; : and the CJK forms) becomes a "," token: " , " between
//    Latin words, "," next to CJK; other punctuation and symbols become spaces, except
//    $ % ¥ € £ which stay;
//  - thousands separators dropped ("4,480" -> "4480"), decimal points kept;
//  - number words written as ASCII digits;
//  - hesitation words dropped ("uh", "um", "er"; not the answers "uh huh" and "mm hmm");
//  - a Latin word repeated right after itself written once ("the the police");
//  - runs of white space become one space; spaces between two CJK characters are removed;
//    the result has no leading or trailing space.
// Thread-safe: one instance serves every thread.
class Normalizer {
 public:
  static absl::StatusOr<std::unique_ptr<Normalizer>> Create(const NormalizerOptions& options);
  // The process-wide instance with default options (built on first use).
  static const Normalizer& Default();

  ~Normalizer();
  Normalizer(const Normalizer&) = delete;
  Normalizer& operator=(const Normalizer&) = delete;

  // Fails with INVALID_ARGUMENT on invalid UTF-8. `out` is cleared first; its buffers are
  // reused, so a caller normalizing many texts should keep one NormalizedText around.
  absl::Status Normalize(absl::string_view text, NormalizedText* out) const;
  absl::StatusOr<NormalizedText> Normalize(absl::string_view text) const;

  // The same as Normalize(text), into growing->normalized(), computed incrementally when
  // `text` extends the text of the previous call with the same `growing`. On error
  // `growing` is reset. RESOURCE_EXHAUSTED: over the bounds of GrowingNormalization; use
  // Normalize instead.
  absl::Status NormalizeGrowing(absl::string_view text, GrowingNormalization* growing) const;

  // Normalizes a phrase that is not tracked back (names from the call start, etc.).
  std::string NormalizeForMatch(absl::string_view text) const;

 private:
  struct Impl;
  explicit Normalizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True for Han ideographs and other CJK characters that are written without spaces.
bool IsCjkCodePoint(uint32_t cp);

// Decodes one UTF-8 code point at text[*pos] and advances *pos; assumes valid UTF-8.
uint32_t DecodeUtf8(absl::string_view text, size_t* pos);
// Number of code points in text[0, byte_offset).
int32_t CodePointOffset(absl::string_view text, size_t byte_offset);

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_NORMALIZER_H_
