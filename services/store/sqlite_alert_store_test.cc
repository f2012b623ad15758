#include "sqlite_alert_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "alert_filter.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace callguard {
namespace {

using google::protobuf::util::MessageDifferencer;

// A clock the test moves by hand, for row times and retention.
class FakeClock {
 public:
  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "alert_store_XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (std::filesystem::path(dir_) / "alerts.db").string();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  SqliteAlertStore::Options BaseOptions() {
    SqliteAlertStore::Options options;
    options.path = path_;
    options.clock = [this] { return clock_.Now(); };
    return options;
  }

  void Open(SqliteAlertStore::Options options) {
    store_.reset();
    auto store = SqliteAlertStore::Create(std::move(options));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void Open() { Open(BaseOptions()); }

  static v1::CallStart Start(const std::string& call_id, const std::string& agent,
                             const std::string& agency, const std::string& team) {
    v1::CallStart start;
    start.set_call_id(call_id);
    start.set_policy("us-fdcpa");
    start.mutable_agent()->set_agent_id(agent);
    start.mutable_agent()->set_name(absl::StrCat("Name of ", agent));
    start.mutable_agent()->set_team(team);
    start.mutable_agency()->set_id(agency);
    start.mutable_agency()->set_name(absl::StrCat("Agency ", agency));
    start.mutable_debtor()->set_name("Dana Debtor");
    start.set_dialed(v1::DEBTOR_PHONE);
    return start;
  }

  static v1::Alert MakeAlert(const std::string& call_id, int n, v1::ViolationKind kind,
                             v1::Severity severity) {
    v1::Alert alert;
    alert.set_alert_id(absl::StrCat(call_id, "-alert-", n));
    alert.set_call_id(call_id);
    alert.set_turn(n);
    alert.set_violation(kind);
    alert.set_severity(severity);
    alert.set_rule_id(absl::StrCat("rule-", kind));
    alert.set_message("the agent said something prohibited");
    v1::Evidence* evidence = alert.add_evidence();
    evidence->set_text("take your house");
    evidence->set_begin(3);
    evidence->set_end(18);
    alert.set_coaching("say what will actually happen");
    return alert;
  }

  v1::StoredAlert Append(const v1::Alert& alert) {
    absl::StatusOr<v1::StoredAlert> stored = store_->AppendAlert(alert);
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? *stored : v1::StoredAlert();
  }

  std::vector<uint64_t> Sequences(const std::vector<v1::StoredAlert>& alerts) {
    std::vector<uint64_t> sequences;
    for (const v1::StoredAlert& a : alerts) sequences.push_back(a.sequence());
    return sequences;
  }

  // Every stored alert, oldest first, read through AlertsAfter in small steps.
  std::vector<v1::StoredAlert> AllAlerts(const v1::AlertFilter& filter = {}) {
    std::vector<v1::StoredAlert> all;
    uint64_t after = 0;
    for (;;) {
      auto page = store_->AlertsAfter(after, filter, 7);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok() || page->empty()) return all;
      after = page->back().sequence();
      all.insert(all.end(), page->begin(), page->end());
    }
  }

  FakeClock clock_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteAlertStore> store_;
};

// Records every listener call, and checks each alert can be read back when it is announced.
class RecordingListener : public StoreListener {
 public:
  explicit RecordingListener(AlertStore* store) : store_(store) {}
  void OnAlertStored(const v1::StoredAlert& stored) override {
    const bool readable = store_->GetAlert(stored.sequence()).ok();
    absl::MutexLock lock(&mu_);
    stored_.push_back(stored.sequence());
    if (!readable) ++unreadable_;
  }
  void OnAlertAcknowledged(const v1::StoredAlert& stored) override {
    absl::MutexLock lock(&mu_);
    acknowledged_.push_back(stored);
  }
  void OnBatchCommitted(int rows, absl::Duration latency) override {
    absl::MutexLock lock(&mu_);
    rows_ += rows;
  }
  std::vector<uint64_t> stored() {
    absl::MutexLock lock(&mu_);
    return stored_;
  }
  std::vector<v1::StoredAlert> acknowledged() {
    absl::MutexLock lock(&mu_);
    return acknowledged_;
  }
  int unreadable() {
    absl::MutexLock lock(&mu_);
    return unreadable_;
  }
  int64_t rows() {
    absl::MutexLock lock(&mu_);
    return rows_;
  }

