#include "training_scenario.h"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

#ifndef CALLGUARD_TRAINING_DIR
#define CALLGUARD_TRAINING_DIR "training"
#endif

namespace callguard::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (message_.empty()) message_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

const FieldDescriptor* Field(const google::protobuf::Descriptor* d, const char* name) {
  return d->FindFieldByName(name);
}

// 1-based line of a field, or `fallback` when the file does not set it.
int LineOf(const TextFormat::ParseInfoTree* tree, const FieldDescriptor* field, int index, int fallback) {
  if (tree == nullptr) return fallback;
  const int line = tree->GetLocation(field, index).line;
  return line < 0 ? fallback : line + 1;
}

}  // namespace

absl::StatusOr<LoadedScenario> ParseScenarioText(absl::string_view text, absl::string_view name) {
  LoadedScenario loaded;
  loaded.path = std::string(name);
  TextFormat::Parser parser;
  FirstErrorCollector errors;
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &loaded.scenario)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", errors.message().empty() ? "1:1: not a valid scenario" : errors.message()));
  }
  const v1::Scenario& s = loaded.scenario;
  const auto* sd = v1::Scenario::descriptor();
  loaded.id_line = LineOf(&tree, Field(sd, "id"), -1, 1);
  loaded.opening_line = LineOf(&tree, Field(sd, "opening_line"), -1, 1);
  loaded.initial_state_line = LineOf(&tree, Field(sd, "initial_state"), -1, 1);
  loaded.example_run_line = LineOf(&tree, Field(sd, "example_run"), -1, 1);
  const FieldDescriptor* states = Field(sd, "states");
  const FieldDescriptor* on = Field(v1::ScenarioState::descriptor(), "on");
  for (int i = 0; i < s.states_size(); ++i) {
    loaded.state_lines.push_back(LineOf(&tree, states, i, 1));
    const TextFormat::ParseInfoTree* nested = tree.GetTreeForNested(states, i);
    std::vector<int> lines;
    for (int j = 0; j < s.states(i).on_size(); ++j) lines.push_back(LineOf(nested, on, j, loaded.state_lines.back()));
    loaded.branch_lines.push_back(std::move(lines));
  }
  for (int i = 0; i < s.intents_size(); ++i) loaded.intent_lines.push_back(LineOf(&tree, Field(sd, "intents"), i, 1));
  for (int i = 0; i < s.bad_runs_size(); ++i) loaded.bad_run_lines.push_back(LineOf(&tree, Field(sd, "bad_runs"), i, 1));
  return loaded;
}

absl::StatusOr<LoadedScenario> LoadScenarioFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open scenario file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseScenarioText(buffer.str(), path);
}

std::string InitialState(const v1::Scenario& scenario) {
  if (!scenario.initial_state().empty()) return scenario.initial_state();
  return scenario.states().empty() ? "" : scenario.states(0).name();
}

namespace {

// Lines recorded at parse time; 1 for a scenario built in code.
int At(const std::vector<int>& lines, int i) { return i < static_cast<int>(lines.size()) ? lines[i] : 1; }
int At(const std::vector<std::vector<int>>& lines, int i, int j) {
  return i < static_cast<int>(lines.size()) ? At(lines[i], j) : 1;
}

}  // namespace

