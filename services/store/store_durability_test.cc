// An alert the store said was durable must survive SIGKILL of the process that wrote it. A
// helper process writes alerts and reports each durable sequence on a pipe; the test kills it
// mid-stream, twice (the second run reopens the file the first left behind), then reopens the
// file and looks for every reported alert.

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "sqlite_alert_store.h"

namespace callguard {
namespace {

// Runs the helper on `db_path`, kills it with SIGKILL once it has reported `kill_after`
// alerts, and returns every (sequence, alert id) it reported, including lines it wrote before
// it died that were still in the pipe.
std::map<uint64_t, std::string> RunAndKill(const std::string& db_path, size_t kill_after) {
  std::map<uint64_t, std::string> reported;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed";
    return reported;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);  // dup2 clears close-on-exec on the new descriptor
    execl(CALLGUARD_STORE_CRASH_WRITER, CALLGUARD_STORE_CRASH_WRITER, db_path.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  EXPECT_GT(pid, 0);

  std::string pending;
  bool killed = false;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n <= 0) break;  // EOF: the helper is gone
    pending.append(buffer, static_cast<size_t>(n));
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      uint64_t sequence = 0;
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &sequence)) {
        ADD_FAILURE() << "bad line from the helper: " << line;
        continue;
      }
      EXPECT_TRUE(reported.emplace(sequence, parts[1]).second) << "sequence reported twice";
    }
    if (!killed && reported.size() >= kill_after) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(killed) << "the helper stopped before it was killed; status " << status;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  EXPECT_TRUE(pending.empty()) << "a line was cut: " << pending;
  return reported;
}

TEST(StoreDurabilityTest, EveryAlertReportedDurableSurvivesSigkill) {
  std::string dir = (std::filesystem::path(::testing::TempDir()) / "store_crash_XXXXXX");
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string db_path = (std::filesystem::path(dir) / "alerts.db").string();

  std::map<uint64_t, std::string> reported;
  for (int run = 0; run < 2; ++run) {
    std::map<uint64_t, std::string> this_run = RunAndKill(db_path, 2000);
    ASSERT_GE(this_run.size(), 2000u);
    // The second run continues where the first one's durable alerts ended.
    if (!reported.empty()) {
      EXPECT_GT(this_run.begin()->first, reported.rbegin()->first);
    }
    reported.insert(this_run.begin(), this_run.end());
  }

  SqliteAlertStore::Options options;
  options.path = db_path;
  auto store = SqliteAlertStore::Create(options);
  ASSERT_TRUE(store.ok()) << store.status();  // the lock died with the helper
  for (const auto& [sequence, alert_id] : reported) {
    auto stored = (*store)->GetAlert(sequence);
    ASSERT_TRUE(stored.ok()) << "reported durable, then lost: " << sequence << " "
                             << stored.status();
    EXPECT_EQ(stored->alert().alert_id(), alert_id);
  }
  // Committed sequences have no gaps, whatever the kill interrupted.
  const uint64_t last = (*store)->LastSequence();
  EXPECT_GE(last, reported.rbegin()->first);
  uint64_t expected = 1;
  for (;;) {
    auto page = (*store)->AlertsAfter(expected - 1, {}, 1000);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (const v1::StoredAlert& a : *page) ASSERT_EQ(a.sequence(), expected++);
  }
  EXPECT_EQ(expected - 1, last);
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace callguard
