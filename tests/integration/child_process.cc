#include "child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace callguard::testing {

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args) {
  int out[2], err[2];
  EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(err, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  std::vector<std::string> argv_strings = {program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0) << program;
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  out_.fd = out[0];
  err_.fd = err[0];
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_.fd >= 0) close(out_.fd);
  if (err_.fd >= 0) close(err_.fd);
}

std::optional<std::string> ChildProcess::ReadLine(Stream& stream, absl::Duration patience) {
  const absl::Time deadline = absl::Now() + patience;
  for (;;) {
    if (const size_t newline = stream.pending.find('\n'); newline != std::string::npos) {
      std::string line = stream.pending.substr(0, newline);
      stream.pending.erase(0, newline + 1);
      return line;
    }
    if (stream.eof) {
      if (stream.pending.empty()) return std::nullopt;
      std::string rest;
      rest.swap(stream.pending);
      return rest;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    pollfd p{stream.fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(stream.fd, buffer, sizeof(buffer));
    if (n <= 0) {
      stream.eof = true;
    } else {
      stream.pending.append(buffer, static_cast<size_t>(n));
    }
  }
}

bool ChildProcess::Until(Stream& stream, const std::string& needle, std::string* seen) {
  while (auto line = ReadLine(stream, absl::Seconds(60))) {
    *seen += *line + "\n";
    if (line->find(needle) != std::string::npos) return true;
  }
  return false;
}

std::optional<std::string> ChildProcess::StdoutLine(absl::Duration patience) {
  return ReadLine(out_, patience);
}
std::optional<std::string> ChildProcess::StderrLine(absl::Duration patience) {
  return ReadLine(err_, patience);
}
bool ChildProcess::StdoutUntil(const std::string& needle, std::string* seen) {
  return Until(out_, needle, seen);
}
bool ChildProcess::StderrUntil(const std::string& needle, std::string* seen) {
  return Until(err_, needle, seen);
}

void ChildProcess::Signal(int signal_number) {
  if (pid_ > 0 && !reaped_) kill(pid_, signal_number);
}

int ChildProcess::Wait() {
  int status = 0;
  EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
  reaped_ = true;
  return status;
}

}  // namespace callguard::testing