std::vector<ScenarioIssue> ValidateScenario(const LoadedScenario& loaded, const Engine* engine) {
  using Level = ScenarioIssue::Level;
  std::vector<ScenarioIssue> issues;
  auto error = [&](int line, std::string message) { issues.push_back({Level::kError, line, std::move(message)}); };
  auto warning = [&](int line, std::string message) {
    issues.push_back({Level::kWarning, line, std::move(message)});
  };
  const v1::Scenario& s = loaded.scenario;

  if (s.id().empty()) error(1, "scenario has no id");
  if (s.policy().empty()) error(loaded.id_line, "scenario has no policy");
  if (s.counterparty_role().empty()) error(loaded.id_line, "scenario has no counterparty_role (the label of its lines)");
  if (s.opening_line().empty()) error(loaded.id_line, "scenario has no opening_line (what the counterparty says on picking up)");
  if (s.call().debtor().name().empty()) error(loaded.id_line, "scenario has no call.debtor.name");
  if (s.states().empty()) error(loaded.id_line, "scenario has no states");
  if (s.max_turns() < 0) error(loaded.id_line, "max_turns must not be negative");

  absl::flat_hash_map<std::string, int> state_index;
  for (int i = 0; i < s.states_size(); ++i) {
    const std::string& name = s.states(i).name();
    if (name.empty()) {
      error(At(loaded.state_lines, i), "state has no name");
      continue;
    }
    if (!state_index.emplace(name, i).second) error(At(loaded.state_lines, i), absl::StrCat("duplicate state '", name, "'"));
  }
  const std::string initial = InitialState(s);
  if (!s.initial_state().empty() && !state_index.contains(initial)) {
    error(loaded.initial_state_line, absl::StrCat("initial_state '", initial, "' is not a state"));
  }

  bool can_hang_up = s.max_turns() > 0;
  for (int i = 0; i < s.states_size(); ++i) {
    const v1::ScenarioState& state = s.states(i);
    if (state.default_reply().empty()) {
      error(At(loaded.state_lines, i), absl::StrCat("state '", state.name(), "' has no default_reply"));
    }
    for (int j = 0; j < state.on_size(); ++j) {
      const v1::Branch& b = state.on(j);
      const int line = At(loaded.branch_lines, i, j);
      if (b.intent() == v1::TRAINEE_INTENT_UNSPECIFIED) {
        error(line, absl::StrCat("branch in state '", state.name(), "' has no intent"));
      }
      if (b.reply().empty()) error(line, absl::StrCat("branch in state '", state.name(), "' has no reply"));
      if (!b.next().empty() && !state_index.contains(b.next())) {
        error(line, absl::StrCat("unknown state '", b.next(), "' (branch in state '", state.name(), "')"));
      }
      can_hang_up |= b.hang_up();
    }
  }

  // Reachability from the initial state.
  if (state_index.contains(initial)) {
    absl::flat_hash_set<std::string> seen = {initial};
    std::deque<std::string> queue = {initial};
    while (!queue.empty()) {
      const v1::ScenarioState& state = s.states(state_index.at(queue.front()));
      queue.pop_front();
      for (const v1::Branch& b : state.on()) {
        if (!b.next().empty() && state_index.contains(b.next()) && seen.insert(b.next()).second) {
          queue.push_back(b.next());
        }
      }
    }
    for (int i = 0; i < s.states_size(); ++i) {
      if (!s.states(i).name().empty() && !seen.contains(s.states(i).name())) {
        error(At(loaded.state_lines, i), absl::StrCat("state '", s.states(i).name(), "' is unreachable from '", initial, "'"));
      }
    }
  }
  if (!can_hang_up && !s.states().empty()) {
    warning(loaded.id_line, "the counterparty never hangs up (no branch with hang_up and no max_turns): only /end ends the call");
  }

  for (int i = 0; i < s.intents_size(); ++i) {
    const v1::IntentPhrases& intent = s.intents(i);
    if (intent.intent() == v1::TRAINEE_INTENT_UNSPECIFIED) error(At(loaded.intent_lines, i), "intents entry has no intent");
    for (const std::string& phrase : intent.phrases()) {
      if (phrase.find_first_not_of(" \t") == std::string::npos) error(At(loaded.intent_lines, i), "empty phrase");
    }
  }
  for (int step : s.required_steps()) {
    if (step == v1::REQUIRED_STEP_UNSPECIFIED) error(loaded.id_line, "required_steps has an unspecified step");
  }
  if (s.example_run().lines().empty()) {
    warning(loaded.example_run_line, "no example_run: the scenario cannot be auto-played");
  } else if (!s.example_run().expect().empty()) {
    error(loaded.example_run_line, "example_run is the good collector's run: it must expect no violation");
  }
  for (int i = 0; i < s.bad_runs_size(); ++i) {
    if (s.bad_runs(i).lines().empty()) error(At(loaded.bad_run_lines, i), "bad run has no lines");
    if (s.bad_runs(i).expect().empty()) error(At(loaded.bad_run_lines, i), "bad run expects no violation");
  }

  if (engine != nullptr && !s.policy().empty()) {
    const CompiledPolicy* policy = engine->FindPolicy(s.policy());
    if (policy == nullptr) {
      error(loaded.id_line, std::string(engine->UnknownPolicyError(s.policy(), "policy").message()));
    } else {
      if (!s.language().empty() && s.language() != policy->source().language()) {
        error(loaded.id_line, absl::StrCat("language '", s.language(), "' is not that of policy ", s.policy(), " ('",
                                           policy->source().language(), "')"));
      }
      for (int i = 0; i < s.intents_size(); ++i) {
        for (const std::string& set : s.intents(i).policy_sets()) {
          if (policy->FindSet(set) < 0) {
            error(At(loaded.intent_lines, i), absl::StrCat("policy ", s.policy(), " has no phrase set '", set, "'"));
          }
        }
      }
      const bool has_statement_rule = std::any_of(
          policy->source().rules().begin(), policy->source().rules().end(),
          [](const v1::Rule& r) { return r.kind() == v1::MISSING_DEBT_COLLECTOR_DISCLOSURE; });
      for (int step : s.required_steps()) {
        if (step == v1::COLLECTOR_DISCLOSURE && !has_statement_rule) {
          error(loaded.id_line, absl::StrCat("COLLECTOR_DISCLOSURE is required but policy ", s.policy(),
                                             " has no debt-collector statement rule"));
        }
      }
    }
  }
  std::stable_sort(issues.begin(), issues.end(),
                   [](const ScenarioIssue& a, const ScenarioIssue& b) { return a.line < b.line; });
  return issues;
}

