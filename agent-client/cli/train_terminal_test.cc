// `callguard train` as a trainee uses it: the real binary on a pseudo-terminal, lines typed
// one at a time after each prompt, the screen read back. Waits are bounded by deadlines and
// end as soon as the expected text is on the screen.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(20);  // generous: policy compilation on a cold cache

class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& args) {
    struct winsize size = {};
    size.ws_row = 50;
    size.ws_col = 200;
    pid_ = forkpty(&fd_, nullptr, nullptr, &size);
    if (pid_ == 0) {
      unsetenv("NO_COLOR");
      setenv("TERM", "xterm", 1);
      std::vector<char*> argv;
      static std::string binary = CALLGUARD_BINARY;
      argv.push_back(binary.data());
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
  }

  ~Terminal() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }

  bool started() const { return pid_ > 0 && fd_ >= 0; }

  // Reads until `text` appears on the screen after the cursor (then moves the cursor past it)
  // or the deadline passes.
  bool WaitFor(const std::string& text, absl::Duration timeout = kWait) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      const size_t at = screen_.find(text, cursor_);
      if (at != std::string::npos) {
        cursor_ = at + text.size();
        return true;
      }
      if (!ReadSome(deadline)) return false;
    }
  }

  // Types a line as a person would: the text, then Enter.
  void Type(const std::string& line) {
    const std::string keys = line + "\r";
    ASSERT_EQ(write(fd_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }

  // Reads to the end of output and returns the exit code (-1 on timeout).
  int Exit(absl::Duration timeout = kWait) {
    const absl::Time deadline = absl::Now() + timeout;
    while (ReadSome(deadline)) {
    }
    while (absl::Now() < deadline) {
      int status = 0;
      const pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      poll(nullptr, 0, 10);  // the child has closed its terminal; only reaping is left
    }
    return -1;
  }

  const std::string& screen() const { return screen_; }
  size_t cursor() const { return cursor_; }

 private:
  // False at end of output or at the deadline.
  bool ReadSome(absl::Time deadline) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    struct pollfd p = {fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1000))) <= 0) return absl::Now() < deadline;
    char buffer[4096];
    const ssize_t n = read(fd_, buffer, sizeof buffer);
    if (n <= 0) return false;  // EIO: the child closed the terminal
    screen_.append(buffer, n);
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  std::string screen_;
  size_t cursor_ = 0;
};

std::string StripAnsi(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !(text[i] >= '@' && text[i] <= '~')) ++i;
      continue;
    }
    if (text[i] != '\r') out += text[i];
  }
  return out;
}

constexpr char kIdentify[] = "Hi, this is Rachel Moreno with Copper Ridge Associates. May I speak with Tanya Fields?";
constexpr char kMiranda[] =
    "I'm required to tell you that I'm a debt collector. This is an attempt to collect a debt, and any information "
    "obtained will be used for that purpose. I'm calling about your Bluewater Medical Group account, which has a "
    "balance of $860.";

