#include "server_config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "policy_loader.h"

namespace callguard {
namespace {

class LineErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit LineErrorCollector(std::string name) : name_(std::move(name)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(name_, ":", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string name_;
  std::string first_;
};

absl::StatusOr<int32_t> ParseIntFlag(const std::string& name, const std::string& value) {
  int32_t out = 0;
  if (!absl::SimpleAtoi(value, &out) || out < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " wants a non-negative integer, got \"", value, "\""));
  }
  return out;
}

absl::Status ValidateAddress(absl::string_view field, const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", address, "\" is not HOST:PORT"));
  }
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", address, "\" has no valid port"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultDatabasePath() {
  const char* data_home = std::getenv("XDG_DATA_HOME");
  if (data_home != nullptr && data_home[0] == '/') {
    return absl::StrCat(data_home, "/callguard/callguard.db");
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return absl::StrCat(home, "/.local/share/callguard/callguard.db");
  }
  return "callguard.db";
}

v1::ServerConfig WithDefaults(v1::ServerConfig config) {
  if (config.listen().empty()) config.set_listen(kDefaultListen);
  if (config.policies_dir().empty()) config.set_policies_dir(DefaultPolicyDirectory());
  if (config.idle_timeout_s() == 0) config.set_idle_timeout_s(kDefaultIdleTimeoutS);
  if (config.max_utterance_bytes() == 0) config.set_max_utterance_bytes(kDefaultMaxUtteranceBytes);
  if (config.max_active_calls() == 0) config.set_max_active_calls(kDefaultMaxActiveCalls);
  if (config.max_call_id_bytes() == 0) config.set_max_call_id_bytes(kDefaultMaxCallIdBytes);
  if (!config.has_retention_days()) config.set_retention_days(kDefaultRetentionDays);
  if (!config.has_resume_grace_s()) config.set_resume_grace_s(kDefaultResumeGraceS);
  if (!config.has_store_commit_delay_ms()) config.set_store_commit_delay_ms(kDefaultStoreCommitDelayMs);
  return config;
}

