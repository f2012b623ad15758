#ifndef CALLGUARD_CLI_SCRIPT_LINT_H_
#define CALLGUARD_CLI_SCRIPT_LINT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine.h"

namespace callguard::cli {

// An agency's approved call script, checked against a policy as if a collector read it out
// on a call to the debtor's phone, section by section:
//  - headings are `## Name` (any number of #) or `[Name]`; the first section is the opening;
//    a section whose name mentions verification ("Verification", "Verify identity", 核实,
//    确认身份, 验证, 身份) is where the debtor is verified: after it, the engine is told the
//    debtor is on the line;
//  - every other non-blank line is something the collector says, except comments (`//`),
//    counterparty cues (`>`) and stage directions wholly in parentheses; a leading
//    "Agent:" / "Collector:" / "坐席:" label is dropped;
//  - placeholders {agent}, {agent_id}, {agency}, {debtor}, {creditor}, {amount}, {callback}
//    are filled with sample values (or those given) before checking.
// Findings: every alert the engine raises on a line (rule, words, regulation, coaching), and
// required elements that are missing: agent and organization identified in the opening, a
// verification section, the debt-collector statement where the policy has that rule. Debt
// mentioned before verification is the policy's own third-party disclosure rule.
struct ScriptLintOptions {
  std::string policy_id;  // empty: the first loaded policy of the script's language (CJK: zh, else en)
  std::string agency, agent, agent_id, debtor;  // override the sample values
};

struct ScriptFinding {
  int line = 1;
  std::string rule;        // rule id, or "script.opening" / "script.verification" / "script.disclosure"
  std::string kind;        // violation kind name, or "MISSING_ELEMENT"
  std::string words;       // "\"arrested\", \"police\"" (empty for a missing element)
  std::string regulation;  // "FDCPA 15 U.S.C. 1692e(4); ..."
  std::string better;      // the coaching, or what to add
};

struct ScriptLintResult {
  std::string policy_id;
  int lines_checked = 0;
  std::vector<ScriptFinding> findings;  // by line
};

absl::StatusOr<ScriptLintResult> LintScript(const std::shared_ptr<const Engine>& engine, absl::string_view text,
                                            const ScriptLintOptions& options);

// "FILE:LINE: rule: words (regulation) -> better phrasing".
std::string FormatScriptFinding(absl::string_view path, const ScriptFinding& finding);

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_SCRIPT_LINT_H_
