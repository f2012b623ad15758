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

// Fills every unset field with its default (the shipped policies for policies_dir).
v1::ServerConfig WithDefaults(v1::ServerConfig config);

// Rejects negative limits and a listen address without a port.
absl::Status ValidateServerConfig(const v1::ServerConfig& config);

// A text-format ServerConfig file; errors name the file, line and column.
absl::StatusOr<v1::ServerConfig> ReadServerConfigFile(const std::string& path);

// The command line (without the program name): `--config FILE` is read first, then every other
// flag overrides the file. Accepts `--flag value` and `--flag=value`. The result has defaults
// filled in and is validated.
absl::StatusOr<v1::ServerConfig> ServerConfigFromArgs(const std::vector<std::string>& args);

std::string ServerUsage();

}  // namespace callguard

#endif  // CALLGUARD_SERVER_SERVER_CONFIG_H_