absl::Status ValidateServerConfig(const v1::ServerConfig& config) {
  if (absl::Status status = ValidateAddress("listen", config.listen()); !status.ok()) return status;
  if (!config.http_listen().empty()) {
    if (absl::Status status = ValidateAddress("http_listen", config.http_listen()); !status.ok()) {
      return status;
    }
    if (config.db_path().empty()) {
      return absl::InvalidArgumentError("http_listen: the dashboard needs an alert store (db_path)");
    }
  }
  const std::pair<const char*, int32_t> limits[] = {
      {"retention_days", config.retention_days()},
      {"idle_timeout_s", config.idle_timeout_s()},
      {"max_utterance_bytes", config.max_utterance_bytes()},
      {"max_active_calls", config.max_active_calls()},
      {"max_call_id_bytes", config.max_call_id_bytes()},
      {"resume_grace_s", config.resume_grace_s()},
      {"store_commit_delay_ms", config.store_commit_delay_ms()},
  };
  for (const auto& [name, value] : limits) {
    if (value < 0) return absl::InvalidArgumentError(absl::StrCat(name, ": must not be negative"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ServerConfig> ReadServerConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open config file"));
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::TextFormat::Parser parser;
  LineErrorCollector errors(path);
  parser.RecordErrorsTo(&errors);
  v1::ServerConfig config;
  if (!parser.ParseFromString(text.str(), &config)) {
    return absl::InvalidArgumentError(errors.first().empty() ? absl::StrCat(path, ": cannot parse")
                                                             : errors.first());
  }
  return config;
}

absl::StatusOr<v1::ServerConfig> ServerConfigFromArgs(const std::vector<std::string>& args) {
  // Split into (name, value) pairs first so --config can be applied before the overrides.
  std::vector<std::pair<std::string, std::string>> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(2);
    std::string value;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = args[++i];
    }
    flags.emplace_back(std::move(name), std::move(value));
  }

  v1::ServerConfig config;
  for (const auto& [name, value] : flags) {
    if (name != "config") continue;
    auto from_file = ReadServerConfigFile(value);
    if (!from_file.ok()) return from_file.status();
    config = *std::move(from_file);
  }
  for (const auto& [name, value] : flags) {
    if (name == "config") {
      continue;
    } else if (name == "listen") {
      config.set_listen(value);
    } else if (name == "policies") {
      config.set_policies_dir(value);
    } else if (name == "idle-timeout-s") {
      auto v = ParseIntFlag(name, value);
      if (!v.ok()) return v.status();
      config.set_idle_timeout_s(*v);
    } else if (name == "max-utterance-bytes") {
      auto v = ParseIntFlag(name, value);
      if (!v.ok()) return v.status();
      config.set_max_utterance_bytes(*v);
    } else if (name == "max-active-calls") {
      auto v = ParseIntFlag(name, value);
      if (!v.ok()) return v.status();
      config.set_max_active_calls(*v);
    } else if (name == "max-call-id-bytes") {
      auto v = ParseIntFlag(name, value);
      if (!v.ok()) return v.status();
      config.set_max_call_id_bytes(*v);
    } else if (name == "db") {
      if (value.empty()) return absl::InvalidArgumentError("--db needs a file path");
      config.set_db_path(value);
    } else if (name == "retention-days") {
      auto v = ParseIntFlag(name, value);
      if (!v.ok()) return v.status();
      config.set_retention_days(*v);
    } else if (name == "resume-grace-s") {
      auto v = ParseIntFlag(name, value);
      if (!v.ok()) return v.status();
      config.set_resume_grace_s(*v);
    } else if (name == "store-commit-delay-ms") {
      auto v = ParseIntFlag(name, value);
      if (!v.ok()) return v.status();
      config.set_store_commit_delay_ms(*v);
    } else if (name == "http-listen") {
      config.set_http_listen(value);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
  }
  config = WithDefaults(std::move(config));
  if (config.db_path().empty()) config.set_db_path(DefaultDatabasePath());
  if (config.http_listen().empty()) config.set_http_listen(kDefaultHttpListen);
  if (auto status = ValidateServerConfig(config); !status.ok()) return status;
  return config;
}

std::string ServerUsage() {
  return absl::StrFormat(
      "usage: callguard-server [flags]\n"
      "  --listen HOST:PORT          gRPC address (default %s; port 0 picks a free port)\n"
      "  --policies DIR              folder of *.textproto policies (default %s)\n"
      "  --config FILE               text-format callguard.v1.ServerConfig; flags override it\n"
      "  --idle-timeout-s N          drop a call with no event for N seconds (default %d)\n"
      "  --max-utterance-bytes N     longest accepted utterance text (default %d)\n"
      "  --max-active-calls N        most calls at once (default %d)\n"
      "  --max-call-id-bytes N       longest accepted call id (default %d)\n"
      "  --db PATH                   alert store: calls, utterances, alerts, acknowledgements\n"
      "                              (SQLite; default %s)\n"
      "  --retention-days N          prune stored calls and alerts older than N days\n"
      "                              (default %d; 0 keeps everything)\n"
      "  --http-listen HOST:PORT     supervisors' web dashboard (default %s)\n"
      "  --resume-grace-s N          keep a sequenced call whose stream broke for N seconds\n"
      "                              so its client can resume it (default %d; 0 disables)\n"
      "  --store-commit-delay-ms N   let the alert store gather records for N ms per commit\n"
      "                              (default %d; 0 commits at once)\n"
      "Signals: SIGHUP reloads the policies, SIGINT/SIGTERM shut down.\n",
      kDefaultListen, DefaultPolicyDirectory(), kDefaultIdleTimeoutS, kDefaultMaxUtteranceBytes,
      kDefaultMaxActiveCalls, kDefaultMaxCallIdBytes, DefaultDatabasePath(), kDefaultRetentionDays,
      kDefaultHttpListen, kDefaultResumeGraceS, kDefaultStoreCommitDelayMs);
}

}  // namespace callguard
