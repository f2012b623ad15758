#include "pattern_matcher.h"

#include <hs.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "database_cache.h"
#include "normalizer.h"
#include <thread>

namespace callguard {
namespace {

constexpr unsigned kBaseFlags = HS_FLAG_UTF8 | HS_FLAG_CASELESS;

std::atomic<uint64_t> next_serial{1};
// GrowingScan streams open in the process, against PatternMatcher::Options::max_growing_scans.
std::atomic<int> open_growing_scans{0};

// Scratch space is per thread; it must be sized for every database it scans. Databases are
// told apart by serial numbers, never by address, since freed addresses get reused.
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  absl::flat_hash_set<uint64_t> ready;
  ~ThreadScratch() {
    if (scratch != nullptr) hs_free_scratch(scratch);
  }
};

absl::StatusOr<hs_scratch_t*> ScratchFor(const hs_database_t* db, uint64_t serial) {
  thread_local ThreadScratch tls;
  if (tls.ready.contains(serial)) return tls.scratch;
  if (hs_alloc_scratch(db, &tls.scratch) != HS_SUCCESS) {
    return absl::ResourceExhaustedError("cannot allocate Vectorscan scratch space");
  }
  tls.ready.insert(serial);
  return tls.scratch;
}

// Per thread, a few spare streams, one per streaming database (told apart by serial number),
// for the end-of-text checks of CandidatesGrowing. A stale one (its database since freed) is
// only ever freed, which needs no database.
struct SpareStreams {
  struct Entry {
    uint64_t serial = 0;
    hs_stream_t* stream = nullptr;
  };
  std::array<Entry, 4> entries;
  size_t next_victim = 0;
  ~SpareStreams() {
    for (Entry& e : entries) {
      if (e.stream != nullptr) hs_close_stream(e.stream, nullptr, nullptr, nullptr);
    }
  }
};

// This thread's spare stream for the database of `serial`, holding a copy of `from`; null if
// Vectorscan cannot allocate one.
hs_stream_t* SpareStreamFor(uint64_t serial, const hs_stream_t* from) {
  thread_local SpareStreams spares;
  for (SpareStreams::Entry& e : spares.entries) {
    if (e.serial == serial && e.stream != nullptr) {
      return hs_reset_and_copy_stream(e.stream, from, nullptr, nullptr, nullptr) == HS_SUCCESS ? e.stream : nullptr;
    }
  }
  SpareStreams::Entry& e = spares.entries[spares.next_victim];
  spares.next_victim = (spares.next_victim + 1) % spares.entries.size();
  if (e.stream != nullptr) hs_close_stream(e.stream, nullptr, nullptr, nullptr);
  e = SpareStreams::Entry{};
  hs_stream_t* copy = nullptr;
  if (hs_copy_stream(&copy, from) != HS_SUCCESS) return nullptr;
  e = SpareStreams::Entry{serial, copy};
  return copy;
}

int OnCandidate(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  static_cast<std::vector<uint32_t>*>(ctx)->push_back(id);
  return 0;
}

struct SpanContext {
  std::vector<std::pair<uint32_t, uint32_t>>* spans;
};

int OnSpan(unsigned int, unsigned long long from, unsigned long long to, unsigned int, void* ctx) {
  static_cast<SpanContext*>(ctx)->spans->emplace_back(static_cast<uint32_t>(from), static_cast<uint32_t>(to));
  return 0;
}

// Characters without case variants beyond ASCII: CJK scripts and the currency signs the
// normalizer keeps. Text made of these and of ASCII without capitals matches a pattern the
// same with or without HS_FLAG_CASELESS, provided the pattern's own letters are such
// characters or lowercase ASCII (CaseFreeLiterals).
bool IsCaselessCodePoint(uint32_t cp) {
  return (cp >= 0x2E80 && cp <= 0x2FDF) || (cp >= 0x3000 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0x20000 && cp <= 0x3134F) || cp == 0xA3 || cp == 0xA5 || cp == 0x20AC;
}

// True if `text` (valid UTF-8) has no ASCII capital and no other character with a case.
bool IsCaseFreeText(absl::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c >= 'A' && c <= 'Z') return false;
      ++i;
      continue;
    }
    // U+5000-U+9FFF, most of Chinese text, without decoding.
    if (c >= 0xE5 && c <= 0xE9 && i + 2 < n && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80) {
      i += 3;
      continue;
    }
    if (!IsCaselessCodePoint(DecodeUtf8(text, &i))) return false;
  }
  return true;
}

