#include "outbound_queue.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "movable_byte_buffer.h"
#include "parked_call.h"
#include "wire_codec.h"

namespace callguard {
namespace {

// Longer than gRPC keeps inside a slice itself, so the bytes live in a shared heap block.
std::string Padded(const std::string& text) { return text + std::string(48, '.'); }

grpc::ByteBuffer BufferOf(const std::string& text) {
  grpc::Slice slice(Padded(text));
  return grpc::ByteBuffer(&slice, 1);
}

// Where the first slice's bytes are: a moved or shared buffer keeps them where they were.
uintptr_t DataOf(const grpc::ByteBuffer& buffer) {
  grpc::Slice slice;
  if (!buffer.TrySingleSlice(&slice).ok()) return 0;
  return reinterpret_cast<uintptr_t>(slice.begin());
}

TEST(MovableByteBufferTest, MoveTakesTheBufferAndLeavesTheSourceEmpty) {
  grpc::ByteBuffer source = BufferOf("verdict bytes");
  const uintptr_t data = DataOf(source);
  MovableByteBuffer held(std::move(source));
  EXPECT_FALSE(source.Valid());
  EXPECT_EQ(ByteBufferToString(held.get()), Padded("verdict bytes"));
  EXPECT_EQ(DataOf(held.get()), data);

  MovableByteBuffer moved(std::move(held));
  EXPECT_FALSE(held.get().Valid());
  EXPECT_EQ(DataOf(moved.get()), data);

  MovableByteBuffer assigned(BufferOf("older"));
  assigned = std::move(moved);
  EXPECT_FALSE(moved.get().Valid());
  EXPECT_EQ(ByteBufferToString(assigned.get()), Padded("verdict bytes"));
}

TEST(MovableByteBufferTest, CopySharesTheBytesAndKeepsTheSource) {
  const MovableByteBuffer original(BufferOf("kept for resending"));
  const MovableByteBuffer copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_EQ(ByteBufferToString(original.get()), Padded("kept for resending"));
  EXPECT_EQ(ByteBufferToString(copy.get()), Padded("kept for resending"));
  EXPECT_EQ(DataOf(copy.get()), DataOf(original.get()));
}

TEST(MovableByteBufferTest, AVectorThatGrowsKeepsEveryBufferInOrder) {
  std::vector<MovableByteBuffer> buffers;
  std::vector<uintptr_t> data;
  for (int i = 0; i < 100; ++i) {
    grpc::ByteBuffer b = BufferOf("answer " + std::to_string(i));
    data.push_back(DataOf(b));
    buffers.emplace_back(std::move(b));
  }
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(ByteBufferToString(buffers[i].get()), Padded("answer " + std::to_string(i)));
    EXPECT_EQ(DataOf(buffers[i].get()), data[i]) << i;
  }
}

TEST(OutboundQueueTest, WritesInOrderOneAtATime) {
  OutboundQueue queue;
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.StartNext(), nullptr);
  for (int i = 0; i < 5; ++i) queue.Push(BufferOf("a" + std::to_string(i)));
  EXPECT_EQ(queue.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const grpc::ByteBuffer* next = queue.StartNext();
    ASSERT_NE(next, nullptr);
    EXPECT_EQ(ByteBufferToString(*next), Padded("a" + std::to_string(i)));
    // One write at a time: nothing more until this one is done.
    EXPECT_EQ(queue.StartNext(), nullptr);
    EXPECT_TRUE(queue.writing());
    // Pushing while a write is in flight leaves the in-flight buffer where it is.
    queue.Push(BufferOf("late"));
    EXPECT_EQ(ByteBufferToString(*next), Padded("a" + std::to_string(i)));
    queue.WriteDone();
    queue.DropWaiting();
    for (int j = i + 1; j < 5; ++j) queue.Push(BufferOf("a" + std::to_string(j)));
  }
  EXPECT_TRUE(queue.empty());
}

TEST(OutboundQueueTest, PushTakesTheCallersBuffer) {
  OutboundQueue queue;
  grpc::ByteBuffer answer = BufferOf("summary");
  queue.Push(std::move(answer));
  EXPECT_FALSE(answer.Valid());
  EXPECT_EQ(ByteBufferToString(*queue.StartNext()), Padded("summary"));
}

TEST(OutboundQueueTest, PumpPausesReadingWhenFullAndFinishesWhenDrained) {
  OutboundQueue queue;
  StreamFlow flow;
  for (int i = 0; i < 3; ++i) queue.Push(BufferOf("x"));
  StreamActions first = PumpStream(queue, flow, /*want_read=*/true, /*max_queued=*/3);
  EXPECT_FALSE(first.read);
  EXPECT_TRUE(flow.read_paused);
  EXPECT_NE(first.write, nullptr);
  queue.WriteDone();
  EXPECT_TRUE(ResumeReadAfterWrite(queue, flow, 3));
  flow.finishing = true;
  while (queue.StartNext() != nullptr) queue.WriteDone();
  StreamActions last = PumpStream(queue, flow, /*want_read=*/true, 3);
  EXPECT_TRUE(last.finish);
  EXPECT_TRUE(last.finish_status.ok());
}

TEST(ResendRingTest, KeepsTheLastAnswersAcrossGrowthAndWrap) {
  ResendRing ring;
  const uint64_t total = ResendRing::kCapacity + 10;
  for (uint64_t seq = 1; seq <= total; ++seq) {
    const grpc::ByteBuffer sent = BufferOf("answer " + std::to_string(seq));
    ring.Add(seq, sent);
    EXPECT_TRUE(sent.Valid());  // the stream still writes it
  }
  EXPECT_EQ(ring.size(), ResendRing::kCapacity);
  EXPECT_EQ(ring.oldest_seq(), total - ResendRing::kCapacity + 1);
  const std::vector<grpc::ByteBuffer> after = ring.After(total - 3);
  ASSERT_EQ(after.size(), 3u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(ByteBufferToString(after[i]), Padded("answer " + std::to_string(total - 2 + i)));
  }
}

}  // namespace
}  // namespace callguard
