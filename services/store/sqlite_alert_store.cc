#include "sqlite_alert_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "alert_filter.h"

namespace callguard {
namespace {

// Nice value of the writer thread (0 normal, 19 lowest).
constexpr int kWriterNice = 10;

}  // namespace

struct SqliteAlertStore::Waiter {
  absl::Notification done;
  absl::Status status;
  v1::StoredAlert stored;
  int count = 0;
  PruneResult prune;
};

namespace {

using sqlite::Database;
using sqlite::Statement;
using sqlite::StatementScope;

#define CG_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    if (absl::Status cg_status_ = (expr); !cg_status_.ok()) return cg_status_; \
  } while (0)

#define CG_ASSIGN_OR_RETURN_IMPL(var, tmp, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  var = std::move(*tmp)
#define CG_CONCAT_INNER(a, b) a##b
#define CG_CONCAT(a, b) CG_CONCAT_INNER(a, b)
#define CG_ASSIGN_OR_RETURN(var, expr) \
  CG_ASSIGN_OR_RETURN_IMPL(var, CG_CONCAT(cg_statusor_, __LINE__), expr)

// Schema migrations: entry i takes user_version i to i + 1. Never edit a released entry; add one.
// Times are Unix microseconds. Protos are kept whole as blobs; the columns beside them exist
// for filtering and indexing.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE calls (
  call_key INTEGER PRIMARY KEY,
  call_id TEXT NOT NULL,
  agency_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  team TEXT NOT NULL,
  agent_name TEXT NOT NULL,
  start BLOB NOT NULL,
  started_us INTEGER NOT NULL,
  ended_us INTEGER,
  summary BLOB,
  party INTEGER NOT NULL DEFAULT 0,
  agent_identified INTEGER NOT NULL DEFAULT 0,
  debt_collector_disclosed INTEGER NOT NULL DEFAULT 0,
  alert_count INTEGER NOT NULL DEFAULT 0,
  turns INTEGER NOT NULL DEFAULT 0,
  last_activity_us INTEGER NOT NULL
);
CREATE INDEX calls_by_id ON calls(call_id, call_key);
CREATE INDEX calls_open ON calls(call_key) WHERE ended_us IS NULL;
CREATE INDEX calls_by_age ON calls(COALESCE(ended_us, started_us));

CREATE TABLE utterances (
  call_key INTEGER NOT NULL,
  turn INTEGER NOT NULL,
  utterance_id TEXT NOT NULL,
  speaker INTEGER NOT NULL,
  text TEXT NOT NULL,
  is_final INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER NOT NULL,
  time_us INTEGER NOT NULL
);
CREATE INDEX utterances_by_call ON utterances(call_key, turn);

CREATE TABLE party_changes (
  call_key INTEGER NOT NULL,
  after_turn INTEGER NOT NULL,
  party INTEGER NOT NULL,
  agent_identified INTEGER NOT NULL,
  debt_collector_disclosed INTEGER NOT NULL,
  note TEXT NOT NULL,
  from_dialer INTEGER NOT NULL,
  time_us INTEGER NOT NULL
);
CREATE INDEX party_changes_by_call ON party_changes(call_key);

-- AUTOINCREMENT: sequences never go back, not even after every alert is pruned.
CREATE TABLE alerts (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  call_key INTEGER,
  call_id TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  agency_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  team TEXT NOT NULL,
  agent_name TEXT NOT NULL,
  severity INTEGER NOT NULL,
  violation INTEGER NOT NULL,
  alert_time_us INTEGER NOT NULL,
  stored_us INTEGER NOT NULL,
  alert BLOB NOT NULL
);
CREATE INDEX alerts_by_call_key ON alerts(call_key);
CREATE INDEX alerts_by_call_id ON alerts(call_id, sequence);
CREATE INDEX alerts_by_agent ON alerts(agent_id, sequence);
CREATE INDEX alerts_by_agency ON alerts(agency_id, sequence);
CREATE INDEX alerts_by_team ON alerts(team, sequence);
CREATE INDEX alerts_by_time ON alerts(alert_time_us);
CREATE INDEX alerts_by_stored ON alerts(stored_us);

CREATE TABLE acknowledgements (
  ack_sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_sequence INTEGER NOT NULL UNIQUE,
  supervisor TEXT NOT NULL,
  note TEXT NOT NULL,
  time_us INTEGER NOT NULL
);
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxAfterLimit = 10000;
constexpr int kPruneAlertChunk = 500;
constexpr int kPruneCallChunk = 100;

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }

google::protobuf::Timestamp MicrosToProto(int64_t us) {
  google::protobuf::Timestamp ts;
  int64_t seconds = us / 1000000;
  int64_t micros = us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    seconds -= 1;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(micros * 1000));
  return ts;
}

int64_t ProtoToMicros(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000000 + ts.nanos() / 1000;
}

std::string Serialize(const google::protobuf::MessageLite& message) {
  std::string bytes;
  message.SerializeToString(&bytes);
  return bytes;
}

// Values to bind to a statement built on the fly, in order.
class SqlArgs {
 public:
  void Add(int64_t value) { values_.emplace_back(value); }
  void Add(std::string value) { values_.emplace_back(std::move(value)); }
  void BindTo(Statement& stmt) const {
    for (size_t i = 0; i < values_.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      if (const int64_t* n = std::get_if<int64_t>(&values_[i])) {
        stmt.BindInt64(index, *n);
      } else {
        stmt.BindText(index, std::get<std::string>(values_[i]));
      }
    }
  }

 private:
  std::vector<std::variant<int64_t, std::string>> values_;
};

// Appends " AND column IN (?, ...)" for a non-empty list.
void AddInList(absl::string_view column, const google::protobuf::RepeatedPtrField<std::string>& ids,
               std::string* where, SqlArgs* args) {
  if (ids.empty()) return;
  absl::StrAppend(where, " AND ", column, " IN (");
  for (int i = 0; i < ids.size(); ++i) {
    absl::StrAppend(where, i == 0 ? "?" : ", ?");
    args->Add(ids[i]);
  }
  absl::StrAppend(where, ")");
}

// The SQL form of AlertMatches, on the alerts table as `a`.
void AddAlertFilter(const v1::AlertFilter& filter, std::string* where, SqlArgs* args) {
  AddInList("a.agency_id", filter.agency_ids(), where, args);
  AddInList("a.agent_id", filter.agent_ids(), where, args);
  AddInList("a.team", filter.teams(), where, args);
  if (filter.min_severity() != v1::SEVERITY_UNSPECIFIED) {
    absl::StrAppend(where, " AND a.severity >= ?");
    args->Add(static_cast<int64_t>(filter.min_severity()));
  }
  if (!filter.violations().empty()) {
    absl::StrAppend(where, " AND a.violation IN (");
    for (int i = 0; i < filter.violations_size(); ++i) {
      absl::StrAppend(where, i == 0 ? "?" : ", ?");
      args->Add(static_cast<int64_t>(filter.violations(i)));
    }
    absl::StrAppend(where, ")");
  }
  if (!filter.call_id().empty()) {
    absl::StrAppend(where, " AND a.call_id = ?");
    args->Add(filter.call_id());
  }
}

// Selects what DecodeStoredAlert reads, from alerts `a` with acknowledgements `k`.
constexpr char kStoredAlertColumns[] =
    "a.sequence, a.alert, a.team, a.agent_name, a.stored_us, k.ack_sequence, k.supervisor, "
    "k.note, k.time_us";
constexpr char kAlertsWithAcks[] =
    " FROM alerts a LEFT JOIN acknowledgements k ON k.alert_sequence = a.sequence";

