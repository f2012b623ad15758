#ifndef CALLGUARD_CLI_TRAINING_SCENARIO_H_
#define CALLGUARD_CLI_TRAINING_SCENARIO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "callguard/v1/training.pb.h"
#include "engine.h"

namespace callguard::cli {

// A training scenario as read from its text-format file, with the lines its parts start on so
// that validation messages point into the file.
struct LoadedScenario {
  v1::Scenario scenario;
  std::string path;
  int id_line = 1;
  int opening_line = 1;
  int initial_state_line = 1;
  int example_run_line = 1;
  std::vector<int> state_lines;                // per state
  std::vector<std::vector<int>> branch_lines;  // per state, per branch
  std::vector<int> intent_lines;               // per IntentPhrases
  std::vector<int> bad_run_lines;              // per bad run
};

struct ScenarioIssue {
  enum class Level { kError, kWarning };
  Level level = Level::kError;
  int line = 1;
  std::string message;
};

// Parses a scenario. Errors name the file, line and column: "x.textproto:12:5: ...".
absl::StatusOr<LoadedScenario> ParseScenarioText(absl::string_view text, absl::string_view name);
absl::StatusOr<LoadedScenario> LoadScenarioFile(const std::string& path);

// Checks a parsed scenario: required fields (id, policy, counterparty role, opening line,
// debtor name, at least one state), unknown and unreachable states, duplicate state names,
// branches without an intent or reply, and, when `engine` is given, the policy, its language,
// the phrase sets named in `intents` and whether the policy has a debt-collector statement
// rule for COLLECTOR_DISCLOSURE. Warnings: no example run, no way for the counterparty to
// hang up.
std::vector<ScenarioIssue> ValidateScenario(const LoadedScenario& loaded, const Engine* engine);

bool HasErrors(const std::vector<ScenarioIssue>& issues);

// "path:line: error: message".
std::string FormatIssue(const LoadedScenario& loaded, const ScenarioIssue& issue);

// The state the call starts in: `initial_state`, else the first state.
std::string InitialState(const v1::Scenario& scenario);

// The folder of the shipped scenarios (set at build time).
std::string DefaultTrainingDirectory();

// Every `*.textproto` scenario file directly in `dir`, sorted.
absl::StatusOr<std::vector<std::string>> ListScenarioFiles(const std::string& dir);

// A scenario named on the command line: an existing file, else a scenario id looked up in
// `dir` (file `<id>.textproto`, or any file whose `id` matches).
absl::StatusOr<std::string> ResolveScenarioPath(const std::string& name_or_path, const std::string& dir);

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_TRAINING_SCENARIO_H_
