#include "server_config.h"

#include <cstdio>
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

}  // namespace
}  // namespace callguard
