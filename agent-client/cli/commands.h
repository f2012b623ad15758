#ifndef CALLGUARD_CLI_COMMANDS_H_
#define CALLGUARD_CLI_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace callguard::cli {

// Exit codes of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // errors, failed examples, lint errors
inline constexpr int kExitUsage = 2;    // bad command line

// The whole `callguard` command line without the program name: dispatches to a command.
int RunCallguard(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Each command takes its own arguments (without the command name).
int ReplayCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int CheckCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int EvalCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int TestPolicyCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int LintPolicyCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_COMMANDS_H_