// True if caselessness cannot change what `pattern` matches in case-free text: its literal
// letters are lowercase ASCII or caseless characters, its class ranges lie within a-z or 0-9,
// and it uses no construct whose meaning this check does not know (escapes other than \b \w
// \s \d, their negations, \n \t \r \f and escaped punctuation; inline options; POSIX
// classes). A pattern failing it keeps HS_FLAG_CASELESS in the streaming database.
bool CaseFreeLiterals(absl::string_view pattern) {
  bool in_class = false;
  size_t class_start = 0;  // index just past "[" or "[^"
  int prev_literal = -1;   // the previous literal inside a class, -1 if none or not a literal
  bool range_pending = false;
  auto in_same_range = [](int a, int b) {
    return a <= b && ((a >= 'a' && b <= 'z') || (a >= '0' && b <= '9'));
  };
  for (size_t i = 0; i < pattern.size();) {
    const unsigned char c = static_cast<unsigned char>(pattern[i]);
    int literal = -1;
    size_t next = i + 1;
    if (c == '\\') {
      if (i + 1 >= pattern.size()) return false;
      const unsigned char e = static_cast<unsigned char>(pattern[i + 1]);
      if (absl::ascii_ispunct(e) || e == ' ') {
        literal = e;
      } else if (absl::string_view("bBwWsSdDntrf").find(static_cast<char>(e)) == absl::string_view::npos) {
        return false;
      }
      next = i + 2;
    } else if (c >= 0x80) {
      next = i;
      const uint32_t cp = DecodeUtf8(pattern, &next);
      if (!IsCaselessCodePoint(cp)) return false;
      literal = static_cast<int>(cp);
    } else if (c >= 'A' && c <= 'Z') {
      return false;
    } else if (!in_class) {
      if (c == '[') {
        in_class = true;
        next = i + 1 < pattern.size() && pattern[i + 1] == '^' ? i + 2 : i + 1;
        class_start = next;
        prev_literal = -1;
        range_pending = false;
        i = next;
        continue;
      }
      if (c == '(' && i + 1 < pattern.size() && pattern[i + 1] == '?' &&
          (i + 2 >= pattern.size() || pattern[i + 2] != ':')) {
        return false;
      }
    } else if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      return false;
    } else if (c == ']' && i > class_start) {
      if (range_pending) return false;
      in_class = false;
      i = next;
      continue;
    } else if (c == '-' && i > class_start && i + 1 < pattern.size() && pattern[i + 1] != ']') {
      if (prev_literal < 0) return false;
      range_pending = true;
      i = next;
      continue;
    } else {
      literal = c;
    }
    if (in_class) {
      if (range_pending) {
        if (literal < 0 || !in_same_range(prev_literal, literal)) return false;
        range_pending = false;
        literal = -1;  // a range's end does not start another range
      }
      prev_literal = literal;
    }
    i = next;
  }
  return !in_class;
}

std::string CompileErrorMessage(hs_compile_error_t* err) {
  std::string msg = err != nullptr && err->message != nullptr ? err->message : "unknown error";
  if (err != nullptr) hs_free_compile_error(err);
  return msg;
}

}  // namespace

struct PatternMatcher::SpanDb {
  std::once_flag once;
  hs_database_t* db = nullptr;
  uint64_t serial = 0;
  absl::Status status;
  ~SpanDb() {
    if (db != nullptr) hs_free_database(db);
  }
};

