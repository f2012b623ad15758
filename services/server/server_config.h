#ifndef CALLGUARD_SERVER_SERVER_CONFIG_H_
#define CALLGUARD_SERVER_SERVER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "callguard/v1/config.pb.h"

namespace callguard {

// Defaults for fields left at zero/empty (proto3 cannot tell "unset" from zero).
inline constexpr char kDefaultListen[] = "127.0.0.1:50051";
inline constexpr int kDefaultIdleTimeoutS = 900;
inline constexpr int kDefaultMaxUtteranceBytes = 4096;
inline constexpr int kDefaultMaxActiveCalls = 20000;
inline constexpr int kDefaultMaxCallIdBytes = 128;
inline constexpr int kDefaultRetentionDays = 90;
inline constexpr char kDefaultHttpListen[] = "127.0.0.1:8080";
inline constexpr int kDefaultResumeGraceS = 30;
inline constexpr int kDefaultStoreCommitDelayMs = 20;

// callguard-server's alert database when neither --db nor db_path names one:
// $XDG_DATA_HOME/callguard/callguard.db, else ~/.local/share/callguard/callguard.db, else
// ./callguard.db (no HOME).
std::string DefaultDatabasePath();

// Fills every unset field with its default (the shipped policies for policies_dir), except
// db_path and http_listen: left empty, an embedded server has no store and no dashboard.
v1::ServerConfig WithDefaults(v1::ServerConfig config);

// Rejects negative limits and a listen address without a port.
absl::Status ValidateServerConfig(const v1::ServerConfig& config);

// A text-format ServerConfig file; errors name the file, line and column.
absl::StatusOr<v1::ServerConfig> ReadServerConfigFile(const std::string& path);

// The command line (without the program name): `--config FILE` is read first, then every other
// flag overrides the file. Accepts `--flag value` and `--flag=value`. The result has defaults
// filled in (db_path and http_listen too: the program always has a store and a dashboard) and
// is validated.
absl::StatusOr<v1::ServerConfig> ServerConfigFromArgs(const std::vector<std::string>& args);

std::string ServerUsage();

}  // namespace callguard

#endif  // CALLGUARD_SERVER_SERVER_CONFIG_H_
