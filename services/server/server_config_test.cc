#include "server_config.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "gtest/gtest.h"
#include "policy_loader.h"

namespace callguard {
namespace {

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    std::string name = (std::filesystem::temp_directory_path() / "callguard-config-XXXXXX").string();
    const int fd = mkstemp(name.data());
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ServerConfigTest, NoFlagsGiveTheDefaults) {
  auto config = ServerConfigFromArgs({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen(), "127.0.0.1:50051");
  EXPECT_EQ(config->policies_dir(), DefaultPolicyDirectory());
  EXPECT_EQ(config->idle_timeout_s(), 900);
  EXPECT_EQ(config->max_utterance_bytes(), 4096);
  EXPECT_EQ(config->max_active_calls(), 20000);
  EXPECT_EQ(config->max_call_id_bytes(), 128);
  EXPECT_EQ(config->store_commit_delay_ms(), 20);
}

TEST(ServerConfigTest, StoreCommitDelayFromTheFlagZeroAllowedNegativeRefused) {
  auto config = ServerConfigFromArgs({"--store-commit-delay-ms", "0"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->has_store_commit_delay_ms());
  EXPECT_EQ(config->store_commit_delay_ms(), 0) << "0 commits at once; it is not 'unset'";
  config = ServerConfigFromArgs({"--store-commit-delay-ms=-5"});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("--store-commit-delay-ms"), std::string::npos) << config.status();
}

TEST(ServerConfigTest, FlagsInBothSpellings) {
  auto config = ServerConfigFromArgs(
      {"--listen", "0.0.0.0:7000", "--policies=/srv/policies", "--idle-timeout-s", "30",
       "--max-utterance-bytes=100"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen(), "0.0.0.0:7000");
  EXPECT_EQ(config->policies_dir(), "/srv/policies");
  EXPECT_EQ(config->idle_timeout_s(), 30);
  EXPECT_EQ(config->max_utterance_bytes(), 100);
}

TEST(ServerConfigTest, FlagsOverrideTheConfigFileWhereverTheyStand) {
  TempFile file("listen: \"10.1.1.1:9000\"\nidle_timeout_s: 45\nmax_active_calls: 7\n");
  auto config = ServerConfigFromArgs({"--listen", "127.0.0.1:0", "--config", file.path()});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen(), "127.0.0.1:0");
  EXPECT_EQ(config->idle_timeout_s(), 45);
  EXPECT_EQ(config->max_active_calls(), 7);
  EXPECT_EQ(config->max_utterance_bytes(), 4096) << "unset in the file: default";
}

TEST(ServerConfigTest, ABadConfigFileNamesFileAndLine) {
  TempFile file("listen: \"127.0.0.1:1\"\nidle_timeout: 5\n");
  auto config = ServerConfigFromArgs({"--config", file.path()});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find(file.path() + ":2:"), std::string::npos) << config.status();
  EXPECT_NE(config.status().message().find("idle_timeout"), std::string::npos);
}

TEST(ServerConfigTest, AMissingConfigFileIsAnError) {
  auto config = ServerConfigFromArgs({"--config", "/nonexistent/callguard.textproto"});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

TEST(ServerConfigTest, RejectsBadFlags) {
  EXPECT_NE(ServerConfigFromArgs({"--port", "1"}).status().message().find("--port"), std::string::npos);
  EXPECT_FALSE(ServerConfigFromArgs({"--listen"}).ok());
  EXPECT_FALSE(ServerConfigFromArgs({"stray"}).ok());
  EXPECT_FALSE(ServerConfigFromArgs({"--idle-timeout-s", "-4"}).ok());
  EXPECT_FALSE(ServerConfigFromArgs({"--idle-timeout-s", "ten"}).ok());
  EXPECT_FALSE(ServerConfigFromArgs({"--listen", "localhost"}).ok());
  EXPECT_FALSE(ServerConfigFromArgs({"--listen", "localhost:99999"}).ok());
}

TEST(ServerConfigTest, TheProgramAlwaysHasAStoreAndADashboard) {
  auto config = ServerConfigFromArgs({});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->db_path(), DefaultDatabasePath());
  EXPECT_EQ(config->retention_days(), 90);
  EXPECT_EQ(config->http_listen(), "127.0.0.1:8080");
  // Embedded (no flags parsed), the server has neither unless asked.
  const v1::ServerConfig embedded = WithDefaults(v1::ServerConfig());
  EXPECT_TRUE(embedded.db_path().empty());
  EXPECT_TRUE(embedded.http_listen().empty());
}

TEST(ServerConfigTest, TheDefaultDatabaseFollowsXdgDataHome) {
  const char* saved = std::getenv("XDG_DATA_HOME");
  const std::string saved_value = saved != nullptr ? saved : "";
  setenv("XDG_DATA_HOME", "/srv/data", 1);
  EXPECT_EQ(DefaultDatabasePath(), "/srv/data/callguard/callguard.db");
  unsetenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    EXPECT_EQ(DefaultDatabasePath(), std::string(home) + "/.local/share/callguard/callguard.db");
  }
  if (saved != nullptr) setenv("XDG_DATA_HOME", saved_value.c_str(), 1);
}

TEST(ServerConfigTest, StoreAndDashboardFlags) {
  auto config = ServerConfigFromArgs(
      {"--db", "/var/lib/callguard/alerts.db", "--retention-days=0", "--http-listen", "0.0.0.0:9090"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->db_path(), "/var/lib/callguard/alerts.db");
  EXPECT_TRUE(config->has_retention_days());
  EXPECT_EQ(config->retention_days(), 0) << "0 keeps everything; it is not replaced by the default";
  EXPECT_EQ(config->http_listen(), "0.0.0.0:9090");

  TempFile file("db_path: \"/tmp/from-file.db\"\nretention_days: 7\n");
  auto from_file = ServerConfigFromArgs({"--config", file.path()});
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->db_path(), "/tmp/from-file.db");
  EXPECT_EQ(from_file->retention_days(), 7);

  EXPECT_NE(ServerConfigFromArgs({"--http-listen", "8080"}).status().message().find("http_listen"),
            std::string::npos);
  EXPECT_FALSE(ServerConfigFromArgs({"--retention-days", "-1"}).ok());
  EXPECT_FALSE(ServerConfigFromArgs({"--db="}).ok());
  v1::ServerConfig dashboard_without_store = WithDefaults(v1::ServerConfig());
  dashboard_without_store.set_http_listen("127.0.0.1:0");
  EXPECT_NE(ValidateServerConfig(dashboard_without_store).message().find("db_path"), std::string::npos);
}

}  // namespace
}  // namespace callguard
