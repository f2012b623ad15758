#ifndef CALLGUARD_ENGINE_PATTERN_MATCHER_H_
#define CALLGUARD_ENGINE_PATTERN_MATCHER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct hs_database;
struct hs_stream;

namespace callguard {

struct PatternMatch {
  uint32_t pattern;  // index into Options::patterns
  uint32_t begin;    // byte offsets into the scanned text, [begin, end)
  uint32_t end;
};

// Every pattern of a policy compiled into one Vectorscan database, scanned once per text
// (UTF-8, caseless, single-match: it only says WHICH patterns matched). Spans are then
// located only for the patterns that matched, each with its own small start-of-match
// database, built on first need, so that the common miss path pays for one scan only.
// Immutable after Create() apart from those lazily built span databases; thread-safe.
class PatternMatcher {
 public:
  struct Options {
    std::vector<std::string> patterns;
    // Optional, one per pattern: how errors name it ("phrase set 'arrest' pattern 2").
    std::vector<std::string> labels;
    // Where compiled databases are kept between runs (see DatabaseCache); "" for none.
    std::string cache_dir;
    // How many GrowingScan streams may be open at once in the process (each holds the
    // prefilter's stream state, about 0.5-1.5 KiB for the shipped policies, and a copy of the
    // text it was fed); beyond it,
    // CandidatesGrowing scans the whole text each time, with the same result.
    int max_growing_scans = 8192;
  };

  // The prefilter state of one growing text: the interim results of one utterance, each the
  // whole text so far. Kept by the caller between updates so that each update scans only the
  // bytes added since the previous one (Vectorscan streaming mode) when the new text extends
  // the old; a revised text starts over. Not thread-safe; movable, not copyable.
  class GrowingScan {
   public:
    GrowingScan() = default;
    ~GrowingScan();
    GrowingScan(GrowingScan&& other) noexcept;
    GrowingScan& operator=(GrowingScan&& other) noexcept;
    GrowingScan(const GrowingScan&) = delete;
    GrowingScan& operator=(const GrowingScan&) = delete;
    // Frees the stream state (the text is complete).
    void Reset();
    bool active() const { return stream_ != nullptr; }

   private:
    friend class PatternMatcher;
    hs_stream* stream_ = nullptr;
    const PatternMatcher* owner_ = nullptr;
    std::string fed_;  // the text scanned into the stream: tells an extension from a revision
    std::vector<uint32_t> found_;  // patterns matched before the end of the fed bytes
  };

  // Fails with INVALID_ARGUMENT naming the first pattern Vectorscan rejects and why.
  static absl::StatusOr<std::unique_ptr<PatternMatcher>> Create(Options options);
  ~PatternMatcher();

  // Indices of the patterns that match somewhere in `text`, ascending, each once.
  absl::Status Candidates(absl::string_view text, std::vector<uint32_t>* out) const;

  // The same as Candidates(text), computed incrementally when `text` extends the text of the
  // previous call with the same `scan` (scanning only the new bytes, then the end-of-text
  // checks on a copy of the stream). `scan` must only be used with this matcher.
  absl::Status CandidatesGrowing(absl::string_view text, GrowingScan* scan, std::vector<uint32_t>* out) const;

  // All non-overlapping leftmost-longest spans of `pattern` in `text`.
  absl::Status Spans(uint32_t pattern, absl::string_view text, std::vector<PatternMatch>* out) const;

  // Makes Spans() ready for each of `patterns` on this thread: builds their start-of-match
  // databases if need be and sizes this thread's scratch space for them. After this, Spans()
  // for them fails only if Vectorscan itself does.
  absl::Status PrepareSpans(const std::vector<uint32_t>& patterns) const;

  // Candidates() then Spans() for each candidate: every match, sorted by (begin, pattern).
  absl::Status Scan(absl::string_view text, std::vector<PatternMatch>* out) const;

  // Builds every start-of-match database now (on `threads` threads), so that the first hit
  // of a pattern on a live call does not pay for its compilation.
  absl::Status WarmUp(int threads) const;

  size_t pattern_count() const { return patterns_.size(); }
  const std::string& pattern(uint32_t i) const { return patterns_[i]; }

 private:
  struct SpanDb;
  PatternMatcher() = default;
  absl::StatusOr<hs_database*> SpanDatabase(uint32_t pattern) const;

  std::vector<std::string> patterns_;
  std::string cache_dir_;
  hs_database* prefilter_ = nullptr;
  hs_database* prefilter_stream_ = nullptr;  // the same patterns in streaming mode
  uint64_t serial_ = 0;  // tells per-thread scratch which databases it was sized for
  uint64_t stream_serial_ = 0;
  int max_growing_scans_ = 0;
  mutable std::vector<std::unique_ptr<SpanDb>> span_dbs_;
};

// Checks one pattern the way PatternMatcher would compile it; for the policy linter.
absl::Status ValidatePattern(absl::string_view pattern);

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_PATTERN_MATCHER_H_
