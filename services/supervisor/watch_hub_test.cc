#include "watch_hub.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "sqlite_alert_store.h"

namespace callguard {
namespace {

// Guards against a hung test; never a timing assertion.
constexpr absl::Duration kPatience = absl::Seconds(30);

// What one watcher read, split by kind, in arrival order.
struct Received {
  std::vector<uint64_t> alert_sequences;
  std::vector<v1::StoredAlert> alerts;
  std::vector<v1::Acknowledgement> acks;
  int caught_up = 0;
  uint64_t caught_up_last = 0;
  uint64_t caught_up_last_ack = 0;
  bool fell_behind = false;
  v1::FellBehind fell;
  // Events before the CaughtUp (the replay), counted.
  int before_caught_up = 0;

  void Add(const v1::WatchEvent& event) {
    switch (event.event_case()) {
      case v1::WatchEvent::kAlert:
        alert_sequences.push_back(event.alert().sequence());
        alerts.push_back(event.alert());
        if (caught_up == 0) ++before_caught_up;
        break;
      case v1::WatchEvent::kAcknowledgement:
        acks.push_back(event.acknowledgement());
        if (caught_up == 0) ++before_caught_up;
        break;
      case v1::WatchEvent::kCaughtUp:
        ++caught_up;
        caught_up_last = event.caught_up().last_sequence();
        caught_up_last_ack = event.caught_up().last_ack_sequence();
        break;
      case v1::WatchEvent::kFellBehind:
        fell_behind = true;
        fell = event.fell_behind();
        break;
      default:
        break;
    }
  }
};

class WatchHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "watch_hub_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    OpenStore();
  }
  void TearDown() override {
    hub_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenStore() {
    SqliteAlertStore::Options options;
    options.path = (std::filesystem::path(dir_) / "alerts.db").string();
    auto store = SqliteAlertStore::Create(std::move(options));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  void OpenHub(size_t max_buffered = 4096, int replay_page_size = 256) {
    WatchHub::Options options;
    options.store = store_.get();
    options.max_buffered_events = max_buffered;
    options.replay_page_size = replay_page_size;
    auto hub = WatchHub::Create(std::move(options));
    ASSERT_TRUE(hub.ok()) << hub.status();
    hub_ = *std::move(hub);
  }

  void StartCall(const std::string& call_id, const std::string& agent, const std::string& team) {
    v1::CallStart start;
    start.set_call_id(call_id);
    start.set_policy("us-fdcpa");
    start.mutable_agent()->set_agent_id(agent);
    start.mutable_agent()->set_team(team);
    start.mutable_agency()->set_id("AG-1");
    ASSERT_TRUE(store_->RecordCallStart(start, absl::Now()).ok());
  }

  static v1::Alert MakeAlert(const std::string& call_id, int n,
                             v1::ViolationKind kind = v1::PROHIBITED_THREAT,
                             v1::Severity severity = v1::SEVERITY_HIGH) {
    v1::Alert alert;
    alert.set_alert_id(absl::StrCat(call_id, "-", n));
    alert.set_call_id(call_id);
    alert.set_turn(n);
    alert.set_violation(kind);
    alert.set_severity(severity);
    alert.set_rule_id("test.rule");
    return alert;
  }

  uint64_t Append(const v1::Alert& alert) {
    absl::StatusOr<v1::StoredAlert> stored = store_->AppendAlert(alert);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->sequence() : 0;
  }

  std::unique_ptr<WatchHub::Subscription> Subscribe(const v1::WatchRequest& request) {
    auto subscription = hub_->Subscribe(request);
    EXPECT_TRUE(subscription.ok()) << subscription.status();
    return subscription.ok() ? *std::move(subscription) : nullptr;
  }

  static v1::WatchRequest After(uint64_t sequence) {
    v1::WatchRequest request;
    request.set_after_sequence(sequence);
    return request;
  }

  // Reads until an alert with `last` arrives (or the subscription closes).
  static void ReadUntilSequence(WatchHub::Subscription& subscription, uint64_t last,
                                Received* received) {
    v1::WatchEvent event;
    while (received->alert_sequences.empty() || received->alert_sequences.back() < last) {
      if (!subscription.WaitNext(&event, kPatience)) {
        ADD_FAILURE() << "no event for " << kPatience << "; waiting for sequence " << last;
        return;
      }
      received->Add(event);
      if (received->fell_behind) return;
    }
  }

  // Reads what is ready now.
  static void ReadReady(WatchHub::Subscription& subscription, Received* received) {
    v1::WatchEvent event;
    while (subscription.TryNext(&event)) received->Add(event);
  }

  static std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
    std::vector<uint64_t> out;
    for (uint64_t s = first; s <= last; ++s) out.push_back(s);
    return out;
  }

  std::string dir_;
  std::unique_ptr<SqliteAlertStore> store_;
  std::unique_ptr<WatchHub> hub_;
};

TEST_F(WatchHubTest, LiveWatcherSeesOnlyLaterAlertsAfterCaughtUp) {
  OpenHub();
  for (int i = 0; i < 3; ++i) Append(MakeAlert("c1", i));
  auto watcher = Subscribe(v1::WatchRequest());
  ASSERT_NE(watcher, nullptr);
  uint64_t last = 0;
  for (int i = 3; i < 6; ++i) last = Append(MakeAlert("c1", i));
  Received received;
  ReadUntilSequence(*watcher, last, &received);
  EXPECT_EQ(received.alert_sequences, Range(4, 6));
  EXPECT_EQ(received.caught_up, 1);
  EXPECT_EQ(received.caught_up_last, 3u);
  EXPECT_EQ(received.before_caught_up, 0);
  EXPECT_EQ(received.alerts[0].alert().alert_id(), "c1-3");
}

TEST_F(WatchHubTest, ReplayThatFallsBehindTheStoreReplaysMoreBeforeGoingLive) {
  OpenHub(/*max_buffered=*/4096, /*replay_page_size=*/3);
  for (int i = 0; i < 10; ++i) Append(MakeAlert("c1", i));
  auto watcher = Subscribe(After(0));
  ASSERT_NE(watcher, nullptr);
  Received received;
  v1::WatchEvent event;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(watcher->TryNext(&event));
    received.Add(event);
  }
  // Committed while the watcher is part-way through its replay.
  for (int i = 10; i < 15; ++i) Append(MakeAlert("c1", i));
  while (received.caught_up == 0 && watcher->TryNext(&event)) received.Add(event);
  EXPECT_EQ(received.caught_up, 1);
  EXPECT_EQ(received.caught_up_last, 15u);
  EXPECT_EQ(received.alert_sequences, Range(1, 15));
  const uint64_t live = Append(MakeAlert("c1", 15));
  ReadUntilSequence(*watcher, live, &received);
  EXPECT_EQ(received.alert_sequences, Range(1, 16));
  EXPECT_EQ(received.caught_up, 1);
}