 private:
  AlertStore* store_;
  absl::Mutex mu_;
  std::vector<uint64_t> stored_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::StoredAlert> acknowledged_ ABSL_GUARDED_BY(mu_);
  int unreadable_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rows_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(StoreTest, CallTimelineRoundTripsEveryRecordType) {
  Open();
  const v1::CallStart start = Start("call-1", "agent-7", "agency-1", "team-east");
  const absl::Time started = clock_.Now();
  ASSERT_TRUE(store_->RecordCallStart(start, started).ok());

  std::vector<v1::TimelineUtterance> utterances;
  for (int turn = 0; turn < 3; ++turn) {
    v1::TimelineUtterance u;
    u.set_turn(turn);
    u.set_utterance_id(absl::StrCat("u", turn));
    u.set_speaker(turn % 2 == 0 ? v1::AGENT : v1::COUNTERPARTY);
    u.set_text(turn == 1 ? "这是谁？" : absl::StrCat("turn ", turn, " text"));
    u.set_is_final(true);
    u.set_start_ms(turn * 1000);
    u.set_end_ms(turn * 1000 + 900);
    *u.mutable_time() = google::protobuf::Timestamp();
    u.mutable_time()->set_seconds(1700000000 + turn);
    utterances.push_back(u);
    ASSERT_TRUE(store_->RecordUtterance("call-1", u).ok());
  }
  v1::PartyChange change;
  change.set_after_turn(1);
  change.set_party(v1::PARTY_DEBTOR);
  change.set_agent_identified(true);
  change.set_note("confirmed date of birth");
  change.set_from_dialer(true);
  change.mutable_time()->set_seconds(1700000002);
  ASSERT_TRUE(store_->RecordPartyChange("call-1", change).ok());

  const v1::StoredAlert first =
      Append(MakeAlert("call-1", 0, v1::PROHIBITED_THREAT, v1::SEVERITY_HIGH));
  const v1::StoredAlert second =
      Append(MakeAlert("call-1", 2, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_MEDIUM));

  v1::CallSummary summary;
  summary.set_call_id("call-1");
  summary.set_turns(3);
  summary.set_alerts(2);
  summary.set_agent_identified(true);
  summary.set_party(v1::PARTY_DEBTOR);
  summary.set_end_reason("hangup");
  const absl::Time ended = started + absl::Minutes(3);
  ASSERT_TRUE(store_->RecordCallEnd(summary, ended).ok());
  ASSERT_TRUE(store_->Flush().ok());

  absl::StatusOr<v1::CallTimeline> timeline = store_->GetCall("call-1");
  ASSERT_TRUE(timeline.ok()) << timeline.status();
  EXPECT_TRUE(MessageDifferencer::Equals(timeline->start(), start));
  ASSERT_EQ(timeline->utterances_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(timeline->utterances(i), utterances[i]))
        << timeline->utterances(i).DebugString();
  }
  ASSERT_EQ(timeline->party_changes_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(timeline->party_changes(0), change));
  ASSERT_EQ(timeline->alerts_size(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(timeline->alerts(0), first));
  EXPECT_TRUE(MessageDifferencer::Equals(timeline->alerts(1), second));
  EXPECT_TRUE(MessageDifferencer::Equals(timeline->summary(), summary));
  EXPECT_FALSE(timeline->active());
  EXPECT_EQ(timeline->started().seconds(), absl::ToUnixSeconds(started));
  EXPECT_EQ(timeline->ended().seconds(), absl::ToUnixSeconds(ended));

  // The alert came back enriched from the call and exactly as sent otherwise.
  EXPECT_EQ(first.team(), "team-east");
  EXPECT_EQ(first.agent_name(), "Name of agent-7");
  EXPECT_EQ(first.alert().agent_id(), "agent-7");
  EXPECT_EQ(first.alert().agency_id(), "agency-1");
  EXPECT_EQ(first.alert().evidence(0).text(), "take your house");
  EXPECT_EQ(first.stored_time().seconds(), absl::ToUnixSeconds(clock_.Now()));

  EXPECT_EQ(store_->GetCall("no-such-call").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ActiveCallsShowsStartedNotEndedWithLiveState) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("a", "agent-1", "agency-1", "t1"), clock_.Now()).ok());
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(store_->RecordCallStart(Start("b", "agent-2", "agency-1", "t2"), clock_.Now()).ok());
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent-3", "agency-2", "t1"), clock_.Now()).ok());
  v1::PartyChange change;
  change.set_party(v1::PARTY_THIRD_PARTY);
  change.set_agent_identified(true);
  ASSERT_TRUE(store_->RecordPartyChange("a", change).ok());
  v1::TimelineUtterance u;
  u.set_turn(4);
  u.set_is_final(true);
  ASSERT_TRUE(store_->RecordUtterance("a", u).ok());
  Append(MakeAlert("a", 1, v1::THIRD_PARTY_DISCLOSURE, v1::SEVERITY_CRITICAL));
  Append(MakeAlert("a", 2, v1::THIRD_PARTY_DISCLOSURE, v1::SEVERITY_CRITICAL));
  v1::CallSummary end;
  end.set_call_id("b");
  ASSERT_TRUE(store_->RecordCallEnd(end, clock_.Now()).ok());
  ASSERT_TRUE(store_->Flush().ok());

  auto active = store_->ListActiveCalls({});
  ASSERT_TRUE(active.ok()) << active.status();
  ASSERT_EQ(active->calls_size(), 2);
  EXPECT_EQ(active->next_page_token(), "");
  const v1::ActiveCall& a = active->calls(0);
  EXPECT_EQ(a.call_id(), "a");
  EXPECT_EQ(a.agent().agent_id(), "agent-1");
  EXPECT_EQ(a.agency().id(), "agency-1");
  EXPECT_EQ(a.party(), v1::PARTY_THIRD_PARTY);
  EXPECT_TRUE(a.agent_identified());
  EXPECT_EQ(a.alert_count(), 2);
  EXPECT_EQ(a.turns(), 5);
  EXPECT_EQ(a.started().seconds(), 1700000000);
  EXPECT_EQ(active->calls(1).call_id(), "c");
  EXPECT_EQ(active->calls(1).alert_count(), 0);

  v1::ListActiveCallsRequest by_team;
  by_team.mutable_filter()->add_teams("t1");
  by_team.set_page_size(1);
  auto page1 = store_->ListActiveCalls(by_team);
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->calls_size(), 1);
  EXPECT_EQ(page1->calls(0).call_id(), "a");
  ASSERT_NE(page1->next_page_token(), "");
  by_team.set_page_token(page1->next_page_token());
  auto page2 = store_->ListActiveCalls(by_team);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->calls_size(), 1);
  EXPECT_EQ(page2->calls(0).call_id(), "c");
  EXPECT_EQ(page2->next_page_token(), "");

  v1::ListActiveCallsRequest bad;
  bad.mutable_filter()->set_min_severity(v1::SEVERITY_HIGH);
  EXPECT_EQ(store_->ListActiveCalls(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, SequencesAreGapFreeAndMonotonicAcrossConcurrentWriters) {
  Open();
  RecordingListener listener(store_.get());
  store_->SetListener(&listener);
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent", "agency", "team"), clock_.Now()).ok());

  constexpr int kThreads = 6;
  constexpr int kPerThread = 150;
  std::vector<std::vector<uint64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        v1::Alert alert = MakeAlert("c", t * 1000 + i, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW);
        if (i % 2 == 0) {
          auto stored = store_->AppendAlert(alert);
          ASSERT_TRUE(stored.ok()) << stored.status();
          seen[t].push_back(stored->sequence());
        } else {
          absl::Notification done;
          store_->AppendAlertAsync(alert, [&](absl::StatusOr<v1::StoredAlert> stored) {
            ASSERT_TRUE(stored.ok()) << stored.status();
            seen[t].push_back(stored->sequence());
            done.Notify();
          });
          done.WaitForNotification();
        }
        // Also utterances, which share the writer's batches.
        v1::TimelineUtterance u;
        u.set_turn(i);
        store_->RecordUtterance("c", u).IgnoreError();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(store_->Flush().ok());
  store_->SetListener(nullptr);

  std::vector<uint64_t> all;
  for (const auto& per_thread : seen) {
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    all.insert(all.end(), per_thread.begin(), per_thread.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<uint64_t> expected(kThreads * kPerThread);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  EXPECT_EQ(all, expected);
  // The listener heard every alert once, in sequence order, each readable when announced.
  EXPECT_EQ(listener.stored(), expected);
  EXPECT_EQ(listener.unreadable(), 0);
  EXPECT_EQ(store_->LastSequence(), expected.size());
  EXPECT_EQ(Sequences(AllAlerts()), expected);
  const StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.rows_written, listener.rows());
  EXPECT_EQ(stats.last_sequence, expected.size());
}

TEST_F(StoreTest, AlertsAfterResumesWithExactlyTheLaterAlertsInOrder) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent", "agency", "team"), clock_.Now()).ok());
  std::vector<v1::StoredAlert> stored;
  for (int i = 0; i < 40; ++i) {
    stored.push_back(Append(MakeAlert("c", i, v1::PROHIBITED_THREAT, v1::SEVERITY_HIGH)));
  }
  auto later = store_->AlertsAfter(stored[24].sequence(), {}, 1000);
  ASSERT_TRUE(later.ok()) << later.status();
  ASSERT_EQ(later->size(), 15u);
  for (size_t i = 0; i < later->size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals((*later)[i], stored[25 + i]));
  }
  auto limited = store_->AlertsAfter(stored[24].sequence(), {}, 4);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(Sequences(*limited),
            (std::vector<uint64_t>{stored[25].sequence(), stored[26].sequence(),
                                   stored[27].sequence(), stored[28].sequence()}));
  auto none = store_->AlertsAfter(stored.back().sequence(), {}, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(store_->AlertsAfter(0, {}, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, FiltersMatchTheInMemoryRuleForEveryField) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("c1", "ann", "acme", "east"), clock_.Now()).ok());
  ASSERT_TRUE(store_->RecordCallStart(Start("c2", "bob", "acme", "west"), clock_.Now()).ok());
  ASSERT_TRUE(store_->RecordCallStart(Start("c3", "cy", "zeta", "east"), clock_.Now()).ok());
  const std::vector<v1::ViolationKind> kinds = {v1::PROHIBITED_THREAT, v1::ABUSIVE_LANGUAGE,
                                                v1::THIRD_PARTY_DISCLOSURE};
  const std::vector<v1::Severity> severities = {v1::SEVERITY_LOW, v1::SEVERITY_MEDIUM,
                                                v1::SEVERITY_HIGH, v1::SEVERITY_CRITICAL};
  for (int i = 0; i < 36; ++i) {
    const std::string call = absl::StrCat("c", 1 + i % 3);
    Append(MakeAlert(call, i, kinds[(i / 2) % kinds.size()], severities[(i / 3) % severities.size()]));
  }
  const std::vector<v1::StoredAlert> everything = AllAlerts();
  ASSERT_EQ(everything.size(), 36u);

  std::vector<v1::AlertFilter> filters(9);
  filters[0].add_agent_ids("ann");
  filters[1].add_agent_ids("ann");
  filters[1].add_agent_ids("cy");
  filters[2].add_agency_ids("acme");
  filters[3].add_teams("east");
  filters[4].set_min_severity(v1::SEVERITY_HIGH);
  filters[5].add_violations(v1::ABUSIVE_LANGUAGE);
  filters[5].add_violations(v1::THIRD_PARTY_DISCLOSURE);
  filters[6].set_call_id("c2");
  filters[7].add_teams("east");
  filters[7].set_min_severity(v1::SEVERITY_MEDIUM);
  filters[7].add_violations(v1::PROHIBITED_THREAT);
  filters[8].add_agent_ids("nobody");
  for (const v1::AlertFilter& filter : filters) {
    std::vector<uint64_t> expected;
    for (const v1::StoredAlert& a : everything) {
      if (AlertMatches(filter, a)) expected.push_back(a.sequence());
    }
    EXPECT_EQ(Sequences(AllAlerts(filter)), expected) << filter.DebugString();
    v1::ListAlertsRequest request;
    *request.mutable_filter() = filter;
    request.set_oldest_first(true);
    request.set_page_size(1000);
    auto listed = store_->ListAlerts(request);
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(Sequences({listed->alerts().begin(), listed->alerts().end()}), expected);
  }
  // The in-memory rule itself, on fields the table sets up: it must not be vacuous.
  EXPECT_EQ(Sequences(AllAlerts(filters[0])).size(), 12u);
  EXPECT_EQ(Sequences(AllAlerts(filters[3])).size(), 24u);
  EXPECT_EQ(Sequences(AllAlerts(filters[4])).size(), 18u);
  EXPECT_EQ(Sequences(AllAlerts(filters[5])).size(), 24u);
  EXPECT_TRUE(AllAlerts(filters[8]).empty());

  v1::AlertFilter bad;
  bad.add_violations(static_cast<v1::ViolationKind>(99));
  EXPECT_EQ(store_->AlertsAfter(0, bad, 10).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, ListAlertsPagesThroughEverythingOnceInBothOrdersAndTimeRanges) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent", "agency", "team"), clock_.Now()).ok());
  std::vector<uint64_t> all;
  for (int i = 0; i < 23; ++i) {
    v1::Alert alert = MakeAlert("c", i, v1::PROHIBITED_THREAT, v1::SEVERITY_HIGH);
    alert.mutable_time()->set_seconds(1700000000 + i * 60);
    all.push_back(Append(alert).sequence());
  }
  for (bool oldest_first : {true, false}) {
    v1::ListAlertsRequest request;
    request.set_page_size(5);
    request.set_oldest_first(oldest_first);
    std::vector<uint64_t> collected;
    int pages = 0;
    for (;;) {
      auto page = store_->ListAlerts(request);
      ASSERT_TRUE(page.ok()) << page.status();
      ++pages;
      EXPECT_LE(page->alerts_size(), 5);
      for (const auto& a : page->alerts()) collected.push_back(a.sequence());
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    std::vector<uint64_t> expected = all;
    if (!oldest_first) std::reverse(expected.begin(), expected.end());
    EXPECT_EQ(collected, expected);
    EXPECT_EQ(pages, 5);
  }

  v1::ListAlertsRequest range;
  range.mutable_since()->set_seconds(1700000000 + 5 * 60);
  range.mutable_until()->set_seconds(1700000000 + 10 * 60);
  range.set_oldest_first(true);
  auto ranged = store_->ListAlerts(range);
  ASSERT_TRUE(ranged.ok());
  EXPECT_EQ(Sequences({ranged->alerts().begin(), ranged->alerts().end()}),
            std::vector<uint64_t>(all.begin() + 5, all.begin() + 10));

  v1::ListAlertsRequest bad_token;
  bad_token.set_page_token("garbage");
  EXPECT_EQ(store_->ListAlerts(bad_token).status().code(), absl::StatusCode::kInvalidArgument);
  v1::ListAlertsRequest bad_size;
  bad_size.set_page_size(-1);
  EXPECT_EQ(store_->ListAlerts(bad_size).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, AcknowledgementIsStoredReturnedAndAnnounced) {
  Open();
  RecordingListener listener(store_.get());
  store_->SetListener(&listener);
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent", "agency", "team"), clock_.Now()).ok());
  const v1::StoredAlert a = Append(MakeAlert("c", 1, v1::IMPERSONATION, v1::SEVERITY_CRITICAL));
  const v1::StoredAlert b = Append(MakeAlert("c", 2, v1::IMPERSONATION, v1::SEVERITY_CRITICAL));
  clock_.Advance(absl::Seconds(30));

  auto acked = store_->Acknowledge(a.sequence(), "Sam Supervisor", "coached the agent");
  ASSERT_TRUE(acked.ok()) << acked.status();
  const v1::Acknowledgement& ack = acked->acknowledgement();
  EXPECT_EQ(ack.ack_sequence(), 1u);
  EXPECT_EQ(ack.alert_sequence(), a.sequence());
  EXPECT_EQ(ack.alert_id(), a.alert().alert_id());
  EXPECT_EQ(ack.call_id(), "c");
  EXPECT_EQ(ack.supervisor(), "Sam Supervisor");
  EXPECT_EQ(ack.note(), "coached the agent");
  EXPECT_EQ(ack.time().seconds(), absl::ToUnixSeconds(clock_.Now()));

  auto fetched = store_->GetAlert(a.sequence());
  ASSERT_TRUE(fetched.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(*fetched, *acked));
  EXPECT_FALSE(store_->GetAlert(b.sequence())->has_acknowledgement());

  auto again = store_->Acknowledge(a.sequence(), "Other", "");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->GetAlert(a.sequence())->acknowledgement().supervisor(), "Sam Supervisor");
  EXPECT_EQ(store_->Acknowledge(999, "Sam", "").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Acknowledge(b.sequence(), "", "").status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_EQ(listener.acknowledged().size(), 1u);
  EXPECT_TRUE(MessageDifferencer::Equals(listener.acknowledged()[0], *acked));
  store_->SetListener(nullptr);

  auto second = store_->Acknowledge(b.sequence(), "Sam", "second");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->acknowledgement().ack_sequence(), 2u);
  EXPECT_EQ(store_->LastAckSequence(), 2u);
  auto acks = store_->AcknowledgementsAfter(1, {}, 10);
  ASSERT_TRUE(acks.ok());
  ASSERT_EQ(acks->size(), 1u);
  EXPECT_EQ((*acks)[0].sequence(), b.sequence());
  EXPECT_EQ((*acks)[0].acknowledgement().note(), "second");

  v1::ListAlertsRequest open_only;
  open_only.set_unacknowledged_only(true);
  Append(MakeAlert("c", 3, v1::IMPERSONATION, v1::SEVERITY_CRITICAL));
  auto unacked = store_->ListAlerts(open_only);
  ASSERT_TRUE(unacked.ok());
  ASSERT_EQ(unacked->alerts_size(), 1);
  EXPECT_EQ(unacked->alerts(0).alert().alert_id(), "c-alert-3");
}

TEST_F(StoreTest, PruneDeletesOldRowsAndSequencesNeverGoBack) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("old", "agent", "agency", "team"), clock_.Now()).ok());
  v1::TimelineUtterance u;
  u.set_turn(0);
  ASSERT_TRUE(store_->RecordUtterance("old", u).ok());
  for (int i = 0; i < 3; ++i) Append(MakeAlert("old", i, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));
  ASSERT_TRUE(store_->Acknowledge(1, "sam", "").ok());
  v1::CallSummary end;
  end.set_call_id("old");
  ASSERT_TRUE(store_->RecordCallEnd(end, clock_.Now()).ok());

  clock_.Advance(absl::Hours(24 * 10));
  ASSERT_TRUE(store_->RecordCallStart(Start("new", "agent", "agency", "team"), clock_.Now()).ok());
  const v1::StoredAlert kept = Append(MakeAlert("new", 0, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));

  auto pruned = store_->Prune(clock_.Now() - absl::Hours(24 * 5));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(pruned->alerts, 3);
  EXPECT_EQ(pruned->calls, 1);
  EXPECT_EQ(store_->GetCall("old").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetCall("new").ok());
  EXPECT_EQ(Sequences(AllAlerts()), std::vector<uint64_t>{kept.sequence()});
  EXPECT_EQ(store_->Stats().rows_pruned, 4);

  // Prune everything; the next alert still continues the sequence, also after a reopen.
  auto all = store_->Prune(clock_.Now() + absl::Hours(1));
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(AllAlerts().empty());
  Open();
  EXPECT_EQ(store_->LastSequence(), kept.sequence());
  EXPECT_EQ(Append(MakeAlert("new", 1, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW)).sequence(),
            kept.sequence() + 1);
}

