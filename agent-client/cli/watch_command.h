#ifndef CALLGUARD_CLI_WATCH_COMMAND_H_
#define CALLGUARD_CLI_WATCH_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

#include "callguard/v1/supervisor.pb.h"

namespace callguard::cli {

// `callguard watch`: tails a server's live alerts (Supervisor.WatchAlerts), resuming after a
// reconnect from the last sequence it printed, so nothing is missed or printed twice.
int WatchCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// How `watch` prints one alert: a header line (time, sequence, severity, kind, agent, call and
// turn, rule), then the evidence words and the coaching, indented. ANSI colors by severity if
// `color`.
std::string FormatWatchedAlert(const v1::StoredAlert& stored, bool color);
// One line for an acknowledgement.
std::string FormatWatchedAcknowledgement(const v1::Acknowledgement& ack, bool color);

}  // namespace callguard::cli

#endif  // CALLGUARD_CLI_WATCH_COMMAND_H_
