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
    // Subsets of the patterns that some texts are scanned against instead of all of them: a
    // policy scans the agent's words only for what its rules about the agent use, and the
    // counterparty's only for what party inference uses. Each scope gets its own prefilter
    // (plus a streaming one if `growing`); Candidates and CandidatesGrowing take its index and
    // answer in the same pattern indices as the whole set. Empty: one scope of every pattern.
    struct Scope {
      std::vector<uint32_t> patterns;  // indices into `patterns`, ascending
      bool growing = true;             // CandidatesGrowing is used with this scope
    };
    std::vector<Scope> scopes;
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
    int scope_ = 0;  // whose streaming database stream_ belongs to
    std::string fed_;  // the text scanned into the stream: tells an extension from a revision
    std::vector<uint32_t> found_;  // patterns matched before the end of the fed bytes
  };

  // Fails with INVALID_ARGUMENT naming the first pattern Vectorscan rejects and why.
  static absl::StatusOr<std::unique_ptr<PatternMatcher>> Create(Options options);
  ~PatternMatcher();

  // Indices of the patterns that match somewhere in `text`, ascending, each once.
  absl::Status Candidates(absl::string_view text, std::vector<uint32_t>* out) const;
  // The same, among the patterns of scope `scope` only (see Options::scopes).
  absl::Status Candidates(absl::string_view text, int scope, std::vector<uint32_t>* out) const;

  // The same as Candidates(text, scope), computed incrementally when `text` extends the text of
  // the previous call with the same `scan` (scanning only the new bytes, then the end-of-text
  // checks on a copy of the stream). `scan` must only be used with this matcher. The scope
  // must be `growing`; without one, scope 0.
  absl::Status CandidatesGrowing(absl::string_view text, int scope, GrowingScan* scan,
                                 std::vector<uint32_t>* out) const;
  absl::Status CandidatesGrowing(absl::string_view text, GrowingScan* scan, std::vector<uint32_t>* out) const {
    return CandidatesGrowing(text, 0, scan, out);
  }

  size_t scope_count() const { return scopes_.size(); }
  // The patterns of `scope`, ascending (empty for an unknown scope).
  const std::vector<uint32_t>& scope_patterns(int scope) const;

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
  // The prefilters of one scope. The scope of every pattern shares `prefilter_`.
  struct ScopeDbs {
    std::vector<uint32_t> patterns;
    hs_database* block = nullptr;  // null for a scope without patterns
    uint64_t block_serial = 0;
    bool owns_block = false;
    hs_database* stream = nullptr;  // null unless the scope is growing (and has patterns)
    uint64_t stream_serial = 0;
  };
  PatternMatcher() = default;
  // Null for an index no scope has.
  const ScopeDbs* FindScope(int scope) const;
  absl::Status ScanBlock(hs_database* db, uint64_t serial, absl::string_view text, std::vector<uint32_t>* out) const;
  absl::StatusOr<hs_database*> SpanDatabase(uint32_t pattern) const;

  std::vector<std::string> patterns_;
  std::string cache_dir_;
  hs_database* prefilter_ = nullptr;
  uint64_t serial_ = 0;  // tells per-thread scratch which databases it was sized for
  std::vector<ScopeDbs> scopes_;
  int max_growing_scans_ = 0;
  mutable std::vector<std::unique_ptr<SpanDb>> span_dbs_;
};

// Checks one pattern the way PatternMatcher would compile it; for the policy linter.
absl::Status ValidatePattern(absl::string_view pattern);

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_PATTERN_MATCHER_H_