TEST_F(StoreTest, RetentionPrunesInTheBackgroundWhenTheStoreOpens) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("old", "agent", "agency", "team"), clock_.Now()).ok());
  Append(MakeAlert("old", 0, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));
  clock_.Advance(absl::Hours(24 * 2));
  ASSERT_TRUE(store_->RecordCallStart(Start("new", "agent", "agency", "team"), clock_.Now()).ok());
  const v1::StoredAlert kept = Append(MakeAlert("new", 0, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));

  SqliteAlertStore::Options options = BaseOptions();
  options.retention_days = 1;
  Open(options);
  // Prune requests run one after another, the retention prune of the opening first; this one
  // (with a cutoff that deletes nothing itself) returns after it.
  auto noop = store_->Prune(clock_.Now() - absl::Hours(24 * 30));
  ASSERT_TRUE(noop.ok());
  EXPECT_EQ(noop->alerts + noop->calls, 0);
  EXPECT_EQ(Sequences(AllAlerts()), std::vector<uint64_t>{kept.sequence()});
  EXPECT_EQ(store_->GetCall("old").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Stats().rows_pruned, 2);
}

TEST_F(StoreTest, ReopeningTheFileKeepsEverything) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent", "agency", "team"), clock_.Now()).ok());
  v1::TimelineUtterance u;
  u.set_turn(0);
  u.set_text("hello");
  u.set_is_final(true);
  ASSERT_TRUE(store_->RecordUtterance("c", u).ok());
  for (int i = 0; i < 5; ++i) Append(MakeAlert("c", i, v1::NEW_DEBT_INDUCEMENT, v1::SEVERITY_HIGH));
  ASSERT_TRUE(store_->Acknowledge(2, "sam", "done").ok());
  ASSERT_TRUE(store_->Flush().ok());
  const v1::CallTimeline before = *store_->GetCall("c");
  const std::vector<v1::StoredAlert> alerts_before = AllAlerts();

  Open();
  auto after = store_->GetCall("c");
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(MessageDifferencer::Equals(*after, before));
  const std::vector<v1::StoredAlert> alerts_after = AllAlerts();
  ASSERT_EQ(alerts_after.size(), alerts_before.size());
  for (size_t i = 0; i < alerts_after.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(alerts_after[i], alerts_before[i]));
  }
  EXPECT_EQ(store_->LastSequence(), 5u);
  EXPECT_EQ(store_->LastAckSequence(), 1u);
  // The call is still open: records keep going to it after the reopen.
  EXPECT_EQ(Append(MakeAlert("c", 9, v1::NEW_DEBT_INDUCEMENT, v1::SEVERITY_HIGH)).team(), "team");
  EXPECT_EQ(store_->GetCall("c")->alerts_size(), 6);
}