TEST_F(WatchHubTest, ResumeIsExactWhileAlertsKeepComing) {
  OpenHub(/*max_buffered=*/100000, /*replay_page_size=*/7);  // small pages: many replay rounds
  StartCall("c1", "A1", "red");
  constexpr int kAlerts = 1200;
  constexpr uint64_t kLast = kAlerts;  // a fresh store numbers from 1

  absl::Notification some_written;
  std::thread writer([&] {
    for (int i = 0; i < kAlerts; ++i) {
      // Async appends pile up in the queue, so commits come in batches of several.
      store_->AppendAlertAsync(MakeAlert("c1", i), nullptr);
      if (i % 20 == 0) ASSERT_TRUE(store_->Flush().ok());
      if (i == 300) some_written.Notify();
    }
    ASSERT_TRUE(store_->Flush().ok());
  });
  // Watchers join at different points of the stream and read while the writer writes, so
  // their replays race the commits and they go live at different moments.
  some_written.WaitForNotification();
  const std::vector<uint64_t> starts = {0, 5, 150, 280};
  std::vector<std::unique_ptr<WatchHub::Subscription>> watchers;
  for (uint64_t start : starts) watchers.push_back(Subscribe(After(start)));
  std::vector<Received> received(watchers.size());
  std::vector<std::thread> readers;
  for (size_t w = 0; w < watchers.size(); ++w) {
    ASSERT_NE(watchers[w], nullptr);
    readers.emplace_back([&, w] {
      ReadUntilSequence(*watchers[w], kLast, &received[w]);
      v1::WatchEvent event;
      while (received[w].caught_up == 0 && watchers[w]->WaitNext(&event, kPatience)) {
        received[w].Add(event);
      }
    });
  }
  writer.join();
  for (std::thread& reader : readers) reader.join();
  ASSERT_EQ(store_->LastSequence(), kLast);

  for (size_t w = 0; w < watchers.size(); ++w) {
    EXPECT_EQ(received[w].alert_sequences, Range(starts[w] + 1, kLast))
        << "watcher after " << starts[w];
    EXPECT_EQ(received[w].caught_up, 1) << "watcher after " << starts[w];
    EXPECT_FALSE(received[w].fell_behind);
    v1::WatchEvent extra;
    EXPECT_FALSE(watchers[w]->TryNext(&extra)) << extra.ShortDebugString();
  }
}

