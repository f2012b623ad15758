#include "commands.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "cli_args.h"
#include "engine.h"
#include "policy_examples.h"
#include "policy_lint.h"
#include "policy_loader.h"
#include "remote_guard.h"
#include "replay.h"
#include "scorer.h"
#include "train_command.h"
#include "transcript_io.h"
#include "watch_command.h"

namespace callguard::cli {
namespace {

constexpr char kMainUsage[] = R"(callguard: real-time compliance guard for debt-collection calls

usage: callguard COMMAND [ARGS]

commands:
  replay FILE.jsonl...   run labelled calls through the guard, print one JSON alert per line
  check --policy ID TEXT judge one agent utterance, print one JSON alert per line
  eval FILE.jsonl...     replay labelled calls and score the alerts against their labels
  test-policy FILE       run the examples a policy file carries
  lint-policy FILE...    compile a policy file and warn about likely mistakes
  watch                  tail a server's live alerts, colored by severity (supervisors)
  train SCENARIO         role-play a call against a scripted counterparty (training mode)
  train-compare FILE...  a trainee's saved scorecards over time
  lint-scenario FILE...  validate training scenarios and auto-play their scripted runs
  lint-script FILE       check an approved call script against a policy
  help [COMMAND]         this text, or a command's

Run `callguard COMMAND --help` for a command's options.
Exit codes: 0 success, 1 failure (errors, failed examples), 2 bad usage.
)";

constexpr char kReplayUsage[] = R"(usage: callguard replay FILE.jsonl... [--policies DIR | --server HOST:PORT] [--interim]

Sends every call of the files (one call per line, the labelled-call format) through the
guard and prints each alert as one JSON line (callguard.v1.Alert).
  --policies DIR      policy folder for the in-process guard (default: the shipped policies)
  --server HOST:PORT  stream the calls to a running callguard server instead
  --interim           also send growing interim recognizer results before each final one
Server errors go to stderr with the call id; the exit code is 1 if there were any.
)";

constexpr char kCheckUsage[] = R"(usage: callguard check --policy ID "TEXT" [options]

Judges one utterance without call state and prints each alert as one JSON line.
  --policy ID           policy id, e.g. us-fdcpa or cn-collection (required)
  --policies DIR        policy folder for the in-process guard (default: the shipped policies)
  --server HOST:PORT    ask a running callguard server instead
  --party P             who is on the line: debtor, third-party, unknown (default), guarantor,
                        wrong-number, voicemail
  --dialed D            debtor-phone, emergency-contact, guarantor, workplace, unknown-number
  --identified          the agent already identified themselves (else TEXT is the first turn)
  --disclosed           the debt-collector statement was already made
  --speaker S           agent (default) or counterparty
  --agency NAME, --agent NAME, --agent-id ID, --debtor NAME   what the dialer knows
  --previous TEXT       what the counterparty said just before
Exit code 0 whether or not there were alerts.
)";

constexpr char kEvalUsage[] = R"(usage: callguard eval FILE.jsonl... [--policies DIR] [--mismatches] [--interim]

Replays labelled calls in-process and scores the alerts against their `expect` labels:
a Markdown table per violation kind, the core mean F1 and the compliant calls that got alerts.
  --policies DIR   policy folder (default: the shipped policies)
  --mismatches     also list every missed label and false alarm, with the turn's text
  --interim        also send interim recognizer results
)";

constexpr char kTestPolicyUsage[] = R"(usage: callguard test-policy FILE.textproto

Parses and compiles one policy file and runs the examples it carries. Prints PASS or FAIL per
example; exit code 1 if any example fails or the policy does not compile.
)";

constexpr char kLintPolicyUsage[] = R"(usage: callguard lint-policy FILE.textproto... [--werror]

Parses and compiles policy files and warns about phrase sets never used, rules without a
citation or coaching, rules whose kind no example expects, and examples expecting a kind no
rule raises. Exit code 1 on errors (or on warnings with --werror).
)";

absl::StatusOr<std::vector<v1::Transcript>> ReadAll(const std::vector<std::string>& paths) {
  std::vector<v1::Transcript> calls;
  for (const std::string& path : paths) {
    absl::StatusOr<std::vector<v1::Transcript>> file = ReadTranscripts(path);
    if (!file.ok()) return file.status();
    for (v1::Transcript& t : *file) calls.push_back(std::move(t));
  }
  return calls;
}

