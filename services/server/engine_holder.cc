#include "engine_holder.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace callguard {
namespace {

// A server builds every start-of-match database before it serves, so that no live call pays
// for a compilation; compiled databases are cached on disk, so restarts and reloads of
// unchanged policies are quick.
CompileOptions ServerCompileOptions() { return CompileOptions{DefaultDatabaseCacheDir(), /*warm_up=*/true}; }

}  // namespace

absl::StatusOr<std::unique_ptr<EngineHolder>> EngineHolder::Create(std::string policy_dir) {
  auto engine = Engine::LoadFromDirectory(policy_dir, /*generation=*/1, ServerCompileOptions());
  if (!engine.ok()) return engine.status();
  return std::unique_ptr<EngineHolder>(new EngineHolder(std::move(policy_dir), *std::move(engine)));
}

std::shared_ptr<const Engine> EngineHolder::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<const Engine>> EngineHolder::Reload() {
  absl::MutexLock reload_lock(&reload_mu_);
  const int64_t running = Current()->generation();
  // Compiling takes a while: do it without blocking readers of the current snapshot.
  auto next = Engine::LoadFromDirectory(policy_dir_, running + 1, ServerCompileOptions());
  if (!next.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("policy reload failed, still serving generation ",
                                                      running, ": ", next.status().message()));
  }
  absl::MutexLock lock(&mu_);
  current_ = *next;
  return *std::move(next);
}

std::string DescribePolicies(const Engine& engine) {
  std::vector<std::string> parts;
  for (const std::string& id : engine.PolicyIds()) {
    const CompiledPolicy* policy = engine.FindPolicy(id);
    parts.push_back(policy != nullptr ? absl::StrCat(id, " ", policy->version()) : id);
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace callguard
