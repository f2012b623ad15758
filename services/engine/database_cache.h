#ifndef CALLGUARD_ENGINE_DATABASE_CACHE_H_
#define CALLGUARD_ENGINE_DATABASE_CACHE_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct hs_database;

namespace callguard {

// Compiled Vectorscan databases kept on disk. A large policy takes seconds to compile and
// its start-of-match databases longer; the same patterns always compile to the same database,
// so a restart, a reload of unchanged policies or another process loads them in milliseconds.
// Entries are keyed by exactly what was compiled (engine version, flags, patterns) and the
// key is stored in the file and compared on load, so a stale or foreign file is never used.
class DatabaseCache {
 public:
  // An empty `dir` disables the cache.
  explicit DatabaseCache(std::string dir) : dir_(std::move(dir)) {}

  // The database for `key`: read from disk if a valid entry exists, else built by `compile`
  // and stored (best effort: a cache that cannot be written is skipped, never an error).
  absl::StatusOr<hs_database*> GetOrCompile(absl::string_view key,
                                            absl::FunctionRef<absl::StatusOr<hs_database*>()> compile) const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// $CALLGUARD_CACHE_DIR, else $XDG_CACHE_HOME/callguard, else $HOME/.cache/callguard, else "".
std::string DefaultDatabaseCacheDir();

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_DATABASE_CACHE_H_