// "third-party", "THIRD_PARTY" and "PARTY_THIRD_PARTY" all name PARTY_THIRD_PARTY.
std::string EnumSpelling(absl::string_view text) {
  return absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}}));
}

bool ParseParty(absl::string_view text, v1::Party* party) {
  const std::string name = EnumSpelling(text);
  return v1::Party_Parse("PARTY_" + name, party) || v1::Party_Parse(name, party);
}

bool ParseDialed(absl::string_view text, v1::DialedNumber* dialed) {
  const std::string name = EnumSpelling(text);
  return name != "DIALED_NUMBER_UNSPECIFIED" && v1::DialedNumber_Parse(name, dialed);
}

bool ParseSpeaker(absl::string_view text, v1::Speaker* speaker) {
  const std::string name = EnumSpelling(text);
  return name != "SPEAKER_UNSPECIFIED" && v1::Speaker_Parse(name, speaker);
}

std::string KindList(const std::vector<v1::ViolationKind>& kinds) {
  std::vector<std::string> names;
  for (v1::ViolationKind k : kinds) names.push_back(v1::ViolationKind_Name(k));
  return absl::StrCat("[", absl::StrJoin(names, ", "), "]");
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void PrintEventError(std::ostream& err, const std::string& call_id, const v1::EventError& e) {
  err << "call " << call_id << ": server error " << e.code();
  if (!e.field().empty()) err << " in " << e.field();
  if (!e.utterance_id().empty()) err << " (utterance " << e.utterance_id() << ")";
  err << ": " << e.message() << "\n";
}

}  // namespace

int ReplayCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(argv, {{"policies", "server"}, {"interim"}});
  if (!args.ok()) return UsageError(err, args.status().message(), kReplayUsage);
  if (args->Has("help")) {
    out << kReplayUsage;
    return kExitOk;
  }
  if (args->positional.empty()) return UsageError(err, "replay needs a FILE.jsonl", kReplayUsage);
  if (args->Has("policies") && args->Has("server")) {
    return UsageError(err, "--policies and --server exclude each other: the server has its own", kReplayUsage);
  }
  absl::StatusOr<std::vector<v1::Transcript>> calls = ReadAll(args->positional);
  if (!calls.ok()) {
    err << "callguard: " << calls.status().message() << "\n";
    return kExitFailure;
  }
  ReplayOptions options;
  options.interim_results = args->Has("interim");

  bool failed = false;
  if (args->Has("server")) {
    std::unique_ptr<RemoteGuard> remote = RemoteGuard::Create(args->Value("server"));
    for (const v1::Transcript& call : *calls) {
      absl::StatusOr<RemoteCallResult> result = remote->ReplayCall(call, options);
      if (!result.ok()) {
        err << "callguard: " << result.status().message() << "\n";
        failed = true;
        continue;
      }
      for (const v1::Alert& alert : result->alerts) out << ToJsonLine(alert) << "\n";
      for (const v1::EventError& e : result->errors) PrintEventError(err, call.call_id(), e);
      failed |= !result->errors.empty();
    }
    return failed ? kExitFailure : kExitOk;
  }

  absl::StatusOr<std::shared_ptr<const Engine>> engine = LoadEngine(*args);
  if (!engine.ok()) {
    err << "callguard: " << engine.status().message() << "\n";
    return kExitFailure;
  }
  for (const v1::Transcript& call : *calls) {
    absl::StatusOr<std::vector<v1::Alert>> alerts = ReplayTranscript(*engine, call, options);
    if (!alerts.ok()) {
      err << "callguard: call " << call.call_id() << ": " << alerts.status().message() << "\n";
      failed = true;
      continue;
    }
    for (const v1::Alert& alert : *alerts) out << ToJsonLine(alert) << "\n";
  }
  return failed ? kExitFailure : kExitOk;
}

int CheckCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args =
      ParseArgs(argv, {{"policy", "policies", "server", "party", "dialed", "speaker", "agency", "agent",
                        "agent-id", "debtor", "previous"},
                       {"identified", "disclosed"}});
  if (!args.ok()) return UsageError(err, args.status().message(), kCheckUsage);
  if (args->Has("help")) {
    out << kCheckUsage;
    return kExitOk;
  }
  if (args->Value("policy").empty()) return UsageError(err, "check needs --policy ID", kCheckUsage);
  if (args->positional.size() != 1) {
    return UsageError(err, "check needs exactly one TEXT argument (quote the utterance)", kCheckUsage);
  }
  if (args->Has("policies") && args->Has("server")) {
    return UsageError(err, "--policies and --server exclude each other: the server has its own", kCheckUsage);
  }

  v1::CheckRequest request;
  request.set_policy(args->Value("policy"));
  request.set_text(args->positional[0]);
  request.set_speaker(v1::AGENT);
  v1::CheckContext& context = *request.mutable_context();
  if (args->Has("speaker")) {
    v1::Speaker speaker;
    if (!ParseSpeaker(args->Value("speaker"), &speaker)) {
      return UsageError(err, absl::StrCat("unknown --speaker ", args->Value("speaker")), kCheckUsage);
    }
    request.set_speaker(speaker);
  }
  if (args->Has("party")) {
    v1::Party party;
    if (!ParseParty(args->Value("party"), &party)) {
      return UsageError(err, absl::StrCat("unknown --party ", args->Value("party")), kCheckUsage);
    }
    context.set_party(party);
  }
  if (args->Has("dialed")) {
    v1::DialedNumber dialed;
    if (!ParseDialed(args->Value("dialed"), &dialed)) {
      return UsageError(err, absl::StrCat("unknown --dialed ", args->Value("dialed")), kCheckUsage);
    }
    context.set_dialed(dialed);
  }
  if (args->Has("agency")) context.mutable_agency()->set_name(args->Value("agency"));
  if (args->Has("agent")) context.mutable_agent()->set_name(args->Value("agent"));
  if (args->Has("agent-id")) context.mutable_agent()->set_agent_id(args->Value("agent-id"));
  if (args->Has("debtor")) context.mutable_debtor()->set_name(args->Value("debtor"));
  if (args->Has("previous")) context.set_previous_counterparty_text(args->Value("previous"));
  context.set_agent_already_identified(args->Has("identified"));
  context.set_debt_collector_disclosed(args->Has("disclosed"));

  absl::StatusOr<v1::CheckResponse> response;
  if (args->Has("server")) {
    response = RemoteGuard::Create(args->Value("server"))->Check(request);
  } else {
    absl::StatusOr<std::shared_ptr<const Engine>> engine = LoadEngine(*args);
    if (!engine.ok()) {
      err << "callguard: " << engine.status().message() << "\n";
      return kExitFailure;
    }
    response = CheckUtterance(*engine, request);
  }
  if (!response.ok()) {
    err << "callguard: " << response.status().message() << "\n";
    return kExitFailure;
  }
  for (const v1::Alert& alert : response->alerts()) out << ToJsonLine(alert) << "\n";
  err << response->alerts_size() << " alert(s) from policy " << request.policy() << " version "
      << response->policy_version() << "\n";
  return kExitOk;
}

int EvalCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(argv, {{"policies"}, {"mismatches", "interim"}});
  if (!args.ok()) return UsageError(err, args.status().message(), kEvalUsage);
  if (args->Has("help")) {
    out << kEvalUsage;
    return kExitOk;
  }
  if (args->positional.empty()) return UsageError(err, "eval needs at least one FILE.jsonl", kEvalUsage);
  absl::StatusOr<std::vector<v1::Transcript>> calls = ReadAll(args->positional);
  if (!calls.ok()) {
    err << "callguard: " << calls.status().message() << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::shared_ptr<const Engine>> engine = LoadEngine(*args);
  if (!engine.ok()) {
    err << "callguard: " << engine.status().message() << "\n";
    return kExitFailure;
  }
  ReplayOptions options;
  options.interim_results = args->Has("interim");
  Scorer scorer;
  bool failed = false;
  for (const v1::Transcript& call : *calls) {
    absl::StatusOr<std::vector<v1::Alert>> alerts = ReplayTranscript(*engine, call, options);
    if (!alerts.ok()) {
      // A call that cannot be replayed is left out of the scores rather than scored as silent.
      err << "callguard: call " << call.call_id() << " not scored: " << alerts.status().message() << "\n";
      failed = true;
      continue;
    }
    scorer.AddCall(call, *alerts);
  }
  out << FormatReport(scorer.report());
  if (args->Has("mismatches")) {
    out << "\nmismatches (" << scorer.report().mismatches.size() << "):\n";
    for (const std::string& line : scorer.report().mismatches) out << line << "\n";
  }
  return failed ? kExitFailure : kExitOk;
}

int TestPolicyCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(argv, {});
  if (!args.ok()) return UsageError(err, args.status().message(), kTestPolicyUsage);
  if (args->Has("help")) {
    out << kTestPolicyUsage;
    return kExitOk;
  }
  if (args->positional.size() != 1) return UsageError(err, "test-policy needs one FILE.textproto", kTestPolicyUsage);
  const std::string& path = args->positional[0];

  absl::StatusOr<PolicySource> source = ParsePolicyFile(path);
  if (!source.ok()) {
    err << source.status().message() << "\n";
    return kExitFailure;
  }
  const std::string policy_id = source->policy.id();
  Engine::Options options;
  options.policies.push_back(*std::move(source));
  absl::StatusOr<std::shared_ptr<const Engine>> engine = Engine::Create(std::move(options));
  if (!engine.ok()) {
    err << path << ": " << engine.status().message() << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::vector<ExampleResult>> results = RunPolicyExamples(*engine, policy_id);
  if (!results.ok()) {
    err << path << ": " << results.status().message() << "\n";
    return kExitFailure;
  }
  int passed = 0;
  for (const ExampleResult& r : *results) {
    if (r.passed) {
      ++passed;
      out << "PASS " << r.name << " " << KindList(r.actual) << "\n";
    } else {
      out << "FAIL " << r.name << ": expected " << KindList(r.expected) << ", got " << KindList(r.actual)
          << "\n     text: " << r.text << "\n";
    }
  }
  const int total = static_cast<int>(results->size());
  out << passed << "/" << total << " examples passed (policy " << policy_id << ", " << path << ")\n";
  if (total == 0) err << "callguard: " << path << " carries no examples\n";
  return passed == total ? kExitOk : kExitFailure;
}

int LintPolicyCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(argv, {{}, {"werror"}});
  if (!args.ok()) return UsageError(err, args.status().message(), kLintPolicyUsage);
  if (args->Has("help")) {
    out << kLintPolicyUsage;
    return kExitOk;
  }
  if (args->positional.empty()) return UsageError(err, "lint-policy needs a FILE.textproto", kLintPolicyUsage);

  int errors = 0, warnings = 0;
  for (const std::string& path : args->positional) {
    absl::StatusOr<PolicySource> source = ParsePolicyFile(path);
    if (!source.ok()) {
      out << "error: " << source.status().message() << "\n";
      ++errors;
      continue;
    }
    const v1::Policy policy = source->policy;
    Engine::Options options;
    options.policies.push_back(*std::move(source));
    absl::StatusOr<std::shared_ptr<const Engine>> engine = Engine::Create(std::move(options));
    if (!engine.ok()) {
      out << path << ": error: " << engine.status().message() << "\n";
      ++errors;
      continue;
    }
    for (const LintWarning& w : LintPolicy(policy, ReadFileText(path))) {
      out << path;
      if (w.line > 0) out << ":" << w.line;
      out << ": warning: " << w.message << "\n";
      ++warnings;
    }
  }
  out << errors << " error(s), " << warnings << " warning(s)\n";
  return errors > 0 || (warnings > 0 && args->Has("werror")) ? kExitFailure : kExitOk;
}

int RunCallguard(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  using Command = int (*)(const std::vector<std::string>&, std::ostream&, std::ostream&);
  static const auto* const kCommands = new absl::flat_hash_map<std::string, Command>{
      {"replay", &ReplayCommand},           {"check", &CheckCommand},
      {"eval", &EvalCommand},               {"test-policy", &TestPolicyCommand},
      {"lint-policy", &LintPolicyCommand}, {"watch", &WatchCommand},
      {"train", &TrainCommand},             {"train-compare", &TrainCompareCommand},
      {"lint-scenario", &LintScenarioCommand}, {"lint-script", &LintScriptCommand}};
  if (args.empty()) return UsageError(err, "no command given", kMainUsage);
  const std::string& name = args[0];
  if (name == "--help" || name == "-h" || name == "help") {
    if (name == "help" && args.size() > 1) {
      auto it = kCommands->find(args[1]);
      if (it == kCommands->end()) return UsageError(err, absl::StrCat("unknown command ", args[1]), kMainUsage);
      return it->second({"--help"}, out, err);
    }
    out << kMainUsage;
    return kExitOk;
  }
  auto it = kCommands->find(name);
  if (it == kCommands->end()) return UsageError(err, absl::StrCat("unknown command ", name), kMainUsage);
  return it->second(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
}

}  // namespace callguard::cli
