#include "train_command.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli_args.h"
#include "commands.h"
#include "engine.h"
#include "policy_loader.h"
#include "role_play.h"
#include "scorecard.h"
#include "script_lint.h"
#include "training_scenario.h"

namespace callguard::cli {
namespace {

constexpr char kTrainUsage[] = R"(usage: callguard train SCENARIO [--policies DIR] [--save FILE.json] [--trainee NAME] [--check]

Role-play a collection call against a scripted counterparty. SCENARIO is a scenario file or
the id of a shipped one (`callguard train --list`). Type what you would say; callguard's
warnings appear right after the offending line, as on a live call. /end ends the call, /help
lists the commands; end of input ends it too. A scorecard follows.
  --policies DIR    policy folder (default: the shipped policies)
  --save FILE.json  write the scorecard as JSON (callguard.v1.Scorecard)
  --trainee NAME    who is training (stored in the scorecard)
  --no-color        no ANSI colors even on a terminal
  --check           only validate the scenario and auto-play its scripted runs
  --list            list the shipped scenarios
)";

constexpr char kTrainCompareUsage[] = R"(usage: callguard train-compare FILE.json|DIR... [--trainee NAME]

Reads scorecards saved by `callguard train --save` (files, or every *.json in a folder) and
prints each trainee's runs in time order: scores and their trend, rules broken in more than
one run, and how often each required step was done.
)";

constexpr char kLintScenarioUsage[] = R"(usage: callguard lint-scenario FILE.textproto... [--policies DIR]

Validates training scenarios (file:line errors: unknown or unreachable states, missing
opening line, unknown phrase sets...) and auto-plays each one's example_run (must end with no
violation and every required step done) and bad_runs (must raise what they expect).
Exit code 1 on any error.
)";

constexpr char kLintScriptUsage[] = R"(usage: callguard lint-script FILE [--policy ID] [--policies DIR] [--agency NAME] [--agent NAME] [--debtor NAME]

Checks an approved call script (sections `## Opening`, `## Verification`, ... or `[Opening]`)
against a policy: prints `FILE:LINE: rule: words (regulation) -> better phrasing` for every
prohibited phrase, and the required elements that are missing (agent and organization in the
opening, a verification section before the debt is discussed, the debt-collector statement
where the policy requires it). Placeholders {agent} {agent_id} {agency} {debtor} {creditor}
{amount} {callback} are filled with sample values. Without --policy: the policy of the
script's language. Exit code 0 clean, 1 findings or errors, 2 bad usage.
)";

std::string DialedDescription(v1::DialedNumber dialed) {
  switch (dialed) {
    case v1::DEBTOR_PHONE:
      return "the debtor's own number";
    case v1::EMERGENCY_CONTACT:
      return "an emergency contact the debtor gave";
    case v1::GUARANTOR:
      return "the guarantor's number";
    case v1::WORKPLACE:
      return "the debtor's workplace";
    case v1::UNKNOWN_NUMBER:
      return "a number of unknown owner";
    default:
      return "unspecified";
  }
}

std::string Brief(const v1::Scenario& s, bool color) {
  const char* bold = color ? "\x1b[1m" : "";
  const char* off = color ? "\x1b[0m" : "";
  const v1::CallStart& c = s.call();
  std::string agent = c.agent().name();
  if (!c.agent().agent_id().empty()) absl::StrAppend(&agent, " (", c.agent().agent_id(), ")");
  return absl::StrCat(bold, "=== Training: ", s.title(), off, "  [", s.id(), ", policy ", s.policy(), "]\n",
                      s.description(), "\n", "You are ", agent, " of ", c.agency().name(), ", calling about ",
                      c.debtor().name(), "; dialed: ", DialedDescription(c.dialed()), ".\n",
                      "Type what you would say. /end ends the call, /help lists the commands.\n");
}

constexpr char kInCallHelp[] = R"(commands:
  /end     end the call and show the scorecard
  /brief   show the scenario brief again
  /status  who the guard thinks is on the line, identified, debt-collector statement made
  /help    this list
anything else is what you say to the other side.
)";

std::string PartyName(v1::Party p) {
  std::string name = v1::Party_Name(p);
  if (absl::StartsWith(name, "PARTY_")) name = name.substr(6);
  return absl::AsciiStrToLower(name);
}

int ValidateAndReport(const LoadedScenario& loaded, const std::shared_ptr<const Engine>& engine, std::ostream& out,
                      bool play_runs) {
  std::vector<ScenarioIssue> issues = ValidateScenario(loaded, engine.get());
  for (const ScenarioIssue& issue : issues) out << FormatIssue(loaded, issue) << "\n";
  if (HasErrors(issues)) return kExitFailure;
  if (!play_runs) return kExitOk;
  std::vector<std::string> problems = CheckScriptedRuns(engine, loaded.scenario);
  for (const std::string& p : problems) out << loaded.path << ": error: " << p << "\n";
  if (!problems.empty()) return kExitFailure;
  out << loaded.path << ": ok (" << loaded.scenario.id() << ": example run clean, " << loaded.scenario.bad_runs_size()
      << " bad run(s) raise what they expect)\n";
  return kExitOk;
}

}  // namespace

