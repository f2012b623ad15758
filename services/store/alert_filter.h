#ifndef CALLGUARD_STORE_ALERT_FILTER_H_
#define CALLGUARD_STORE_ALERT_FILTER_H_

#include "absl/status/status.h"
#include "callguard/v1/supervisor.pb.h"

namespace callguard {

// Whether a stored alert passes the filter: the same rule the store's queries apply in SQL, for
// filtering live alerts in memory.
bool AlertMatches(const v1::AlertFilter& filter, const v1::StoredAlert& stored);

// INVALID_ARGUMENT (naming the field, e.g. "filter.min_severity") for values no alert can have:
// an out-of-range severity or kind, an empty id in a list.
absl::Status ValidateAlertFilter(const v1::AlertFilter& filter);

// A filter for calls rather than alerts: only agency_ids, agent_ids and teams may be set.
absl::Status ValidateCallFilter(const v1::AlertFilter& filter);

}  // namespace callguard

#endif  // CALLGUARD_STORE_ALERT_FILTER_H_
