#include "alert_filter.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace callguard {
namespace {

bool ListAllows(const google::protobuf::RepeatedPtrField<std::string>& allowed,
                const std::string& value) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

absl::Status NoEmptyIds(const google::protobuf::RepeatedPtrField<std::string>& ids,
                        absl::string_view field) {
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, "[", i, "] is empty"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool AlertMatches(const v1::AlertFilter& filter, const v1::StoredAlert& stored) {
  const v1::Alert& alert = stored.alert();
  if (!ListAllows(filter.agency_ids(), alert.agency_id())) return false;
  if (!ListAllows(filter.agent_ids(), alert.agent_id())) return false;
  if (!ListAllows(filter.teams(), stored.team())) return false;
  if (alert.severity() < filter.min_severity()) return false;
  if (!filter.violations().empty() &&
      std::find(filter.violations().begin(), filter.violations().end(), alert.violation()) ==
          filter.violations().end()) {
    return false;
  }
  if (!filter.call_id().empty() && filter.call_id() != alert.call_id()) return false;
  return true;
}

absl::Status ValidateAlertFilter(const v1::AlertFilter& filter) {
  if (!v1::Severity_IsValid(filter.min_severity())) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter.min_severity: unknown severity ", filter.min_severity()));
  }
  for (int i = 0; i < filter.violations_size(); ++i) {
    const int kind = filter.violations(i);
    if (!v1::ViolationKind_IsValid(kind) || kind == v1::VIOLATION_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter.violations[", i, "]: unknown violation kind ", kind));
    }
  }
  if (absl::Status s = NoEmptyIds(filter.agency_ids(), "filter.agency_ids"); !s.ok()) return s;
  if (absl::Status s = NoEmptyIds(filter.agent_ids(), "filter.agent_ids"); !s.ok()) return s;
  return NoEmptyIds(filter.teams(), "filter.teams");
}

absl::Status ValidateCallFilter(const v1::AlertFilter& filter) {
  if (filter.min_severity() != v1::SEVERITY_UNSPECIFIED || !filter.violations().empty() ||
      !filter.call_id().empty()) {
    return absl::InvalidArgumentError(
        "filter: only agency_ids, agent_ids and teams apply to calls");
  }
  return ValidateAlertFilter(filter);
}

}  // namespace callguard
