#include "ssh/transport/packet_codec.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace sallyport::ssh::transport {
namespace {

std::vector<uint8_t> Header(uint32_t length, uint8_t padding) {
  return {static_cast<uint8_t>(length >> 24),
          static_cast<uint8_t>(length >> 16), static_cast<uint8_t>(length >> 8),
          static_cast<uint8_t>(length), padding};
}

std::unique_ptr<crypto::PacketCipher> Gcm(bool encrypt) {
  std::vector<uint8_t> key(16, 7), iv(12, 9);
  auto c = crypto::CreatePacketCipher("aes128-gcm@openssh.com", "", key, iv, {},
                                      encrypt);
  EXPECT_TRUE(c.ok());
  return std::move(*c);
}

// An encoder and a decoder that agree: the "none" cipher or aes128-gcm.
struct Codecs {
  explicit Codecs(bool encrypted) {
    if (encrypted) {
      enc.SetCipher(Gcm(true));
      dec.SetCipher(Gcm(false));
    }
  }
  PacketEncoder enc;
  PacketDecoder dec;
};

TEST(PacketCodecTest, RoundTripPlainAndEncrypted) {
  for (bool encrypted : {false, true}) {
    auto [enc, dec] = Codecs(encrypted);
    std::vector<uint8_t> wire;
    for (size_t size : {1, 2, 15, 16, 100, 32768, 35000}) {
      std::vector<uint8_t> payload(size, static_cast<uint8_t>(size));
      payload[0] = 94;
      enc.Encode(payload, &wire);
    }
    size_t off = 0;
    for (size_t size : {1, 2, 15, 16, 100, 32768, 35000}) {
      auto p = dec.Decode(absl::MakeSpan(wire).subspan(off));
      ASSERT_TRUE(p.ok()) << p.status();
      ASSERT_TRUE(p->has_value());
      EXPECT_EQ((*p)->payload.size(), size);
      off += (*p)->consumed;
    }
    EXPECT_EQ(off, wire.size());
  }
}

TEST(PacketCodecTest, TwoPartPayloadEqualsOnePart) {
  // Encode(head, tail) is what bulk channel data uses (no copy into one
  // buffer first); the receiver must see exactly head ‖ tail.
  auto [enc, dec] = Codecs(/*encrypted=*/true);
  const std::vector<uint8_t> head = {94, 0, 0, 0, 7, 0, 0, 0x80, 0};
  std::vector<uint8_t> tail(32768);
  for (size_t i = 0; i < tail.size(); ++i) tail[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> wire = {1, 2, 3};  // appends after what is there
  enc.Encode(head, tail, &wire);
  enc.Encode(head, {}, &wire);
  ASSERT_EQ(wire[0], 1);
  auto p = dec.Decode(absl::MakeSpan(wire).subspan(3));
  ASSERT_TRUE(p.ok() && p->has_value()) << p.status();
  std::vector<uint8_t> want = head;
  want.insert(want.end(), tail.begin(), tail.end());
  EXPECT_EQ(std::vector<uint8_t>((*p)->payload.begin(), (*p)->payload.end()),
            want);
  auto q = dec.Decode(absl::MakeSpan(wire).subspan(3 + (*p)->consumed));
  ASSERT_TRUE(q.ok() && q->has_value()) << q.status();
  EXPECT_EQ(std::vector<uint8_t>((*q)->payload.begin(), (*q)->payload.end()),
            head);
}

TEST(PacketCodecTest, SealInPlaceMatchesEncode) {
  // Data read straight into a packet (SealInPlace) must decode exactly as
  // the copying Encode does, for every payload size around the block
  // boundaries, with and without a cipher.
  for (bool encrypted : {false, true}) {
    auto [enc, dec] = Codecs(encrypted);
    for (size_t size = 1; size < 70; ++size) {
      std::vector<uint8_t> payload(size);
      for (size_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(i);
      payload[0] = 94;
      std::vector<uint8_t> copied;
      enc.Encode(payload, &copied);
      ASSERT_EQ(copied.size(), enc.SealedSize(size));
      std::vector<uint8_t> packet(enc.SealedSize(size), 0xee);
      std::copy(payload.begin(), payload.end(),
                packet.begin() + PacketEncoder::kPayloadOffset);
      enc.SealInPlace(absl::MakeSpan(packet), size);
      for (auto* wire : {&copied, &packet}) {
        auto p = dec.Decode(absl::MakeSpan(*wire));
        ASSERT_TRUE(p.ok() && p->has_value()) << p.status();
        EXPECT_EQ((*p)->consumed, wire->size());
        EXPECT_EQ(
            std::vector<uint8_t>((*p)->payload.begin(), (*p)->payload.end()),
            payload);
      }
    }
  }
}

TEST(PacketCodecTest, PaddingIsRandomAcrossPackets) {
  // Padding bytes come from a pool refilled by RAND_bytes; with the "none"
  // cipher they are visible. Over many packets (more than one pool) they
  // must not repeat or be constant.
  PacketEncoder enc;
  std::vector<std::vector<uint8_t>> paddings;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> wire;
    enc.Encode(std::vector<uint8_t>{94, 1, 2}, &wire);
    const uint8_t padding = wire[4];
    ASSERT_GE(padding, 4);
    paddings.emplace_back(wire.end() - padding, wire.end());
  }
  std::sort(paddings.begin(), paddings.end());
  EXPECT_EQ(std::unique(paddings.begin(), paddings.end()), paddings.end());
}

TEST(PacketCodecTest, PartialInputWaits) {
  PacketEncoder enc;
  std::vector<uint8_t> wire;
  enc.Encode(std::vector<uint8_t>{94, 1, 2, 3}, &wire);
  PacketDecoder dec;
  for (size_t n = 0; n < wire.size(); ++n) {
    std::vector<uint8_t> part(wire.begin(),
                              wire.begin() + static_cast<long>(n));
    auto p = dec.Decode(absl::MakeSpan(part));
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(p->has_value());
  }
  auto p = dec.Decode(absl::MakeSpan(wire));
  ASSERT_TRUE(p.ok() && p->has_value());
}

// SECURITY.md: lengths 0, 4, 5, 35000, 262144, 262145, 0xffffffff.
TEST(PacketCodecTest, LengthLimitsBeforeAnyArithmetic) {
  struct Case {
    uint32_t length;
    bool refused;
  };
  // With AES-GCM the 4 length bytes are outside the 16-byte alignment.
  for (Case c : {Case{0, true}, Case{4, true}, Case{5, true}, Case{35000, true},
                 Case{35008, false}, Case{262144, false}, Case{262145, true},
                 Case{0xffffffff, true}}) {
    PacketDecoder dec;
    dec.SetCipher(Gcm(false));
    std::vector<uint8_t> buf = Header(c.length, 4);
    auto p = dec.Decode(absl::MakeSpan(buf));
    if (c.refused) {
      EXPECT_FALSE(p.ok()) << c.length;
    } else {
      ASSERT_TRUE(p.ok()) << c.length << " " << p.status();
      EXPECT_FALSE(p->has_value());  // waits for the rest, reads nothing beyond
    }
  }
}

TEST(PacketCodecTest, PaddingRules) {
  // Plain packets: total length a multiple of 8; padding >= 4; payload >= 1.
  auto make = [](uint32_t length, uint8_t padding) {
    std::vector<uint8_t> b = Header(length, padding);
    b.resize(4 + length, 0);
    if (4 + length > 5) b[5] = 94;
    return b;
  };
  PacketDecoder ok_dec;
  auto good = make(12, 10);  // 4+12=16, payload 1
  auto p = ok_dec.Decode(absl::MakeSpan(good));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->has_value());

  PacketDecoder d1;
  auto short_pad = make(12, 3);
  EXPECT_FALSE(d1.Decode(absl::MakeSpan(short_pad)).ok());
  PacketDecoder d2;
  auto no_payload = make(12, 11);
  EXPECT_FALSE(d2.Decode(absl::MakeSpan(no_payload)).ok());
  PacketDecoder d3;
  auto misaligned = make(13, 4);
  EXPECT_FALSE(d3.Decode(absl::MakeSpan(misaligned)).ok());
  PacketDecoder d4;
  auto type0 = make(12, 10);
  type0[5] = 0;
  EXPECT_FALSE(d4.Decode(absl::MakeSpan(type0)).ok());
}

TEST(PacketCodecTest, SequenceNumbersWrap) {
  PacketEncoder enc;
  std::vector<uint8_t> wire;
  for (int i = 0; i < 3; ++i) enc.Encode(std::vector<uint8_t>{94}, &wire);
  EXPECT_EQ(enc.sequence_number(), 3u);
  EXPECT_FALSE(enc.wrapped());
  enc.ResetSequenceNumber();
  EXPECT_EQ(enc.sequence_number(), 0u);
}

}  // namespace
}  // namespace sallyport::ssh::transport
