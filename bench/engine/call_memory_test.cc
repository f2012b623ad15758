// The memory a live call holds: per-utterance state is kept for the most recent utterances only
// (CallLimits::recent_utterances), so a long call's heap stops growing; updates within that
// window behave as before, and one to an older utterance is judged as a new utterance.
// Heap use is counted by replacing operator new/delete in this test binary.
#include <malloc.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "call_session.h"
#include "engine.h"
#include "gtest/gtest.h"
#include "policy_loader.h"

namespace {
thread_local int64_t live_bytes = 0;

void* Allocate(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  live_bytes += static_cast<int64_t>(malloc_usable_size(p));
  return p;
}
void Free(void* p) {
  if (p == nullptr) return;
  live_bytes -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
}  // namespace

void* operator new(std::size_t n) { return Allocate(n); }
void* operator new[](std::size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept { Free(p); }
void operator delete[](void* p) noexcept { Free(p); }
void operator delete(void* p, std::size_t) noexcept { Free(p); }
void operator delete[](void* p, std::size_t) noexcept { Free(p); }

namespace callguard {
namespace {

std::shared_ptr<const Engine> ShippedEngine() {
  static const auto* engine = [] {
    auto e = Engine::LoadFromDirectory(DefaultPolicyDirectory());
    EXPECT_TRUE(e.ok()) << e.status();
    return new std::shared_ptr<const Engine>(e.ok() ? *e : nullptr);
  }();
  return *engine;
}

std::unique_ptr<CallSession> StartCall(const CallLimits& limits) {
  CallSession::Options o;
  o.engine = ShippedEngine();
  o.start.set_call_id("memory-call");
  o.start.set_policy("us-fdcpa");
  o.start.mutable_agency()->set_name("Summit Recovery Services LLC");
  o.start.mutable_agent()->set_name("Mark Lee");
  o.start.mutable_agent()->set_agent_id("A1042");
  o.start.mutable_debtor()->set_name("John Smith");
  o.start.set_dialed(v1::DEBTOR_PHONE);
  o.limits = limits;
  auto s = CallSession::Create(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return nullptr;
  (*s)->PresetState(v1::PARTY_DEBTOR, /*agent_identified=*/true, /*debt_collector_disclosed=*/true);
  return *std::move(s);
}

// Recognizer-style ids: long enough to live on the heap, as UUIDs do.
std::string UtteranceId(int i) { return absl::StrFormat("utterance-%08d-5f0c3a9e-77d1-4c2b", i); }

absl::StatusOr<std::vector<v1::Alert>> Say(CallSession* s, const std::string& id, v1::Speaker speaker,
                                           const std::string& text, bool final = true) {
  v1::Utterance u;
  u.set_utterance_id(id);
  u.set_speaker(speaker);
  u.set_text(text);
  u.set_is_final(final);
  return s->OnUtterance(u);
}

std::vector<std::string> Rules(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> ids;
  for (const auto& a : alerts) ids.push_back(a.rule_id());
  return ids;
}

TEST(CallMemoryTest, HeapStopsGrowingOnceTheWindowIsFull) {
  CallLimits limits;
  limits.recent_utterances = 64;
  // One warm-up call so that per-thread buffers are in place before counting.
  {
    auto warm = StartCall(limits);
    ASSERT_NE(warm, nullptr);
    for (int i = 0; i < 200; ++i) {
      const v1::Speaker speaker = i % 2 == 0 ? v1::AGENT : v1::COUNTERPARTY;
      ASSERT_TRUE(Say(warm.get(), UtteranceId(i), speaker, "okay so how much can you pay today").ok());
    }
  }
  const int64_t before = live_bytes;
  auto call = StartCall(limits);
  ASSERT_NE(call, nullptr);
  auto heap_after = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const v1::Speaker speaker = i % 2 == 0 ? v1::AGENT : v1::COUNTERPARTY;
      EXPECT_TRUE(Say(call.get(), UtteranceId(i), speaker, "okay so how much can you pay today").ok());
    }
    return live_bytes - before;
  };
  const int64_t at_30 = heap_after(0, 30);
  const int64_t at_200 = heap_after(30, 200);
  const int64_t at_2000 = heap_after(200, 2000);
  EXPECT_GT(at_200, at_30);      // the window fills up...
  EXPECT_EQ(at_2000, at_200);    // ...and then stays the same size
  EXPECT_LT(at_2000, 16 * 1024);  // the engine's share of a live call
  EXPECT_EQ(call->turns(), 2000);
}

TEST(CallMemoryTest, UpdatesWithinTheWindowKeepTheirTurnAndAlerts) {
  CallLimits limits;
  limits.recent_utterances = 4;
  auto call = StartCall(limits);
  ASSERT_NE(call, nullptr);
  auto first = Say(call.get(), "a", v1::AGENT, "if you dont pay", /*final=*/false);
  ASSERT_TRUE(first.ok());
  auto threat = Say(call.get(), "a", v1::AGENT, "if you dont pay youll be arrested", /*final=*/false);
  ASSERT_TRUE(threat.ok());
  ASSERT_EQ(Rules(*threat), std::vector<std::string>{"us.threat.arrest"});
  EXPECT_EQ(threat->front().turn(), 0);
  for (const char* id : {"b", "c", "d"}) ASSERT_TRUE(Say(call.get(), id, v1::COUNTERPARTY, "okay").ok());
  // "a" is the oldest of the 4 kept: its final result neither repeats the alert nor takes a turn.
  auto final = Say(call.get(), "a", v1::AGENT, "if you dont pay youll be arrested today");
  ASSERT_TRUE(final.ok());
  EXPECT_TRUE(final->empty());
  EXPECT_EQ(call->turns(), 4);
  EXPECT_EQ(call->last_turn(), 0);
  // The speaker of a kept utterance is still checked.
  auto wrong = Say(call.get(), "b", v1::AGENT, "hello");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CallMemoryTest, AnUpdateOlderThanTheWindowIsJudgedAsANewUtterance) {
  CallLimits limits;
  limits.recent_utterances = 4;
  auto call = StartCall(limits);
  ASSERT_NE(call, nullptr);
  auto threat = Say(call.get(), "a", v1::AGENT, "if you dont pay youll be arrested", /*final=*/false);
  ASSERT_TRUE(threat.ok());
  ASSERT_EQ(Rules(*threat), std::vector<std::string>{"us.threat.arrest"});
  for (const char* id : {"b", "c", "d", "e"}) ASSERT_TRUE(Say(call.get(), id, v1::COUNTERPARTY, "okay").ok());
  // Five utterances later "a" has left the window: a new turn, and its alert is raised again.
  auto late = Say(call.get(), "a", v1::AGENT, "if you dont pay youll be arrested today");
  ASSERT_TRUE(late.ok());
  ASSERT_EQ(Rules(*late), std::vector<std::string>{"us.threat.arrest"});
  EXPECT_EQ(late->front().turn(), 5);
  EXPECT_EQ(call->turns(), 6);
  EXPECT_EQ(call->last_turn(), 5);
}

TEST(CallMemoryTest, TheUtteranceLimitCountsEveryUtteranceNotTheKeptOnes) {
  CallLimits limits;
  limits.recent_utterances = 4;
  limits.max_utterances_per_call = 10;
  auto call = StartCall(limits);
  ASSERT_NE(call, nullptr);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Say(call.get(), UtteranceId(i), v1::AGENT, "hello there").ok());
  // An update of a kept utterance is still accepted; a new one is over the limit.
  EXPECT_TRUE(Say(call.get(), UtteranceId(9), v1::AGENT, "hello there john").ok());
  auto over = Say(call.get(), UtteranceId(10), v1::AGENT, "hello");
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace callguard