TEST_F(StoreTest, CloseOpenCallsEndsWhatACrashLeftOpen) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent", "agency", "team"), clock_.Now()).ok());
  Append(MakeAlert("c", 0, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));
  Append(MakeAlert("c", 1, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));
  Append(MakeAlert("c", 2, v1::PROHIBITED_THREAT, v1::SEVERITY_HIGH));
  Open();
  ASSERT_EQ(store_->ListActiveCalls({})->calls_size(), 1);
  auto closed = store_->CloseOpenCalls("server restarted", clock_.Now());
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(*closed, 1);
  EXPECT_EQ(store_->ListActiveCalls({})->calls_size(), 0);
  auto timeline = store_->GetCall("c");
  ASSERT_TRUE(timeline.ok());
  EXPECT_FALSE(timeline->active());
  EXPECT_EQ(timeline->summary().end_reason(), "server restarted");
  EXPECT_EQ(timeline->summary().alerts(), 3);
  EXPECT_EQ(timeline->summary().policy_id(), "us-fdcpa");
  ASSERT_EQ(timeline->summary().by_kind_size(), 2);
  EXPECT_EQ(timeline->summary().by_kind(0).violation(), v1::PROHIBITED_THREAT);
  EXPECT_EQ(timeline->summary().by_kind(0).count(), 1);
  EXPECT_EQ(timeline->summary().by_kind(1).violation(), v1::ABUSIVE_LANGUAGE);
  EXPECT_EQ(timeline->summary().by_kind(1).count(), 2);
  EXPECT_EQ(*store_->CloseOpenCalls("again", clock_.Now()), 0);
}

