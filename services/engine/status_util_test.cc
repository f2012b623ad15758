#include "status_util.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace callguard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FieldErrorTest, NamesTheFieldInTheMessageAndThePayload) {
  const absl::Status status = FieldError(absl::StatusCode::kNotFound, "policy_id", "no such policy");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "policy_id: no such policy");
  EXPECT_EQ(FieldOf(status), "policy_id");
}

TEST(FieldErrorTest, InvalidFieldIsAnInvalidArgument) {
  const absl::Status status = InvalidField("utterance.text", "too long");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(status), "utterance.text");
  EXPECT_THAT(status.message(), HasSubstr("too long"));
}

TEST(FieldErrorTest, TheFieldSurvivesCopies) {
  absl::Status copy;
  {
    const absl::Status original = InvalidField("call_start.agent.name", "empty");
    copy = original;
  }
  EXPECT_EQ(FieldOf(copy), "call_start.agent.name");
}

TEST(FieldErrorTest, StatusesWithoutAFieldHaveNone) {
  EXPECT_EQ(FieldOf(absl::OkStatus()), "");
  EXPECT_EQ(FieldOf(absl::InvalidArgumentError("text: bad")), "");
  EXPECT_EQ(FieldOf(absl::InternalError("boom")), "");
}

TEST(ValidateUtf8Test, AcceptsWellFormedText) {
  for (const char* text : {"", "plain ascii", "caf\xc3\xa9", "说还钱", "\xf0\x9f\x98\x80",
                           "\xed\x9f\xbf",           // U+D7FF, just below the surrogates
                           "\xee\x80\x80",           // U+E000, just above them
                           "\xef\xbf\xbf",           // U+FFFF
                           "\xf4\x8f\xbf\xbf"}) {    // U+10FFFF, the last code point
    EXPECT_TRUE(ValidateUtf8(text, "text").ok()) << text;
  }
  const std::string with_nul("a\0b", 3);
  EXPECT_TRUE(ValidateUtf8(with_nul, "text").ok());
}

struct BadUtf8 {
  std::string bytes;
  size_t offset;  // where the bad sequence starts
};

TEST(ValidateUtf8Test, RejectsMalformedTextNamingFieldAndOffset) {
  const BadUtf8 cases[] = {
      {"\x80", 0},                       // continuation byte without a lead
      {"abc\xff", 3},                    // never valid in UTF-8
      {"ab\xfe", 2},
      {"\xf8\x88\x80\x80\x80", 0},       // five-byte form
      {"x\xe8\xafy", 1},                 // lead byte followed by a non-continuation
      {"\xc0\xaf", 0},                   // overlong '/'
      {"\xe0\x80\xaf", 0},               // overlong, three bytes
      {"\xf0\x80\x80\xaf", 0},           // overlong, four bytes
      {"ok\xed\xa0\x80", 2},             // UTF-16 surrogate D800
      {"\xed\xbf\xbf", 0},               // surrogate DFFF
      {"\xf4\x90\x80\x80", 0},           // above U+10FFFF
      {"\xf5\x80\x80\x80", 0},
      {"\xe8\xaf", 0},                   // truncated at the end
      {"说\xe8", 3},
  };
  for (const BadUtf8& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.bytes));
    const absl::Status status = ValidateUtf8(c.bytes, "utterance.text");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(FieldOf(status), "utterance.text");
    EXPECT_THAT(status.message(), HasSubstr("byte " + std::to_string(c.offset)));
  }
}

TEST(ValidateUtf8Test, SaysWhenASequenceIsCutShort) {
  EXPECT_THAT(ValidateUtf8("abc\xe8\xaf", "text").message(), HasSubstr("truncated"));
  EXPECT_THAT(ValidateUtf8("abc\xe8\xafx", "text").message(), Not(HasSubstr("truncated")));
}

}  // namespace
}  // namespace callguard
