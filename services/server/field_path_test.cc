#include "field_path.h"

#include "gtest/gtest.h"

namespace callguard {
namespace {

TEST(FieldPathTest, PutsTheEnginesFieldInsideTheEventPart) {
  EXPECT_EQ(QualifyField("utterance", "text"), "utterance.text");
  EXPECT_EQ(QualifyField("start", "debtor.names"), "start.debtor.names");
}

TEST(FieldPathTest, KeepsAPathThatIsAlreadyWhole) {
  EXPECT_EQ(QualifyField("start", "start.call_id"), "start.call_id");
  EXPECT_EQ(QualifyField("start", "start"), "start");
  // A longer name that merely begins like the prefix is still qualified.
  EXPECT_EQ(QualifyField("start", "started_at"), "start.started_at");
}

TEST(FieldPathTest, EmptyPartsLeaveTheOther) {
  EXPECT_EQ(QualifyField("party_update", ""), "party_update");
  EXPECT_EQ(QualifyField("", "text"), "text");
}

}  // namespace
}  // namespace callguard
