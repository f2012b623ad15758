#include "cli_args.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "commands.h"
#include "policy_loader.h"

namespace callguard::cli {

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const FlagSpec& spec) {
  const absl::flat_hash_set<std::string> with_value(spec.with_value.begin(), spec.with_value.end());
  absl::flat_hash_set<std::string> switches(spec.switches.begin(), spec.switches.end());
  switches.insert("help");
  ParsedArgs parsed;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || !absl::StartsWith(arg, "--")) {
      if (!flags_done && arg == "-h") {
        parsed.switches.insert("help");
        continue;
      }
      parsed.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (with_value.contains(name)) {
      if (!inline_value) {
        if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
        value = args[++i];
      }
      if (parsed.values.contains(name)) return absl::InvalidArgumentError(absl::StrCat("--", name, " given twice"));
      parsed.values[name] = value;
    } else if (switches.contains(name)) {
      if (inline_value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      parsed.switches.insert(name);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", arg));
    }
  }
  return parsed;
}

int UsageError(std::ostream& err, absl::string_view message, absl::string_view usage) {
  err << "callguard: " << message << "\n\n" << usage;
  return kExitUsage;
}

absl::StatusOr<std::shared_ptr<const Engine>> LoadEngine(const ParsedArgs& args) {
  const std::string dir = args.Has("policies") ? args.Value("policies") : DefaultPolicyDirectory();
  absl::StatusOr<std::shared_ptr<const Engine>> engine = Engine::LoadFromDirectory(dir);
  if (!engine.ok()) {
    return absl::Status(engine.status().code(),
                        absl::StrCat("cannot load the policies in ", dir, ": ", engine.status().message()));
  }
  return engine;
}

}  // namespace callguard::cli
