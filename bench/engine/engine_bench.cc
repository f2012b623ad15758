// Engine micro-benchmarks with the shipped policies.
//
// For each text class (English and Chinese, written and recognizer-style, short and long,
// raising an alert or not, and interim updates of a growing utterance) it times:
//   Full/<class>            CallSession::OnUtterance: normalize, scan, spans, rules, call state
//   Normalize/<class>       Normalizer::Default().Normalize alone
//   Scan/<class>            PatternMatcher::Candidates on the already-normalized text
//   NormalizeScan/<class>   both: the floor a guard built on this matcher cannot go below
// and then prints, per class, the ratio Full / NormalizeScan (median CPU time over the
// repetitions). It also times policy compilation (no cache), loading a policy's compiled
// database from the cache and call-state creation, and reports the heap one live call holds.
//
// Before timing, every text is checked to raise (or not raise) an alert as its class says, so
// that a policy change cannot silently turn a "hit" benchmark into a "miss" one; a failed
// check exits non-zero.
//
// Typical run (bench/README.md):
//   callguard_engine_bench --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// JSON: add --benchmark_out=FILE --benchmark_out_format=json (the console keeps the summary).
// Instruction counts: --profile=CLASS:N (see Profile() below).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "call_session.h"
#include "compiled_policy.h"
#include "database_cache.h"
#include "engine.h"
#include "normalizer.h"
#include "pattern_matcher.h"
#include "policy_loader.h"