absl::StatusOr<v1::StoredAlert> DecodeStoredAlert(const Statement& row) {
  v1::StoredAlert stored;
  stored.set_sequence(static_cast<uint64_t>(row.Int64(0)));
  if (!stored.mutable_alert()->ParseFromArray(row.Blob(1).data(),
                                              static_cast<int>(row.Blob(1).size()))) {
    return absl::DataLossError(absl::StrCat("alert ", stored.sequence(), " does not parse"));
  }
  stored.set_team(row.Text(2));
  stored.set_agent_name(row.Text(3));
  *stored.mutable_stored_time() = MicrosToProto(row.Int64(4));
  if (!row.IsNull(5)) {
    v1::Acknowledgement* ack = stored.mutable_acknowledgement();
    ack->set_ack_sequence(static_cast<uint64_t>(row.Int64(5)));
    ack->set_alert_sequence(stored.sequence());
    ack->set_alert_id(stored.alert().alert_id());
    ack->set_call_id(stored.alert().call_id());
    ack->set_supervisor(row.Text(6));
    ack->set_note(row.Text(7));
    *ack->mutable_time() = MicrosToProto(row.Int64(8));
  }
  return stored;
}

absl::StatusOr<std::vector<v1::StoredAlert>> CollectAlerts(Statement& stmt) {
  std::vector<v1::StoredAlert> alerts;
  for (;;) {
    CG_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
    if (!has_row) return alerts;
    CG_ASSIGN_OR_RETURN(v1::StoredAlert stored, DecodeStoredAlert(stmt));
    alerts.push_back(std::move(stored));
  }
}

std::string PageToken(int64_t last_key) { return absl::StrCat("v1:", last_key); }

// The key after which the page starts; nullopt-like -1 for the first page.
absl::StatusOr<int64_t> ParsePageToken(const std::string& token) {
  if (token.empty()) return -1;
  absl::string_view rest = token;
  int64_t key = 0;
  if (!absl::ConsumePrefix(&rest, "v1:") || !absl::SimpleAtoi(rest, &key) || key < 0) {
    return absl::InvalidArgumentError("page_token: not a token this server issued");
  }
  return key;
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

// A read transaction, so a query of several statements sees one snapshot.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Database& db) : db_(db) { status_ = db_.Exec("BEGIN"); }
  ~ReadSnapshot() {
    if (status_.ok()) db_.Exec("COMMIT").IgnoreError();
  }
  const absl::Status& status() const { return status_; }

 private:
  Database& db_;
  absl::Status status_;
};

absl::Status Migrate(Database& db) {
  CG_ASSIGN_OR_RETURN(int64_t version, db.QueryInt64("PRAGMA user_version"));
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("the database has schema version ", version, "; this build knows up to ",
                     kSchemaVersion, ": it was written by a newer callguard"));
  }
  for (int64_t v = version; v < kSchemaVersion; ++v) {
    CG_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    absl::Status status = db.Exec(kMigrations[v]);
    if (status.ok()) status = db.Exec(absl::StrCat("PRAGMA user_version = ", v + 1));
    if (status.ok()) status = db.Exec("COMMIT");
    if (!status.ok()) {
      db.Exec("ROLLBACK").IgnoreError();
      return absl::Status(status.code(),
                          absl::StrCat("migrating to schema ", v + 1, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int SqliteAlertStore::SchemaVersion() { return kSchemaVersion; }

absl::StatusOr<std::unique_ptr<SqliteAlertStore>> SqliteAlertStore::Create(Options options) {
  if (options.path.empty()) return absl::InvalidArgumentError("path: empty");
  if (options.path == ":memory:" || absl::StartsWith(options.path, "file:")) {
    return absl::InvalidArgumentError(
        "path: must name a file (an in-memory database has no WAL and no durability)");
  }
  if (options.retention_days < 0) {
    return absl::InvalidArgumentError("retention_days: must not be negative");
  }
  if (options.prune_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("prune_interval: must be positive");
  }
  if (options.max_batch_records < 1 || options.max_readers < 1 ||
      options.max_queued_records < 1) {
    return absl::InvalidArgumentError(
        "max_batch_records, max_readers and max_queued_records must be at least 1");
  }
  if (!options.clock) options.clock = [] { return absl::Now(); };

  const std::string lock_path = options.path + ".lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("open ", lock_path, ": ", std::strerror(errno)));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(lock_fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat(options.path, " is in use by another process"));
    }
    return absl::InternalError(absl::StrCat("lock ", lock_path, ": ", std::strerror(error)));
  }
  auto fail = [lock_fd](absl::Status status) {
    ::close(lock_fd);
    return status;
  };

  absl::StatusOr<std::unique_ptr<Database>> db =
      Database::Open(options.path, /*create=*/true, /*read_only=*/false);
  if (!db.ok()) return fail(db.status());
  {
    absl::StatusOr<Statement> wal = (*db)->Prepare("PRAGMA journal_mode=WAL");
    if (!wal.ok()) return fail(wal.status());
    absl::StatusOr<bool> row = wal->Step();
    if (!row.ok()) return fail(row.status());
    if (!*row || wal->Text(0) != "wal") {
      return fail(absl::FailedPreconditionError(
          absl::StrCat(options.path, ": could not switch to WAL mode")));
    }
  }
  const char* sync = options.durability == Durability::kPowerLoss ? "PRAGMA synchronous=FULL"
                                                                   : "PRAGMA synchronous=NORMAL";
  absl::Status status = (*db)->Exec(sync);
  // Keeps the WAL file from staying huge after a burst.
  if (status.ok()) status = (*db)->Exec("PRAGMA journal_size_limit=67108864");
  if (status.ok()) status = Migrate(**db);
  if (!status.ok()) return fail(status);

  absl::StatusOr<int64_t> last_sequence = (*db)->QueryInt64(
      "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'alerts'), 0)");
  if (!last_sequence.ok()) return fail(last_sequence.status());
  absl::StatusOr<int64_t> last_ack = (*db)->QueryInt64(
      "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'acknowledgements'), 0)");
  if (!last_ack.ok()) return fail(last_ack.status());

  std::unique_ptr<SqliteAlertStore> store(
      new SqliteAlertStore(std::move(options), std::move(*db), lock_fd));
  store->last_sequence_.store(static_cast<uint64_t>(*last_sequence));
  store->last_ack_sequence_.store(static_cast<uint64_t>(*last_ack));
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  return store;
}

SqliteAlertStore::SqliteAlertStore(Options options, std::unique_ptr<Database> writer,
                                   int lock_fd)
    : options_(std::move(options)),
      lock_fd_(lock_fd),
      writer_db_(std::move(writer)),
      next_auto_prune_(absl::Now() + options_.prune_interval) {
  // The first retention prune runs as the store opens, before any later Prune() request.
  if (options_.retention_days > 0) {
    absl::MutexLock lock(&mu_);
    prune_jobs_.emplace_back(options_.clock() - absl::Hours(24) * options_.retention_days,
                             nullptr);
  }
}

SqliteAlertStore::~SqliteAlertStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
  {
    absl::MutexLock lock(&readers_mu_);
    idle_readers_.clear();
  }
  writer_db_.reset();
  ::close(lock_fd_);  // after the connections close, so a successor never sees the file in use
}

void SqliteAlertStore::SetListener(StoreListener* listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = listener;
}

// --- Queueing ---

bool SqliteAlertStore::IsWaited(const WriteOp& op) {
  if (const auto* alert = std::get_if<AlertOp>(&op)) return alert->waited;
  return std::holds_alternative<AckOp>(op) || std::holds_alternative<CloseOpenOp>(op) ||
         std::holds_alternative<FlushOp>(op);
}

absl::Status SqliteAlertStore::Enqueue(WriteOp op, bool droppable) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the alert store is closing");
  if (droppable && queue_.size() >= options_.max_queued_records) {
    ++stats_.rows_dropped;
    return absl::ResourceExhaustedError("the alert store's write queue is full");
  }
  if (IsWaited(op)) ++waited_ops_queued_;
  queue_.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status SqliteAlertStore::RecordCallStart(const v1::CallStart& start, absl::Time received) {
  if (start.call_id().empty()) return absl::InvalidArgumentError("start.call_id: empty");
  return Enqueue(CallStartOp{start, received}, /*droppable=*/false);
}

absl::Status SqliteAlertStore::RecordUtterance(absl::string_view call_id,
                                               const v1::TimelineUtterance& utterance) {
  if (call_id.empty()) return absl::InvalidArgumentError("call_id: empty");
  return Enqueue(UtteranceOp{std::string(call_id), utterance}, /*droppable=*/true);
}

absl::Status SqliteAlertStore::RecordPartyChange(absl::string_view call_id,
                                                 const v1::PartyChange& change) {
  if (call_id.empty()) return absl::InvalidArgumentError("call_id: empty");
  return Enqueue(PartyChangeOp{std::string(call_id), change}, /*droppable=*/false);
}

absl::Status SqliteAlertStore::RecordCallEnd(const v1::CallSummary& summary, absl::Time ended) {
  if (summary.call_id().empty()) return absl::InvalidArgumentError("summary.call_id: empty");
  return Enqueue(CallEndOp{summary, ended}, /*droppable=*/false);
}

void SqliteAlertStore::AppendAlertAsync(const v1::Alert& alert, AlertCallback done) {
  EnqueueAlert(alert, std::move(done), /*waited=*/false);
}

void SqliteAlertStore::EnqueueAlert(const v1::Alert& alert, AlertCallback done, bool waited) {
  if (alert.call_id().empty()) {
    if (done) done(absl::InvalidArgumentError("alert.call_id: empty"));
    return;
  }
  AlertOp op;
  op.alert = alert;
  op.done = done;
  op.waited = waited;
  absl::Status status = Enqueue(std::move(op), /*droppable=*/false);
  if (!status.ok() && done) done(status);
}

absl::StatusOr<v1::StoredAlert> SqliteAlertStore::AppendAlert(const v1::Alert& alert) {
  Waiter waiter;
  EnqueueAlert(alert, [&waiter](absl::StatusOr<v1::StoredAlert> result) {
    if (result.ok()) {
      waiter.stored = std::move(*result);
    } else {
      waiter.status = result.status();
    }
    waiter.done.Notify();
  }, /*waited=*/true);
  waiter.done.WaitForNotification();
  if (!waiter.status.ok()) return waiter.status;
  return std::move(waiter.stored);
}

absl::StatusOr<v1::StoredAlert> SqliteAlertStore::Acknowledge(uint64_t alert_sequence,
                                                              absl::string_view supervisor,
                                                              absl::string_view note) {
  if (supervisor.empty()) return absl::InvalidArgumentError("supervisor: empty");
  if (alert_sequence == 0) return absl::InvalidArgumentError("sequence: must be positive");
  Waiter waiter;
  AckOp op;
  op.alert_sequence = alert_sequence;
  op.supervisor = std::string(supervisor);
  op.note = std::string(note);
  op.waiter = &waiter;
  CG_RETURN_IF_ERROR(Enqueue(std::move(op), /*droppable=*/false));
  waiter.done.WaitForNotification();
  if (!waiter.status.ok()) return waiter.status;
  return std::move(waiter.stored);
}

absl::StatusOr<int> SqliteAlertStore::CloseOpenCalls(absl::string_view reason,
                                                     absl::Time ended) {
  Waiter waiter;
  CG_RETURN_IF_ERROR(
      Enqueue(CloseOpenOp{std::string(reason), ended, &waiter, 0}, /*droppable=*/false));
  waiter.done.WaitForNotification();
  if (!waiter.status.ok()) return waiter.status;
  return waiter.count;
}

absl::Status SqliteAlertStore::Flush() {
  Waiter waiter;
  CG_RETURN_IF_ERROR(Enqueue(FlushOp{&waiter}, /*droppable=*/false));
  waiter.done.WaitForNotification();
  return waiter.status;
}

absl::StatusOr<PruneResult> SqliteAlertStore::Prune(absl::Time cutoff) {
  Waiter waiter;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::UnavailableError("the alert store is closing");
    prune_jobs_.emplace_back(cutoff, &waiter);
  }
  waiter.done.WaitForNotification();
  if (!waiter.status.ok()) return waiter.status;
  return waiter.prune;
}

