#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::wire {
namespace {

std::vector<uint8_t> B(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int x : v) out.push_back(static_cast<uint8_t>(x));
  return out;
}

TEST(WireTest, IntegersRoundTrip) {
  Writer w;
  w.Byte(0xab)
      .Bool(true)
      .Bool(false)
      .Uint32(0xdeadbeef)
      .Uint64(0x0102030405060708ull);
  EXPECT_EQ(w.data(),
            B({0xab, 1, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8}));
  Reader r(w.data());
  EXPECT_EQ(*r.ReadByte(), 0xab);
  EXPECT_TRUE(*r.ReadBool());
  EXPECT_FALSE(*r.ReadBool());
  EXPECT_EQ(*r.ReadUint32(), 0xdeadbeefu);
  EXPECT_EQ(*r.ReadUint64(), 0x0102030405060708ull);
  EXPECT_TRUE(r.ExpectEnd().ok());
}

TEST(WireTest, AnyNonZeroBooleanIsTrue) {
  auto data = B({0x2a});
  Reader r(data);
  EXPECT_TRUE(*r.ReadBool());
}

TEST(WireTest, ShortReadsFailAndConsumeNothing) {
  auto data = B({1, 2, 3});
  Reader r(data);
  EXPECT_EQ(r.ReadUint32().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.remaining(), 3u);
  EXPECT_FALSE(r.ReadUint64().ok());
  EXPECT_FALSE(r.ReadRaw(4).ok());
  EXPECT_EQ(r.remaining(), 3u);
  EXPECT_TRUE(r.ReadRaw(3).ok());
  EXPECT_FALSE(r.ReadByte().ok());
}

TEST(WireTest, StringLengthsAreCheckedWithoutOverflow) {
  // Length 0xffffffff with 2 bytes behind it: must fail, not wrap.
  auto data = B({0xff, 0xff, 0xff, 0xff, 'a', 'b'});
  Reader r(data);
  EXPECT_FALSE(r.ReadString(UINT32_MAX).ok());
  EXPECT_EQ(r.remaining(), 6u);
  // Length larger than what remains.
  auto data2 = B({0, 0, 0, 3, 'a', 'b'});
  Reader r2(data2);
  EXPECT_FALSE(r2.ReadString().ok());
  EXPECT_EQ(r2.remaining(), 6u);
  // Over the caller's cap even though the bytes are there.
  auto data3 = B({0, 0, 0, 2, 'a', 'b'});
  Reader r3(data3);
  EXPECT_FALSE(r3.ReadString(1).ok());
  EXPECT_EQ(*r3.ReadStringView(2), "ab");
}

TEST(WireTest, CStringRefusesNul) {
  Writer w;
  w.String(std::string("ro\0ot", 5));
  Reader r(w.data());
  EXPECT_FALSE(r.ReadCString().ok());
  EXPECT_EQ(r.remaining(), 9u);
  EXPECT_EQ(r.ReadStringView()->size(), 5u);
}

TEST(WireTest, MpintEncodingFollowsRfc4251Examples) {
  // RFC 4251 §5 examples.
  Writer w;
  w.Mpint({});
  EXPECT_EQ(w.data(), B({0, 0, 0, 0}));
  Writer w2;
  w2.Mpint(B({0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7}));
  EXPECT_EQ(w2.data(),
            B({0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7}));
  Writer w3;
  w3.Mpint(B({0x80}));
  EXPECT_EQ(w3.data(), B({0, 0, 0, 2, 0x00, 0x80}));
  // Leading zeros of the magnitude are stripped.
  Writer w4;
  w4.Mpint(B({0, 0, 0x12}));
  EXPECT_EQ(w4.data(), B({0, 0, 0, 1, 0x12}));

  Reader r(w3.data());
  EXPECT_EQ(*r.ReadMpint(), B({0x80}));
}

TEST(WireTest, MpintRefusesNegativeNonMinimalAndOversized) {
  auto neg = B({0, 0, 0, 2, 0xed, 0xcc});  // -1234 in RFC 4251
  Reader r(neg);
  EXPECT_FALSE(r.ReadMpint().ok());
  EXPECT_EQ(r.remaining(), 6u);
  auto padded = B({0, 0, 0, 2, 0x00, 0x12});
  Reader r2(padded);
  EXPECT_FALSE(r2.ReadMpint().ok());
  auto lone_zero = B({0, 0, 0, 1, 0x00});
  Reader r3(lone_zero);
  EXPECT_FALSE(r3.ReadMpint().ok());
  Writer big;
  big.Mpint(std::vector<uint8_t>(2100, 0x7f));
  Reader r4(big.data());
  EXPECT_FALSE(r4.ReadMpint().ok());  // over the 2049-byte default
  Reader r5(big.data());
  EXPECT_TRUE(r5.ReadMpint(4096).ok());
}

TEST(WireTest, NameLists) {
  Writer w;
  w.NameList({"zlib", "none"}).NameList({});
  Reader r(w.data());
  EXPECT_EQ(*r.ReadNameList(), (std::vector<std::string>{"zlib", "none"}));
  EXPECT_TRUE(r.ReadNameList()->empty());
  EXPECT_TRUE(r.ExpectEnd().ok());

  for (std::string bad :
       {std::string(","), std::string("a,,b"), std::string("a,"),
        std::string("a b"), std::string("a\0b", 3), std::string("\x80")}) {
    Writer wb;
    wb.String(bad);
    Reader rb(wb.data());
    EXPECT_FALSE(rb.ReadNameList().ok()) << bad;
    EXPECT_EQ(rb.remaining(), wb.size());
  }
  Writer many;
  std::vector<std::string> names(1025, "x");
  many.NameList(names);
  Reader rm(many.data());
  EXPECT_FALSE(rm.ReadNameList().ok());
}

TEST(WireTest, ExpectEndReportsTrailingBytes) {
  auto data = B({1, 2});
  Reader r(data);
  ASSERT_TRUE(r.ReadByte().ok());
  EXPECT_EQ(r.ExpectEnd().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WireTest, LengthMarkers) {
  Writer w;
  size_t m = w.BeginLength();
  w.Uint32(7).String("hi");
  w.FinishLength(m);
  Reader r(w.data());
  auto inner = r.ReadString();
  ASSERT_TRUE(inner.ok());
  EXPECT_EQ(inner->size(), 10u);
}

}  // namespace
}  // namespace sallyport::ssh::wire
