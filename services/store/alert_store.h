#ifndef CALLGUARD_STORE_ALERT_STORE_H_
#define CALLGUARD_STORE_ALERT_STORE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "callguard/v1/guard.pb.h"
#include "callguard/v1/supervisor.pb.h"

namespace callguard {

// Told what the store has committed, in commit order. Runs on the store's writer thread after
// the commit and before the writer commits anything else, so a hub that forwards these calls to
// watchers sees sequences in order with no gap. Keep it short and never block in it; it may call
// the store's queries and its async Record* methods, but not the blocking writes (AppendAlert,
// Acknowledge, CloseOpenCalls, Flush, Prune), which would wait for this very thread, nor
// SetListener.
class StoreListener {
 public:
  virtual ~StoreListener() = default;
  // An alert is durable; `stored.sequence` is one above the previous call's.
  virtual void OnAlertStored(const v1::StoredAlert& stored) {}
  // An acknowledgement is durable; `stored.acknowledgement` is set.
  virtual void OnAlertAcknowledged(const v1::StoredAlert& stored) {}
  // One transaction committed: `rows` records written, and how long the commit took
  // (BEGIN to COMMIT), for a store write latency metric.
  virtual void OnBatchCommitted(int rows, absl::Duration latency) {}
};

// Counters since the store opened.
struct StoreStats {
  int64_t rows_written = 0;
  int64_t batches_committed = 0;
  // Utterances refused because the write queue was full (nothing else is ever refused).
  int64_t rows_dropped = 0;
  // Records not stored: their transaction failed, or their call was unknown.
  int64_t rows_failed = 0;
  int64_t queue_depth = 0;  // records waiting for the writer now
  int64_t rows_pruned = 0;  // alerts and calls deleted by retention or Prune
  uint64_t last_sequence = 0;
  uint64_t last_ack_sequence = 0;
};

// What a retention prune deleted.
struct PruneResult {
  int64_t calls = 0;  // with their utterances and party changes
  int64_t alerts = 0;  // with their acknowledgements
};

// The durable record of calls and alerts. Every alert gets a sequence number: the commit order,
// from 1, with no gap, never reused (not even after a prune). Acknowledgements have their own
// sequence with the same properties.
//
// Writes go through one queue in the order they are made, so an alert made after its call's
// RecordCallStart is committed no earlier than that start, and once an alert is durable so is
// everything recorded before it. The Record* methods are asynchronous (they return once the
// record is queued); AppendAlert and Acknowledge return only once the row is durable.
//
// The server should: RecordCallStart on CallStart, RecordUtterance for each final utterance,
// RecordPartyChange whenever the session's party or identified flags change, AppendAlert (or
// AppendAlertAsync) for each alert before it goes to any watcher, RecordCallEnd with the summary;
// and CloseOpenCalls once at startup, for calls a crashed process left open.
//
// Call ids may be reused once a call ended: records name the latest call with their id.
// All methods are thread-safe.
class AlertStore {
 public:
  using AlertCallback = std::function<void(absl::StatusOr<v1::StoredAlert>)>;

  virtual ~AlertStore() = default;

  // Sees every later commit; replaces the previous listener, nullptr removes it. The listener
  // must outlive the store or be removed first.
  virtual void SetListener(StoreListener* listener) = 0;

  // --- Writes ---

  // A new call. `received` is when the server got the CallStart. INVALID_ARGUMENT without a
  // call_id.
  virtual absl::Status RecordCallStart(const v1::CallStart& start, absl::Time received) = 0;
  // One utterance of the call (the server passes final results). RESOURCE_EXHAUSTED if the
  // write queue is full: the utterance is dropped and counted, the call is not slowed down.
  virtual absl::Status RecordUtterance(absl::string_view call_id,
                                       const v1::TimelineUtterance& utterance) = 0;
  // The party or identified flags changed. Always queued, like starts, ends and alerts.
  virtual absl::Status RecordPartyChange(absl::string_view call_id,
                                         const v1::PartyChange& change) = 0;
  // The call ended; `summary.call_id` names it. A second end of the same call is ignored.
  virtual absl::Status RecordCallEnd(const v1::CallSummary& summary, absl::Time ended) = 0;

