#include "alert_filter.h"

#include "gtest/gtest.h"

namespace callguard {
namespace {

v1::StoredAlert Stored(const std::string& agency, const std::string& agent,
                       const std::string& team, v1::Severity severity, v1::ViolationKind kind,
                       const std::string& call) {
  v1::StoredAlert stored;
  stored.set_team(team);
  v1::Alert* alert = stored.mutable_alert();
  alert->set_agency_id(agency);
  alert->set_agent_id(agent);
  alert->set_severity(severity);
  alert->set_violation(kind);
  alert->set_call_id(call);
  return stored;
}

TEST(AlertFilterTest, EmptyFilterMatchesEverything) {
  EXPECT_TRUE(AlertMatches({}, Stored("", "", "", v1::SEVERITY_UNSPECIFIED,
                                      v1::VIOLATION_KIND_UNSPECIFIED, "")));
}

TEST(AlertFilterTest, EachFieldNarrowsAndListsMeanAnyOf) {
  const v1::StoredAlert alert =
      Stored("acme", "ann", "east", v1::SEVERITY_HIGH, v1::ABUSIVE_LANGUAGE, "c1");
  v1::AlertFilter f;
  f.add_agency_ids("zeta");
  EXPECT_FALSE(AlertMatches(f, alert));
  f.add_agency_ids("acme");
  EXPECT_TRUE(AlertMatches(f, alert));
  f.add_agent_ids("bob");
  EXPECT_FALSE(AlertMatches(f, alert));
  f.add_agent_ids("ann");
  EXPECT_TRUE(AlertMatches(f, alert));
  f.add_teams("west");
  EXPECT_FALSE(AlertMatches(f, alert));
  f.add_teams("east");
  EXPECT_TRUE(AlertMatches(f, alert));
  f.set_min_severity(v1::SEVERITY_CRITICAL);
  EXPECT_FALSE(AlertMatches(f, alert));
  f.set_min_severity(v1::SEVERITY_HIGH);
  EXPECT_TRUE(AlertMatches(f, alert));
  f.add_violations(v1::PROHIBITED_THREAT);
  EXPECT_FALSE(AlertMatches(f, alert));
  f.add_violations(v1::ABUSIVE_LANGUAGE);
  EXPECT_TRUE(AlertMatches(f, alert));
  f.set_call_id("c2");
  EXPECT_FALSE(AlertMatches(f, alert));
  f.set_call_id("c1");
  EXPECT_TRUE(AlertMatches(f, alert));
}

TEST(AlertFilterTest, ValidationNamesTheBadField) {
  v1::AlertFilter f;
  EXPECT_TRUE(ValidateAlertFilter(f).ok());
  f.set_min_severity(static_cast<v1::Severity>(42));
  absl::Status status = ValidateAlertFilter(f);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("filter.min_severity"), absl::string_view::npos);

  f.Clear();
  f.add_violations(v1::VIOLATION_KIND_UNSPECIFIED);
  EXPECT_NE(ValidateAlertFilter(f).message().find("filter.violations[0]"),
            absl::string_view::npos);
  f.Clear();
  f.add_agent_ids("a");
  f.add_agent_ids("");
  EXPECT_NE(ValidateAlertFilter(f).message().find("filter.agent_ids[1]"),
            absl::string_view::npos);

  v1::AlertFilter calls;
  calls.add_teams("east");
  EXPECT_TRUE(ValidateCallFilter(calls).ok());
  calls.set_call_id("c1");
  EXPECT_EQ(ValidateCallFilter(calls).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace callguard