// The inducement trap: the trainee suggests borrowing; the warning appears right after the
// line, colored, with the regulation and better phrasing, before the debtor's answer; the
// debtor hangs up and the scorecard lists the violation with its regulation.
TEST(TrainTerminalTest, InducementWarningInlineAndOnTheScorecard) {
  const std::string save = ::testing::TempDir() + "/terminal-scorecard.json";
  std::remove(save.c_str());
  Terminal term({"train", "en-no-money", "--trainee", "Ana", "--save", save});
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.WaitFor("DEBTOR")) << term.screen();
  ASSERT_TRUE(term.WaitFor("you> ")) << term.screen();
  term.Type(kIdentify);
  ASSERT_TRUE(term.WaitFor("Yes, this is Tanya Fields.")) << term.screen();
  ASSERT_TRUE(term.WaitFor("you> "));
  term.Type(kMiranda);
  ASSERT_TRUE(term.WaitFor("I have no money")) << term.screen();
  ASSERT_TRUE(term.WaitFor("you> "));
  const size_t before_line = term.cursor();
  term.Type("Can't you just borrow it from your parents or take out a payday loan?");
  ASSERT_TRUE(term.WaitFor("hung up)")) << term.screen();

  // What the screen showed between typing the line and the hang-up.
  const std::string turn = StripAnsi(term.screen().substr(before_line, term.cursor() - before_line));
  const size_t echoed = turn.find("payday loan?");
  const size_t warning = turn.find("!! HIGH NEW_DEBT_INDUCEMENT");
  const size_t regulation = turn.find("regulation: FDCPA 15 U.S.C. 1692f");
  const size_t better = turn.find("say instead: ");
  const size_t reply = turn.find("DEBTOR: Ask my family for money?");
  ASSERT_NE(echoed, std::string::npos) << turn;
  ASSERT_NE(warning, std::string::npos) << turn;
  ASSERT_NE(regulation, std::string::npos) << turn;
  ASSERT_NE(better, std::string::npos) << turn;
  ASSERT_NE(reply, std::string::npos) << turn;
  EXPECT_LT(echoed, warning);
  EXPECT_LT(warning, regulation);
  EXPECT_LT(better, reply);
  // On a terminal the severity is colored (bold red for HIGH).
  EXPECT_THAT(term.screen().substr(before_line), HasSubstr("\x1b[1;31m!! HIGH NEW_DEBT_INDUCEMENT"));

  ASSERT_TRUE(term.WaitFor("scorecard saved to " + save)) << term.screen();
  EXPECT_EQ(term.Exit(), 0);
  const std::string screen = StripAnsi(term.screen());
  const std::string card = screen.substr(screen.find("=== Scorecard: en-no-money"));
  EXPECT_THAT(card, HasSubstr("trainee: Ana"));
  EXPECT_THAT(card, HasSubstr("ended: the counterparty hung up"));
  EXPECT_THAT(card, HasSubstr("score: 80/100"));
  EXPECT_THAT(card, HasSubstr("violations: 1"));
  EXPECT_THAT(card, HasSubstr("you said: \"Can't you just borrow it from your parents or take out a payday loan?\""));
  EXPECT_THAT(card, HasSubstr("NEW_DEBT_INDUCEMENT  rule us."));
  EXPECT_THAT(card, HasSubstr("regulation: FDCPA 15 U.S.C. 1692f"));
  EXPECT_THAT(card, HasSubstr("[ done] identified yourself"));
  EXPECT_THAT(card, HasSubstr("[ done] verified who is on the line"));
  EXPECT_THAT(card, HasSubstr("[ done] made the debt-collector statement"));

  std::ifstream saved(save);
  std::stringstream json;
  json << saved.rdbuf();
  EXPECT_THAT(json.str(), HasSubstr("\"trainee\": \"Ana\""));
  EXPECT_THAT(json.str(), HasSubstr("\"NEW_DEBT_INDUCEMENT\""));
  std::remove(save.c_str());
}

// A clean call scores full marks; /help lists the commands and /end ends the call.
TEST(TrainTerminalTest, CleanRunScoresFullMarks) {
  Terminal term({"train", "en-no-money"});
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.WaitFor("you> ")) << term.screen();
  term.Type("/help");
  ASSERT_TRUE(term.WaitFor("/end     end the call")) << term.screen();
  ASSERT_TRUE(term.WaitFor("you> "));
  term.Type(kIdentify);
  ASSERT_TRUE(term.WaitFor("Yes, this is Tanya Fields.")) << term.screen();
  ASSERT_TRUE(term.WaitFor("you> "));
  term.Type(kMiranda);
  ASSERT_TRUE(term.WaitFor("I have no money")) << term.screen();
  ASSERT_TRUE(term.WaitFor("you> "));
  term.Type("I'm sorry to hear that. We can set up a hardship plan that fits your budget. Could you manage twenty-five dollars a month?");
  ASSERT_TRUE(term.WaitFor("Would that be okay?")) << term.screen();
  ASSERT_TRUE(term.WaitFor("you> "));
  term.Type("/end");
  ASSERT_TRUE(term.WaitFor("=== Scorecard")) << term.screen();
  EXPECT_EQ(term.Exit(), 0);
  const std::string screen = StripAnsi(term.screen());
  EXPECT_THAT(screen, Not(HasSubstr("!! ")));
  EXPECT_THAT(screen, HasSubstr("ended: the trainee ended the call"));
  EXPECT_THAT(screen, HasSubstr("score: 100/100"));
  EXPECT_THAT(screen, HasSubstr("violations: 0"));
}

// A Chinese scenario on the terminal: the third-party disclosure to the mother is flagged
// inline with its regulation.
TEST(TrainTerminalTest, ChineseDisclosureToTheMother) {
  Terminal term({"train", "zh-parent-answers"});
  ASSERT_TRUE(term.started());
  ASSERT_TRUE(term.WaitFor("母亲")) << term.screen();
  ASSERT_TRUE(term.WaitFor("you> "));
  term.Type("您好，我是安信资产管理的王磊，工号8021，受恒通银行委托。请问是张伟先生吗？");
  ASSERT_TRUE(term.WaitFor("我是他妈妈")) << term.screen();
  ASSERT_TRUE(term.WaitFor("you> "));
  term.Type("阿姨，您儿子的借款已经逾期三个月了。");
  ASSERT_TRUE(term.WaitFor("THIRD_PARTY_DISCLOSURE")) << term.screen();
  ASSERT_TRUE(term.WaitFor("regulation: ")) << term.screen();
  ASSERT_TRUE(term.WaitFor("=== Scorecard")) << term.screen();  // she hangs up
  EXPECT_EQ(term.Exit(), 0);
  EXPECT_THAT(StripAnsi(term.screen()), HasSubstr("score: 80/100"));
}

}  // namespace
