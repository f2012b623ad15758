#ifndef CALLGUARD_ENGINE_POLICY_LOADER_H_
#define CALLGUARD_ENGINE_POLICY_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "callguard/v1/policy.pb.h"

namespace callguard {

struct PolicySource {
  v1::Policy policy;
  std::string path;  // where it was read from ("" for policies built in code)
};

// Parses one text-format policy file. Errors name the file, line and column and the reason:
// "policies/us-fdcpa.textproto:12:5: Message type "callguard.v1.Rule" has no field named "foo"".
absl::StatusOr<PolicySource> ParsePolicyFile(const std::string& path);
absl::StatusOr<v1::Policy> ParsePolicyText(absl::string_view text, absl::string_view name);

// Every `*.textproto` file in `dir`, sorted by name. Fails if the folder has none, if any
// file fails to parse, or if two files define the same policy id.
absl::StatusOr<std::vector<PolicySource>> LoadPolicyDirectory(const std::string& dir);

// The folder of the policies that ship with callguard (set at build time).
std::string DefaultPolicyDirectory();

}  // namespace callguard

#endif  // CALLGUARD_ENGINE_POLICY_LOADER_H_