  // Stores the alert and returns once it is durable, with its sequence, team and stored time;
  // an empty agent_id or agency_id is filled in from the call's start. The listener has been
  // told before this returns. Alerts of calls the store never saw start are stored too (without
  // a team).
  virtual absl::StatusOr<v1::StoredAlert> AppendAlert(const v1::Alert& alert) = 0;
  // The same without waiting: `done` (may be empty) runs on the writer thread once the alert is
  // durable (after the listener) or its write failed, with the same rules as the listener; if
  // the alert cannot even be queued (no call_id, store closing) it runs at once on the caller's
  // thread with the error.
  virtual void AppendAlertAsync(const v1::Alert& alert, AlertCallback done) = 0;

  // Marks the alert with `alert_sequence` handled; returns the alert with its acknowledgement
  // once durable. NOT_FOUND for an unknown (or pruned) sequence, ALREADY_EXISTS if it was
  // acknowledged before (the first acknowledgement stays), INVALID_ARGUMENT without supervisor.
  virtual absl::StatusOr<v1::StoredAlert> Acknowledge(uint64_t alert_sequence,
                                                      absl::string_view supervisor,
                                                      absl::string_view note) = 0;

  // Ends every call still open (a crashed process never ended them) with `reason` as the
  // summary's end_reason; returns how many.
  virtual absl::StatusOr<int> CloseOpenCalls(absl::string_view reason, absl::Time ended) = 0;

  // Returns once everything queued before the call is durable (or failed).
  virtual absl::Status Flush() = 0;

  // Deletes alerts stored before `cutoff` and calls whose last record (end, or start if still
  // open) is before it, with everything that belongs to them. Runs in small transactions
  // between other writes.
  virtual absl::StatusOr<PruneResult> Prune(absl::Time cutoff) = 0;

  // --- Queries (they see everything committed; none wait for the writer) ---

  // Matching alerts with a sequence above `after_sequence`, ascending, at most `limit`. For
  // resuming a watcher: call again after the last one returned until fewer than `limit` come.
  virtual absl::StatusOr<std::vector<v1::StoredAlert>> AlertsAfter(uint64_t after_sequence,
                                                                   const v1::AlertFilter& filter,
                                                                   int limit) = 0;
  // Acknowledgements with an ack_sequence above `after_ack_sequence` of matching alerts,
  // ascending, at most `limit`; each StoredAlert has its acknowledgement set.
  virtual absl::StatusOr<std::vector<v1::StoredAlert>> AcknowledgementsAfter(
      uint64_t after_ack_sequence, const v1::AlertFilter& filter, int limit) = 0;
  // One alert by sequence; NOT_FOUND if unknown or pruned.
  virtual absl::StatusOr<v1::StoredAlert> GetAlert(uint64_t sequence) = 0;
  // Paged history. INVALID_ARGUMENT for a bad page token or page size.
  virtual absl::StatusOr<v1::ListAlertsResponse> ListAlerts(
      const v1::ListAlertsRequest& request) = 0;
  // NOT_FOUND if no call with that id is stored.
  virtual absl::StatusOr<v1::CallTimeline> GetCall(absl::string_view call_id) = 0;
  // Calls started and not ended, oldest first. INVALID_ARGUMENT if the filter names severity,
  // kinds or call id.
  virtual absl::StatusOr<v1::ListActiveCallsResponse> ListActiveCalls(
      const v1::ListActiveCallsRequest& request) = 0;
  virtual absl::StatusOr<v1::AlertStatsResponse> AlertStats(
      const v1::AlertStatsRequest& request) = 0;

  // The newest committed sequences (0 if none yet). They move just before the listener is told,
  // so they may run ahead of it: a watch hub should read them once before SetListener and then
  // keep its own count from the listener calls, and start each watcher's replay from that.
  virtual uint64_t LastSequence() const = 0;
  virtual uint64_t LastAckSequence() const = 0;
  virtual StoreStats Stats() const = 0;
};

}  // namespace callguard

#endif  // CALLGUARD_STORE_ALERT_STORE_H_
