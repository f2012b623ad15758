#include "call_registry.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "parked_call.h"
#include "status_util.h"

namespace callguard {
namespace {

class FakeClock {
 public:
  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  std::function<absl::Time()> AsFunction() {
    return [this] { return Now(); };
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

CallRegistry::Options OptionsWith(FakeClock& clock) {
  CallRegistry::Options options;
  options.idle_timeout = absl::Seconds(60);
  options.max_active_calls = 3;
  options.clock = clock.AsFunction();
  return options;
}

TEST(CallRegistryTest, RefusesASecondActiveCallWithTheSameId) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  auto first = registry.Register("call-1", nullptr);
  ASSERT_TRUE(first.ok());
  auto second = registry.Register("call-1", nullptr);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(FieldOf(second.status()), "start.call_id");

  registry.Unregister("call-1", *first);
  EXPECT_TRUE(registry.Register("call-1", nullptr).ok()) << "the id is free once the call ended";
}

TEST(CallRegistryTest, RefusesAnEmptyId) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  auto ticket = registry.Register("", nullptr);
  EXPECT_EQ(ticket.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(ticket.status()), "start.call_id");
}

TEST(CallRegistryTest, CapsActiveCalls) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(registry.Register(id, nullptr).ok());
  auto fourth = registry.Register("d", nullptr);
  EXPECT_EQ(fourth.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(registry.active_calls(), 3u);
}

TEST(CallRegistryTest, SweepDropsOnlyIdleCallsAndTellsThem) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  int quiet_dropped = 0, busy_dropped = 0;
  auto quiet = registry.Register("quiet", [&] { ++quiet_dropped; });
  auto busy = registry.Register("busy", [&] { ++busy_dropped; });
  ASSERT_TRUE(quiet.ok() && busy.ok());

  clock.Advance(absl::Seconds(45));
  registry.Touch("busy", *busy);
  EXPECT_EQ(registry.SweepIdle(), 0);

  clock.Advance(absl::Seconds(30));  // quiet: 75 s idle, busy: 30 s
  EXPECT_EQ(registry.SweepIdle(), 1);
  EXPECT_EQ(quiet_dropped, 1);
  EXPECT_EQ(busy_dropped, 0);
  EXPECT_EQ(registry.active_calls(), 1u);
  EXPECT_EQ(registry.SweepIdle(), 0) << "a dropped call is told once";
  EXPECT_EQ(quiet_dropped, 1);
}

TEST(CallRegistryTest, AStaleTicketDoesNotTouchANewerCallWithTheSameId) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  auto old_ticket = registry.Register("reused", nullptr);
  ASSERT_TRUE(old_ticket.ok());
  clock.Advance(absl::Seconds(61));
  ASSERT_EQ(registry.SweepIdle(), 1);
  auto new_ticket = registry.Register("reused", nullptr);
  ASSERT_TRUE(new_ticket.ok());

  registry.Unregister("reused", *old_ticket);  // the old stream ending late
  EXPECT_EQ(registry.active_calls(), 1u);
  clock.Advance(absl::Seconds(50));
  registry.Touch("reused", *old_ticket);  // must not keep the new call alive
  clock.Advance(absl::Seconds(20));
  EXPECT_EQ(registry.SweepIdle(), 1);
}

TEST(CallRegistryTest, TheIdleCallbackMayUseTheRegistry) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  bool reregistered = false;
  ASSERT_TRUE(registry.Register("x", [&] { reregistered = registry.Register("x", nullptr).ok(); }).ok());
  clock.Advance(absl::Minutes(2));
  EXPECT_EQ(registry.SweepIdle(), 1);
  EXPECT_TRUE(reregistered);
}

TEST(CallRegistryTest, BackgroundSweeperDropsIdleCalls) {
  FakeClock clock;
  CallRegistry::Options options = OptionsWith(clock);
  options.sweep_interval = absl::Milliseconds(1);
  CallRegistry registry(std::move(options));
  absl::Notification dropped;
  ASSERT_TRUE(registry.Register("idle", [&] { dropped.Notify(); }).ok());
  clock.Advance(absl::Minutes(5));
  dropped.WaitForNotification();
  EXPECT_EQ(registry.active_calls(), 0u);
}

// Records how a parked call ended.
class FakeParked : public CallRegistry::Parked {
 public:
  explicit FakeParked(std::string* ended_with) : ended_with_(ended_with) {}
  void End(absl::string_view reason) override { *ended_with_ = std::string(reason); }

 private:
  std::string* ended_with_;
};

