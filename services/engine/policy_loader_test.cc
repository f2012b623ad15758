#include "policy_loader.h"

#include <filesystem>
#include <fstream>

#include "compiled_policy.h"
#include "engine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace callguard {
namespace {

using ::testing::HasSubstr;

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("callguard-policy-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

constexpr char kGood[] = R"pb(
id: "p1"
version: "1"
language: "en"
phrase_sets { name: "jail" patterns: "\\bjail\\b" }
rules {
  id: "r1" kind: PROHIBITED_THREAT title: "threat"
  phrases { any_of: "jail" }
}
)pb";

TEST(PolicyLoaderTest, ParseErrorNamesFileLineAndColumn) {
  TempDir dir;
  const std::string path = dir.Write("bad.textproto", "id: \"x\"\nlanguage: \"en\"\nno_such_field: 3\n");
  auto p = ParsePolicyFile(path);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr(path + ":3:"));
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("no_such_field"));
}

TEST(PolicyLoaderTest, LoadsEveryPolicyFileSorted) {
  TempDir dir;
  dir.Write("b.textproto", kGood);
  std::string second = kGood;
  second.replace(second.find("\"p1\""), 4, "\"p0\"");
  dir.Write("a.textproto", second);
  dir.Write("notes.txt", "ignored");
  auto all = LoadPolicyDirectory(dir.path());
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].policy.id(), "p0");
  EXPECT_EQ((*all)[1].policy.id(), "p1");
}

TEST(PolicyLoaderTest, DuplicateIdsAndEmptyFoldersAreErrors) {
  TempDir dir;
  EXPECT_FALSE(LoadPolicyDirectory(dir.path()).ok());
  EXPECT_FALSE(LoadPolicyDirectory(dir.path() + "/missing").ok());
  dir.Write("a.textproto", kGood);
  dir.Write("b.textproto", kGood);
  auto all = LoadPolicyDirectory(dir.path());
  ASSERT_FALSE(all.ok());
  EXPECT_THAT(std::string(all.status().message()), HasSubstr("already defined"));
}

TEST(PolicyLoaderTest, CompileErrorsPointIntoTheFile) {
  TempDir dir;
  std::string bad_ref = kGood;
  bad_ref.replace(bad_ref.find("any_of: \"jail\""), 14, "any_of: \"nope\"");
  const std::string path = dir.Write("ref.textproto", bad_ref);
  auto engine = Engine::LoadFromDirectory(dir.path());
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(std::string(engine.status().message()), HasSubstr(path + ":8:"));
  EXPECT_THAT(std::string(engine.status().message()), HasSubstr("unknown phrase set \"nope\""));

  TempDir dir2;
  std::string bad_regex = kGood;
  bad_regex.replace(bad_regex.find("\\\\bjail\\\\b"), 10, "(jail");
  const std::string path2 = dir2.Write("regex.textproto", bad_regex);
  auto engine2 = Engine::LoadFromDirectory(dir2.path());
  ASSERT_FALSE(engine2.ok());
  EXPECT_THAT(std::string(engine2.status().message()), HasSubstr(path2 + ":5:"));
  EXPECT_THAT(std::string(engine2.status().message()), HasSubstr("phrase set \"jail\" pattern 1"));
}

TEST(PolicyLoaderTest, UnknownCoachingPlaceholderIsAnError) {
  TempDir dir;
  std::string bad = kGood;
  bad.replace(bad.find("title: \"threat\""), 15,
              "title: \"threat\"\n  coaching: \"Say: this is {agent} with {company}\"");
  const std::string path = dir.Write("coaching.textproto", bad);
  auto engine = Engine::LoadFromDirectory(dir.path());
  ASSERT_FALSE(engine.ok());
  EXPECT_THAT(std::string(engine.status().message()), HasSubstr(path + ":"));
  EXPECT_THAT(std::string(engine.status().message()), HasSubstr("unknown placeholder {company}"));
}

// Each speaker's words are scanned for the sets read of that speaker only.
TEST(PolicyLoaderTest, ScopesHoldTheSetsReadOfEachSpeaker) {
  constexpr char kScoped[] = R"pb(
id: "scoped"
version: "1"
language: "en"
party_inference {
  wrong_number_any_of: "wrong_number"
  identity_question_any_of: "identity_question"
}
phrase_sets { name: "jail" patterns: ["\\bjail\\b", "\\barrest"] }
phrase_sets { name: "wrong_number" patterns: "\\bwrong number\\b" }
phrase_sets { name: "identity_question" patterns: "\\bis this\\b" }
phrase_sets { name: "guess" patterns: "\\bis this about\\b" }
phrase_sets { name: "confirms" patterns: "\\byes it is\\b" }
phrase_sets { name: "only_disabled" patterns: "\\bnever read\\b" }
rules {
  id: "threat" kind: PROHIBITED_THREAT title: "threat"
  phrases { any_of: "jail" }
}
rules {
  id: "confirm" kind: THIRD_PARTY_DISCLOSURE title: "confirmed"
  confirmation { counterparty_any_of: "guess" agent_any_of: "confirms" }
}
rules {
  id: "off" kind: PROHIBITED_THREAT title: "off" disabled: true
  phrases { any_of: "only_disabled" }
}
)pb";
  TempDir dir;
  const std::string path = dir.Write("scoped.textproto", kScoped);
  auto source = ParsePolicyFile(path);
  ASSERT_TRUE(source.ok()) << source.status();
  auto policy = CompiledPolicy::Create(source->policy, path);
  ASSERT_TRUE(policy.ok()) << policy.status();
  const CompiledPolicy& p = **policy;
  auto sets_of = [&](int scope) {
    std::vector<std::string> names;
    for (uint32_t pattern : p.matcher().scope_patterns(scope)) {
      const std::string& name = p.set_name(p.set_of_pattern(pattern));
      if (names.empty() || names.back() != name) names.push_back(name);
    }
    return names;
  };
  EXPECT_THAT(sets_of(CompiledPolicy::kAgentScope), ::testing::ElementsAre("jail", "identity_question", "confirms"));
  EXPECT_THAT(sets_of(CompiledPolicy::kCounterpartyScope), ::testing::ElementsAre("wrong_number", "guess"));
  EXPECT_EQ(p.matcher().scope_patterns(CompiledPolicy::kAgentScope).size(), 4u);
}

TEST(PolicyLoaderTest, ShippedPoliciesLoadAndCompile) {
  auto engine = Engine::LoadFromDirectory(DefaultPolicyDirectory());
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_NE((*engine)->FindPolicy("us-fdcpa"), nullptr);
  EXPECT_NE((*engine)->FindPolicy("cn-collection"), nullptr);
  for (const auto& info : (*engine)->PolicyInfos()) {
    EXPECT_GT(info.rules(), 5) << info.id();
    EXPECT_GT(info.patterns(), 50) << info.id();
  }
}

}  // namespace
}  // namespace callguard