int RunTrain(const std::vector<std::string>& argv, const TrainIo& io) {
  std::ostream& out = *io.out;
  std::ostream& err = *io.err;
  absl::StatusOr<ParsedArgs> args = ParseArgs(argv, FlagSpec{{"policies", "save", "trainee"}, {"no-color", "check", "list"}});
  if (!args.ok()) return UsageError(err, args.status().message(), kTrainUsage);
  if (args->Has("help")) {
    out << kTrainUsage;
    return kExitOk;
  }
  const bool color = io.color && !args->Has("no-color");
  if (args->Has("list")) {
    absl::StatusOr<std::vector<std::string>> files = ListScenarioFiles(DefaultTrainingDirectory());
    if (!files.ok()) {
      err << "callguard: " << files.status().message() << "\n";
      return kExitFailure;
    }
    for (const std::string& file : *files) {
      absl::StatusOr<LoadedScenario> loaded = LoadScenarioFile(file);
      if (loaded.ok()) out << loaded->scenario.id() << "  [" << loaded->scenario.policy() << "]  " << loaded->scenario.title() << "\n";
    }
    return kExitOk;
  }
  if (args->positional.size() != 1) return UsageError(err, "train needs one SCENARIO (a file or a scenario id)", kTrainUsage);

  absl::StatusOr<std::string> path = ResolveScenarioPath(args->positional[0], DefaultTrainingDirectory());
  if (!path.ok()) {
    err << "callguard: " << path.status().message() << "\n";
    return kExitFailure;
  }
  absl::StatusOr<LoadedScenario> loaded = LoadScenarioFile(*path);
  if (!loaded.ok()) {
    err << "callguard: " << loaded.status().message() << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::shared_ptr<const Engine>> engine = LoadEngine(*args);
  if (!engine.ok()) {
    err << "callguard: " << engine.status().message() << "\n";
    return kExitFailure;
  }
  if (args->Has("check")) return ValidateAndReport(*loaded, *engine, out, /*play_runs=*/true);
  std::vector<ScenarioIssue> issues = ValidateScenario(*loaded, engine->get());
  if (HasErrors(issues)) {
    for (const ScenarioIssue& issue : issues) err << FormatIssue(*loaded, issue) << "\n";
    return kExitFailure;
  }

  RolePlay::Options options;
  options.engine = *engine;
  options.scenario = loaded->scenario;
  options.trainee = args->Value("trainee");
  absl::StatusOr<std::unique_ptr<RolePlay>> play = RolePlay::Create(std::move(options));
  if (!play.ok()) {
    err << "callguard: " << play.status().message() << "\n";
    return kExitFailure;
  }
  const v1::Scenario& scenario = loaded->scenario;
  const std::string role = scenario.counterparty_role();
  const char* role_on = color ? "\x1b[1;34m" : "";
  const char* off = color ? "\x1b[0m" : "";
  auto say_counterparty = [&](const std::string& text) { out << role_on << role << ":" << off << " " << text << "\n"; };

  out << Brief(scenario, color) << "\n";
  say_counterparty((*play)->opening_line());
  std::string end_reason = "end of input";
  std::string line;
  while (!(*play)->ended()) {
    if (io.interactive) out << "you> " << std::flush;
    if (!std::getline(*io.in, line)) {
      if (io.interactive) out << "\n";
      break;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string text(absl::StripAsciiWhitespace(line));
    if (!io.interactive) out << "you> " << text << "\n";
    if (text.empty()) continue;
    if (text[0] == '/') {
      if (text == "/end" || text == "/quit") {
        end_reason = "the trainee ended the call";
        break;
      }
      if (text == "/help") {
        out << kInCallHelp;
      } else if (text == "/brief") {
        out << Brief(scenario, color);
      } else if (text == "/status") {
        const CallSession& s = (*play)->session();
        out << "  on the line: " << PartyName(s.party()) << "; identified: " << (s.agent_identified() ? "yes" : "no")
            << "; debt-collector statement: " << (s.debt_collector_disclosed() ? "yes" : "no") << "\n";
      } else {
        out << "unknown command " << text << " (/help lists them)\n";
      }
      out << std::flush;
      continue;
    }
    absl::StatusOr<RolePlay::TurnResult> turn = (*play)->Say(text);
    if (!turn.ok()) {
      out << "  (not sent: " << turn.status().message() << ")\n" << std::flush;
      continue;
    }
    for (const v1::Alert& alert : turn->alerts) out << FormatAlert(alert, color);
    say_counterparty(turn->reply);
    if (turn->hung_up) out << "(" << role << " hung up)\n";
    out << std::flush;
  }
  v1::Scorecard card = (*play)->Finish(end_reason);
  out << "\n" << FormatScorecard(card, color);
  if (args->Has("save")) {
    if (absl::Status saved = WriteScorecardFile(args->Value("save"), card); !saved.ok()) {
      err << "callguard: " << saved.message() << "\n";
      return kExitFailure;
    }
    out << "scorecard saved to " << args->Value("save") << "\n";
  }
  out << std::flush;
  return kExitOk;
}

int TrainCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  TrainIo io;
  io.in = &std::cin;
  io.out = &out;
  io.err = &err;
  io.interactive = isatty(STDIN_FILENO);
  io.color = &out == &std::cout && isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
  return RunTrain(args, io);
}

int TrainCompareCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(argv, FlagSpec{{"trainee"}, {}});
  if (!args.ok()) return UsageError(err, args.status().message(), kTrainCompareUsage);
  if (args->Has("help")) {
    out << kTrainCompareUsage;
    return kExitOk;
  }
  if (args->positional.empty()) return UsageError(err, "train-compare needs scorecard files or a folder", kTrainCompareUsage);
  std::vector<std::string> files;
  for (const std::string& p : args->positional) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : std::filesystem::directory_iterator(p, ec)) {
        if (e.is_regular_file() && e.path().extension() == ".json") in_dir.push_back(e.path().string());
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else {
      files.push_back(p);
    }
  }
  std::vector<v1::Scorecard> cards;
  bool failed = false;
  for (const std::string& file : files) {
    absl::StatusOr<v1::Scorecard> card = ReadScorecardFile(file);
    if (!card.ok()) {
      err << "callguard: " << card.status().message() << "\n";
      failed = true;
      continue;
    }
    if (args->Has("trainee") && card->trainee() != args->Value("trainee")) continue;
    cards.push_back(*std::move(card));
  }
  if (cards.empty()) {
    err << "callguard: no scorecards to compare\n";
    return kExitFailure;
  }
  out << FormatScorecardComparison(std::move(cards));
  return failed ? kExitFailure : kExitOk;
}

int LintScenarioCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(argv, FlagSpec{{"policies"}, {}});
  if (!args.ok()) return UsageError(err, args.status().message(), kLintScenarioUsage);
  if (args->Has("help")) {
    out << kLintScenarioUsage;
    return kExitOk;
  }
  if (args->positional.empty()) return UsageError(err, "lint-scenario needs a FILE.textproto", kLintScenarioUsage);
  absl::StatusOr<std::shared_ptr<const Engine>> engine = LoadEngine(*args);
  if (!engine.ok()) {
    err << "callguard: " << engine.status().message() << "\n";
    return kExitFailure;
  }
  int failed = 0;
  for (const std::string& path : args->positional) {
    absl::StatusOr<LoadedScenario> loaded = LoadScenarioFile(path);
    if (!loaded.ok()) {
      out << loaded.status().message() << "\n";
      ++failed;
      continue;
    }
    if (ValidateAndReport(*loaded, *engine, out, /*play_runs=*/true) != kExitOk) ++failed;
  }
  out << args->positional.size() - failed << "/" << args->positional.size() << " scenario(s) ok\n";
  return failed > 0 ? kExitFailure : kExitOk;
}

int LintScriptCommand(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ParsedArgs> args = ParseArgs(argv, FlagSpec{{"policy", "policies", "agency", "agent", "agent-id", "debtor"}, {}});
  if (!args.ok()) return UsageError(err, args.status().message(), kLintScriptUsage);
  if (args->Has("help")) {
    out << kLintScriptUsage;
    return kExitOk;
  }
  if (args->positional.size() != 1) return UsageError(err, "lint-script needs one FILE", kLintScriptUsage);
  const std::string& path = args->positional[0];
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err << "callguard: " << path << ": cannot open script\n";
    return kExitFailure;
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::shared_ptr<const Engine>> engine = LoadEngine(*args);
  if (!engine.ok()) {
    err << "callguard: " << engine.status().message() << "\n";
    return kExitFailure;
  }
  if (args->Has("policy") && (*engine)->FindPolicy(args->Value("policy")) == nullptr) {
    return UsageError(err, (*engine)->UnknownPolicyError(args->Value("policy"), "--policy").message(), kLintScriptUsage);
  }
  ScriptLintOptions options;
  options.policy_id = args->Value("policy");
  options.agency = args->Value("agency");
  options.agent = args->Value("agent");
  options.agent_id = args->Value("agent-id");
  options.debtor = args->Value("debtor");
  absl::StatusOr<ScriptLintResult> result = LintScript(*engine, text.str(), options);
  if (!result.ok()) {
    err << "callguard: " << path << ": " << result.status().message() << "\n";
    return kExitFailure;
  }
  for (const ScriptFinding& f : result->findings) out << FormatScriptFinding(path, f) << "\n";
  out << path << ": " << result->findings.size() << " finding(s), " << result->lines_checked
      << " line(s) checked against " << result->policy_id << "\n";
  return result->findings.empty() ? kExitOk : kExitFailure;
}

}  // namespace callguard::cli
