#ifndef CALLGUARD_CLI_TRAIN_COMMAND_H_
#define CALLGUARD_CLI_TRAIN_COMMAND_H_

#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace callguard::cli {

// Where a training session reads and writes. `interactive`: the input is a terminal (print
// a prompt; otherwise each line read is echoed so piped output reads as a transcript).
struct TrainIo {
  std::istream* in;
  std::ostream* out;
  std::ostream* err;
  bool color = false;
  bool interactive = false;
};

// `callguard train SCENARIO ...` with explicit streams (tests).
int RunTrain(const std::vector<std::string>& args, const TrainIo& io);

// The commands, as dispatched by RunCallguard(). TrainCommand reads standard input and colors
// its output when standard output is a terminal.
int TrainCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int TrainCompareCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int LintScenarioCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int LintScriptCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_TRAIN_COMMAND_H_
