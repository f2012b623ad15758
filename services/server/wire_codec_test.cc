#include "wire_codec.h"

#include <string>

#include "absl/strings/string_view.h"
#include "callguard/v1/guard.pb.h"
#include "gtest/gtest.h"
#include "status_util.h"

namespace callguard {
namespace {

// Serializes `event`, then swaps a same-length marker inside it for raw bytes: the generated
// serializer would not produce invalid UTF-8 on its own terms, the wire can still carry it.
std::string WithRawBytes(const v1::CallEvent& event, absl::string_view marker, absl::string_view raw) {
  std::string wire = event.SerializeAsString();
  const size_t at = wire.find(std::string(marker));
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(marker.size(), raw.size());
  wire.replace(at, marker.size(), std::string(raw));
  return wire;
}

v1::CallEvent UtteranceEvent(const std::string& id, const std::string& text) {
  v1::CallEvent event;
  event.mutable_utterance()->set_utterance_id(id);
  event.mutable_utterance()->set_text(text);
  event.mutable_utterance()->set_speaker(v1::AGENT);
  return event;
}

TEST(WireCodecTest, ParsesAWellFormedEvent) {
  const v1::CallEvent sent = UtteranceEvent("u-1", "hello there");
  v1::CallEvent parsed;
  ASSERT_TRUE(ParseMessage(sent.SerializeAsString(), &parsed).ok());
  EXPECT_EQ(parsed.utterance().text(), "hello there");
  EXPECT_EQ(parsed.utterance().utterance_id(), "u-1");
}

TEST(WireCodecTest, NamesTheUtteranceTextWhenItIsNotUtf8) {
  const std::string wire = WithRawBytes(UtteranceEvent("u-7", "abcXXXXdef"), "XXXX", "\xff\xfe\xc3\x28");
  v1::CallEvent stock;
  ASSERT_FALSE(stock.ParseFromString(wire)) << "the stock parser is expected to reject it";

  v1::CallEvent parsed;
  const absl::Status status = ParseMessage(wire, &parsed);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(status), "utterance.text");
  EXPECT_NE(status.message().find("byte 3"), absl::string_view::npos) << status;
  EXPECT_EQ(FindInvalidUtf8Field(*v1::CallEvent::descriptor(), wire), "utterance.text");
  EXPECT_EQ(ReadStringAt(wire, {2, 1}), "u-7");
}

TEST(WireCodecTest, NamesANestedRepeatedField) {
  v1::CallEvent event;
  event.mutable_start()->set_call_id("c-1");
  event.mutable_start()->mutable_debtor()->add_other_names("Johnny");
  event.mutable_start()->mutable_debtor()->add_other_names("MARK");
  const std::string wire = WithRawBytes(event, "MARK", "\xe4\xb8\xff\xff");
  v1::CallEvent parsed;
  const absl::Status status = ParseMessage(wire, &parsed);
  EXPECT_EQ(FieldOf(status), "start.debtor.other_names[1]");
}

TEST(WireCodecTest, AnInvalidUtteranceIdIsNotEchoedBack) {
  const std::string wire = WithRawBytes(UtteranceEvent("IDID", "fine text"), "IDID", "\xc0\xaf\xc0\xaf");
  v1::CallEvent parsed;
  EXPECT_EQ(FieldOf(ParseMessage(wire, &parsed)), "utterance.utterance_id");
  EXPECT_EQ(ReadStringAt(wire, {2, 1}), "");
}

TEST(WireCodecTest, GarbageIsRejectedWithoutAField) {
  v1::CallEvent parsed;
  const absl::Status status = ParseMessage("\xff\xff\xff\xff", &parsed);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldOf(status), "");
  EXPECT_NE(status.message().find("callguard.v1.CallEvent"), absl::string_view::npos);
}

TEST(WireCodecTest, ByteBufferRoundTrip) {
  const v1::CallEvent sent = UtteranceEvent("u-2", std::string(10000, 'a'));
  const grpc::ByteBuffer buffer = MessageToByteBuffer(sent);
  v1::CallEvent parsed;
  ASSERT_TRUE(ParseMessage(ByteBufferToString(buffer), &parsed).ok());
  EXPECT_EQ(parsed.utterance().text().size(), 10000u);
  EXPECT_EQ(buffer.Length(), sent.ByteSizeLong());
}

TEST(WireCodecTest, ReceivedBytesJoinsSlicesAndViewsASingleOne) {
  const std::string wire = UtteranceEvent("u-3", "split across slices").SerializeAsString();
  std::vector<grpc::Slice> slices;
  slices.emplace_back(wire.substr(0, 5));
  slices.emplace_back(wire.substr(5, 7));
  slices.emplace_back(wire.substr(12));
  const grpc::ByteBuffer split(slices.data(), slices.size());
  EXPECT_EQ(ReceivedBytes(split).view(), wire);

  grpc::Slice one(wire);
  const grpc::ByteBuffer whole(&one, 1);
  const ReceivedBytes received(whole);
  EXPECT_EQ(received.view(), wire);
  // No copy: the view is the slice gRPC holds.
  EXPECT_EQ(static_cast<const void*>(received.view().data()), static_cast<const void*>(one.begin()));
}

}  // namespace
}  // namespace callguard