TEST_F(StoreTest, AReusedCallIdStartsANewTimeline) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "first", "agency", "t1"), clock_.Now()).ok());
  Append(MakeAlert("c", 0, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));
  v1::CallSummary end;
  end.set_call_id("c");
  ASSERT_TRUE(store_->RecordCallEnd(end, clock_.Now()).ok());
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "second", "agency", "t2"), clock_.Now()).ok());
  const v1::StoredAlert later = Append(MakeAlert("c", 1, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));
  EXPECT_EQ(later.team(), "t2");
  auto timeline = store_->GetCall("c");
  ASSERT_TRUE(timeline.ok());
  EXPECT_EQ(timeline->start().agent().agent_id(), "second");
  ASSERT_EQ(timeline->alerts_size(), 1);
  EXPECT_EQ(timeline->alerts(0).sequence(), later.sequence());
  // Filtering by call id still finds both calls' alerts.
  v1::AlertFilter by_call;
  by_call.set_call_id("c");
  EXPECT_EQ(AllAlerts(by_call).size(), 2u);
}

TEST_F(StoreTest, AlertStatsCountsByBucketKindAndAgent) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("a", "ann", "acme", "t"), clock_.Now()).ok());
  ASSERT_TRUE(store_->RecordCallStart(Start("b", "bob", "acme", "t"), clock_.Now()).ok());
  const int64_t hour0 = 1700000000 / 3600 * 3600;
  auto at = [&](const std::string& call, int n, v1::ViolationKind kind, int64_t seconds) {
    v1::Alert alert = MakeAlert(call, n, kind, v1::SEVERITY_HIGH);
    alert.mutable_time()->set_seconds(seconds);
    Append(alert);
  };
  at("a", 0, v1::ABUSIVE_LANGUAGE, hour0 + 10);
  at("a", 1, v1::ABUSIVE_LANGUAGE, hour0 + 20);
  at("b", 2, v1::ABUSIVE_LANGUAGE, hour0 + 30);
  at("a", 3, v1::PROHIBITED_THREAT, hour0 + 3600 + 5);
  at("a", 4, v1::PROHIBITED_THREAT, hour0 - 5);  // before `since`
  v1::AlertStatsRequest request;
  request.mutable_since()->set_seconds(hour0);
  request.mutable_until()->set_seconds(hour0 + 7200);
  auto stats = store_->AlertStats(request);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->counts_size(), 3);
  EXPECT_EQ(stats->counts(0).bucket_start().seconds(), hour0);
  EXPECT_EQ(stats->counts(0).violation(), v1::ABUSIVE_LANGUAGE);
  EXPECT_EQ(stats->counts(0).agent_id(), "ann");
  EXPECT_EQ(stats->counts(0).count(), 2);
  EXPECT_EQ(stats->counts(1).agent_id(), "bob");
  EXPECT_EQ(stats->counts(1).count(), 1);
  EXPECT_EQ(stats->counts(2).bucket_start().seconds(), hour0 + 3600);
  EXPECT_EQ(stats->counts(2).violation(), v1::PROHIBITED_THREAT);
  EXPECT_EQ(stats->counts(2).count(), 1);
  EXPECT_EQ(store_->AlertStats({}).status().code(), absl::StatusCode::kInvalidArgument);
}