bool HasErrors(const std::vector<ScenarioIssue>& issues) {
  return std::any_of(issues.begin(), issues.end(),
                     [](const ScenarioIssue& i) { return i.level == ScenarioIssue::Level::kError; });
}

std::string FormatIssue(const LoadedScenario& loaded, const ScenarioIssue& issue) {
  return absl::StrCat(loaded.path, ":", issue.line, ": ",
                      issue.level == ScenarioIssue::Level::kError ? "error: " : "warning: ", issue.message);
}

std::string DefaultTrainingDirectory() { return CALLGUARD_TRAINING_DIR; }

absl::StatusOr<std::vector<std::string>> ListScenarioFiles(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return absl::NotFoundError(absl::StrCat(dir, ": no such folder"));
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".textproto") files.push_back(entry.path().string());
  }
  if (ec) return absl::InternalError(absl::StrCat(dir, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::string> ResolveScenarioPath(const std::string& name_or_path, const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(name_or_path, ec)) return name_or_path;
  const std::string by_name = (std::filesystem::path(dir) / (name_or_path + ".textproto")).string();
  if (std::filesystem::is_regular_file(by_name, ec)) return by_name;
  absl::StatusOr<std::vector<std::string>> files = ListScenarioFiles(dir);
  std::vector<std::string> ids;
  if (files.ok()) {
    for (const std::string& file : *files) {
      absl::StatusOr<LoadedScenario> loaded = LoadScenarioFile(file);
      if (!loaded.ok()) continue;
      if (loaded->scenario.id() == name_or_path) return file;
      ids.push_back(loaded->scenario.id());
    }
  }
  return absl::NotFoundError(absl::StrCat("no scenario file or id '", name_or_path, "'",
                                          ids.empty() ? "" : absl::StrCat("; scenarios in ", dir, ": ", absl::StrJoin(ids, ", "))));
}

}  // namespace callguard::cli
