#include "call_registry.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
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

}  // namespace
}  // namespace callguard
