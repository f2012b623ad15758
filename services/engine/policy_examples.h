#ifndef CALLGUARD_ENGINE_POLICY_EXAMPLES_H_
#define CALLGUARD_ENGINE_POLICY_EXAMPLES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine.h"

namespace callguard {

struct ExampleResult {
  std::string policy_id;
  std::string name;
  std::string text;
  std::vector<v1::ViolationKind> expected;  // sorted
  std::vector<v1::ViolationKind> actual;    // sorted, unique
  bool passed = false;
};

// Runs every example a policy carries through the stateless check.
absl::StatusOr<std::vector<ExampleResult>> RunPolicyExamples(std::shared_ptr<const Engine> engine,
                                                             absl::string_view policy_id);

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_POLICY_EXAMPLES_H_