TEST(CallRegistryTest, AParkedCallKeepsItsIdAndIsHandedToTheResumingStream) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  auto ticket = registry.Register("p", nullptr);
  ASSERT_TRUE(ticket.ok());
  std::string ended;
  EXPECT_EQ(registry.Park("p", *ticket, std::make_unique<FakeParked>(&ended), absl::Minutes(10)), nullptr);
  EXPECT_EQ(registry.parked_calls(), 1u);
  EXPECT_EQ(registry.active_calls(), 1u);

  auto again = registry.Register("p", nullptr);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("parked"), std::string::npos);
  registry.Unregister("p", *ticket);  // the old stream's late cleanup leaves it parked
  EXPECT_EQ(registry.parked_calls(), 1u);
  clock.Advance(absl::Minutes(5));  // past the idle timeout: only the grace applies while parked
  EXPECT_EQ(registry.SweepIdle(), 0);

  auto resumed = registry.Resume("p", nullptr, nullptr);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_NE(resumed->ticket, *ticket);
  ASSERT_NE(resumed->parked, nullptr);
  EXPECT_EQ(registry.parked_calls(), 0u);
  EXPECT_EQ(registry.active_calls(), 1u);
  EXPECT_TRUE(ended.empty());
  registry.Unregister("p", resumed->ticket);
  EXPECT_EQ(registry.active_calls(), 0u);
}

TEST(CallRegistryTest, ResumingNothingIsNotFoundOnStartResume) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  auto resumed = registry.Resume("ghost", nullptr, nullptr);
  EXPECT_EQ(resumed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FieldOf(resumed.status()), "start.resume");
}

TEST(CallRegistryTest, GraceExpiryEndsTheParkedCallAndFreesItsSlot) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  auto ticket = registry.Register("g", nullptr);
  ASSERT_TRUE(ticket.ok());
  std::string ended;
  registry.Park("g", *ticket, std::make_unique<FakeParked>(&ended), absl::Seconds(30));
  clock.Advance(absl::Seconds(29));
  EXPECT_EQ(registry.SweepIdle(), 0);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(registry.SweepIdle(), 1);
  EXPECT_EQ(ended, "stream broken, not resumed");
  EXPECT_EQ(registry.active_calls(), 0u);
  EXPECT_EQ(registry.Resume("g", nullptr, nullptr).status().code(), absl::StatusCode::kNotFound);
}

TEST(CallRegistryTest, ResumingAnAttachedCallTakesItOver) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  std::string ended;
  absl::StatusOr<CallRegistry::Ticket> ticket;
  int takeovers = 0;
  ticket = registry.Register("t", nullptr, [&] {
    ++takeovers;  // the old stream parks its call, as a ConverseReactor does
    registry.Park("t", *ticket, std::make_unique<FakeParked>(&ended), absl::Seconds(30));
  });
  ASSERT_TRUE(ticket.ok());
  auto resumed = registry.Resume("t", nullptr, nullptr);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(takeovers, 1);

  // A stream that will not let go: UNAVAILABLE, retry later.
  ASSERT_TRUE(registry.Register("stuck", nullptr, [] {}).ok());
  EXPECT_EQ(registry.Resume("stuck", nullptr, nullptr).status().code(), absl::StatusCode::kUnavailable);
}

TEST(CallRegistryTest, CloseEndsParkedCalls) {
  FakeClock clock;
  CallRegistry registry(OptionsWith(clock));
  auto ticket = registry.Register("c", nullptr);
  ASSERT_TRUE(ticket.ok());
  std::string ended;
  registry.Park("c", *ticket, std::make_unique<FakeParked>(&ended), absl::Seconds(30));
  registry.Close("server shut down");
  EXPECT_EQ(ended, "server shut down");
  EXPECT_EQ(registry.active_calls(), 0u);
}

TEST(ResendRingTest, KeepsTheLastEventsInOrderAndNoHeapWhenEmpty) {
  ResendRing ring;
  EXPECT_EQ(ring.size(), 0u);
  EXPECT_EQ(ring.oldest_seq(), 0u);
  EXPECT_TRUE(ring.After(0).empty());
  for (uint64_t seq = 1; seq <= ResendRing::kCapacity + 10; ++seq) {
    grpc::Slice slice(std::to_string(seq));
    ring.Add(seq, grpc::ByteBuffer(&slice, 1));
  }
  EXPECT_EQ(ring.size(), ResendRing::kCapacity);
  EXPECT_EQ(ring.oldest_seq(), 11u);
  EXPECT_EQ(ring.last_seq(), ResendRing::kCapacity + 10);
  std::vector<grpc::ByteBuffer> after = ring.After(ResendRing::kCapacity + 7);
  ASSERT_EQ(after.size(), 3u);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(after[0].Dump(&slices).ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(slices[0].begin()), slices[0].size()),
            std::to_string(ResendRing::kCapacity + 8));
  EXPECT_EQ(ring.After(0).size(), ResendRing::kCapacity);
}

}  // namespace
}  // namespace callguard
