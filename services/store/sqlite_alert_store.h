#ifndef CALLGUARD_STORE_SQLITE_ALERT_STORE_H_
#define CALLGUARD_STORE_SQLITE_ALERT_STORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alert_store.h"
#include "sqlite_db.h"

namespace callguard {

// The embedded AlertStore: one SQLite file in WAL mode.
//
// Writes: one writer thread owns the only writing connection and drains a queue, committing
// whatever has piled up (up to max_batch_records) in one transaction. Under load that groups
// many rows per commit; an idle store commits each record on its own at once. Sequence numbers
// are SQLite AUTOINCREMENT keys, so they follow commit order and a rolled-back batch gives its
// numbers back.
//
// Durability: AppendAlert/Acknowledge/Flush return after COMMIT. With kProcessCrash
// (synchronous=NORMAL) the commit is in the WAL file in the OS page cache: it survives SIGKILL
// or a crash of this process, but not a power loss or kernel crash, which can lose the last
// commits (never corrupt the file). kPowerLoss (synchronous=FULL) fsyncs the WAL at every
// commit; batching amortizes the fsync across the rows of a batch.
//
// Reads: a small pool of read connections, which WAL lets run beside the writer; each query
// sees a consistent snapshot of what was committed.
//
// One process at a time: Create fails with FAILED_PRECONDITION while another process has the
// file open through this class (an advisory lock on PATH.lock, released by the kernel even on
// SIGKILL).
class SqliteAlertStore : public AlertStore {
 public:
  enum class Durability {
    kProcessCrash,  // synchronous=NORMAL
    kPowerLoss,     // synchronous=FULL
  };

  struct Options {
    std::string path;          // the database file; created if missing. Not ":memory:".
    int retention_days = 0;    // prune alerts and calls older than this; 0 keeps everything
    absl::Duration prune_interval = absl::Hours(1);  // how often the retention prune runs
    Durability durability = Durability::kProcessCrash;
    // Utterances beyond this many queued records are refused; everything else (alerts, call
    // starts, party changes, ends, acknowledgements) is always queued: those are few per call
    // and must not be lost.
    size_t max_queued_records = 100000;
    int max_batch_records = 1024;  // most records in one transaction
    // Once a record is queued, how long the writer waits for more (up to max_batch_records)
    // before committing: bigger batches cost less per row. A write that a caller waits on
    // (Acknowledge, AppendAlert, Flush, CloseOpenCalls) ends the wait at once. Zero: commit
    // whatever is queued at once.
    absl::Duration commit_delay = absl::ZeroDuration();
    int max_readers = 4;           // read connections open at most
    std::function<absl::Time()> clock;  // default absl::Now; times rows and the prune cutoff
  };

  // Opens or creates the file, migrates its schema to the current version, starts the writer.
  // INVALID_ARGUMENT for a bad option, FAILED_PRECONDITION if the file is in use or has a newer
  // schema than this build knows, another error if SQLite cannot open it.
  static absl::StatusOr<std::unique_ptr<SqliteAlertStore>> Create(Options options);

  // Writes everything still queued, then stops.
  ~SqliteAlertStore() override;

  // The schema version this build writes (PRAGMA user_version).
  static int SchemaVersion();

  void SetListener(StoreListener* listener) override ABSL_LOCKS_EXCLUDED(listener_mu_);

  absl::Status RecordCallStart(const v1::CallStart& start, absl::Time received) override;
  absl::Status RecordUtterance(absl::string_view call_id,
                               const v1::TimelineUtterance& utterance) override;
  absl::Status RecordPartyChange(absl::string_view call_id,
                                 const v1::PartyChange& change) override;
  absl::Status RecordCallEnd(const v1::CallSummary& summary, absl::Time ended) override;
  absl::StatusOr<v1::StoredAlert> AppendAlert(const v1::Alert& alert) override;
  void AppendAlertAsync(const v1::Alert& alert, AlertCallback done) override;
  absl::StatusOr<v1::StoredAlert> Acknowledge(uint64_t alert_sequence,
                                              absl::string_view supervisor,
                                              absl::string_view note) override;
  absl::StatusOr<int> CloseOpenCalls(absl::string_view reason, absl::Time ended) override;
  absl::Status Flush() override;
  absl::StatusOr<PruneResult> Prune(absl::Time cutoff) override;

  absl::StatusOr<std::vector<v1::StoredAlert>> AlertsAfter(uint64_t after_sequence,
                                                           const v1::AlertFilter& filter,
                                                           int limit) override;
  absl::StatusOr<std::vector<v1::StoredAlert>> AcknowledgementsAfter(
      uint64_t after_ack_sequence, const v1::AlertFilter& filter, int limit) override;
  absl::StatusOr<v1::StoredAlert> GetAlert(uint64_t sequence) override;
  absl::StatusOr<v1::ListAlertsResponse> ListAlerts(
      const v1::ListAlertsRequest& request) override;
  absl::StatusOr<v1::CallTimeline> GetCall(absl::string_view call_id) override;
  absl::StatusOr<v1::ListActiveCallsResponse> ListActiveCalls(
      const v1::ListActiveCallsRequest& request) override;
  absl::StatusOr<v1::AlertStatsResponse> AlertStats(
      const v1::AlertStatsRequest& request) override;