StoreStats SqliteAlertStore::Stats() const {
  absl::MutexLock lock(&mu_);
  StoreStats stats = stats_;
  stats.queue_depth = static_cast<int64_t>(queue_.size());
  stats.last_sequence = last_sequence_.load();
  stats.last_ack_sequence = last_ack_sequence_.load();
  return stats;
}

// --- The writer thread ---

void SqliteAlertStore::WriterLoop() {
  // The writer is background work: a batch commit must not take a core from the threads that
  // answer live calls. Best effort; without the permission the thread keeps its priority.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kWriterNice);
  for (;;) {
    std::vector<WriteOp> batch;
    PruneJob* job = nullptr;
    {
      absl::MutexLock lock(&mu_);
      const auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty() || !prune_jobs_.empty();
      };
      if (options_.retention_days > 0) {
        mu_.AwaitWithDeadline(absl::Condition(&has_work), next_auto_prune_);
        if (absl::Now() >= next_auto_prune_) {
          next_auto_prune_ = absl::Now() + options_.prune_interval;
          // A prune still running covers this round.
          if (!stopping_ && prune_jobs_.empty()) {
            prune_jobs_.emplace_back(
                options_.clock() - absl::Hours(24) * options_.retention_days, nullptr);
          }
        }
      } else {
        mu_.Await(absl::Condition(&has_work));
      }
      if (stopping_ && queue_.empty()) {
        for (PruneJob& pending : prune_jobs_) {
          if (pending.waiter != nullptr) {
            pending.waiter->status = absl::CancelledError("the alert store closed");
            pending.waiter->done.Notify();
          }
        }
        prune_jobs_.clear();
        return;
      }
      if (options_.commit_delay > absl::ZeroDuration() && !stopping_ && !queue_.empty()) {
        // Group commit: gather more rows unless someone waits for these.
        const auto batch_due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || waited_ops_queued_ > 0 ||
                 queue_.size() >= static_cast<size_t>(options_.max_batch_records);
        };
        mu_.AwaitWithTimeout(absl::Condition(&batch_due), options_.commit_delay);
      }
      const size_t take = std::min(queue_.size(), static_cast<size_t>(options_.max_batch_records));
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        if (IsWaited(queue_.front())) --waited_ops_queued_;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      // Only this thread pops prune jobs, and deque::push_back keeps references valid.
      if (!prune_jobs_.empty()) job = &prune_jobs_.front();
    }
    if (!batch.empty()) CommitBatch(batch);
    if (job != nullptr) {
      absl::StatusOr<bool> finished = PruneStep(*job);
      if (!finished.ok() || *finished) {
        absl::MutexLock lock(&mu_);
        stats_.rows_pruned += job->result.alerts + job->result.calls;
        if (job->waiter != nullptr) {
          job->waiter->status = finished.status();
          job->waiter->prune = job->result;
          job->waiter->done.Notify();
        }
        prune_jobs_.pop_front();
      }
    }
  }
}