TEST_F(WatchHubTest, FiltersApplyToReplayAndLive) {
  OpenHub();
  StartCall("red-call", "A1", "red");
  StartCall("blue-call", "A2", "blue");
  std::set<uint64_t> expected;
  auto append_mix = [&](int round) {
    for (int i = 0; i < 4; ++i) {
      const bool red = i % 2 == 0;
      const v1::Severity severity = i < 2 ? v1::SEVERITY_CRITICAL : v1::SEVERITY_LOW;
      const uint64_t seq = Append(MakeAlert(red ? "red-call" : "blue-call", round * 10 + i,
                                            v1::ABUSIVE_LANGUAGE, severity));
      if (red && severity >= v1::SEVERITY_HIGH) expected.insert(seq);
    }
    // Another kind on the red call, also critical: excluded by the kind filter.
    Append(MakeAlert("red-call", round * 10 + 5, v1::PROHIBITED_THREAT, v1::SEVERITY_CRITICAL));
  };
  append_mix(0);
  v1::WatchRequest request = After(0);
  request.mutable_filter()->add_teams("red");
  request.mutable_filter()->set_min_severity(v1::SEVERITY_HIGH);
  request.mutable_filter()->add_violations(v1::ABUSIVE_LANGUAGE);
  auto watcher = Subscribe(request);
  ASSERT_NE(watcher, nullptr);
  append_mix(1);
  // A final alert that matches marks the end of the stream.
  const uint64_t marker =
      Append(MakeAlert("red-call", 99, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_HIGH));
  expected.insert(marker);

  Received received;
  ReadUntilSequence(*watcher, marker, &received);
  EXPECT_EQ(std::set<uint64_t>(received.alert_sequences.begin(), received.alert_sequences.end()),
            expected);
  EXPECT_EQ(received.alert_sequences.size(), expected.size()) << "no duplicates";
  for (const v1::StoredAlert& stored : received.alerts) {
    EXPECT_EQ(stored.team(), "red");
    EXPECT_EQ(stored.alert().violation(), v1::ABUSIVE_LANGUAGE);
    EXPECT_GE(stored.alert().severity(), v1::SEVERITY_HIGH);
  }
}

