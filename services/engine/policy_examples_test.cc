#include "policy_examples.h"

#include "gtest/gtest.h"
#include "policy_loader.h"

namespace callguard {
namespace {

// Every example a shipped policy carries must hold: they are the policy's own unit tests.
TEST(PolicyExamplesTest, ShippedPoliciesPassTheirOwnExamples) {
  auto engine = Engine::LoadFromDirectory(DefaultPolicyDirectory());
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (const std::string& id : (*engine)->PolicyIds()) {
    auto results = RunPolicyExamples(*engine, id);
    ASSERT_TRUE(results.ok()) << results.status();
    EXPECT_GE(results->size(), 20u) << id << " carries too few examples";
    for (const ExampleResult& r : *results) {
      std::string expected, actual;
      for (auto k : r.expected) expected += v1::ViolationKind_Name(k) + " ";
      for (auto k : r.actual) actual += v1::ViolationKind_Name(k) + " ";
      EXPECT_TRUE(r.passed) << id << " / " << r.name << ": \"" << r.text << "\" expected [" << expected
                            << "] got [" << actual << "]";
    }
  }
}

TEST(PolicyExamplesTest, FailingExampleIsReported) {
  auto source = ParsePolicyFile(CALLGUARD_SOURCE_DIR "/services/engine/testdata/mini-en.textproto");
  ASSERT_TRUE(source.ok());
  auto* ex = source->policy.add_examples();
  ex->set_name("wrong on purpose");
  ex->set_text("nobody will arrest you");
  ex->add_expect(v1::PROHIBITED_THREAT);
  auto engine = Engine::Create(Engine::Options{{*source}, 1});
  ASSERT_TRUE(engine.ok());
  auto results = RunPolicyExamples(*engine, "mini-en");
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 3u);
  EXPECT_TRUE((*results)[0].passed);
  EXPECT_TRUE((*results)[1].passed);
  EXPECT_FALSE((*results)[2].passed);
}

}  // namespace
}  // namespace callguard