absl::StatusOr<std::unique_ptr<PatternMatcher>> PatternMatcher::Create(Options options) {
  std::unique_ptr<PatternMatcher> m(new PatternMatcher());
  m->patterns_ = std::move(options.patterns);
  m->cache_dir_ = std::move(options.cache_dir);
  m->serial_ = next_serial.fetch_add(1);
  m->span_dbs_.resize(m->patterns_.size());
  for (auto& s : m->span_dbs_) s = std::make_unique<SpanDb>();
  if (m->patterns_.empty()) {
    m->scopes_.resize(std::max<size_t>(options.scopes.size(), 1));
    return m;
  }
  for (size_t i = 0; i < m->patterns_.size(); ++i) {
    if (m->patterns_[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          i < options.labels.size() ? options.labels[i] : absl::StrCat("pattern ", i), " is empty"));
    }
  }
  // Compiles `subset` (indices into patterns_) with `mode` and per-pattern `flags`; errors
  // name the offending pattern by its label.
  auto compile = [&](const std::vector<uint32_t>& subset, const std::vector<unsigned>& flags,
                     unsigned mode) -> absl::StatusOr<hs_database_t*> {
    std::vector<const char*> expressions;
    std::vector<unsigned> subset_flags;
    for (uint32_t i : subset) {
      expressions.push_back(m->patterns_[i].c_str());
      subset_flags.push_back(flags[i]);
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(expressions.data(), subset_flags.data(), subset.data(),
                         static_cast<unsigned>(expressions.size()), mode, nullptr, &db, &err) != HS_SUCCESS) {
      const int at = err != nullptr ? err->expression : -1;
      std::string msg = CompileErrorMessage(err);
      if (at >= 0 && static_cast<size_t>(at) < subset.size()) {
        const uint32_t index = subset[at];
        const std::string label =
            index < options.labels.size() ? options.labels[index] : absl::StrCat("pattern ", index);
        return absl::InvalidArgumentError(absl::StrCat(label, " \"", m->patterns_[index], "\": ", msg));
      }
      return absl::InvalidArgumentError(absl::StrCat("pattern set does not compile: ", msg));
    }
    return db;
  };
  std::vector<uint32_t> all(m->patterns_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint32_t>(i);
  const std::vector<unsigned> flags(m->patterns_.size(), kBaseFlags | HS_FLAG_SINGLEMATCH);
  const std::string key = absl::StrCat("prefilter ", kBaseFlags | HS_FLAG_SINGLEMATCH, "\n",
                                       absl::StrJoin(m->patterns_, absl::string_view("\0", 1)));
  auto db = DatabaseCache(m->cache_dir_).GetOrCompile(key, [&] { return compile(all, flags, HS_MODE_BLOCK); });
  if (!db.ok()) return db.status();
  m->prefilter_ = *db;

  // Interim results re-send the whole text so far; a scope's streaming twin scans only what is
  // new. It is compiled case-sensitive where that cannot change a match in case-free text (the
  // normalizer's output): caselessness costs streaming scans of English text about a sixth
  // of their time. Other text is scanned whole.
  std::vector<unsigned> stream_flags = flags;
  std::string case_sensitive(m->patterns_.size(), '0');
  for (size_t i = 0; i < m->patterns_.size(); ++i) {
    if (!CaseFreeLiterals(m->patterns_[i])) continue;
    stream_flags[i] &= ~static_cast<unsigned>(HS_FLAG_CASELESS);
    case_sensitive[i] = '1';
  }
  m->max_growing_scans_ = options.max_growing_scans;
  std::vector<Options::Scope> scopes = std::move(options.scopes);
  const bool whole_set = scopes.empty();
  if (whole_set) scopes.push_back(Options::Scope{all, /*growing=*/true});
  for (size_t k = 0; k < scopes.size(); ++k) {
    std::vector<uint32_t>& subset = scopes[k].patterns;
    std::sort(subset.begin(), subset.end());
    subset.erase(std::unique(subset.begin(), subset.end()), subset.end());
    if (!subset.empty() && subset.back() >= m->patterns_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("scope ", k, " names pattern ", subset.back(), " of ",
                                                     m->patterns_.size()));
    }
    ScopeDbs& dbs = m->scopes_.emplace_back();
    dbs.patterns = subset;
    if (subset.empty()) continue;
    // The scope's patterns by index, so that the key tells scopes of the same policy apart.
    const std::string scope_key = whole_set ? std::string() : absl::StrCat("scope ", absl::StrJoin(subset, ","), " ");
    if (whole_set || subset.size() == m->patterns_.size()) {  // every pattern: the same database
      dbs.block = m->prefilter_;
      dbs.block_serial = m->serial_;
    } else {
      auto block = DatabaseCache(m->cache_dir_).GetOrCompile(absl::StrCat(scope_key, key), [&] {
        return compile(subset, flags, HS_MODE_BLOCK);
      });
      if (!block.ok()) return block.status();
      dbs.block = *block;
      dbs.owns_block = true;
      dbs.block_serial = next_serial.fetch_add(1);
    }
    if (scopes[k].growing && m->max_growing_scans_ > 0) {
      auto stream = DatabaseCache(m->cache_dir_).GetOrCompile(
          absl::StrCat(scope_key, "stream ", case_sensitive, " ", key),
          [&] { return compile(subset, stream_flags, HS_MODE_STREAM); });
      if (!stream.ok()) return stream.status();
      dbs.stream = *stream;
      dbs.stream_serial = next_serial.fetch_add(1);
    }
  }
  return m;
}

