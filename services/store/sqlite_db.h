#ifndef CALLGUARD_STORE_SQLITE_DB_H_
#define CALLGUARD_STORE_SQLITE_DB_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace callguard::sqlite {

// A prepared statement. Reset (bindings cleared) when a StatementScope lets it go, so a cached
// statement is always ready for reuse.
class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite.
  void BindInt64(int index, int64_t value);
  void BindText(int index, absl::string_view value);
  void BindBlob(int index, absl::string_view value);
  void BindNull(int index);

  // True with a row ready, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows.
  absl::Status Run();
  void Reset();

  int64_t Int64(int column) const;
  std::string Text(int column) const;
  // The column's bytes, valid until the next Step or Reset.
  absl::string_view Blob(int column) const;
  bool IsNull(int column) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a (cached) statement when the scope ends, whatever path leaves it.
class StatementScope {
 public:
  explicit StatementScope(Statement* stmt) : stmt_(stmt) {}
  ~StatementScope() { stmt_->Reset(); }
  Statement* operator->() const { return stmt_; }
  Statement& operator*() const { return *stmt_; }

 private:
  Statement* stmt_;
};

// One connection with a cache of prepared statements. Not thread-safe: one user at a time.
class Database {
 public:
  // Opens (creating if asked) the file; sets a busy timeout so a reader meeting a checkpoint
  // waits instead of failing.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path, bool create,
                                                        bool read_only);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements with no parameters and no result rows.
  absl::Status Exec(absl::string_view sql);
  // A statement prepared once and kept for the life of the connection: for fixed SQL only.
  absl::StatusOr<Statement*> Cached(const std::string& sql);
  // A statement of its own, for SQL built per query.
  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // The single integer a query like "PRAGMA user_version" returns.
  absl::StatusOr<int64_t> QueryInt64(absl::string_view sql);
  int64_t changes() const;
  sqlite3* handle() const { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

// An absl::Status for a SQLite result code, with the connection's message when there is one.
absl::Status SqliteError(sqlite3* db, int code, absl::string_view what);

}  // namespace callguard::sqlite

#endif  // CALLGUARD_STORE_SQLITE_DB_H_
