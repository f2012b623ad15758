#ifndef CALLGUARD_ENGINE_ENGINE_H_
#define CALLGUARD_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "callguard/v1/guard.pb.h"
#include "callguard/v1/policy.pb.h"
#include "compiled_policy.h"
#include "database_cache.h"
#include "policy_loader.h"

namespace callguard {

// An immutable snapshot of every loaded policy, compiled. A reload builds a new Engine and
// swaps the shared_ptr; calls keep the snapshot they started with until they end.
class Engine {
 public:
  struct Options {
    std::vector<PolicySource> policies;
    int64_t generation = 1;  // increases with every successful reload
    CompileOptions compile{DefaultDatabaseCacheDir(), false};
  };

  static absl::StatusOr<std::shared_ptr<const Engine>> Create(Options options);
  // LoadPolicyDirectory(dir) then Create().
  static absl::StatusOr<std::shared_ptr<const Engine>> LoadFromDirectory(
      const std::string& dir, int64_t generation = 1,
      const CompileOptions& compile = CompileOptions{DefaultDatabaseCacheDir(), false});

  // nullptr if unknown.
  const CompiledPolicy* FindPolicy(absl::string_view id) const;
  std::vector<std::string> PolicyIds() const;  // sorted
  std::vector<v1::PolicyInfo> PolicyInfos() const;
  int64_t generation() const { return generation_; }

  // Error for an unknown policy id, listing the known ones; names `field`.
  absl::Status UnknownPolicyError(absl::string_view id, absl::string_view field) const;

 private:
  Engine() = default;
  std::vector<std::unique_ptr<CompiledPolicy>> policies_;
  absl::flat_hash_map<std::string, const CompiledPolicy*> by_id_;
  int64_t generation_ = 1;
};

// One utterance with its context, judged without keeping call state (the Check RPC, policy
// examples, script checks).
absl::StatusOr<v1::CheckResponse> CheckUtterance(std::shared_ptr<const Engine> engine,
                                                 const v1::CheckRequest& request);

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_ENGINE_H_