// ---------------------------------------------------------------------------------------
// Heap accounting: every operator new/delete of this process goes through these counters, so
// that a benchmark can report allocations per utterance and the heap a call holds. Thread-local
// plain integers keep the cost to a few instructions per allocation.
namespace heap {
thread_local uint64_t allocations = 0;
thread_local int64_t live_bytes = 0;

void* Allocate(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  ++allocations;
  live_bytes += static_cast<int64_t>(malloc_usable_size(p));
  return p;
}
void* AllocateAligned(std::size_t n, std::align_val_t align) {
  void* p = nullptr;
  const std::size_t a = std::max(static_cast<std::size_t>(align), sizeof(void*));
  if (posix_memalign(&p, a, n == 0 ? 1 : n) != 0) throw std::bad_alloc();
  ++allocations;
  live_bytes += static_cast<int64_t>(malloc_usable_size(p));
  return p;
}
void Free(void* p) {
  if (p == nullptr) return;
  live_bytes -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
}  // namespace heap

void* operator new(std::size_t n) { return heap::Allocate(n); }
void* operator new[](std::size_t n) { return heap::Allocate(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return heap::Allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return heap::Allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new(std::size_t n, std::align_val_t a) { return heap::AllocateAligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return heap::AllocateAligned(n, a); }
void operator delete(void* p) noexcept { heap::Free(p); }
void operator delete[](void* p) noexcept { heap::Free(p); }
void operator delete(void* p, std::size_t) noexcept { heap::Free(p); }
void operator delete[](void* p, std::size_t) noexcept { heap::Free(p); }
void operator delete(void* p, std::align_val_t) noexcept { heap::Free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { heap::Free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { heap::Free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { heap::Free(p); }

namespace callguard {
namespace {

// ---------------------------------------------------------------------------------------
// Texts. Sessions start with the debtor verified, the agent identified and the debt-collector
// statement made: the steady state of a call, where every rule but the once-per-call ones runs.

struct TextClass {
  std::string name;      // "en-short-hit"
  std::string policy;    // policy id
  bool hit;              // must raise at least one alert (else none)
  std::vector<std::string> updates;  // interim updates, then the final text (one element: final only)
};

std::vector<std::string> GrowingPrefixes(const std::string& text, bool cjk, size_t step) {
  // Recognizer-style interim results: the text so far, every `step` words (Latin) or code
  // points (CJK), then the whole text as the final result.
  std::vector<std::string> out;
  size_t units = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t next = pos;
    if (cjk) {
      DecodeUtf8(text, &next);
    } else {
      next = text.find(' ', pos + 1);
      if (next == std::string::npos) next = text.size();
    }
    pos = next;
    if (++units % step == 0 && pos < text.size()) out.push_back(text.substr(0, pos));
  }
  out.push_back(text);
  return out;
}

const std::string kEnLongMissWritten =
    "Thanks for confirming, John. As I mentioned, this is Mark Lee with Summit Recovery Services. I can see "
    "the balance on the Evergreen Wireless account, and I'd like to help you set up a plan that fits your "
    "budget. We can split it into three monthly payments, or you can pay a smaller amount today and the rest "
    "next month. Would you like to pay by debit card, or would you rather send a check by mail this week?";
const std::string kEnLongHitWritten =
    "Look, John, I have been patient with you for three months now and I keep hearing the same excuses every "
    "time I call. The balance on the Evergreen Wireless account is still sitting there, and my manager wants "
    "this settled before the end of the week. I am telling you this for your own good: if you don't pay the "
    "full amount by Friday, you'll be arrested. So tell me, what are we going to do about it today, John?";
const std::string kEnLongMissAsr =
    "thanks for confirming john so like i mentioned this is mark lee with summit recovery services and i can "
    "see the balance on the evergreen wireless account and id like to help you set up a plan that fits your "
    "budget we can split it into three monthly payments or you can pay a smaller amount today and the rest "
    "next month would you like to pay by debit card or would you rather send a check by mail this week";
const std::string kEnLongHitAsr =
    "look john i have been patient with you for three months now and i keep hearing the same excuses every "
    "time i call the balance on the evergreen wireless account is still sitting there and my manager wants "
    "this settled before the end of the week im telling you this for your own good if you dont pay the full "
    "amount by friday youll be arrested so tell me what are we going to do about it today john okay";
const std::string kZhLongMissWritten =
    "李女士，您好，我这边是恒达资产的专员，今天给您打电话主要是想和您确认一下还款计划。您上个月说过这个月会先还一部分，"
    "剩下的分三期处理，我们这边已经帮您记录下来了。如果您现在方便的话，可以先通过平台官方渠道还款，还款后记得保留好凭证。"
    "您有任何困难也可以告诉我，我们一起想办法。";
const std::string kZhLongHitWritten =
    "李女士，我这边已经给您打了好几次电话了，您每次都说下个月还，可是到现在一分钱都没有还。您上个月说过这个月会先还一部分，"
    "剩下的分三期处理，结果还是没有动静。我跟您说清楚，如果你今天不还，我们就报警抓你，到时候别说我没提醒你。"
    "您自己想一想，今天下午能不能先处理一部分？";
const std::string kZhLongMissAsr =
    "李女士 您好 我这边是恒达资产的专员 今天给您打电话主要是想和您确认一下还款计划 您上个月说过这个月会先还一部分 "
    "剩下的分三期处理 我们这边已经帮您记录下来了 如果您现在方便的话 可以先通过平台官方渠道还款 还款后记得保留好凭证 "
    "您有任何困难也可以告诉我 我们一起想办法 好吧";
const std::string kZhLongHitAsr =
    "李女士 我这边已经给您打了好几次电话了 您每次都说下个月还 可是到现在一分钱都没有还 您上个月说过这个月会先还一部分 "
    "剩下的分三期处理 结果还是没有动静 我跟您说清楚 如果你今天不还 我们就报警抓你 到时候别说我没提醒你 "
    "您自己想一想 今天下午能不能先处理一部分 我等您消息";

std::vector<TextClass> TextClasses() {
  std::vector<TextClass> c = {
      {"en-short-hit", "us-fdcpa", true, {"If you don't pay, you'll be arrested."}},
      {"en-short-miss", "us-fdcpa", false, {"Would you like to pay by debit card today?"}},
      {"en-long-hit", "us-fdcpa", true, {kEnLongHitWritten}},
      {"en-long-miss", "us-fdcpa", false, {kEnLongMissWritten}},
      {"en-asr-short-hit", "us-fdcpa", true, {"if you dont pay today youll be arrested"}},
      {"en-asr-short-miss", "us-fdcpa", false, {"would you like to pay by debit card or check"}},
      {"en-asr-long-hit", "us-fdcpa", true, {kEnLongHitAsr}},
      {"en-asr-long-miss", "us-fdcpa", false, {kEnLongMissAsr}},
      {"zh-short-hit", "cn-collection", true, {"如果你今天不还，我们就报警抓你。"}},
      {"zh-short-miss", "cn-collection", false, {"您方便的话我们明天下午再联系您。"}},
      {"zh-long-hit", "cn-collection", true, {kZhLongHitWritten}},
      {"zh-long-miss", "cn-collection", false, {kZhLongMissWritten}},
      {"zh-asr-short-hit", "cn-collection", true, {"你要是今天再不还钱我们就报警抓你"}},
      {"zh-asr-short-miss", "cn-collection", false, {"您方便的话我们明天下午再联系您"}},
      {"zh-asr-long-hit", "cn-collection", true, {kZhLongHitAsr}},
      {"zh-asr-long-miss", "cn-collection", false, {kZhLongMissAsr}},
  };
  // Interim updates every 3 words / 6 characters: the recognizer re-sends the text so far.
  c.push_back({"en-interim-hit", "us-fdcpa", true, GrowingPrefixes(kEnLongHitAsr, false, 3)});
  c.push_back({"zh-interim-hit", "cn-collection", true, GrowingPrefixes(kZhLongHitAsr, true, 6)});
  return c;
}

// ---------------------------------------------------------------------------------------
// Shared state, set up once in main().

std::shared_ptr<const Engine>& TheEngine() {
  static auto* engine = new std::shared_ptr<const Engine>();
  return *engine;
}

v1::CallStart StartFor(const std::string& policy, const std::string& call_id) {
  v1::CallStart s;
  s.set_call_id(call_id);
  s.set_policy(policy);
  s.set_dialed(v1::DEBTOR_PHONE);
  if (policy == "cn-collection") {
    s.mutable_agency()->set_name("恒达资产管理有限公司");
    s.mutable_agent()->set_name("李强");
    s.mutable_agent()->set_agent_id("3021");
    s.mutable_debtor()->set_name("李娟");
  } else {
    s.mutable_agency()->set_name("Summit Recovery Services LLC");
    s.mutable_agent()->set_name("Mark Lee");
    s.mutable_agent()->set_agent_id("A1042");
    s.mutable_debtor()->set_name("John Smith");
  }
  return s;
}

std::unique_ptr<CallSession> NewSession(const std::string& policy, bool steady_state) {
  CallSession::Options o;
  o.engine = TheEngine();
  o.start = StartFor(policy, "bench-call-0001");
  o.limits.max_utterances_per_call = 1u << 30;
  auto s = CallSession::Create(std::move(o));
  if (!s.ok()) {
    std::fprintf(stderr, "CallSession::Create: %s\n", std::string(s.status().message()).c_str());
    std::exit(1);
  }
  if (steady_state) (*s)->PresetState(v1::PARTY_DEBTOR, /*agent_identified=*/true, /*debt_collector_disclosed=*/true);
  return *std::move(s);
}

// A call's worth of utterance ids; a session is replaced after this many utterances so that
// every timed utterance is a new one (an update to an utterance that already raised an alert
// would not raise it again) and the call state stays the size of a real call's.
constexpr int kUtterancesPerSession = 64;

// The updates of one text class as utterance messages, for each of the session's utterance ids.
std::vector<std::vector<v1::Utterance>> UtteranceMessages(const TextClass& c) {
  std::vector<std::vector<v1::Utterance>> out(kUtterancesPerSession);
  for (int i = 0; i < kUtterancesPerSession; ++i) {
    for (size_t k = 0; k < c.updates.size(); ++k) {
      v1::Utterance u;
      u.set_utterance_id(absl::StrCat("utt-", i));
      u.set_speaker(v1::AGENT);
      u.set_text(c.updates[k]);
      u.set_is_final(k + 1 == c.updates.size());
      out[i].push_back(std::move(u));
    }
  }
  return out;
}

// Checks that a text class raises alerts as its name says. Also builds the start-of-match
// databases its patterns need, so that no timed iteration pays for a compilation.
bool CheckClass(const TextClass& c) {
  auto session = NewSession(c.policy, true);
  const auto messages = UtteranceMessages(c);
  size_t alerts = 0;
  std::string rules;
  for (const auto& u : messages[0]) {
    auto r = session->OnUtterance(u);
    if (!r.ok()) {
      std::fprintf(stderr, "%s: OnUtterance failed: %s\n", c.name.c_str(), std::string(r.status().message()).c_str());
      return false;
    }
    alerts += r->size();
    for (const auto& a : *r) absl::StrAppend(&rules, rules.empty() ? "" : ",", a.rule_id());
  }
  if ((alerts > 0) != c.hit) {
    std::fprintf(stderr, "%s: expected %s, got %zu alerts (%s)\n", c.name.c_str(), c.hit ? "an alert" : "no alert",
                 alerts, rules.c_str());
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Benchmarks.

void Full(benchmark::State& state, const TextClass& c) {
  const auto messages = UtteranceMessages(c);
  std::unique_ptr<CallSession> session = NewSession(c.policy, true);
  int next = 0;
  size_t alerts = 0;
  const uint64_t allocations_before = heap::allocations;
  uint64_t untimed_allocations = 0;
  for (auto _ : state) {
    if (next == kUtterancesPerSession) {
      state.PauseTiming();
      const uint64_t before = heap::allocations;
      session.reset();
      session = NewSession(c.policy, true);
      untimed_allocations += heap::allocations - before;
      next = 0;
      state.ResumeTiming();
    }
    for (const auto& u : messages[next]) {
      auto r = session->OnUtterance(u);
      if (!r.ok()) {
        state.SkipWithError(std::string(r.status().message()).c_str());
        return;
      }
      alerts += r->size();
      benchmark::DoNotOptimize(r);
    }
    ++next;
  }
  state.counters["updates"] = static_cast<double>(c.updates.size());
  state.counters["allocs"] = benchmark::Counter(
      static_cast<double>(heap::allocations - allocations_before - untimed_allocations),
      benchmark::Counter::kAvgIterations);
  state.counters["alerts"] = benchmark::Counter(static_cast<double>(alerts), benchmark::Counter::kAvgIterations);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.updates.back().size()));
}

void NormalizeOnly(benchmark::State& state, const TextClass& c) {
  NormalizedText norm;
  const Normalizer& normalizer = Normalizer::Default();
  for (auto _ : state) {
    for (const auto& text : c.updates) {
      if (!normalizer.Normalize(text, &norm).ok()) {
        state.SkipWithError("normalize failed");
        return;
      }
      benchmark::DoNotOptimize(norm.text.data());
    }
  }
}

void ScanOnly(benchmark::State& state, const TextClass& c) {
  const PatternMatcher& matcher = TheEngine()->FindPolicy(c.policy)->matcher();
  std::vector<std::string> normalized;
  for (const auto& text : c.updates) normalized.push_back(Normalizer::Default().NormalizeForMatch(text));
  std::vector<uint32_t> candidates;
  for (auto _ : state) {
    for (const auto& text : normalized) {
      if (!matcher.Candidates(text, &candidates).ok()) {
        state.SkipWithError("scan failed");
        return;
      }
      benchmark::DoNotOptimize(candidates.data());
    }
  }
  state.counters["candidates"] = static_cast<double>(candidates.size());
}

void NormalizeScan(benchmark::State& state, const TextClass& c) {
  const PatternMatcher& matcher = TheEngine()->FindPolicy(c.policy)->matcher();
  const Normalizer& normalizer = Normalizer::Default();
  NormalizedText norm;
  std::vector<uint32_t> candidates;
  for (auto _ : state) {
    for (const auto& text : c.updates) {
      if (!normalizer.Normalize(text, &norm).ok() || !matcher.Candidates(norm.text, &candidates).ok()) {
        state.SkipWithError("normalize or scan failed");
        return;
      }
      benchmark::DoNotOptimize(candidates.data());
    }
  }
}

// Policy compilation without any cache: what a first start or a changed policy costs.
void CompilePolicy(benchmark::State& state, const std::string& policy_id) {
  const CompiledPolicy* loaded = TheEngine()->FindPolicy(policy_id);
  const v1::Policy source = loaded->source();
  for (auto _ : state) {
    auto compiled = CompiledPolicy::Create(source, loaded->source_path(), CompileOptions{"", false});
    if (!compiled.ok()) {
      state.SkipWithError(std::string(compiled.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(compiled->get());
  }
  state.counters["patterns"] = static_cast<double>(loaded->matcher().pattern_count());
}

// The same with the compiled database on disk: a restart or a reload of unchanged policies.
// Uses the engine's own cache directory (already filled when the engine loaded), else a
// temporary one filled by a first compilation.
void LoadPolicyFromCache(benchmark::State& state, const std::string& policy_id) {
  const CompiledPolicy* loaded = TheEngine()->FindPolicy(policy_id);
  const v1::Policy source = loaded->source();
  std::string dir = DefaultDatabaseCacheDir();
  std::string temporary;
  if (dir.empty()) {
    temporary = (std::filesystem::temp_directory_path() / "callguard-bench-cache-XXXXXX").string();
    if (mkdtemp(temporary.data()) == nullptr) {
      state.SkipWithError("cannot create a temporary cache directory");
      return;
    }
    dir = temporary;
  }
  const CompileOptions options{dir, false};
  if (auto first = CompiledPolicy::Create(source, loaded->source_path(), options); !first.ok()) {
    state.SkipWithError(std::string(first.status().message()).c_str());
  } else {
    for (auto _ : state) {
      auto compiled = CompiledPolicy::Create(source, loaded->source_path(), options);
      if (!compiled.ok()) {
        state.SkipWithError(std::string(compiled.status().message()).c_str());
        break;
      }
      benchmark::DoNotOptimize(compiled->get());
    }
  }
  if (!temporary.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temporary, ignored);
  }
}

// Per-call state: validating the call start, building the name matchers, and freeing it all.
void CreateSession(benchmark::State& state, const std::string& policy_id) {
  const v1::CallStart start = StartFor(policy_id, "bench-call-0001");
  for (auto _ : state) {
    CallSession::Options o;
    o.engine = TheEngine();
    o.start = start;
    auto s = CallSession::Create(std::move(o));
    if (!s.ok()) {
      state.SkipWithError(std::string(s.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(s->get());
  }
}

// ---------------------------------------------------------------------------------------
// Heap held by one live call.

struct CallMemory {
  std::string policy;
  int64_t fresh_bytes = 0;   // heap of a CallSession just created (besides sizeof)
  int64_t after_bytes = 0;   // after a scripted call of `utterances` utterances
  int utterances = 0;
  int64_t long_call_bytes = 0;  // after kLongCallUtterances more, with 36-byte ids
};

constexpr int kLongCallUtterances = 2000;

// A call of 30 utterances (15 each side; agent turns arrive as two interims and a final),
// from the first greeting: identification, verification, the statement, and one threat.
std::vector<std::pair<v1::Speaker, std::string>> CallScript(const std::string& policy) {
  if (policy == "cn-collection") {
    const char* agent[] = {"您好，我是恒达资产的李强，工号3021，受快易花平台委托，请问是李娟女士本人吗？",
                           "李女士您好，您在快易花的借款已经逾期30天了，还差1340元。",
                           "请问您今天能先还一部分吗？",
                           "我们可以帮您申请分期，分三期还。",
                           "如果你今天不还，我们就报警抓你。",
                           "您有困难可以告诉我，我们一起想办法。",
                           "还款请通过平台官方渠道，不要转账给个人。",
                           "那您看明天下午三点之前能不能先还五百？",
                           "好的，我这边给您记录一下。",
                           "还款后记得保留好凭证。",
                           "您还有其他问题吗？",
                           "您的个人信息我们会保密。",
                           "那就这样，明天下午我再跟您确认一下。",
                           "好的，谢谢您的配合。",
                           "再见。"};
    const char* counterparty[] = {"是我，有什么事？", "我知道，最近手头紧。", "今天真的没有钱。", "分期可以考虑。",
                                  "你们怎么能这样说话？", "我想想办法吧。", "好的我知道了。", "明天应该可以。",
                                  "嗯。", "好的。", "没有了。", "好。", "行。", "嗯好的。", "再见。"};
    std::vector<std::pair<v1::Speaker, std::string>> script;
    for (int i = 0; i < 15; ++i) {
      script.emplace_back(v1::AGENT, agent[i]);
      script.emplace_back(v1::COUNTERPARTY, counterparty[i]);
    }
    return script;
  }
  const char* agent[] = {
      "Hi, this is Mark Lee with Summit Recovery Services. May I speak with John Smith?",
      "Thanks John. This is an attempt to collect a debt by a debt collector and any information obtained will "
      "be used for that purpose.",
      "Your Evergreen Wireless account has a balance of $620.",
      "Are you able to make a payment today?",
      "We can split it into three monthly payments.",
      "If you don't pay, you'll be arrested.",
      "I understand, let's see what works for your budget.",
      "Would you like to pay by debit card or by check?",
      "Okay, I have the card ending in 4421.",
      "The first payment of $206 will go out on Friday.",
      "You will get a confirmation letter in the mail.",
      "Is this still the best number to reach you?",
      "Great, and is your mailing address still the same?",
      "Thank you for taking care of this today.",
      "Have a good afternoon, John."};
  const char* counterparty[] = {"speaking", "okay", "yeah I know about that", "not all of it",
                                "maybe", "what did you just say", "okay fine", "debit card",
                                "yes that one", "okay", "alright", "yes it is", "yes", "sure", "bye"};
  std::vector<std::pair<v1::Speaker, std::string>> script;
  for (int i = 0; i < 15; ++i) {
    script.emplace_back(v1::AGENT, agent[i]);
    script.emplace_back(v1::COUNTERPARTY, counterparty[i]);
  }
  return script;
}

int64_t PlayCall(CallSession* session, const std::string& policy) {
  int n = 0;
  for (const auto& [speaker, text] : CallScript(policy)) {
    std::vector<std::string> updates = speaker == v1::AGENT ? GrowingPrefixes(text, policy == "cn-collection", 4)
                                                            : std::vector<std::string>{text};
    if (updates.size() > 3) updates.erase(updates.begin(), updates.end() - 3);
    for (size_t k = 0; k < updates.size(); ++k) {
      v1::Utterance u;
      u.set_utterance_id(absl::StrCat("utt-", n));
      u.set_speaker(speaker);
      u.set_text(updates[k]);
      u.set_is_final(k + 1 == updates.size());
      auto r = session->OnUtterance(u);
      if (!r.ok()) {
        std::fprintf(stderr, "call script: %s\n", std::string(r.status().message()).c_str());
        std::exit(1);
      }
    }
    ++n;
  }
  return n;
}

CallMemory MeasureCallMemory(const std::string& policy) {
  CallMemory m;
  m.policy = policy;
  {
    // Once untimed, so that thread-local buffers and lazily built databases are in place.
    auto warm = NewSession(policy, false);
    PlayCall(warm.get(), policy);
  }
  const int64_t before = heap::live_bytes;
  auto session = NewSession(policy, false);
  m.fresh_bytes = heap::live_bytes - before;
  m.utterances = static_cast<int>(PlayCall(session.get(), policy));
  m.after_bytes = heap::live_bytes - before;
  // A long call: the per-utterance state kept is bounded (CallLimits::recent_utterances).
  v1::Utterance u;
  u.set_speaker(v1::COUNTERPARTY);
  u.set_text(policy == "cn-collection" ? "嗯好的" : "okay");
  u.set_is_final(true);
  for (int i = 0; i < kLongCallUtterances; ++i) {
    u.set_utterance_id(absl::StrFormat("%08x-2b9d-4c1e-9a4f-5d3e7c0b1a2f", i));
    if (!session->OnUtterance(u).ok()) std::exit(1);
  }
  m.long_call_bytes = heap::live_bytes - before;
  return m;
}

// ---------------------------------------------------------------------------------------
// Console output plus a summary: median CPU time per benchmark and the Full/floor ratios.

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string& name = run.run_name.function_name;
      const double ns = run.GetAdjustedCPUTime() * NanosecondsPer(run.time_unit);
      if (run.run_type == Run::RT_Iteration) {
        samples_[name].push_back(ns);
      } else if (run.aggregate_name == "median") {
        medians_[name] = ns;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void PrintSummary(const std::vector<TextClass>& classes, const std::vector<CallMemory>& memory) const {
    std::printf("\nPer-utterance evaluation against its floor (median CPU time per utterance, ns;\n"
                "interim classes: all updates of one growing utterance)\n");
    std::printf("%-18s %10s %10s %10s %14s %12s\n", "class", "full", "normalize", "scan", "normalize+scan",
                "full/floor");
    for (const TextClass& c : classes) {
      const double full = Median("Full/" + c.name);
      const double norm = Median("Normalize/" + c.name);
      const double scan = Median("Scan/" + c.name);
      const double floor = Median("NormalizeScan/" + c.name);
      if (full < 0 && floor < 0) continue;
      std::printf("%-18s %10s %10s %10s %14s %12s\n", c.name.c_str(), Format(full).c_str(), Format(norm).c_str(),
                  Format(scan).c_str(), Format(floor).c_str(),
                  full > 0 && floor > 0 ? absl::StrFormat("%.2f", full / floor).c_str() : "-");
    }
    std::printf("\nInterim classes per update (median CPU time / updates, ns; the floor normalizes and scans\n"
                "each update's whole text)\n");
    std::printf("%-18s %8s %12s %12s\n", "class", "updates", "full/update", "floor/update");
    for (const TextClass& c : classes) {
      if (c.updates.size() < 2) continue;
      const double full = Median("Full/" + c.name);
      const double floor = Median("NormalizeScan/" + c.name);
      if (full < 0 && floor < 0) continue;
      const double n = static_cast<double>(c.updates.size());
      std::printf("%-18s %8zu %12s %12s\n", c.name.c_str(), c.updates.size(),
                  Format(full < 0 ? full : full / n).c_str(), Format(floor < 0 ? floor : floor / n).c_str());
    }
    std::printf("\nHeap held by one call (sizeof(CallSession) = %zu bytes, not included)\n", sizeof(CallSession));
    std::printf("%-16s %10s %22s %26s\n", "policy", "fresh", "after a call of N", "after M more (36-byte ids)");
    for (const CallMemory& m : memory) {
      std::printf("%-16s %10lld %15lld (N=%d) %17lld (M=%d)\n", m.policy.c_str(),
                  static_cast<long long>(m.fresh_bytes), static_cast<long long>(m.after_bytes), m.utterances,
                  static_cast<long long>(m.long_call_bytes), kLongCallUtterances);
    }
  }

 private:
  static double NanosecondsPer(benchmark::TimeUnit unit) {
    switch (unit) {
      case benchmark::kSecond:
        return 1e9;
      case benchmark::kMillisecond:
        return 1e6;
      case benchmark::kMicrosecond:
        return 1e3;
      default:
        return 1;
    }
  }
  // Median of the repetitions; -1 when the benchmark did not run.
  double Median(const std::string& name) const {
    if (auto it = samples_.find(name); it != samples_.end() && !it->second.empty()) {
      std::vector<double> v = it->second;
      std::sort(v.begin(), v.end());
      const size_t n = v.size();
      return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
    if (auto it = medians_.find(name); it != medians_.end()) return it->second;
    return -1;
  }
  static std::string Format(double ns) { return ns < 0 ? "-" : absl::StrFormat("%.0f", ns); }

  std::map<std::string, std::vector<double>> samples_;
  std::map<std::string, double> medians_;
};

// ---------------------------------------------------------------------------------------
// Instruction counting: `--profile=CLASS:N` evaluates N utterances of a class in full and N on
// the floor, outside Google Benchmark, in two functions a profiler can tell apart:
//   valgrind --tool=callgrind callguard_engine_bench --profile=en-short-hit:2000
//   callgrind_annotate --inclusive=yes callgrind.out.* | grep Profile
// Instruction counts repeat from run to run where times on a shared machine do not.

// Sessions are made beforehand, as the timed benchmark leaves their creation out.
__attribute__((noinline)) size_t ProfileFull(const std::vector<std::vector<v1::Utterance>>& messages,
                                             const std::vector<std::unique_ptr<CallSession>>& sessions, int n) {
  size_t alerts = 0;
  for (int i = 0; i < n; ++i) {
    for (const auto& u : messages[i % kUtterancesPerSession]) {
      auto r = sessions[i / kUtterancesPerSession]->OnUtterance(u);
      if (r.ok()) alerts += r->size();
    }
  }
  return alerts;
}

__attribute__((noinline)) size_t ProfileFloor(const TextClass& c, int n) {
  const PatternMatcher& matcher = TheEngine()->FindPolicy(c.policy)->matcher();
  NormalizedText norm;
  std::vector<uint32_t> candidates;
  size_t found = 0;
  for (int i = 0; i < n; ++i) {
    for (const auto& text : c.updates) {
      if (Normalizer::Default().Normalize(text, &norm).ok() && matcher.Candidates(norm.text, &candidates).ok()) {
        found += candidates.size();
      }
    }
  }
  return found;
}

int Profile(const std::vector<TextClass>& classes, absl::string_view spec) {
  const size_t colon = spec.rfind(':');
  const std::string name(spec.substr(0, colon));
  const int n = colon == absl::string_view::npos ? 1000 : std::atoi(std::string(spec.substr(colon + 1)).c_str());
  for (const TextClass& c : classes) {
    if (c.name != name) continue;
    std::vector<std::unique_ptr<CallSession>> sessions;
    for (int i = 0; i < n; i += kUtterancesPerSession) sessions.push_back(NewSession(c.policy, true));
    const size_t alerts = ProfileFull(UtteranceMessages(c), sessions, n);
    const size_t candidates = ProfileFloor(c, n);
    std::printf("%s: %d utterances, %zu alerts, %zu candidates\n", name.c_str(), n, alerts, candidates);
    return 0;
  }
  std::fprintf(stderr, "no text class \"%s\"\n", name.c_str());
  return 1;
}

}  // namespace
}  // namespace callguard

int main(int argc, char** argv) {
  using namespace callguard;
  std::string profile;
  for (int i = 1; i < argc; ++i) {
    if (absl::string_view(argv[i]).substr(0, 10) == "--profile=") {
      profile = argv[i] + 10;
      for (int k = i; k + 1 < argc; ++k) argv[k] = argv[k + 1];
      --argc;
      --i;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  auto engine = Engine::LoadFromDirectory(DefaultPolicyDirectory());
  if (!engine.ok()) {
    std::fprintf(stderr, "cannot load the policies: %s\n", std::string(engine.status().message()).c_str());
    return 1;
  }
  TheEngine() = *engine;

  const std::vector<TextClass> classes = TextClasses();
  bool ok = true;
  for (const TextClass& c : classes) ok &= CheckClass(c);
  if (!ok) return 1;
  if (!profile.empty()) return Profile(classes, profile);

  std::vector<CallMemory> memory;
  for (const std::string policy : {"us-fdcpa", "cn-collection"}) memory.push_back(MeasureCallMemory(policy));

  for (const TextClass& c : classes) {
    benchmark::RegisterBenchmark(("Full/" + c.name).c_str(), Full, c);
    benchmark::RegisterBenchmark(("Normalize/" + c.name).c_str(), NormalizeOnly, c);
    benchmark::RegisterBenchmark(("Scan/" + c.name).c_str(), ScanOnly, c);
    benchmark::RegisterBenchmark(("NormalizeScan/" + c.name).c_str(), NormalizeScan, c);
  }
  for (const std::string policy : {"us-fdcpa", "cn-collection"}) {
    benchmark::RegisterBenchmark(("CompilePolicy/" + policy).c_str(), CompilePolicy, policy)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("LoadPolicyFromCache/" + policy).c_str(), LoadPolicyFromCache, policy)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("CreateSession/" + policy).c_str(), CreateSession, policy);
  }

  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary(classes, memory);
  benchmark::Shutdown();
  return 0;
}