// Blocks the writer inside the listener until released, so the queue can be filled.
class BlockingListener : public StoreListener {
 public:
  void OnBatchCommitted(int rows, absl::Duration latency) override {
    if (blocked_once_) return;
    blocked_once_ = true;
    entered_.Notify();
    release_.WaitForNotification();
  }
  absl::Notification entered_;
  absl::Notification release_;

 private:
  bool blocked_once_ = false;  // only the writer thread touches it
};

TEST_F(StoreTest, AFullQueueRefusesUtterancesButKeepsEverythingElse) {
  SqliteAlertStore::Options options = BaseOptions();
  options.max_queued_records = 2;
  Open(options);
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent", "agency", "team"), clock_.Now()).ok());
  ASSERT_TRUE(store_->Flush().ok());
  BlockingListener listener;
  store_->SetListener(&listener);
  absl::Notification first_stored;
  store_->AppendAlertAsync(MakeAlert("c", 0, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW),
                           [&](absl::StatusOr<v1::StoredAlert>) { first_stored.Notify(); });
  listener.entered_.WaitForNotification();  // the writer is stuck: nothing drains the queue

  v1::TimelineUtterance u;
  EXPECT_TRUE(store_->RecordUtterance("c", u).ok());
  EXPECT_TRUE(store_->RecordUtterance("c", u).ok());
  EXPECT_EQ(store_->RecordUtterance("c", u).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store_->RecordUtterance("c", u).code(), absl::StatusCode::kResourceExhausted);
  v1::PartyChange change;
  change.set_party(v1::PARTY_DEBTOR);
  EXPECT_TRUE(store_->RecordPartyChange("c", change).ok());
  absl::Notification second_stored;
  uint64_t second_sequence = 0;
  store_->AppendAlertAsync(MakeAlert("c", 1, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW),
                           [&](absl::StatusOr<v1::StoredAlert> stored) {
                             ASSERT_TRUE(stored.ok());
                             second_sequence = stored->sequence();
                             second_stored.Notify();
                           });
  EXPECT_EQ(store_->Stats().rows_dropped, 2);
  EXPECT_EQ(store_->Stats().queue_depth, 4);

  listener.release_.Notify();
  first_stored.WaitForNotification();
  second_stored.WaitForNotification();
  ASSERT_TRUE(store_->Flush().ok());
  store_->SetListener(nullptr);
  EXPECT_EQ(second_sequence, 2u);
  EXPECT_EQ(store_->GetCall("c")->utterances_size(), 2);
  EXPECT_EQ(store_->GetCall("c")->party_changes_size(), 1);
}

