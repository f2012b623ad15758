// Quality floors on labelled calls (FORMAT.md). The development corpus lives beside the
// checkout (where it is absent the test says so and skips): F1 >= 0.90 for each core kind and
// alerts on at most 5% of compliant calls, per language. The held-out calls ship in the repo;
// they were written blind to the policies to measure generalization, so their floor is lower.
#include <filesystem>

#include "gtest/gtest.h"
#include "policy_loader.h"
#include "replay.h"
#include "scorer.h"
#include "transcript_io.h"

namespace callguard {
namespace {

struct Corpus {
  std::string name;
  std::string path;
  double min_f1;
  double max_compliant_alert_rate;
};

const Corpus kCorpora[] = {
    {"dev_en", CALLGUARD_SOURCE_DIR "/../shared/corpus/dev-en.jsonl", 0.90, 0.05},
    {"dev_zh", CALLGUARD_SOURCE_DIR "/../shared/corpus/dev-zh.jsonl", 0.90, 0.05},
    {"heldout_en", CALLGUARD_SOURCE_DIR "/tests/data/heldout-en.jsonl", 0.80, 0.10},
    {"heldout_zh", CALLGUARD_SOURCE_DIR "/tests/data/heldout-zh.jsonl", 0.80, 0.10},
};

class CorpusQualityTest : public ::testing::TestWithParam<Corpus> {};

TEST_P(CorpusQualityTest, MeetsTheFloor) {
  const std::string path = GetParam().path;
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "corpus not found at " << path;
  auto engine = Engine::LoadFromDirectory(DefaultPolicyDirectory());
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto calls = ReadTranscripts(path);
  ASSERT_TRUE(calls.ok()) << calls.status();
  ASSERT_GT(calls->size(), 10u);
  Scorer scorer;
  for (const auto& call : *calls) {
    auto alerts = ReplayTranscript(*engine, call);
    ASSERT_TRUE(alerts.ok()) << alerts.status();
    scorer.AddCall(call, *alerts);
  }
  const EvalReport& report = scorer.report();
  std::cout << FormatReport(report);
  for (v1::ViolationKind kind : {v1::MISSING_SELF_IDENTIFICATION, v1::THIRD_PARTY_DISCLOSURE,
                                 v1::PROHIBITED_THREAT, v1::NEW_DEBT_INDUCEMENT}) {
    EXPECT_GE(report.by_kind.at(kind).f1(), GetParam().min_f1) << v1::ViolationKind_Name(kind);
  }
  EXPECT_LE(report.compliant_alert_rate(), GetParam().max_compliant_alert_rate);
}

// Interim results must not change what a call is judged to contain.
TEST_P(CorpusQualityTest, InterimResultsRaiseTheSameAlerts) {
  const std::string path = GetParam().path;
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "corpus not found at " << path;
  auto engine = Engine::LoadFromDirectory(DefaultPolicyDirectory());
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto calls = ReadTranscripts(path);
  ASSERT_TRUE(calls.ok()) << calls.status();
  Scorer finals, interims;
  for (const auto& call : *calls) {
    auto a = ReplayTranscript(*engine, call);
    auto b = ReplayTranscript(*engine, call, ReplayOptions{.interim_results = true});
    ASSERT_TRUE(a.ok() && b.ok());
    finals.AddCall(call, *a);
    interims.AddCall(call, *b);
  }
  // Partial text can raise a warning early, but the recall must not drop.
  for (const auto& [kind, score] : finals.report().by_kind) {
    EXPECT_GE(interims.report().by_kind.at(kind).true_positives, score.true_positives) << v1::ViolationKind_Name(kind);
  }
}

INSTANTIATE_TEST_SUITE_P(Corpora, CorpusQualityTest, ::testing::ValuesIn(kCorpora),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace callguard
