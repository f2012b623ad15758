#include "watch_command.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "callguard/v1/supervisor.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace callguard::cli {
namespace {

constexpr char kWatchUsage[] = R"(usage: callguard watch [--server HOST:PORT] [filters] [options]

Tails a callguard server's live alerts: one block per alert with its time, sequence number,
severity, kind, agent, call and turn, rule, evidence words and coaching; acknowledgements
as they happen. After a lost connection it reconnects (with backoff) and resumes after the
last alert it printed: nothing is missed, nothing printed twice. Stop it with Ctrl-C.
  --server HOST:PORT      the server (default 127.0.0.1:50051)
  --agent ID[,ID...]      only these agents (Agent.agent_id)
  --agency ID[,ID...]     only these agencies (Agency.id)
  --team NAME[,NAME...]   only these teams
  --min-severity S        low, medium, high or critical
  --kind K[,K...]         violation kinds, e.g. prohibited-threat,third-party-disclosure
  --call ID               only this call
  --after-sequence N      first print the stored alerts after sequence N (0: all of them)
  --count N               exit after printing N alerts
  --no-color, --color     colors are on when stdout is a terminal (and NO_COLOR is unset)
Status lines (connected, reconnecting, fell behind) go to stderr.
)";

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(250);
constexpr absl::Duration kMaxBackoff = absl::Seconds(8);

constexpr char kReset[] = "\x1b[0m";
constexpr char kBold[] = "\x1b[1m";
constexpr char kAckColor[] = "\x1b[32m";

const char* SeverityColor(v1::Severity severity) {
  switch (severity) {
    case v1::SEVERITY_CRITICAL:
      return "\x1b[1;97;41m";  // bold white on red
    case v1::SEVERITY_HIGH:
      return "\x1b[1;31m";
    case v1::SEVERITY_MEDIUM:
      return "\x1b[33m";
    case v1::SEVERITY_LOW:
      return "\x1b[36m";
    default:
      return "";
  }
}

std::string SeverityName(v1::Severity severity) {
  absl::string_view name = v1::Severity_Name(severity);
  absl::ConsumePrefix(&name, "SEVERITY_");
  return std::string(name);
}

std::string LocalTime(const google::protobuf::Timestamp& stamp) {
  const absl::Time time = absl::FromUnixSeconds(stamp.seconds()) + absl::Nanoseconds(stamp.nanos());
  const absl::TimeZone zone = absl::LocalTimeZone();
  const bool today = absl::FormatTime("%Y-%m-%d", time, zone) ==
                     absl::FormatTime("%Y-%m-%d", absl::Now(), zone);
  return absl::FormatTime(today ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", time, zone);
}

// "third-party-disclosure", "THIRD_PARTY_DISCLOSURE" both name the kind.
std::string EnumSpelling(absl::string_view text) {
  return absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}}));
}

struct WatchOptions {
  std::string server = "127.0.0.1:50051";
  v1::AlertFilter filter;
  std::optional<uint64_t> after_sequence;
  int64_t count = 0;  // 0: until interrupted
  bool color = false;
};