TEST_F(StoreTest, TheWriterGathersRecordsUntilACallerWaits) {
  SqliteAlertStore::Options options = BaseOptions();
  options.commit_delay = absl::InfiniteDuration();  // only a waited write may end the wait
  Open(options);
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent", "agency", "team"), clock_.Now()).ok());
  v1::TimelineUtterance u;
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(store_->RecordUtterance("c", u).ok());
  absl::Notification async_stored;
  store_->AppendAlertAsync(MakeAlert("c", 0, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW),
                           [&](absl::StatusOr<v1::StoredAlert>) { async_stored.Notify(); });
  EXPECT_EQ(store_->Stats().batches_committed, 0) << "nobody waits: the writer keeps gathering";
  EXPECT_FALSE(async_stored.HasBeenNotified());

  ASSERT_TRUE(store_->Flush().ok());  // would hang if a waited write lingered too
  EXPECT_TRUE(async_stored.HasBeenNotified());
  EXPECT_EQ(store_->Stats().batches_committed, 1) << "42 records and the flush in one commit";
  EXPECT_EQ(store_->GetCall("c")->utterances_size(), 40);

  // The synchronous calls commit at once.
  const v1::StoredAlert stored = Append(MakeAlert("c", 1, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));
  EXPECT_EQ(stored.sequence(), 2u);
  ASSERT_TRUE(store_->Acknowledge(stored.sequence(), "sup", "").ok());
  EXPECT_EQ(store_->Stats().batches_committed, 3);
}