void SqliteAlertStore::CommitBatch(std::vector<WriteOp>& batch) {
  const absl::Time began = absl::Now();
  const absl::Status status = TryCommit(batch, options_.clock());
  if (status.ok()) {
    const absl::Duration latency = absl::Now() - began;
    int rows = 0;
    int orphans = 0;
    uint64_t last_sequence = 0;
    uint64_t last_ack = 0;
    for (const WriteOp& op : batch) {
      if (std::holds_alternative<FlushOp>(op)) continue;
      const UtteranceOp* utterance = std::get_if<UtteranceOp>(&op);
      const PartyChangeOp* change = std::get_if<PartyChangeOp>(&op);
      if ((utterance != nullptr && utterance->orphan) || (change != nullptr && change->orphan)) {
        ++orphans;
        continue;
      }
      ++rows;
      if (const AlertOp* alert = std::get_if<AlertOp>(&op)) {
        last_sequence = std::max(last_sequence, alert->stored.sequence());
      } else if (const AckOp* ack = std::get_if<AckOp>(&op); ack != nullptr && ack->outcome.ok()) {
        last_ack = std::max(last_ack, ack->stored.acknowledgement().ack_sequence());
      }
    }
    // Before the listener hears of them: see LastSequence().
    if (last_sequence > 0) last_sequence_.store(last_sequence);
    if (last_ack > 0) last_ack_sequence_.store(last_ack);
    {
      absl::MutexLock lock(&mu_);
      stats_.rows_written += rows;
      stats_.rows_failed += orphans;
      ++stats_.batches_committed;
    }
    {
      absl::MutexLock lock(&listener_mu_);
      if (listener_ != nullptr) listener_->OnBatchCommitted(rows, latency);
    }
    for (WriteOp& op : batch) Complete(op, absl::OkStatus());
    return;
  }
  if (batch.size() == 1) {
    if (!std::holds_alternative<FlushOp>(batch[0])) {
      absl::MutexLock lock(&mu_);
      ++stats_.rows_failed;
    }
    Complete(batch[0], status);
    return;
  }
  // One bad record must not sink the others: retry each alone, in order.
  for (WriteOp& op : batch) {
    std::vector<WriteOp> single;
    single.push_back(std::move(op));
    CommitBatch(single);
  }
}

