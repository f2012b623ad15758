#ifndef CALLGUARD_CLI_POLICY_LINT_H_
#define CALLGUARD_CLI_POLICY_LINT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "callguard/v1/policy.pb.h"

namespace callguard::cli {

// A problem `callguard lint-policy` reports beyond what the compiler already refuses.
struct LintWarning {
  int line = 0;  // 1-based line in the policy file; 0 if it could not be located
  std::string message;
};

// Warnings for a policy that parses and compiles: phrase sets no rule or party inference
// uses, enabled rules without a citation or coaching, enabled rules whose kind no example
// expects, and examples expecting a kind no enabled rule raises. `source_text` is the file's
// text, used only to point at lines.
std::vector<LintWarning> LintPolicy(const v1::Policy& policy, absl::string_view source_text);

// The 1-based line of the first `key: "value"` in a text-format file, or 0.
int DeclarationLine(absl::string_view text, absl::string_view key, absl::string_view value);

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_POLICY_LINT_H_