TEST_F(StoreTest, RecordsOfUnknownCallsAreSkippedWithoutHarmingTheirBatch) {
  Open();
  ASSERT_TRUE(store_->RecordCallStart(Start("c", "agent", "agency", "team"), clock_.Now()).ok());
  v1::TimelineUtterance u;
  ASSERT_TRUE(store_->RecordUtterance("ghost", u).ok());
  ASSERT_TRUE(store_->RecordUtterance("c", u).ok());
  // An alert of a call the store never saw start is kept, without a team.
  const v1::StoredAlert orphan =
      Append(MakeAlert("ghost", 0, v1::ABUSIVE_LANGUAGE, v1::SEVERITY_LOW));
  EXPECT_EQ(orphan.sequence(), 1u);
  EXPECT_EQ(orphan.team(), "");
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_EQ(store_->GetCall("c")->utterances_size(), 1);
  EXPECT_EQ(store_->Stats().rows_failed, 1);
  EXPECT_EQ(store_->GetCall("ghost").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, CreateRejectsBadOptionsASecondOpenerAndANewerSchema) {
  SqliteAlertStore::Options options = BaseOptions();
  options.path = ":memory:";
  EXPECT_EQ(SqliteAlertStore::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = BaseOptions();
  options.retention_days = -1;
  EXPECT_EQ(SqliteAlertStore::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);

  Open();
  EXPECT_EQ(SqliteAlertStore::Create(BaseOptions()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  store_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    int journal_mode_wal = 0;
    sqlite3_exec(
        db, "PRAGMA journal_mode",
        [](void* out, int, char** values, char**) {
          *static_cast<int*>(out) = std::string(values[0]) == "wal";
          return 0;
        },
        &journal_mode_wal, nullptr);
    EXPECT_EQ(journal_mode_wal, 1);
    ASSERT_EQ(sqlite3_exec(db, absl::StrCat("PRAGMA user_version = ",
                                            SqliteAlertStore::SchemaVersion() + 1)
                                   .c_str(),
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_EQ(SqliteAlertStore::Create(BaseOptions()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace callguard
