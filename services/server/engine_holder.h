#ifndef CALLGUARD_SERVER_ENGINE_HOLDER_H_
#define CALLGUARD_SERVER_ENGINE_HOLDER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine.h"

namespace callguard {

// The policy snapshot the server hands to new calls and checks. A reload compiles the folder
// aside and swaps the pointer only on success; calls that hold the previous snapshot keep it.
class EngineHolder {
 public:
  // Loads and compiles `policy_dir` as generation 1.
  static absl::StatusOr<std::unique_ptr<EngineHolder>> Create(std::string policy_dir);

  std::shared_ptr<const Engine> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // Recompiles the folder as the next generation. On failure the running snapshot stays and
  // the status (FAILED_PRECONDITION) carries the loader's file:line: reason.
  absl::StatusOr<std::shared_ptr<const Engine>> Reload() ABSL_LOCKS_EXCLUDED(reload_mu_, mu_);

  const std::string& policy_dir() const { return policy_dir_; }

 private:
  EngineHolder(std::string policy_dir, std::shared_ptr<const Engine> engine)
      : policy_dir_(std::move(policy_dir)), current_(std::move(engine)) {}

  const std::string policy_dir_;
  absl::Mutex reload_mu_;  // one compile at a time, so generations stay in order
  mutable absl::Mutex mu_;
  std::shared_ptr<const Engine> current_ ABSL_GUARDED_BY(mu_);
};

// "cn-collection 1.0, us-fdcpa 1.0"
std::string DescribePolicies(const Engine& engine);

}  // namespace callguard

#endif  // CALLGUARD_SERVER_ENGINE_HOLDER_H_
