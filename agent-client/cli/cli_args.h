#ifndef CALLGUARD_AGENT_CLIENT_CLI_CLI_ARGS_H_
#define CALLGUARD_AGENT_CLIENT_CLI_CLI_ARGS_H_

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine.h"

namespace callguard::cli {

// A command line split into flags and positional arguments. Only "--name" arguments are
// flags, so utterance text such as "-5 dollars" stays positional; "--" ends the flags.
struct ParsedArgs {
  std::vector<std::string> positional;
  absl::flat_hash_map<std::string, std::string> values;
  absl::flat_hash_set<std::string> switches;

  bool Has(const std::string& name) const { return values.contains(name) || switches.contains(name); }
  std::string Value(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? "" : it->second;
  }
};

struct FlagSpec {
  std::vector<std::string> with_value;
  std::vector<std::string> switches;
};

// Parses `args` by `spec` ("--name value", "--name=value", switches, "-h" for --help); an unknown
// option, a missing value or a flag given twice is INVALID_ARGUMENT.
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const FlagSpec& spec);

// Prints "callguard: MESSAGE" and the usage text; returns kExitUsage (commands.h).
int UsageError(std::ostream& err, absl::string_view message, absl::string_view usage);

// The engine with the policies of --policies (default: the shipped folder); the error names the
// folder.
absl::StatusOr<std::shared_ptr<const Engine>> LoadEngine(const ParsedArgs& args);

}  // namespace callguard::cli

#endif  // CALLGUARD_AGENT_CLIENT_CLI_CLI_ARGS_H_
