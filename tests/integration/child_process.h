#ifndef CALLGUARD_TESTS_INTEGRATION_CHILD_PROCESS_H_
#define CALLGUARD_TESTS_INTEGRATION_CHILD_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace callguard::testing {

// A program run as a child process with its stdout and stderr on pipes, read line by line.
// Killed (SIGKILL) and reaped on destruction if still running.
class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line (without its newline), waiting at most `patience` (a guard against a hung
  // test, not a timing assertion); nullopt at end of stream or when patience runs out.
  std::optional<std::string> StdoutLine(absl::Duration patience = absl::Seconds(60));
  std::optional<std::string> StderrLine(absl::Duration patience = absl::Seconds(60));
  // Reads lines until one contains `needle`; every line read is appended to `seen`.
  bool StdoutUntil(const std::string& needle, std::string* seen);
  bool StderrUntil(const std::string& needle, std::string* seen);

  void Signal(int signal_number);
  // The exit status (as from waitpid) once the child ends.
  int Wait();
  pid_t pid() const { return pid_; }

 private:
  struct Stream {
    int fd = -1;
    std::string pending;
    bool eof = false;
  };
  static std::optional<std::string> ReadLine(Stream& stream, absl::Duration patience);
  static bool Until(Stream& stream, const std::string& needle, std::string* seen);

  pid_t pid_ = -1;
  bool reaped_ = false;
  Stream out_;
  Stream err_;
};

}  // namespace callguard::testing

#endif  // CALLGUARD_TESTS_INTEGRATION_CHILD_PROCESS_H_