TEST_F(WatchHubTest, SlowWatcherFallsBehindWithoutHoldingUpAppendsOrOthers) {
  OpenHub(/*max_buffered=*/8);
  Append(MakeAlert("c1", 0));
  auto stalled = Subscribe(v1::WatchRequest());  // never reads until the end
  auto keeping_up = Subscribe(v1::WatchRequest());
  ASSERT_NE(stalled, nullptr);
  ASSERT_NE(keeping_up, nullptr);

  // AppendAlert returns only after the hub was told, so had the stalled watcher blocked the
  // hub, this loop would never finish.
  Received fast;
  uint64_t last = 0;
  for (int i = 1; i <= 100; ++i) {
    last = Append(MakeAlert("c1", i));
    ReadReady(*keeping_up, &fast);
  }
  ReadUntilSequence(*keeping_up, last, &fast);
  EXPECT_EQ(fast.alert_sequences, Range(2, last));
  EXPECT_FALSE(fast.fell_behind);
  EXPECT_EQ(hub_->fell_behind_count(), 1);

  Received slow;
  ReadReady(*stalled, &slow);
  EXPECT_TRUE(stalled->Done());
  EXPECT_TRUE(stalled->status().ok()) << stalled->status();
  ASSERT_TRUE(slow.fell_behind);
  // The CaughtUp and the first alerts fit its buffer; they still arrive, then FellBehind.
  ASSERT_FALSE(slow.alert_sequences.empty());
  EXPECT_EQ(slow.alert_sequences, Range(2, 1 + slow.alert_sequences.size()));
  EXPECT_EQ(slow.fell.resume_after_sequence(), slow.alert_sequences.back());

  // Resuming where it says loses nothing and repeats nothing.
  auto resumed = Subscribe(After(slow.fell.resume_after_sequence()));
  ASSERT_NE(resumed, nullptr);
  Received rest;
  ReadUntilSequence(*resumed, last, &rest);
  std::vector<uint64_t> all = slow.alert_sequences;
  all.insert(all.end(), rest.alert_sequences.begin(), rest.alert_sequences.end());
  EXPECT_EQ(all, Range(2, last));
}

TEST_F(WatchHubTest, ResumePointSkipsAlertsTheFilterExcludes) {
  OpenHub(/*max_buffered=*/4);
  StartCall("mine", "A1", "red");
  StartCall("other", "A2", "blue");
  v1::WatchRequest request;
  request.mutable_filter()->add_agent_ids("A1");
  auto stalled = Subscribe(request);
  ASSERT_NE(stalled, nullptr);
  std::vector<uint64_t> mine;
  for (int i = 0; i < 10; ++i) {
    mine.push_back(Append(MakeAlert("mine", i)));
    Append(MakeAlert("other", i));
  }
  Received slow;
  ReadReady(*stalled, &slow);
  ASSERT_TRUE(slow.fell_behind);
  auto resumed = Subscribe([&] {
    v1::WatchRequest again = request;
    again.set_after_sequence(slow.fell.resume_after_sequence());
    return again;
  }());
  Received rest;
  ReadUntilSequence(*resumed, mine.back(), &rest);
  std::vector<uint64_t> all = slow.alert_sequences;
  all.insert(all.end(), rest.alert_sequences.begin(), rest.alert_sequences.end());
  EXPECT_EQ(all, mine);
}

TEST_F(WatchHubTest, AcknowledgementsReachEveryWatcherAndResume) {
  OpenHub();
  const uint64_t first = Append(MakeAlert("c1", 0));
  const uint64_t second = Append(MakeAlert("c1", 1));
  auto one = Subscribe(v1::WatchRequest());
  auto two = Subscribe(v1::WatchRequest());
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  auto acked = store_->Acknowledge(second, "sam", "coached on the call");
  ASSERT_TRUE(acked.ok()) << acked.status();
  const uint64_t ack_sequence = acked->acknowledgement().ack_sequence();
  // A later alert as an end marker: events come in commit order.
  const uint64_t marker = Append(MakeAlert("c1", 2));
  for (auto* watcher : {one.get(), two.get()}) {
    Received received;
    ReadUntilSequence(*watcher, marker, &received);
    ASSERT_EQ(received.acks.size(), 1u);
    EXPECT_EQ(received.acks[0].alert_sequence(), second);
    EXPECT_EQ(received.acks[0].supervisor(), "sam");
    EXPECT_EQ(received.acks[0].note(), "coached on the call");
    EXPECT_EQ(received.acks[0].ack_sequence(), ack_sequence);
  }

  // A watcher that was away replays the acknowledgements it missed, and the replayed alert
  // carries its acknowledgement too.
  auto acked_first = store_->Acknowledge(first, "kim", "");
  ASSERT_TRUE(acked_first.ok());
  v1::WatchRequest request = After(0);
  request.set_after_ack_sequence(ack_sequence);
  auto returning = Subscribe(request);
  ASSERT_NE(returning, nullptr);
  Received received;
  ReadUntilSequence(*returning, marker, &received);
  v1::WatchEvent event;
  while (received.caught_up == 0 && returning->WaitNext(&event, kPatience)) received.Add(event);
  EXPECT_EQ(received.alert_sequences, Range(first, marker));
  EXPECT_EQ(received.alerts[1].acknowledgement().supervisor(), "sam");
  ASSERT_EQ(received.acks.size(), 1u) << "only the acknowledgement after the one it had";
  EXPECT_EQ(received.acks[0].alert_sequence(), first);
  EXPECT_EQ(received.acks[0].supervisor(), "kim");
  EXPECT_EQ(received.caught_up_last_ack, acked_first->acknowledgement().ack_sequence());
}