PatternMatcher::~PatternMatcher() {
  for (const ScopeDbs& dbs : scopes_) {
    if (dbs.owns_block) hs_free_database(dbs.block);
    if (dbs.stream != nullptr) hs_free_database(dbs.stream);
  }
  if (prefilter_ != nullptr) hs_free_database(prefilter_);
}

PatternMatcher::GrowingScan::~GrowingScan() { Reset(); }

PatternMatcher::GrowingScan::GrowingScan(GrowingScan&& other) noexcept { *this = std::move(other); }

PatternMatcher::GrowingScan& PatternMatcher::GrowingScan::operator=(GrowingScan&& other) noexcept {
  if (this != &other) {
    Reset();
    stream_ = std::exchange(other.stream_, nullptr);
    owner_ = std::exchange(other.owner_, nullptr);
    scope_ = other.scope_;
    fed_ = std::move(other.fed_);
    other.fed_.clear();
    found_ = std::move(other.found_);
    other.found_.clear();
  }
  return *this;
}

void PatternMatcher::GrowingScan::Reset() {
  if (stream_ != nullptr) {
    // No scratch: nothing is reported, the state is just freed.
    hs_close_stream(stream_, nullptr, nullptr, nullptr);
    stream_ = nullptr;
    open_growing_scans.fetch_sub(1, std::memory_order_relaxed);
  }
  owner_ = nullptr;
  fed_ = {};    // frees its memory, unlike clear()
  found_ = {};
}

