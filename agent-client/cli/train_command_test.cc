#include "train_command.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scorecard.h"
#include "training_test_support.h"

namespace callguard::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing_support::SourcePath;

struct TrainRun {
  int code;
  std::string out, err;
};

TrainRun Train(std::vector<std::string> args, const std::string& input) {
  std::istringstream in(input);
  std::ostringstream out, err;
  TrainIo io{&in, &out, &err, /*color=*/false, /*interactive=*/false};
  const int code = RunTrain(args, io);
  return {code, out.str(), err.str()};
}

// Piped input: each line is echoed after "you> ", warnings come right after the offending
// line and before the counterparty's answer, and the scorecard follows.
TEST(TrainCommandTest, PipedInducementTrapShowsTheWarningInline) {
  const std::string input =
      "Hi, this is Rachel Moreno with Copper Ridge Associates. May I speak with Tanya Fields?\n"
      "I'm required to tell you that I'm a debt collector. This is an attempt to collect a debt, and any "
      "information obtained will be used for that purpose. It's about your Bluewater Medical Group balance of $860.\n"
      "Can't you borrow it from your parents?\n";
  TrainRun run = Train({"en-no-money", "--trainee", "Ana"}, input);
  ASSERT_EQ(run.code, kExitOk) << run.err;
  const std::string& o = run.out;
  EXPECT_THAT(o, HasSubstr("=== Training: No money: the inducement trap"));
  EXPECT_THAT(o, HasSubstr("DEBTOR: Hello, this is Tanya."));
  const size_t line = o.find("you> Can't you borrow it from your parents?");
  const size_t warning = o.find("!! HIGH NEW_DEBT_INDUCEMENT", line);
  const size_t reply = o.find("DEBTOR: Ask my family for money?", line);
  ASSERT_NE(line, std::string::npos) << o;
  ASSERT_NE(warning, std::string::npos) << o;
  ASSERT_NE(reply, std::string::npos) << o;
  EXPECT_LT(warning, reply);
  EXPECT_THAT(o, HasSubstr("(DEBTOR hung up)"));
  EXPECT_THAT(o, HasSubstr("ended: the counterparty hung up"));
  EXPECT_THAT(o, HasSubstr("violations: 1"));
  EXPECT_THAT(o, HasSubstr("regulation: "));
  EXPECT_THAT(o, Not(HasSubstr("\x1b[")));
}

TEST(TrainCommandTest, CommandsEndOfInputAndSaveThenCompare) {
  const std::string dir = ::testing::TempDir();
  const std::string first = dir + "/train-first.json", second = dir + "/train-second.json";
  TrainRun run = Train({"en-parent-answers", "--trainee", "Ana", "--save", first},
                  "/help\n/status\nHi, this is Rachel Moreno with Copper Ridge Associates. May I speak with Daniel Brooks?\n"
                  "He owes us money on a past due credit card.\n");
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("/end     end the call"));
  EXPECT_THAT(run.out, HasSubstr("on the line: unknown; identified: no"));
  EXPECT_THAT(run.out, HasSubstr("THIRD_PARTY_DISCLOSURE"));
  EXPECT_THAT(run.out, HasSubstr("scorecard saved to " + first));

  run = Train({"en-parent-answers", "--trainee", "Ana", "--save", second},
              "Hi, this is Rachel Moreno with Copper Ridge Associates. May I speak with Daniel Brooks?\n/end\nnever read\n");
  ASSERT_EQ(run.code, kExitOk) << run.err;
  EXPECT_THAT(run.out, HasSubstr("ended: the trainee ended the call"));
  EXPECT_THAT(run.out, Not(HasSubstr("never read")));

  absl::StatusOr<v1::Scorecard> card = ReadScorecardFile(second);
  ASSERT_TRUE(card.ok()) << card.status();
  EXPECT_EQ(card->trainee(), "Ana");
  EXPECT_EQ(card->scenario_id(), "en-parent-answers");
  EXPECT_EQ(card->score(), 100);

  std::ostringstream out, err;
  ASSERT_EQ(RunCallguard({"train-compare", first, second}, out, err), kExitOk) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("trainee Ana: 2 run(s)"));
  EXPECT_THAT(out.str(), HasSubstr("score trend: 80 -> 100 (+20)"));
  std::remove(first.c_str());
  std::remove(second.c_str());
}

TEST(TrainCommandTest, UsageAndErrors) {
  EXPECT_EQ(Train({}, "").code, kExitUsage);
  EXPECT_EQ(Train({"en-no-money", "--bogus"}, "").code, kExitUsage);
  TrainRun check = Train({"en-no-money", "--check"}, "");
  EXPECT_EQ(check.code, kExitOk) << check.out;
  EXPECT_THAT(check.out, HasSubstr("en-no-money.textproto: ok (en-no-money: example run clean"));
  TrainRun unknown = Train({"no-such-scenario"}, "");
  EXPECT_EQ(unknown.code, kExitFailure);
  EXPECT_THAT(unknown.err, HasSubstr("no scenario file or id 'no-such-scenario'"));
  TrainRun list = Train({"--list"}, "");
  EXPECT_EQ(list.code, kExitOk);
  EXPECT_THAT(list.out, HasSubstr("zh-no-money  [cn-collection]"));

  // A scenario with a broken state machine is refused with file:line.
  const std::string bad = ::testing::TempDir() + "/broken.textproto";
  std::ofstream(bad) << "id: \"b\"\npolicy: \"us-fdcpa\"\ncounterparty_role: \"X\"\nopening_line: \"Hi\"\n"
                        "call { debtor { name: \"D\" } }\nstates { name: \"a\" on { intent: OTHER reply: \"r\" next: \"zz\" } default_reply: \"d\" }\n";
  TrainRun broken = Train({bad}, "");
  EXPECT_EQ(broken.code, kExitFailure);
  EXPECT_THAT(broken.err, HasSubstr(bad + ":6: error: unknown state 'zz'"));

  std::ostringstream out, err;
  EXPECT_EQ(RunCallguard({"lint-scenario", bad}, out, err), kExitFailure);
  EXPECT_THAT(out.str(), HasSubstr("0/1 scenario(s) ok"));
  out.str("");
  EXPECT_EQ(RunCallguard({"lint-scenario", SourcePath("training/zh-no-money.textproto")}, out, err), kExitOk) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("1/1 scenario(s) ok"));
  EXPECT_EQ(RunCallguard({"train-compare"}, out, err), kExitUsage);
  EXPECT_EQ(RunCallguard({"train-compare", "/nonexistent/x.json"}, out, err), kExitFailure);
}

}  // namespace
}  // namespace callguard::cli
