#include "ssh/wire/byte_buffer.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sallyport::ssh::wire {
namespace {

ByteBuffer Of(const std::string& s) {
  ByteBuffer b;
  b.assign(s.begin(), s.end());
  return b;
}

std::string Str(const ByteBuffer& b) { return std::string(b.begin(), b.end()); }

TEST(ByteBufferTest, InsertAtEndAppends) {
  ByteBuffer b = Of("abc");
  b.reserve(16);
  const std::string more = "de";
  uint8_t* at = b.insert(b.end(), more.begin(), more.end());
  EXPECT_EQ(Str(b), "abcde");
  EXPECT_EQ(at, b.data() + 3);
}

TEST(ByteBufferTest, InsertInTheMiddleKeepsTheTailAfterIt) {
  ByteBuffer b = Of("abcdef");
  b.reserve(64);  // room: no growth needed
  const std::string mid = "XYZ";
  uint8_t* at = b.insert(b.begin() + 2, mid.begin(), mid.end());
  EXPECT_EQ(Str(b), "abXYZcdef");
  EXPECT_EQ(at, b.data() + 2);
}

TEST(ByteBufferTest, InsertAtTheBeginningWhileGrowing) {
  ByteBuffer b = Of("tail");
  const std::vector<uint8_t> head(100, 'h');
  b.insert(b.begin(), head.begin(), head.end());
  ASSERT_EQ(b.size(), 104u);
  EXPECT_EQ(Str(b), std::string(100, 'h') + "tail");
}

TEST(ByteBufferTest, InsertOfItsOwnBytesInTheMiddle) {
  ByteBuffer b = Of("abcdef");
  b.reserve(64);
  // The source is the part the insert moves up.
  b.insert(b.begin() + 1, b.begin() + 2, b.begin() + 5);
  EXPECT_EQ(Str(b), "acdebcdef");
}

TEST(ByteBufferTest, AppendOfItsOwnBytesWhileGrowing) {
  ByteBuffer b = Of("abc");
  ASSERT_EQ(b.capacity(), 3u);
  b.insert(b.end(), b.begin(), b.end());
  EXPECT_EQ(Str(b), "abcabc");
}

TEST(ByteBufferTest, EmptyInsertChangesNothing) {
  ByteBuffer b = Of("ab");
  const std::string none;
  uint8_t* at = b.insert(b.begin() + 1, none.begin(), none.end());
  EXPECT_EQ(Str(b), "ab");
  EXPECT_EQ(at, b.data() + 1);
  ByteBuffer empty;
  empty.insert(empty.end(), none.begin(), none.end());
  EXPECT_TRUE(empty.empty());
}

TEST(ByteBufferTest, EraseMovesTheRestDown) {
  ByteBuffer b = Of("abcdef");
  b.erase(b.begin() + 1, b.begin() + 3);
  EXPECT_EQ(Str(b), "adef");
}

}  // namespace
}  // namespace sallyport::ssh::wire