absl::Status PatternMatcher::CandidatesGrowing(absl::string_view text, int scope, GrowingScan* scan,
                                               std::vector<uint32_t>* out) const {
  const ScopeDbs* found = FindScope(scope);
  if (found == nullptr) return absl::OutOfRangeError("no such scope");
  const ScopeDbs& dbs = *found;
  if (dbs.stream == nullptr || text.empty()) {
    scan->Reset();
    return Candidates(text, scope, out);
  }
  if (scan->owner_ != nullptr && scan->owner_ != this) {
    return absl::InvalidArgumentError("GrowingScan used with a different matcher");
  }
  if (scan->stream_ != nullptr && scan->scope_ != scope) scan->Reset();
  // The streaming database is exact for case-free text only (see Create); that is checked
  // as the text grows, on the new bytes.
  const bool extends = scan->stream_ != nullptr && text.size() >= scan->fed_.size() &&
                       std::memcmp(text.data(), scan->fed_.data(), scan->fed_.size()) == 0;
  if (!IsCaseFreeText(extends ? text.substr(scan->fed_.size()) : text)) {
    scan->Reset();
    return Candidates(text, scope, out);
  }
  auto scratch = ScratchFor(dbs.stream, dbs.stream_serial);
  if (!scratch.ok()) return scratch.status();
  if (!extends) {
    if (scan->stream_ != nullptr) {
      if (hs_reset_stream(scan->stream_, 0, nullptr, nullptr, nullptr) != HS_SUCCESS) {
        return absl::InternalError("Vectorscan stream reset failed");
      }
    } else {
      if (open_growing_scans.fetch_add(1, std::memory_order_relaxed) >= max_growing_scans_) {
        open_growing_scans.fetch_sub(1, std::memory_order_relaxed);
        return Candidates(text, scope, out);  // at the cap: whole-text scans, same answer
      }
      hs_stream_t* stream = nullptr;
      if (hs_open_stream(dbs.stream, 0, &stream) != HS_SUCCESS) {
        open_growing_scans.fetch_sub(1, std::memory_order_relaxed);
        return absl::ResourceExhaustedError("cannot open a Vectorscan stream");
      }
      scan->stream_ = stream;
      scan->owner_ = this;
      scan->scope_ = scope;
    }
    scan->fed_.clear();
    scan->found_.clear();
  }
  const absl::string_view added = text.substr(scan->fed_.size());
  if (!added.empty() && hs_scan_stream(scan->stream_, added.data(), static_cast<unsigned>(added.size()), 0,
                                       *scratch, OnCandidate, &scan->found_) != HS_SUCCESS) {
    scan->Reset();
    return absl::InternalError("Vectorscan stream scan failed");
  }
  scan->fed_.append(added.data(), added.size());
  // Matches that need the end of the text (a final \b or $) come from ending a copy, so the
  // stream itself can go on with the next update. The copy is this thread's spare stream for
  // the database: resetting a stream reports the end-of-text matches as closing one does,
  // without the allocation.
  out->assign(scan->found_.begin(), scan->found_.end());
  hs_stream_t* spare = SpareStreamFor(dbs.stream_serial, scan->stream_);
  if (spare == nullptr) return absl::ResourceExhaustedError("cannot copy a Vectorscan stream");
  if (hs_reset_stream(spare, 0, *scratch, OnCandidate, out) != HS_SUCCESS) {
    return absl::InternalError("Vectorscan stream reset failed");
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return absl::OkStatus();
}

absl::Status PatternMatcher::ScanBlock(hs_database* db, uint64_t serial, absl::string_view text,
                                       std::vector<uint32_t>* out) const {
  out->clear();
  if (db == nullptr || text.empty()) return absl::OkStatus();
  auto scratch = ScratchFor(db, serial);
  if (!scratch.ok()) return scratch.status();
  if (hs_scan(db, text.data(), static_cast<unsigned>(text.size()), 0, *scratch, OnCandidate, out) != HS_SUCCESS) {
    return absl::InternalError("Vectorscan scan failed");
  }
  std::sort(out->begin(), out->end());
  return absl::OkStatus();
}

absl::Status PatternMatcher::Candidates(absl::string_view text, std::vector<uint32_t>* out) const {
  return ScanBlock(prefilter_, serial_, text, out);
}

const PatternMatcher::ScopeDbs* PatternMatcher::FindScope(int scope) const {
  return scope >= 0 && static_cast<size_t>(scope) < scopes_.size() ? &scopes_[scope] : nullptr;
}

const std::vector<uint32_t>& PatternMatcher::scope_patterns(int scope) const {
  static const std::vector<uint32_t>* const kNone = new std::vector<uint32_t>();
  const ScopeDbs* found = FindScope(scope);
  return found != nullptr ? found->patterns : *kNone;
}

absl::Status PatternMatcher::Candidates(absl::string_view text, int scope, std::vector<uint32_t>* out) const {
  const ScopeDbs* found = FindScope(scope);
  if (found == nullptr) return absl::OutOfRangeError("no such scope");
  return ScanBlock(found->block, found->block_serial, text, out);
}

absl::StatusOr<hs_database*> PatternMatcher::SpanDatabase(uint32_t pattern) const {
  SpanDb& s = *span_dbs_[pattern];
  std::call_once(s.once, [&] {
    constexpr unsigned kSpanFlags = kBaseFlags | HS_FLAG_SOM_LEFTMOST;
    auto compile = [&]() -> absl::StatusOr<hs_database_t*> {
      hs_database_t* db = nullptr;
      hs_compile_error_t* err = nullptr;
      if (hs_compile(patterns_[pattern].c_str(), kSpanFlags, HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
        return absl::InvalidArgumentError(
            absl::StrCat("pattern \"", patterns_[pattern], "\": ", CompileErrorMessage(err)));
      }
      return db;
    };
    auto db = DatabaseCache(cache_dir_).GetOrCompile(absl::StrCat("span ", kSpanFlags, "\n", patterns_[pattern]),
                                                     compile);
    if (!db.ok()) {
      s.status = db.status();
      return;
    }
    s.db = *db;
    s.serial = next_serial.fetch_add(1);
  });
  if (!s.status.ok()) return s.status;
  return s.db;
}

absl::Status PatternMatcher::Spans(uint32_t pattern, absl::string_view text, std::vector<PatternMatch>* out) const {
  if (pattern >= patterns_.size()) return absl::OutOfRangeError("no such pattern");
  auto db = SpanDatabase(pattern);
  if (!db.ok()) return db.status();
  auto scratch = ScratchFor(*db, span_dbs_[pattern]->serial);
  if (!scratch.ok()) return scratch.status();
  thread_local std::vector<std::pair<uint32_t, uint32_t>> raw;
  raw.clear();
  SpanContext ctx{&raw};
  if (hs_scan(*db, text.data(), static_cast<unsigned>(text.size()), 0, *scratch, OnSpan, &ctx) != HS_SUCCESS) {
    return absl::InternalError("Vectorscan scan failed");
  }
  // Leftmost-longest, non-overlapping: the engine reports every end for each start.
  std::sort(raw.begin(), raw.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second > b.second;
  });
  uint32_t covered_to = 0;
  bool any = false;
  for (const auto& [from, to] : raw) {
    if (to <= from) continue;
    if (any && from < covered_to) continue;
    out->push_back(PatternMatch{pattern, from, to});
    covered_to = to;
    any = true;
  }
  return absl::OkStatus();
}

absl::Status PatternMatcher::PrepareSpans(const std::vector<uint32_t>& patterns) const {
  // Which patterns this thread has made ready, for the matcher it saw last: every update
  // asks again for the same few, and a bit test is cheaper than the look-ups below.
  thread_local struct {
    uint64_t serial = 0;
    std::vector<bool> ready;
  } prepared;
  if (prepared.serial != serial_) {
    prepared.serial = serial_;
    prepared.ready.assign(patterns_.size(), false);
  }
  for (uint32_t p : patterns) {
    if (p >= patterns_.size()) return absl::OutOfRangeError("no such pattern");
    if (prepared.ready[p]) continue;
    auto db = SpanDatabase(p);
    if (!db.ok()) return db.status();
    if (auto scratch = ScratchFor(*db, span_dbs_[p]->serial); !scratch.ok()) return scratch.status();
    prepared.ready[p] = true;
  }
  return absl::OkStatus();
}

absl::Status PatternMatcher::Scan(absl::string_view text, std::vector<PatternMatch>* out) const {
  out->clear();
  thread_local std::vector<uint32_t> candidates;
  if (auto s = Candidates(text, &candidates); !s.ok()) return s;
  for (uint32_t p : candidates) {
    if (auto s = Spans(p, text, out); !s.ok()) return s;
  }
  std::sort(out->begin(), out->end(), [](const PatternMatch& a, const PatternMatch& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.pattern < b.pattern;
  });
  return absl::OkStatus();
}

absl::Status PatternMatcher::WarmUp(int threads) const {
  std::atomic<size_t> next{0};
  std::vector<absl::Status> errors(std::max(threads, 1));
  std::vector<std::thread> workers;
  for (int t = 0; t < std::max(threads, 1); ++t) {
    workers.emplace_back([&, t] {
      for (size_t i = next++; i < patterns_.size(); i = next++) {
        auto db = SpanDatabase(static_cast<uint32_t>(i));
        if (!db.ok() && errors[t].ok()) errors[t] = db.status();
      }
    });
  }
  for (auto& w : workers) w.join();
  for (const auto& e : errors) {
    if (!e.ok()) return e;
  }
  return absl::OkStatus();
}

absl::Status ValidatePattern(absl::string_view pattern) {
  std::string p(pattern);
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile(p.c_str(), kBaseFlags | HS_FLAG_SOM_LEFTMOST, HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    return absl::InvalidArgumentError(CompileErrorMessage(err));
  }
  hs_free_database(db);
  return absl::OkStatus();
}

}  // namespace callguard