  uint64_t LastSequence() const override { return last_sequence_.load(); }
  uint64_t LastAckSequence() const override { return last_ack_sequence_.load(); }
  StoreStats Stats() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One blocking caller waiting for its record to commit.
  struct Waiter;
  struct CallStartOp {
    v1::CallStart start;
    absl::Time received;
  };
  struct UtteranceOp {
    std::string call_id;
    v1::TimelineUtterance utterance;
    bool orphan = false;  // its call is unknown: skipped
  };
  struct PartyChangeOp {
    std::string call_id;
    v1::PartyChange change;
    bool orphan = false;
  };
  struct CallEndOp {
    v1::CallSummary summary;
    absl::Time ended;
  };
  struct AlertOp {
    v1::Alert alert;
    AlertCallback done;
    bool waited = false;  // the synchronous AppendAlert: commit without delay
    v1::StoredAlert stored;  // filled in by the transaction
  };
  struct AckOp {
    uint64_t alert_sequence = 0;
    std::string supervisor;
    std::string note;
    Waiter* waiter = nullptr;
    absl::Status outcome;    // NOT_FOUND / ALREADY_EXISTS are answers, not failed writes
    v1::StoredAlert stored;  // filled in by the transaction
  };
  struct CloseOpenOp {
    std::string reason;
    absl::Time ended;
    Waiter* waiter = nullptr;
    int closed = 0;
  };
  struct FlushOp {
    Waiter* waiter = nullptr;
  };
  using WriteOp = std::variant<CallStartOp, UtteranceOp, PartyChangeOp, CallEndOp, AlertOp, AckOp,
                               CloseOpenOp, FlushOp>;

  // A prune request; the writer runs one at a time, a chunk between write batches.
  struct PruneJob {
    PruneJob(absl::Time cutoff, Waiter* waiter) : cutoff(cutoff), waiter(waiter) {}
    absl::Time cutoff;
    Waiter* waiter = nullptr;  // null for the background retention prune
    PruneResult result;
    bool alerts_done = false;
  };

  // What the writer knows about a call it may write records for.
  struct CallRow {
    int64_t key = 0;
    std::string agency_id;
    std::string agent_id;
    std::string team;
    std::string agent_name;
    bool open = false;
  };

  SqliteAlertStore(Options options, std::unique_ptr<sqlite::Database> writer, int lock_fd);

  // Queues an op; `droppable` ops are refused when the queue is full.
  absl::Status Enqueue(WriteOp op, bool droppable) ABSL_LOCKS_EXCLUDED(mu_);
  // `waited`: the caller blocks until the commit, so the writer must not linger for it.
  void EnqueueAlert(const v1::Alert& alert, AlertCallback done, bool waited) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a caller blocks until this write commits.
  static bool IsWaited(const WriteOp& op);

  void WriterLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Commits the ops in one transaction, or, if that fails, each in its own; then tells the
  // listener and the waiters.
  void CommitBatch(std::vector<WriteOp>& batch);
  // Runs the batch inside BEGIN..COMMIT; on any failure rolls it all back.
  absl::Status TryCommit(std::vector<WriteOp>& batch, absl::Time now);
  void Complete(WriteOp& op, const absl::Status& failure) ABSL_LOCKS_EXCLUDED(listener_mu_);
  absl::Status Apply(WriteOp& op, absl::Time now);
  absl::Status ApplyCallStart(CallStartOp& op, absl::Time now);
  absl::Status ApplyUtterance(UtteranceOp& op);
  absl::Status ApplyPartyChange(PartyChangeOp& op);
  absl::Status ApplyCallEnd(CallEndOp& op);
  absl::Status ApplyAlert(AlertOp& op, absl::Time now);
  absl::Status ApplyAck(AckOp& op, absl::Time now);
  absl::Status ApplyCloseOpen(CloseOpenOp& op);
  // Ends one call row with a summary built from what the store has.
  absl::Status EndCallRow(int64_t key, absl::string_view reason, absl::Time ended);
  // The latest call with this id, from the writer's cache or the file; nullptr if none. Valid
  // until the next FindCall or change to the cache.
  absl::StatusOr<const CallRow*> FindCall(const std::string& call_id);
  // One prune chunk in its own transaction; true when the job is finished.
  absl::StatusOr<bool> PruneStep(PruneJob& job);

  // Runs `query` on a pooled read connection.
  template <typename Result>
  Result WithReader(const std::function<Result(sqlite::Database&)>& query)
      ABSL_LOCKS_EXCLUDED(readers_mu_);
  absl::StatusOr<std::unique_ptr<sqlite::Database>> AcquireReader()
      ABSL_LOCKS_EXCLUDED(readers_mu_);
  void ReleaseReader(std::unique_ptr<sqlite::Database> reader) ABSL_LOCKS_EXCLUDED(readers_mu_);

  const Options options_;
  const int lock_fd_;

  // Only the writer thread touches these (and the constructor, before it starts).
  std::unique_ptr<sqlite::Database> writer_db_;
  absl::flat_hash_map<std::string, CallRow> calls_;  // open calls, by call id
  CallRow ended_call_;  // the last ended call FindCall returned
  absl::Time next_auto_prune_;

  mutable absl::Mutex mu_;
  std::deque<WriteOp> queue_ ABSL_GUARDED_BY(mu_);
  // Queued writes whose callers wait for the commit: the writer does not linger for them.
  size_t waited_ops_queued_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<PruneJob> prune_jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  StoreStats stats_ ABSL_GUARDED_BY(mu_);

  // Held while the listener runs, so SetListener(nullptr) returning means no call is under way.
  absl::Mutex listener_mu_ ABSL_ACQUIRED_AFTER(mu_);
  StoreListener* listener_ ABSL_GUARDED_BY(listener_mu_) = nullptr;

  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<sqlite::Database>> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
  int open_readers_ ABSL_GUARDED_BY(readers_mu_) = 0;

  std::atomic<uint64_t> last_sequence_{0};
  std::atomic<uint64_t> last_ack_sequence_{0};

  std::thread writer_;
};

}  // namespace callguard

#endif  // CALLGUARD_STORE_SQLITE_ALERT_STORE_H_
