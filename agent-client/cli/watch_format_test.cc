// `callguard watch` without a server: its output format and its command line. The streaming
// itself is tested against a real server in tests/integration (watch_cli_test).
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "watch_command.h"

namespace callguard::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::StoredAlert SampleAlert() {
  v1::StoredAlert stored;
  stored.set_sequence(42);
  stored.set_agent_name("Mark Lee");
  v1::Alert& alert = *stored.mutable_alert();
  alert.set_call_id("call-7");
  alert.set_turn(3);
  alert.set_agent_id("A1042");
  alert.set_violation(v1::PROHIBITED_THREAT);
  alert.set_severity(v1::SEVERITY_CRITICAL);
  alert.set_rule_id("us.threat.arrest");
  alert.set_coaching("Describe only lawful next steps.");
  alert.add_evidence()->set_text("police");
  alert.add_evidence()->set_text("arrest you");
  alert.mutable_time()->set_seconds(1767225600);
  return stored;
}

TEST(WatchFormatTest, PlainAlertNamesEverythingASupervisorActsOn) {
  const std::string text = FormatWatchedAlert(SampleAlert(), /*color=*/false);
  for (const char* part : {"#42", "CRITICAL", "PROHIBITED_THREAT", "A1042 (Mark Lee)", "call call-7",
                           "turn 3", "us.threat.arrest", "\"police\", \"arrest you\"",
                           "coaching: Describe only lawful next steps."}) {
    EXPECT_THAT(text, HasSubstr(part));
  }
  EXPECT_THAT(text, Not(HasSubstr("\x1b["))) << "no escape codes without color";
  EXPECT_THAT(text, Not(HasSubstr("acknowledged")));
}

TEST(WatchFormatTest, ColorDependsOnSeverity) {
  v1::StoredAlert critical = SampleAlert();
  v1::StoredAlert low = SampleAlert();
  low.mutable_alert()->set_severity(v1::SEVERITY_LOW);
  const std::string critical_text = FormatWatchedAlert(critical, /*color=*/true);
  const std::string low_text = FormatWatchedAlert(low, /*color=*/true);
  EXPECT_THAT(critical_text, HasSubstr("\x1b[1;97;41mCRITICAL"));
  EXPECT_THAT(low_text, HasSubstr("\x1b[36mLOW"));
  EXPECT_THAT(critical_text, HasSubstr("\x1b[0m"));
}

TEST(WatchFormatTest, AcknowledgementsShowWhoAndWhy) {
  v1::StoredAlert acked = SampleAlert();
  acked.mutable_acknowledgement()->set_supervisor("sam");
  acked.mutable_acknowledgement()->set_note("coached");
  EXPECT_THAT(FormatWatchedAlert(acked, false), HasSubstr("acknowledged by sam: coached"));

  v1::Acknowledgement ack = acked.acknowledgement();
  ack.set_alert_sequence(42);
  ack.set_call_id("call-7");
  const std::string line = FormatWatchedAcknowledgement(ack, false);
  EXPECT_THAT(line, HasSubstr("#42 acknowledged by sam: coached"));
  EXPECT_THAT(line, HasSubstr("call call-7"));
}

TEST(WatchCommandTest, RejectsBadFiltersBeforeConnecting) {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  for (const Case& c : std::vector<Case>{{{"--min-severity", "severe"}, "--min-severity"},
                                         {{"--kind", "prohibited-threat,rudeness"}, "rudeness"},
                                         {{"--count", "0"}, "--count"},
                                         {{"--after-sequence", "x"}, "--after-sequence"},
                                         {{"--colour"}, "--colour"}}) {
    std::ostringstream out, err;
    std::vector<std::string> args = {"watch"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(RunCallguard(args, out, err), kExitUsage) << c.mentions;
    EXPECT_THAT(err.str(), HasSubstr(c.mentions));
  }
  std::ostringstream out, err;
  EXPECT_EQ(RunCallguard({"help", "watch"}, out, err), kExitOk);
  EXPECT_THAT(out.str(), HasSubstr("--min-severity"));
}

}  // namespace
}  // namespace callguard::cli