absl::StatusOr<WatchOptions> ParseWatchArgs(const std::vector<std::string>& args, bool* help,
                                            bool stdout_is_terminal) {
  WatchOptions options;
  std::optional<bool> color;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    if (name == "--help" || name == "-h") {
      *help = true;
      return options;
    }
    if (name == "--no-color" || name == "--color") {
      color = name == "--color";
      continue;
    }
    if (!absl::StartsWith(name, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument ", name));
    }
    name = name.substr(2);
    std::string value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = args[++i];
    }
    const std::vector<std::string> list = absl::StrSplit(value, ',', absl::SkipWhitespace());
    v1::AlertFilter& filter = options.filter;
    if (name == "server") {
      options.server = value;
    } else if (name == "agent") {
      for (const std::string& id : list) filter.add_agent_ids(std::string(absl::StripAsciiWhitespace(id)));
    } else if (name == "agency") {
      for (const std::string& id : list) filter.add_agency_ids(std::string(absl::StripAsciiWhitespace(id)));
    } else if (name == "team") {
      for (const std::string& team : list) filter.add_teams(std::string(absl::StripAsciiWhitespace(team)));
    } else if (name == "call") {
      filter.set_call_id(value);
    } else if (name == "min-severity") {
      v1::Severity severity;
      const std::string spelled = EnumSpelling(value);
      if ((!v1::Severity_Parse("SEVERITY_" + spelled, &severity) &&
           !v1::Severity_Parse(spelled, &severity)) ||
          severity == v1::SEVERITY_UNSPECIFIED) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--min-severity: unknown severity \"", value, "\" (low, medium, high, critical)"));
      }
      filter.set_min_severity(severity);
    } else if (name == "kind") {
      for (const std::string& text : list) {
        v1::ViolationKind kind;
        if (!v1::ViolationKind_Parse(EnumSpelling(absl::StripAsciiWhitespace(text)), &kind) ||
            kind == v1::VIOLATION_KIND_UNSPECIFIED) {
          return absl::InvalidArgumentError(absl::StrCat("--kind: unknown violation kind \"", text, "\""));
        }
        filter.add_violations(kind);
      }
    } else if (name == "after-sequence") {
      uint64_t after = 0;
      if (!absl::SimpleAtoi(value, &after)) {
        return absl::InvalidArgumentError(absl::StrCat("--after-sequence wants a number, got \"", value, "\""));
      }
      options.after_sequence = after;
    } else if (name == "count") {
      if (!absl::SimpleAtoi(value, &options.count) || options.count < 1) {
        return absl::InvalidArgumentError(absl::StrCat("--count wants a positive number, got \"", value, "\""));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    }
  }
  const char* no_color = getenv("NO_COLOR");
  const char* term = getenv("TERM");
  options.color = color.value_or(stdout_is_terminal && (no_color == nullptr || *no_color == '\0') &&
                                 !(term != nullptr && std::string(term) == "dumb"));
  return options;
}

std::string Seconds(absl::Duration d) { return absl::StrCat(absl::ToDoubleSeconds(d), "s"); }

}  // namespace

std::string FormatWatchedAlert(const v1::StoredAlert& stored, bool color) {
  const v1::Alert& alert = stored.alert();
  const char* severity_color = color ? SeverityColor(alert.severity()) : "";
  const char* reset = color ? kReset : "";
  const char* bold = color ? kBold : "";
  std::string agent = alert.agent_id().empty() ? "?" : alert.agent_id();
  if (!stored.agent_name().empty()) absl::StrAppend(&agent, " (", stored.agent_name(), ")");
  const google::protobuf::Timestamp& when = alert.has_time() ? alert.time() : stored.stored_time();
  std::string out = absl::StrCat(LocalTime(when), " #", stored.sequence(), " ", severity_color,
                                 SeverityName(alert.severity()), " ",
                                 v1::ViolationKind_Name(alert.violation()), reset, "  agent ", agent,
                                 "  call ", alert.call_id(), " turn ", alert.turn(), "  rule ",
                                 alert.rule_id());
  if (alert.interim()) absl::StrAppend(&out, " (interim)");
  absl::StrAppend(&out, "\n");
  if (alert.evidence_size() > 0) {
    std::vector<std::string> words;
    for (const v1::Evidence& evidence : alert.evidence()) {
      words.push_back(absl::StrCat("\"", bold, evidence.text(), reset, "\""));
    }
    absl::StrAppend(&out, "    evidence: ", absl::StrJoin(words, ", "), "\n");
  }
  if (!alert.coaching().empty()) absl::StrAppend(&out, "    coaching: ", alert.coaching(), "\n");
  if (stored.has_acknowledgement()) {
    const v1::Acknowledgement& ack = stored.acknowledgement();
    absl::StrAppend(&out, "    ", color ? kAckColor : "", "acknowledged by ", ack.supervisor(),
                    ack.note().empty() ? "" : absl::StrCat(": ", ack.note()), reset, "\n");
  }
  return out;
}