TEST_F(WatchHubTest, WakeupFiresForLiveEvents) {
  OpenHub();
  auto watcher = Subscribe(v1::WatchRequest());
  ASSERT_NE(watcher, nullptr);
  absl::Notification woken;
  std::atomic<int> wakeups{0};
  watcher->SetWakeup([&] {
    if (wakeups.fetch_add(1) == 0) woken.Notify();
  });
  Received received;
  ReadReady(*watcher, &received);  // the CaughtUp
  EXPECT_EQ(received.caught_up, 1);
  const uint64_t seq = Append(MakeAlert("c1", 0));
  ASSERT_TRUE(woken.WaitForNotificationWithTimeout(kPatience));
  ReadReady(*watcher, &received);
  EXPECT_EQ(received.alert_sequences, std::vector<uint64_t>{seq});
  watcher->SetWakeup(nullptr);
  const int before = wakeups.load();
  Append(MakeAlert("c1", 1));
  EXPECT_EQ(wakeups.load(), before) << "a cleared wakeup never runs";
}

TEST_F(WatchHubTest, ShutdownClosesWatchersAndRefusesNewOnes) {
  OpenHub();
  auto watcher = Subscribe(v1::WatchRequest());
  ASSERT_NE(watcher, nullptr);
  EXPECT_EQ(hub_->watcher_count(), 1u);
  hub_->Shutdown();
  Received received;
  ReadReady(*watcher, &received);
  EXPECT_TRUE(watcher->Done());
  EXPECT_EQ(watcher->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(hub_->Subscribe(v1::WatchRequest()).status().code(), absl::StatusCode::kUnavailable);
  watcher.reset();
  EXPECT_EQ(hub_->watcher_count(), 0u);
}

TEST_F(WatchHubTest, RefusesSequencesBeyondTheStoreAndBadFilters) {
  OpenHub();
  Append(MakeAlert("c1", 0));
  auto beyond = hub_->Subscribe(After(5));
  EXPECT_EQ(beyond.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(beyond.status().message().find("after_sequence"), std::string::npos);
  v1::WatchRequest bad_ack;
  bad_ack.set_after_ack_sequence(3);
  EXPECT_EQ(hub_->Subscribe(bad_ack).status().code(), absl::StatusCode::kOutOfRange);
  v1::WatchRequest bad_filter;
  bad_filter.mutable_filter()->add_violations(static_cast<v1::ViolationKind>(99));
  auto refused = hub_->Subscribe(bad_filter);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("filter.violations"), std::string::npos);
}

TEST_F(WatchHubTest, ANewHubOnTheReopenedStoreResumesFromDisk) {
  OpenHub();
  for (int i = 0; i < 5; ++i) Append(MakeAlert("c1", i));
  hub_.reset();
  store_.reset();
  OpenStore();
  OpenHub();
  EXPECT_EQ(hub_->last_sequence(), 5u);
  auto watcher = Subscribe(After(2));
  ASSERT_NE(watcher, nullptr);
  const uint64_t next = Append(MakeAlert("c1", 5));
  EXPECT_EQ(next, 6u);
  Received received;
  ReadUntilSequence(*watcher, next, &received);
  EXPECT_EQ(received.alert_sequences, Range(3, 6));
}

}  // namespace
}  // namespace callguard