absl::Status SqliteAlertStore::TryCommit(std::vector<WriteOp>& batch, absl::Time now) {
  CG_RETURN_IF_ERROR(writer_db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status;
  for (WriteOp& op : batch) {
    status = Apply(op, now);
    if (!status.ok()) break;
  }
  if (status.ok()) status = writer_db_->Exec("COMMIT");
  if (!status.ok()) {
    if (!sqlite3_get_autocommit(writer_db_->handle())) {
      writer_db_->Exec("ROLLBACK").IgnoreError();
    }
    calls_.clear();  // it may name rows that were rolled back
  }
  return status;
}

void SqliteAlertStore::Complete(WriteOp& op, const absl::Status& failure) {
  if (AlertOp* alert = std::get_if<AlertOp>(&op)) {
    if (failure.ok()) {
      absl::MutexLock lock(&listener_mu_);
      if (listener_ != nullptr) listener_->OnAlertStored(alert->stored);
    }
    if (alert->done) {
      if (failure.ok()) {
        alert->done(alert->stored);
      } else {
        alert->done(failure);
      }
    }
  } else if (AckOp* ack = std::get_if<AckOp>(&op)) {
    if (failure.ok() && ack->outcome.ok()) {
      absl::MutexLock lock(&listener_mu_);
      if (listener_ != nullptr) listener_->OnAlertAcknowledged(ack->stored);
    }
    ack->waiter->status = failure.ok() ? ack->outcome : failure;
    ack->waiter->stored = std::move(ack->stored);
    ack->waiter->done.Notify();
  } else if (CloseOpenOp* close = std::get_if<CloseOpenOp>(&op)) {
    close->waiter->status = failure;
    close->waiter->count = close->closed;
    close->waiter->done.Notify();
  } else if (FlushOp* flush = std::get_if<FlushOp>(&op)) {
    flush->waiter->done.Notify();
  }
}

absl::Status SqliteAlertStore::Apply(WriteOp& op, absl::Time now) {
  return std::visit(
      [&](auto& typed) -> absl::Status {
        using T = std::decay_t<decltype(typed)>;
        if constexpr (std::is_same_v<T, CallStartOp>) {
          return ApplyCallStart(typed, now);
        } else if constexpr (std::is_same_v<T, UtteranceOp>) {
          if (!typed.utterance.has_time()) {
            *typed.utterance.mutable_time() = MicrosToProto(ToMicros(now));
          }
          return ApplyUtterance(typed);
        } else if constexpr (std::is_same_v<T, PartyChangeOp>) {
          if (!typed.change.has_time()) {
            *typed.change.mutable_time() = MicrosToProto(ToMicros(now));
          }
          return ApplyPartyChange(typed);
        } else if constexpr (std::is_same_v<T, CallEndOp>) {
          return ApplyCallEnd(typed);
        } else if constexpr (std::is_same_v<T, AlertOp>) {
          return ApplyAlert(typed, now);
        } else if constexpr (std::is_same_v<T, AckOp>) {
          return ApplyAck(typed, now);
        } else if constexpr (std::is_same_v<T, CloseOpenOp>) {
          return ApplyCloseOpen(typed);
        } else {
          static_assert(std::is_same_v<T, FlushOp>);
          return absl::OkStatus();
        }
      },
      op);
}

absl::StatusOr<const SqliteAlertStore::CallRow*> SqliteAlertStore::FindCall(
    const std::string& call_id) {
  auto it = calls_.find(call_id);
  if (it != calls_.end()) return &it->second;
  CG_ASSIGN_OR_RETURN(Statement * find,
                      writer_db_->Cached("SELECT call_key, agency_id, agent_id, team, agent_name, "
                                         "ended_us IS NULL FROM calls WHERE call_id = ? "
                                         "ORDER BY call_key DESC LIMIT 1"));
  StatementScope scope(find);
  find->BindText(1, call_id);
  CG_ASSIGN_OR_RETURN(bool found, find->Step());
  if (!found) return nullptr;
  CallRow row;
  row.key = find->Int64(0);
  row.agency_id = find->Text(1);
  row.agent_id = find->Text(2);
  row.team = find->Text(3);
  row.agent_name = find->Text(4);
  row.open = find->Int64(5) != 0;
  // Only open calls are cached; records for ended ones are rare (a late alert).
  if (!row.open) {
    ended_call_ = std::move(row);
    return &ended_call_;
  }
  auto [slot, inserted] = calls_.insert_or_assign(call_id, std::move(row));
  const CallRow* result = &slot->second;
  return result;
}

absl::Status SqliteAlertStore::ApplyCallStart(CallStartOp& op, absl::Time now) {
  const v1::CallStart& start = op.start;
  CG_ASSIGN_OR_RETURN(const CallRow* existing, FindCall(start.call_id()));
  if (existing != nullptr && existing->open) {
    CG_RETURN_IF_ERROR(
        EndCallRow(existing->key, "replaced by a new call with the same id", op.received));
  }
  CG_ASSIGN_OR_RETURN(
      Statement * insert,
      writer_db_->Cached("INSERT INTO calls (call_id, agency_id, agent_id, team, agent_name, "
                         "start, started_us, last_activity_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  StatementScope scope(insert);
  insert->BindText(1, start.call_id());
  insert->BindText(2, start.agency().id());
  insert->BindText(3, start.agent().agent_id());
  insert->BindText(4, start.agent().team());
  insert->BindText(5, start.agent().name());
  insert->BindBlob(6, Serialize(start));
  insert->BindInt64(7, ToMicros(op.received));
  insert->BindInt64(8, ToMicros(op.received));
  CG_RETURN_IF_ERROR(insert->Run());
  CallRow row;
  row.key = sqlite3_last_insert_rowid(writer_db_->handle());
  row.agency_id = start.agency().id();
  row.agent_id = start.agent().agent_id();
  row.team = start.agent().team();
  row.agent_name = start.agent().name();
  row.open = true;
  calls_.insert_or_assign(start.call_id(), std::move(row));
  return absl::OkStatus();
}

absl::Status SqliteAlertStore::ApplyUtterance(UtteranceOp& op) {
  CG_ASSIGN_OR_RETURN(const CallRow* call, FindCall(op.call_id));
  // Without its call the utterance belongs to no timeline: skipped, counted as failed, and
  // not an error of the batch (which would roll the other records back).
  op.orphan = call == nullptr;
  if (op.orphan) return absl::OkStatus();
  const v1::TimelineUtterance& u = op.utterance;
  const int64_t time_us = ProtoToMicros(u.time());
  CG_ASSIGN_OR_RETURN(
      Statement * insert,
      writer_db_->Cached("INSERT INTO utterances (call_key, turn, utterance_id, speaker, text, "
                         "is_final, start_ms, end_ms, time_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  {
    StatementScope scope(insert);
    insert->BindInt64(1, call->key);
    insert->BindInt64(2, u.turn());
    insert->BindText(3, u.utterance_id());
    insert->BindInt64(4, u.speaker());
    insert->BindText(5, u.text());
    insert->BindInt64(6, u.is_final() ? 1 : 0);
    insert->BindInt64(7, u.start_ms());
    insert->BindInt64(8, u.end_ms());
    insert->BindInt64(9, time_us);
    CG_RETURN_IF_ERROR(insert->Run());
  }
  CG_ASSIGN_OR_RETURN(Statement * touch,
                      writer_db_->Cached("UPDATE calls SET turns = MAX(turns, ?), "
                                         "last_activity_us = MAX(last_activity_us, ?) "
                                         "WHERE call_key = ?"));
  StatementScope scope(touch);
  touch->BindInt64(1, static_cast<int64_t>(u.turn()) + 1);
  touch->BindInt64(2, time_us);
  touch->BindInt64(3, call->key);
  return touch->Run();
}

absl::Status SqliteAlertStore::ApplyPartyChange(PartyChangeOp& op) {
  CG_ASSIGN_OR_RETURN(const CallRow* call, FindCall(op.call_id));
  op.orphan = call == nullptr;
  if (op.orphan) return absl::OkStatus();
  const v1::PartyChange& c = op.change;
  const int64_t time_us = ProtoToMicros(c.time());
  CG_ASSIGN_OR_RETURN(
      Statement * insert,
      writer_db_->Cached("INSERT INTO party_changes (call_key, after_turn, party, "
                         "agent_identified, debt_collector_disclosed, note, from_dialer, time_us) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  {
    StatementScope scope(insert);
    insert->BindInt64(1, call->key);
    insert->BindInt64(2, c.after_turn());
    insert->BindInt64(3, c.party());
    insert->BindInt64(4, c.agent_identified() ? 1 : 0);
    insert->BindInt64(5, c.debt_collector_disclosed() ? 1 : 0);
    insert->BindText(6, c.note());
    insert->BindInt64(7, c.from_dialer() ? 1 : 0);
    insert->BindInt64(8, time_us);
    CG_RETURN_IF_ERROR(insert->Run());
  }
  CG_ASSIGN_OR_RETURN(
      Statement * update,
      writer_db_->Cached("UPDATE calls SET party = ?, agent_identified = ?, "
                         "debt_collector_disclosed = ?, last_activity_us = MAX(last_activity_us, ?) "
                         "WHERE call_key = ?"));
  StatementScope scope(update);
  update->BindInt64(1, c.party());
  update->BindInt64(2, c.agent_identified() ? 1 : 0);
  update->BindInt64(3, c.debt_collector_disclosed() ? 1 : 0);
  update->BindInt64(4, time_us);
  update->BindInt64(5, call->key);
  return update->Run();
}

absl::Status SqliteAlertStore::ApplyCallEnd(CallEndOp& op) {
  const v1::CallSummary& summary = op.summary;
  CG_ASSIGN_OR_RETURN(const CallRow* call, FindCall(summary.call_id()));
  if (call == nullptr || !call->open) return absl::OkStatus();  // a repeated end
  const int64_t key = call->key;
  CG_ASSIGN_OR_RETURN(
      Statement * end,
      writer_db_->Cached("UPDATE calls SET ended_us = ?, summary = ?, party = ?, "
                         "agent_identified = ?, debt_collector_disclosed = ?, "
                         "turns = MAX(turns, ?), last_activity_us = MAX(last_activity_us, ?) "
                         "WHERE call_key = ? AND ended_us IS NULL"));
  {
    StatementScope scope(end);
    end->BindInt64(1, ToMicros(op.ended));
    end->BindBlob(2, Serialize(summary));
    end->BindInt64(3, summary.party());
    end->BindInt64(4, summary.agent_identified() ? 1 : 0);
    end->BindInt64(5, summary.debt_collector_disclosed() ? 1 : 0);
    end->BindInt64(6, summary.turns());
    end->BindInt64(7, ToMicros(op.ended));
    end->BindInt64(8, key);
    CG_RETURN_IF_ERROR(end->Run());
  }
  calls_.erase(summary.call_id());
  return absl::OkStatus();
}

absl::Status SqliteAlertStore::EndCallRow(int64_t key, absl::string_view reason,
                                          absl::Time ended) {
  CG_ASSIGN_OR_RETURN(
      Statement * read,
      writer_db_->Cached("SELECT call_id, start, turns, alert_count, party, agent_identified, "
                         "debt_collector_disclosed FROM calls WHERE call_key = ?"));
  v1::CallSummary summary;
  {
    StatementScope scope(read);
    read->BindInt64(1, key);
    CG_ASSIGN_OR_RETURN(bool found, read->Step());
    if (!found) return absl::OkStatus();
    v1::CallStart start;
    start.ParseFromArray(read->Blob(1).data(), static_cast<int>(read->Blob(1).size()));
    summary.set_call_id(read->Text(0));
    summary.set_turns(static_cast<int32_t>(read->Int64(2)));
    summary.set_alerts(static_cast<int32_t>(read->Int64(3)));
    summary.set_party(static_cast<v1::Party>(read->Int64(4)));
    summary.set_agent_identified(read->Int64(5) != 0);
    summary.set_debt_collector_disclosed(read->Int64(6) != 0);
    summary.set_policy_id(start.policy());
    summary.set_end_reason(std::string(reason));
  }
  CG_ASSIGN_OR_RETURN(Statement * kinds,
                      writer_db_->Cached("SELECT violation, COUNT(*) FROM alerts "
                                         "WHERE call_key = ? GROUP BY violation ORDER BY violation"));
  {
    StatementScope scope(kinds);
    kinds->BindInt64(1, key);
    for (;;) {
      CG_ASSIGN_OR_RETURN(bool has_row, kinds->Step());
      if (!has_row) break;
      v1::ViolationCount* count = summary.add_by_kind();
      count->set_violation(static_cast<v1::ViolationKind>(kinds->Int64(0)));
      count->set_count(static_cast<int32_t>(kinds->Int64(1)));
    }
  }
  CG_ASSIGN_OR_RETURN(Statement * end,
                      writer_db_->Cached("UPDATE calls SET ended_us = ?, summary = ?, "
                                         "last_activity_us = MAX(last_activity_us, ?) "
                                         "WHERE call_key = ? AND ended_us IS NULL"));
  StatementScope scope(end);
  end->BindInt64(1, ToMicros(ended));
  end->BindBlob(2, Serialize(summary));
  end->BindInt64(3, ToMicros(ended));
  end->BindInt64(4, key);
  CG_RETURN_IF_ERROR(end->Run());
  calls_.erase(summary.call_id());
  return absl::OkStatus();
}

absl::Status SqliteAlertStore::ApplyCloseOpen(CloseOpenOp& op) {
  std::vector<int64_t> keys;
  {
    CG_ASSIGN_OR_RETURN(Statement * open,
                        writer_db_->Cached("SELECT call_key FROM calls WHERE ended_us IS NULL "
                                           "ORDER BY call_key"));
    StatementScope scope(open);
    for (;;) {
      CG_ASSIGN_OR_RETURN(bool has_row, open->Step());
      if (!has_row) break;
      keys.push_back(open->Int64(0));
    }
  }
  op.closed = 0;
  for (int64_t key : keys) {
    CG_RETURN_IF_ERROR(EndCallRow(key, op.reason, op.ended));
    ++op.closed;
  }
  return absl::OkStatus();
}

absl::Status SqliteAlertStore::ApplyAlert(AlertOp& op, absl::Time now) {
  v1::StoredAlert& stored = op.stored;
  stored.Clear();
  v1::Alert& alert = *stored.mutable_alert();
  alert = op.alert;
  CG_ASSIGN_OR_RETURN(const CallRow* call, FindCall(alert.call_id()));
  if (call != nullptr) {
    if (alert.agent_id().empty()) alert.set_agent_id(call->agent_id);
    if (alert.agency_id().empty()) alert.set_agency_id(call->agency_id);
    stored.set_team(call->team);
    stored.set_agent_name(call->agent_name);
  }
  const int64_t now_us = ToMicros(now);
  *stored.mutable_stored_time() = MicrosToProto(now_us);
  CG_ASSIGN_OR_RETURN(
      Statement * insert,
      writer_db_->Cached("INSERT INTO alerts (call_key, call_id, alert_id, agency_id, agent_id, "
                         "team, agent_name, severity, violation, alert_time_us, stored_us, alert) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  {
    StatementScope scope(insert);
    if (call != nullptr) {
      insert->BindInt64(1, call->key);
    } else {
      insert->BindNull(1);
    }
    insert->BindText(2, alert.call_id());
    insert->BindText(3, alert.alert_id());
    insert->BindText(4, alert.agency_id());
    insert->BindText(5, alert.agent_id());
    insert->BindText(6, stored.team());
    insert->BindText(7, stored.agent_name());
    insert->BindInt64(8, alert.severity());
    insert->BindInt64(9, alert.violation());
    insert->BindInt64(10, alert.has_time() ? ProtoToMicros(alert.time()) : now_us);
    insert->BindInt64(11, now_us);
    insert->BindBlob(12, Serialize(alert));
    CG_RETURN_IF_ERROR(insert->Run());
  }
  stored.set_sequence(static_cast<uint64_t>(sqlite3_last_insert_rowid(writer_db_->handle())));
  if (call == nullptr) return absl::OkStatus();
  CG_ASSIGN_OR_RETURN(Statement * count,
                      writer_db_->Cached("UPDATE calls SET alert_count = alert_count + 1, "
                                         "last_activity_us = MAX(last_activity_us, ?) "
                                         "WHERE call_key = ?"));
  StatementScope scope(count);
  count->BindInt64(1, now_us);
  count->BindInt64(2, call->key);
  return count->Run();
}

absl::Status SqliteAlertStore::ApplyAck(AckOp& op, absl::Time now) {
  CG_ASSIGN_OR_RETURN(
      Statement * read,
      writer_db_->Cached(absl::StrCat("SELECT ", kStoredAlertColumns, kAlertsWithAcks,
                                      " WHERE a.sequence = ?")));
  {
    StatementScope scope(read);
    read->BindInt64(1, static_cast<int64_t>(op.alert_sequence));
    CG_ASSIGN_OR_RETURN(bool found, read->Step());
    if (!found) {
      op.outcome = absl::NotFoundError(absl::StrCat("no alert with sequence ", op.alert_sequence));
      return absl::OkStatus();
    }
    CG_ASSIGN_OR_RETURN(op.stored, DecodeStoredAlert(*read));
  }
  if (op.stored.has_acknowledgement()) {
    op.outcome = absl::AlreadyExistsError(
        absl::StrCat("alert ", op.alert_sequence, " was acknowledged by ",
                     op.stored.acknowledgement().supervisor()));
    return absl::OkStatus();
  }
  const int64_t now_us = ToMicros(now);
  CG_ASSIGN_OR_RETURN(Statement * insert,
                      writer_db_->Cached("INSERT INTO acknowledgements (alert_sequence, "
                                         "supervisor, note, time_us) VALUES (?, ?, ?, ?)"));
  StatementScope scope(insert);
  insert->BindInt64(1, static_cast<int64_t>(op.alert_sequence));
  insert->BindText(2, op.supervisor);
  insert->BindText(3, op.note);
  insert->BindInt64(4, now_us);
  CG_RETURN_IF_ERROR(insert->Run());
  v1::Acknowledgement* ack = op.stored.mutable_acknowledgement();
  ack->set_ack_sequence(static_cast<uint64_t>(sqlite3_last_insert_rowid(writer_db_->handle())));
  ack->set_alert_sequence(op.alert_sequence);
  ack->set_alert_id(op.stored.alert().alert_id());
  ack->set_call_id(op.stored.alert().call_id());
  ack->set_supervisor(op.supervisor);
  ack->set_note(op.note);
  *ack->mutable_time() = MicrosToProto(now_us);
  op.outcome = absl::OkStatus();
  return absl::OkStatus();
}

absl::StatusOr<bool> SqliteAlertStore::PruneStep(PruneJob& job) {
  const int64_t cutoff_us = ToMicros(job.cutoff);
  CG_RETURN_IF_ERROR(writer_db_->Exec("BEGIN IMMEDIATE"));
  auto step = [&]() -> absl::StatusOr<bool> {
    std::vector<int64_t> keys;
    const bool alerts = !job.alerts_done;
    {
      CG_ASSIGN_OR_RETURN(
          Statement * select,
          writer_db_->Cached(alerts ? "SELECT sequence FROM alerts WHERE stored_us < ? "
                                      "ORDER BY stored_us LIMIT ?"
                                    : "SELECT call_key FROM calls "
                                      "WHERE COALESCE(ended_us, started_us) < ? LIMIT ?"));
      StatementScope scope(select);
      select->BindInt64(1, cutoff_us);
      select->BindInt64(2, alerts ? kPruneAlertChunk : kPruneCallChunk);
      for (;;) {
        CG_ASSIGN_OR_RETURN(bool has_row, select->Step());
        if (!has_row) break;
        keys.push_back(select->Int64(0));
      }
    }
    const std::vector<const char*> deletes =
        alerts ? std::vector<const char*>{"DELETE FROM acknowledgements WHERE alert_sequence = ?",
                                          "DELETE FROM alerts WHERE sequence = ?"}
               : std::vector<const char*>{"DELETE FROM utterances WHERE call_key = ?",
                                          "DELETE FROM party_changes WHERE call_key = ?",
                                          "DELETE FROM calls WHERE call_key = ?"};
    for (const char* sql : deletes) {
      CG_ASSIGN_OR_RETURN(Statement * del, writer_db_->Cached(sql));
      for (int64_t key : keys) {
        StatementScope scope(del);
        del->BindInt64(1, key);
        CG_RETURN_IF_ERROR(del->Run());
      }
    }
    if (alerts) {
      job.result.alerts += static_cast<int64_t>(keys.size());
      if (static_cast<int>(keys.size()) < kPruneAlertChunk) job.alerts_done = true;
      return false;
    }
    job.result.calls += static_cast<int64_t>(keys.size());
    return static_cast<int>(keys.size()) < kPruneCallChunk;
  };
  absl::StatusOr<bool> finished = step();
  absl::Status status = finished.status();
  if (status.ok()) status = writer_db_->Exec("COMMIT");
  if (!status.ok()) {
    if (!sqlite3_get_autocommit(writer_db_->handle())) {
      writer_db_->Exec("ROLLBACK").IgnoreError();
    }
    calls_.clear();
    return status;
  }
  calls_.clear();  // a pruned call may be cached
  return *finished;
}

// --- Reads ---

absl::StatusOr<std::unique_ptr<Database>> SqliteAlertStore::AcquireReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    const auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(readers_mu_) {
      return !idle_readers_.empty() || open_readers_ < options_.max_readers;
    };
    readers_mu_.Await(absl::Condition(&available));
    if (!idle_readers_.empty()) {
      std::unique_ptr<Database> reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
    ++open_readers_;
  }
  absl::StatusOr<std::unique_ptr<Database>> reader =
      Database::Open(options_.path, /*create=*/false, /*read_only=*/false);
  absl::Status status = reader.status();
  if (status.ok()) status = (*reader)->Exec("PRAGMA query_only=1");
  if (!status.ok()) {
    absl::MutexLock lock(&readers_mu_);
    --open_readers_;
    return status;
  }
  return reader;
}

void SqliteAlertStore::ReleaseReader(std::unique_ptr<Database> reader) {
  absl::MutexLock lock(&readers_mu_);
  idle_readers_.push_back(std::move(reader));
}

template <typename Result>
Result SqliteAlertStore::WithReader(const std::function<Result(Database&)>& query) {
  absl::StatusOr<std::unique_ptr<Database>> reader = AcquireReader();
  if (!reader.ok()) return reader.status();
  Result result = query(**reader);
  ReleaseReader(std::move(*reader));
  return result;
}

absl::StatusOr<std::vector<v1::StoredAlert>> SqliteAlertStore::AlertsAfter(
    uint64_t after_sequence, const v1::AlertFilter& filter, int limit) {
  CG_RETURN_IF_ERROR(ValidateAlertFilter(filter));
  if (limit < 1 || limit > kMaxAfterLimit) {
    return absl::InvalidArgumentError(absl::StrCat("limit: must be 1..", kMaxAfterLimit));
  }
  SqlArgs args;
  args.Add(static_cast<int64_t>(after_sequence));
  std::string sql = absl::StrCat("SELECT ", kStoredAlertColumns, kAlertsWithAcks,
                                 " WHERE a.sequence > ?");
  AddAlertFilter(filter, &sql, &args);
  absl::StrAppend(&sql, " ORDER BY a.sequence LIMIT ?");
  args.Add(static_cast<int64_t>(limit));
  return WithReader<absl::StatusOr<std::vector<v1::StoredAlert>>>(
      [&](Database& db) -> absl::StatusOr<std::vector<v1::StoredAlert>> {
        CG_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(sql));
        args.BindTo(stmt);
        return CollectAlerts(stmt);
      });
}

absl::StatusOr<std::vector<v1::StoredAlert>> SqliteAlertStore::AcknowledgementsAfter(
    uint64_t after_ack_sequence, const v1::AlertFilter& filter, int limit) {
  CG_RETURN_IF_ERROR(ValidateAlertFilter(filter));
  if (limit < 1 || limit > kMaxAfterLimit) {
    return absl::InvalidArgumentError(absl::StrCat("limit: must be 1..", kMaxAfterLimit));
  }
  SqlArgs args;
  args.Add(static_cast<int64_t>(after_ack_sequence));
  std::string sql = absl::StrCat("SELECT ", kStoredAlertColumns,
                                 " FROM acknowledgements k JOIN alerts a "
                                 "ON a.sequence = k.alert_sequence WHERE k.ack_sequence > ?");
  AddAlertFilter(filter, &sql, &args);
  absl::StrAppend(&sql, " ORDER BY k.ack_sequence LIMIT ?");
  args.Add(static_cast<int64_t>(limit));
  return WithReader<absl::StatusOr<std::vector<v1::StoredAlert>>>(
      [&](Database& db) -> absl::StatusOr<std::vector<v1::StoredAlert>> {
        CG_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(sql));
        args.BindTo(stmt);
        return CollectAlerts(stmt);
      });
}

absl::StatusOr<v1::StoredAlert> SqliteAlertStore::GetAlert(uint64_t sequence) {
  return WithReader<absl::StatusOr<v1::StoredAlert>>(
      [&](Database& db) -> absl::StatusOr<v1::StoredAlert> {
        CG_ASSIGN_OR_RETURN(Statement * stmt,
                            db.Cached(absl::StrCat("SELECT ", kStoredAlertColumns,
                                                   kAlertsWithAcks, " WHERE a.sequence = ?")));
        StatementScope scope(stmt);
        stmt->BindInt64(1, static_cast<int64_t>(sequence));
        CG_ASSIGN_OR_RETURN(bool found, stmt->Step());
        if (!found) return absl::NotFoundError(absl::StrCat("no alert with sequence ", sequence));
        return DecodeStoredAlert(*stmt);
      });
}

absl::StatusOr<v1::ListAlertsResponse> SqliteAlertStore::ListAlerts(
    const v1::ListAlertsRequest& request) {
  CG_RETURN_IF_ERROR(ValidateAlertFilter(request.filter()));
  CG_ASSIGN_OR_RETURN(const int page_size, PageSize(request.page_size()));
  CG_ASSIGN_OR_RETURN(const int64_t after_key, ParsePageToken(request.page_token()));
  SqlArgs args;
  std::string sql = absl::StrCat("SELECT ", kStoredAlertColumns, kAlertsWithAcks, " WHERE 1");
  if (after_key >= 0) {
    absl::StrAppend(&sql, request.oldest_first() ? " AND a.sequence > ?" : " AND a.sequence < ?");
    args.Add(after_key);
  }
  if (request.has_since()) {
    absl::StrAppend(&sql, " AND a.alert_time_us >= ?");
    args.Add(ProtoToMicros(request.since()));
  }
  if (request.has_until()) {
    absl::StrAppend(&sql, " AND a.alert_time_us < ?");
    args.Add(ProtoToMicros(request.until()));
  }
  if (request.unacknowledged_only()) absl::StrAppend(&sql, " AND k.ack_sequence IS NULL");
  AddAlertFilter(request.filter(), &sql, &args);
  absl::StrAppend(&sql, " ORDER BY a.sequence", request.oldest_first() ? "" : " DESC",
                  " LIMIT ?");
  args.Add(static_cast<int64_t>(page_size) + 1);  // one more tells whether a next page exists
  return WithReader<absl::StatusOr<v1::ListAlertsResponse>>(
      [&](Database& db) -> absl::StatusOr<v1::ListAlertsResponse> {
        CG_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(sql));
        args.BindTo(stmt);
        CG_ASSIGN_OR_RETURN(std::vector<v1::StoredAlert> alerts, CollectAlerts(stmt));
        v1::ListAlertsResponse response;
        const bool more = static_cast<int>(alerts.size()) > page_size;
        if (more) alerts.resize(page_size);
        for (v1::StoredAlert& stored : alerts) *response.add_alerts() = std::move(stored);
        if (more) {
          response.set_next_page_token(
              PageToken(static_cast<int64_t>(response.alerts().rbegin()->sequence())));
        }
        return response;
      });
}

absl::StatusOr<v1::CallTimeline> SqliteAlertStore::GetCall(absl::string_view call_id) {
  if (call_id.empty()) return absl::InvalidArgumentError("call_id: empty");
  return WithReader<absl::StatusOr<v1::CallTimeline>>(
      [&](Database& db) -> absl::StatusOr<v1::CallTimeline> {
        ReadSnapshot snapshot(db);
        CG_RETURN_IF_ERROR(snapshot.status());
        v1::CallTimeline timeline;
        int64_t key = 0;
        {
          CG_ASSIGN_OR_RETURN(Statement * call,
                              db.Cached("SELECT call_key, start, started_us, ended_us, summary "
                                        "FROM calls WHERE call_id = ? "
                                        "ORDER BY call_key DESC LIMIT 1"));
          StatementScope scope(call);
          call->BindText(1, call_id);
          CG_ASSIGN_OR_RETURN(bool found, call->Step());
          if (!found) return absl::NotFoundError(absl::StrCat("no call ", call_id));
          key = call->Int64(0);
          if (!timeline.mutable_start()->ParseFromArray(call->Blob(1).data(),
                                                        static_cast<int>(call->Blob(1).size()))) {
            return absl::DataLossError(absl::StrCat("call ", call_id, ": start does not parse"));
          }
          *timeline.mutable_started() = MicrosToProto(call->Int64(2));
          timeline.set_active(call->IsNull(3));
          if (!call->IsNull(3)) {
            *timeline.mutable_ended() = MicrosToProto(call->Int64(3));
            if (!call->IsNull(4) &&
                !timeline.mutable_summary()->ParseFromArray(
                    call->Blob(4).data(), static_cast<int>(call->Blob(4).size()))) {
              return absl::DataLossError(
                  absl::StrCat("call ", call_id, ": summary does not parse"));
            }
          }
        }
        {
          CG_ASSIGN_OR_RETURN(Statement * utterances,
                              db.Cached("SELECT turn, utterance_id, speaker, text, is_final, "
                                        "start_ms, end_ms, time_us FROM utterances "
                                        "WHERE call_key = ? ORDER BY turn, rowid"));
          StatementScope scope(utterances);
          utterances->BindInt64(1, key);
          for (;;) {
            CG_ASSIGN_OR_RETURN(bool has_row, utterances->Step());
            if (!has_row) break;
            v1::TimelineUtterance* u = timeline.add_utterances();
            u->set_turn(static_cast<int32_t>(utterances->Int64(0)));
            u->set_utterance_id(utterances->Text(1));
            u->set_speaker(static_cast<v1::Speaker>(utterances->Int64(2)));
            u->set_text(utterances->Text(3));
            u->set_is_final(utterances->Int64(4) != 0);
            u->set_start_ms(utterances->Int64(5));
            u->set_end_ms(utterances->Int64(6));
            *u->mutable_time() = MicrosToProto(utterances->Int64(7));
          }
        }
        {
          CG_ASSIGN_OR_RETURN(Statement * changes,
                              db.Cached("SELECT after_turn, party, agent_identified, "
                                        "debt_collector_disclosed, note, from_dialer, time_us "
                                        "FROM party_changes WHERE call_key = ? ORDER BY rowid"));
          StatementScope scope(changes);
          changes->BindInt64(1, key);
          for (;;) {
            CG_ASSIGN_OR_RETURN(bool has_row, changes->Step());
            if (!has_row) break;
            v1::PartyChange* c = timeline.add_party_changes();
            c->set_after_turn(static_cast<int32_t>(changes->Int64(0)));
            c->set_party(static_cast<v1::Party>(changes->Int64(1)));
            c->set_agent_identified(changes->Int64(2) != 0);
            c->set_debt_collector_disclosed(changes->Int64(3) != 0);
            c->set_note(changes->Text(4));
            c->set_from_dialer(changes->Int64(5) != 0);
            *c->mutable_time() = MicrosToProto(changes->Int64(6));
          }
        }
        CG_ASSIGN_OR_RETURN(Statement * alerts,
                            db.Cached(absl::StrCat("SELECT ", kStoredAlertColumns,
                                                   kAlertsWithAcks,
                                                   " WHERE a.call_key = ? ORDER BY a.sequence")));
        StatementScope scope(alerts);
        alerts->BindInt64(1, key);
        CG_ASSIGN_OR_RETURN(std::vector<v1::StoredAlert> stored, CollectAlerts(*alerts));
        for (v1::StoredAlert& a : stored) *timeline.add_alerts() = std::move(a);
        return timeline;
      });
}

absl::StatusOr<v1::ListActiveCallsResponse> SqliteAlertStore::ListActiveCalls(
    const v1::ListActiveCallsRequest& request) {
  CG_RETURN_IF_ERROR(ValidateCallFilter(request.filter()));
  CG_ASSIGN_OR_RETURN(const int page_size, PageSize(request.page_size()));
  CG_ASSIGN_OR_RETURN(const int64_t after_key, ParsePageToken(request.page_token()));
  SqlArgs args;
  std::string sql =
      "SELECT call_key, start, started_us, party, agent_identified, debt_collector_disclosed, "
      "alert_count, turns, last_activity_us FROM calls a WHERE ended_us IS NULL AND call_key > ?";
  args.Add(after_key);
  AddInList("a.agency_id", request.filter().agency_ids(), &sql, &args);
  AddInList("a.agent_id", request.filter().agent_ids(), &sql, &args);
  AddInList("a.team", request.filter().teams(), &sql, &args);
  absl::StrAppend(&sql, " ORDER BY call_key LIMIT ?");
  args.Add(static_cast<int64_t>(page_size) + 1);
  return WithReader<absl::StatusOr<v1::ListActiveCallsResponse>>(
      [&](Database& db) -> absl::StatusOr<v1::ListActiveCallsResponse> {
        CG_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(sql));
        args.BindTo(stmt);
        v1::ListActiveCallsResponse response;
        int64_t last_key = 0;
        for (;;) {
          CG_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
          if (!has_row) break;
          if (response.calls_size() == page_size) {
            response.set_next_page_token(PageToken(last_key));
            break;
          }
          last_key = stmt.Int64(0);
          v1::CallStart start;
          if (!start.ParseFromArray(stmt.Blob(1).data(), static_cast<int>(stmt.Blob(1).size()))) {
            return absl::DataLossError(absl::StrCat("call row ", last_key, " does not parse"));
          }
          v1::ActiveCall* call = response.add_calls();
          call->set_call_id(start.call_id());
          *call->mutable_agent() = start.agent();
          *call->mutable_agency() = start.agency();
          call->set_policy(start.policy());
          call->set_dialed(start.dialed());
          *call->mutable_started() = MicrosToProto(stmt.Int64(2));
          call->set_party(static_cast<v1::Party>(stmt.Int64(3)));
          call->set_agent_identified(stmt.Int64(4) != 0);
          call->set_debt_collector_disclosed(stmt.Int64(5) != 0);
          call->set_alert_count(static_cast<int32_t>(stmt.Int64(6)));
          call->set_turns(static_cast<int32_t>(stmt.Int64(7)));
          *call->mutable_last_activity() = MicrosToProto(stmt.Int64(8));
        }
        return response;
      });
}

absl::StatusOr<v1::AlertStatsResponse> SqliteAlertStore::AlertStats(
    const v1::AlertStatsRequest& request) {
  CG_RETURN_IF_ERROR(ValidateAlertFilter(request.filter()));
  if (!request.has_since()) return absl::InvalidArgumentError("since: required");
  if (request.bucket_seconds() < 0) {
    return absl::InvalidArgumentError("bucket_seconds: must not be negative");
  }
  const int64_t bucket_us =
      (request.bucket_seconds() == 0 ? 3600 : request.bucket_seconds()) * 1000000;
  const int64_t until_us =
      request.has_until() ? ProtoToMicros(request.until()) : ToMicros(options_.clock());
  SqlArgs args;
  args.Add(bucket_us);
  args.Add(bucket_us);
  args.Add(ProtoToMicros(request.since()));
  args.Add(until_us);
  std::string sql =
      "SELECT (a.alert_time_us / ?) * ? AS bucket, a.violation, a.agent_id, COUNT(*) "
      "FROM alerts a WHERE a.alert_time_us >= ? AND a.alert_time_us < ?";
  AddAlertFilter(request.filter(), &sql, &args);
  absl::StrAppend(&sql, " GROUP BY bucket, a.violation, a.agent_id "
                        "ORDER BY bucket, a.violation, a.agent_id");
  return WithReader<absl::StatusOr<v1::AlertStatsResponse>>(
      [&](Database& db) -> absl::StatusOr<v1::AlertStatsResponse> {
        CG_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(sql));
        args.BindTo(stmt);
        v1::AlertStatsResponse response;
        for (;;) {
          CG_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
          if (!has_row) break;
          v1::AlertCount* count = response.add_counts();
          *count->mutable_bucket_start() = MicrosToProto(stmt.Int64(0));
          count->set_violation(static_cast<v1::ViolationKind>(stmt.Int64(1)));
          count->set_agent_id(stmt.Text(2));
          count->set_count(stmt.Int64(3));
        }
        return response;
      });
}

}  // namespace callguard