std::string FormatWatchedAcknowledgement(const v1::Acknowledgement& ack, bool color) {
  return absl::StrCat(LocalTime(ack.time()), " #", ack.alert_sequence(), " ", color ? kAckColor : "",
                      "acknowledged by ", ack.supervisor(), color ? kReset : "",
                      ack.note().empty() ? "" : absl::StrCat(": ", ack.note()), "  call ", ack.call_id(),
                      "\n");
}

int WatchCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  bool help = false;
  absl::StatusOr<WatchOptions> options =
      ParseWatchArgs(args, &help, &out == &std::cout && isatty(STDOUT_FILENO));
  if (!options.ok()) {
    err << "callguard: " << options.status().message() << "\n\n" << kWatchUsage;
    return 2;
  }
  if (help) {
    out << kWatchUsage;
    return 0;
  }

  auto stub = v1::Supervisor::NewStub(
      grpc::CreateChannel(options->server, grpc::InsecureChannelCredentials()));
  // Where to resume: every matching alert (acknowledgement) up to these was printed.
  std::optional<uint64_t> position = options->after_sequence;
  std::optional<uint64_t> ack_position;
  absl::Duration backoff = kFirstBackoff;
  int64_t printed = 0;
  bool connected_before = false;

  for (;;) {
    v1::WatchRequest request;
    *request.mutable_filter() = options->filter;
    if (position.has_value()) request.set_after_sequence(*position);
    if (ack_position.has_value()) request.set_after_ack_sequence(*ack_position);
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> stream = stub->WatchAlerts(&context, request);
    v1::WatchEvent event;
    bool fell_behind = false;
    while (stream->Read(&event)) {
      switch (event.event_case()) {
        case v1::WatchEvent::kAlert: {
          const uint64_t sequence = event.alert().sequence();
          if (position.has_value() && sequence <= *position) break;  // printed already
          out << FormatWatchedAlert(event.alert(), options->color) << std::flush;
          position = sequence;
          if (options->count > 0 && ++printed >= options->count) {
            context.TryCancel();
            stream->Finish();
            return 0;
          }
          break;
        }
        case v1::WatchEvent::kAcknowledgement: {
          const uint64_t sequence = event.acknowledgement().ack_sequence();
          if (ack_position.has_value() && sequence <= *ack_position) break;
          out << FormatWatchedAcknowledgement(event.acknowledgement(), options->color) << std::flush;
          ack_position = sequence;
          break;
        }
        case v1::WatchEvent::kCaughtUp: {
          const v1::CaughtUp& caught_up = event.caught_up();
          position = std::max(position.value_or(0), caught_up.last_sequence());
          ack_position = std::max(ack_position.value_or(0), caught_up.last_ack_sequence());
          err << "callguard: " << (connected_before ? "reconnected to " : "watching ")
              << options->server << ", live after alert #" << *position << std::endl;
          connected_before = true;
          backoff = kFirstBackoff;
          break;
        }
        case v1::WatchEvent::kFellBehind:
          fell_behind = true;
          position = event.fell_behind().resume_after_sequence();
          ack_position = event.fell_behind().resume_after_ack_sequence();
          err << "callguard: fell behind the server; resuming after alert #" << *position << std::endl;
          break;
        case v1::WatchEvent::EVENT_NOT_SET:
          break;
      }
      if (!out) return 1;  // nobody reads our output any more
    }
    const grpc::Status status = stream->Finish();
    if (fell_behind) continue;
    switch (status.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::UNIMPLEMENTED:
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::UNAUTHENTICATED:
        err << "callguard: " << options->server << ": " << status.error_message() << std::endl;
        return 1;
      case grpc::StatusCode::OUT_OF_RANGE:
        // The server's history is shorter than ours: its alert database was replaced.
        err << "callguard: " << status.error_message() << "; following its live alerts" << std::endl;
        position.reset();
        ack_position.reset();
        continue;
      default:
        break;
    }
    err << "callguard: connection to " << options->server << " lost ("
        << (status.ok() ? std::string("stream closed") : status.error_message())
        << "); reconnecting in " << Seconds(backoff) << std::endl;
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(backoff));
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace callguard::cli
