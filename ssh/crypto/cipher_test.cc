// Behaviour of every packet cipher: round trips, tampering, sequence
// numbers, and the name/length checks. Known-answer checks of each
// construction are in cipher_known_answer_test.cc.
#include "ssh/crypto/cipher.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ssh/crypto/cipher_test_util.h"

namespace sallyport::ssh::crypto {
namespace {

using ::testing::ElementsAre;

// ---------------------------------------------- properties of every suite

class CipherSuiteTest : public testing::TestWithParam<Suite> {};

TEST_P(CipherSuiteTest, ReportsSpecShape) {
  const Suite& s = GetParam();
  auto c = Make(s, MakeKeys(s, 1), true);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name(), s.cipher);
  EXPECT_FALSE(c->aligns_length_field());
  EXPECT_EQ(c->block_size(), IsChaCha(s) ? 8u : 16u);
  size_t tag = 16;
  if (std::string_view(s.mac) == "hmac-sha2-256-etm@openssh.com") tag = 32;
  if (std::string_view(s.mac) == "hmac-sha2-512-etm@openssh.com") tag = 64;
  EXPECT_EQ(c->tag_length(), tag);
}

TEST_P(CipherSuiteTest, RoundTripAcrossSequenceWrap) {
  const Suite& s = GetParam();
  const KeyMaterial keys = MakeKeys(s, 7);
  auto enc = Make(s, keys, true);
  auto dec = Make(s, keys, false);
  ASSERT_NE(enc, nullptr);
  ASSERT_NE(dec, nullptr);
  const size_t sizes[] = {0, 1, 15, 16, 32768, 35000, 100, 255, 4096};
  uint32_t seq = 0xfffffff9;  // wraps to 0 half way
  for (int i = 0; i < 18; ++i, ++seq) {
    const size_t payload = sizes[i % std::size(sizes)];
    SCOPED_TRACE(testing::Message() << "seq " << seq << " payload " << payload);
    Packet p = BuildPacket(*enc, payload, static_cast<uint8_t>(i));
    SealPacket(*enc, seq, p);

    const Bytes body_clear(p.clear.begin() + 4, p.clear.end());
    const Bytes body_sealed(p.buf.begin() + 4, p.buf.begin() + p.size);
    EXPECT_NE(body_sealed, body_clear);
    const Bytes len_sealed(p.buf.begin(), p.buf.begin() + 4);
    const Bytes len_clear(p.clear.begin(), p.clear.begin() + 4);
    if (IsChaCha(s)) {
      EXPECT_NE(len_sealed, len_clear);  // encrypted with K_1
    } else {
      EXPECT_EQ(len_sealed, len_clear);  // AAD / covered by the MAC
    }

    EXPECT_EQ(dec->DecryptLength(seq, p.buf.data()) + 4u, p.size);
    EXPECT_EQ(Bytes(p.buf.begin(), p.buf.begin() + 4), len_sealed)
        << "DecryptLength must not modify its input";
    ASSERT_TRUE(dec->Open(seq, p.span(), p.tag()));
    EXPECT_EQ(Bytes(p.buf.begin(), p.buf.begin() + p.size), p.clear);
  }
}

TEST_P(CipherSuiteTest, SamePlaintextSealsDifferently) {
  const Suite& s = GetParam();
  auto enc = Make(s, MakeKeys(s, 3), true);
  ASSERT_NE(enc, nullptr);
  Packet a = BuildPacket(*enc, 40, 9);
  Packet b = BuildPacket(*enc, 40, 9);
  ASSERT_EQ(a.clear, b.clear);
  SealPacket(*enc, 5, a);
  SealPacket(*enc, 6, b);
  EXPECT_NE(Bytes(a.buf.begin() + 4, a.buf.begin() + a.size),
            Bytes(b.buf.begin() + 4, b.buf.begin() + b.size));
  EXPECT_NE(Bytes(a.tag(), a.tag() + enc->tag_length()),
            Bytes(b.tag(), b.tag() + enc->tag_length()));
}

// SECURITY.md: flip one byte at a time in each cipher mode; never accepted.
TEST_P(CipherSuiteTest, EveryFlippedBitIsRejected) {
  const Suite& s = GetParam();
  const KeyMaterial keys = MakeKeys(s, 11);
  const uint32_t seq = 42;
  auto enc = Make(s, keys, true);
  ASSERT_NE(enc, nullptr);
  Packet sealed = BuildPacket(*enc, 23, 4);
  SealPacket(*enc, seq, sealed);
  const size_t total = sealed.size + enc->tag_length();

  for (size_t pos = 0; pos < total; ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE(testing::Message() << "byte " << pos << " bit " << bit);
      // A fresh receiver each time, exactly where the sender was.
      auto dec = Make(s, keys, false);
      ASSERT_NE(dec, nullptr);
      Packet p = sealed;
      p.buf[pos] ^= static_cast<uint8_t>(1 << bit);
      const uint32_t length = dec->DecryptLength(seq, p.buf.data());
      if (pos < 4) {
        // The length is encrypted (chacha) or in clear: either way it reads
        // differently now; the codec would refuse it or wait for more bytes.
        EXPECT_NE(length + 4u, sealed.size);
      }
      EXPECT_FALSE(dec->Open(seq, p.span(), p.tag()));
      EXPECT_NE(Bytes(p.buf.begin() + 4, p.buf.begin() + p.size),
                Bytes(sealed.clear.begin() + 4, sealed.clear.end()))
          << "a rejected packet must not leave its plaintext behind";
    }
  }
  // The untampered packet opens, so the failures above were the flips.
  auto dec = Make(s, keys, false);
  ASSERT_NE(dec, nullptr);
  EXPECT_TRUE(Receive(*dec, seq, sealed));
  EXPECT_EQ(Bytes(sealed.buf.begin(), sealed.buf.begin() + sealed.size),
            sealed.clear);
}

TEST_P(CipherSuiteTest, TruncatedOrWrongKeyPacketIsRejected) {
  const Suite& s = GetParam();
  auto enc = Make(s, MakeKeys(s, 13), true);
  auto wrong = Make(s, MakeKeys(s, 14), false);
  ASSERT_NE(enc, nullptr);
  ASSERT_NE(wrong, nullptr);
  Packet p = BuildPacket(*enc, 64, 1);
  SealPacket(*enc, 0, p);
  Packet copy = p;
  EXPECT_FALSE(wrong->Open(0, copy.span(), copy.tag()));
  // Same bytes, one block shorter: the tag no longer matches.
  auto dec = Make(s, MakeKeys(s, 13), false);
  ASSERT_NE(dec, nullptr);
  copy = p;
  EXPECT_FALSE(
      dec->Open(0, copy.span().subspan(0, copy.size - 16), copy.tag()));
}

// The sequence number is authenticated by chacha20-poly1305 (the nonce) and
// EtM (MAC input). RFC 5647 GCM does not use it: its per-packet state is the
// IV counter (GcmTest below).
class SequenceBoundTest : public testing::TestWithParam<Suite> {};

TEST_P(SequenceBoundTest, WrongSequenceNumberIsRejected) {
  const Suite& s = GetParam();
  const KeyMaterial keys = MakeKeys(s, 17);
  auto enc = Make(s, keys, true);
  ASSERT_NE(enc, nullptr);
  Packet sealed = BuildPacket(*enc, 30, 2);
  SealPacket(*enc, 7, sealed);
  for (uint32_t seq : {0u, 6u, 8u, 7u + (1u << 31), 0xffffffffu}) {
    SCOPED_TRACE(seq);
    auto dec = Make(s, keys, false);
    ASSERT_NE(dec, nullptr);
    Packet p = sealed;
    EXPECT_FALSE(dec->Open(seq, p.span(), p.tag()));
  }
  auto dec = Make(s, keys, false);
  ASSERT_NE(dec, nullptr);
  EXPECT_TRUE(Receive(*dec, 7, sealed));
}

INSTANTIATE_TEST_SUITE_P(AllSuites, CipherSuiteTest, testing::ValuesIn(kSuites),
                         SuiteName);
INSTANTIATE_TEST_SUITE_P(SequenceBoundSuites, SequenceBoundTest,
                         testing::Values(kSuites[0], kSuites[3], kSuites[4],
                                         kSuites[5], kSuites[6]),
                         SuiteName);

TEST(GcmTest, ReceiverCounterMustMatchSender) {
  const Suite s{"aes256-gcm@openssh.com", ""};
  const KeyMaterial keys = MakeKeys(s, 21);
  auto enc = Make(s, keys, true);
  ASSERT_NE(enc, nullptr);
  Packet first = BuildPacket(*enc, 50, 1);
  Packet second = BuildPacket(*enc, 50, 1);  // same plaintext
  SealPacket(*enc, 0, first);
  SealPacket(*enc, 1, second);

  auto fresh = Make(s, keys, false);  // has not seen packet 1
  ASSERT_NE(fresh, nullptr);
  Packet p = second;
  EXPECT_FALSE(fresh->Open(1, p.span(), p.tag()));

  auto dec = Make(s, keys, false);
  ASSERT_NE(dec, nullptr);
  EXPECT_TRUE(Receive(*dec, 0, first));
  EXPECT_TRUE(Receive(*dec, 1, second));
  EXPECT_EQ(Bytes(second.buf.begin(), second.buf.begin() + second.size),
            second.clear);
}

// ------------------------------------------------------------------- none

TEST(NoneCipherTest, PassesBytesThrough) {
  auto none = CreateNoneCipher();
  EXPECT_EQ(none->name(), "none");
  EXPECT_EQ(none->block_size(), 8u);
  EXPECT_EQ(none->tag_length(), 0u);
  EXPECT_TRUE(none->aligns_length_field());
  Packet p = BuildPacket(*none, 13, 3);
  EXPECT_EQ(p.size % 8, 0u);  // RFC 4253 §6: the length field counts
  none->Seal(9, p.span(), p.tag());
  EXPECT_EQ(Bytes(p.buf.begin(), p.buf.begin() + p.size), p.clear);
  const uint8_t length[4] = {0x00, 0x01, 0x02, 0x03};
  EXPECT_EQ(none->DecryptLength(0, length), 0x00010203u);
  EXPECT_TRUE(none->Open(9, p.span(), p.tag()));
  EXPECT_EQ(Bytes(p.buf.begin(), p.buf.begin() + p.size), p.clear);
}

// ------------------------------------------------------- names and lengths

TEST(LookupTest, SupportedLists) {
  EXPECT_THAT(
      SupportedCiphers(),
      ElementsAre("chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
                  "aes128-gcm@openssh.com", "aes256-ctr", "aes128-ctr"));
  EXPECT_THAT(SupportedMacs(), ElementsAre("hmac-sha2-256-etm@openssh.com",
                                           "hmac-sha2-512-etm@openssh.com"));
  for (const std::string& name : SupportedCiphers()) {
    EXPECT_TRUE(LookupCipher(name).ok()) << name;
  }
  for (const std::string& name : SupportedMacs()) {
    EXPECT_TRUE(LookupMacKeyLength(name).ok()) << name;
  }
}

TEST(LookupTest, CipherSpecs) {
  struct Want {
    const char* name;
    size_t key, iv, block;
    bool aead;
  };
  for (const Want& w :
       {Want{"chacha20-poly1305@openssh.com", 64, 0, 8, true},
        Want{"aes128-gcm@openssh.com", 16, 12, 16, true},
        Want{"aes256-gcm@openssh.com", 32, 12, 16, true},
        Want{"aes128-ctr", 16, 16, 16, false},
        Want{"aes256-ctr", 32, 16, 16, false}, Want{"none", 0, 0, 8, false}}) {
    SCOPED_TRACE(w.name);
    auto spec = LookupCipher(w.name);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->name, w.name);
    EXPECT_EQ(spec->key_length, w.key);
    EXPECT_EQ(spec->iv_length, w.iv);
    EXPECT_EQ(spec->block_size, w.block);
    EXPECT_EQ(spec->aead, w.aead);
  }
  EXPECT_EQ(*LookupMacKeyLength("hmac-sha2-256-etm@openssh.com"), 32u);
  EXPECT_EQ(*LookupMacKeyLength("hmac-sha2-512-etm@openssh.com"), 64u);
}

TEST(LookupTest, RefusesWeakAndUnknownNames) {
  for (const char* name :
       {"aes128-cbc", "aes256-cbc", "3des-cbc", "blowfish-cbc", "arcfour",
        "arcfour256", "rijndael-cbc@lysator.liu.se", "AES128-CTR", "aes192-ctr",
        "chacha20-poly1305", ""}) {
    EXPECT_EQ(LookupCipher(name).status().code(), absl::StatusCode::kNotFound)
        << name;
  }
  EXPECT_EQ(LookupCipher(std::string_view("aes128-ctr\0", 11)).status().code(),
            absl::StatusCode::kNotFound);
  for (const char* name :
       {"hmac-sha1", "hmac-sha1-etm@openssh.com", "hmac-sha2-256",
        "hmac-sha2-512", "hmac-md5", "umac-64-etm@openssh.com",
        "umac-128-etm@openssh.com", "none", ""}) {
    EXPECT_EQ(LookupMacKeyLength(name).status().code(),
              absl::StatusCode::kNotFound)
        << name;
  }
}

TEST(CreatePacketCipherTest, RefusesBadNamesAndLengths) {
  const Bytes k16(16, 1), k32(32, 1), k64(64, 1), iv12(12, 2), iv16(16, 2);
  auto code = [](const absl::StatusOr<std::unique_ptr<PacketCipher>>& r) {
    return r.status().code();
  };
  using absl::StatusCode;
  const char* kEtm256 = "hmac-sha2-256-etm@openssh.com";
  EXPECT_EQ(
      code(CreatePacketCipher("aes128-cbc", kEtm256, k16, iv16, k32, true)),
      StatusCode::kNotFound);
  EXPECT_EQ(code(CreatePacketCipher("3des-cbc", kEtm256, k32, {}, k32, true)),
            StatusCode::kNotFound);
  EXPECT_EQ(code(CreatePacketCipher("none", "", {}, {}, {}, true)),
            StatusCode::kInvalidArgument);
  // Key and IV lengths must match the spec exactly.
  EXPECT_EQ(code(CreatePacketCipher("chacha20-poly1305@openssh.com", "", k32,
                                    {}, {}, true)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(CreatePacketCipher("chacha20-poly1305@openssh.com", "", k64,
                                    iv12, {}, true)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(CreatePacketCipher("aes128-gcm@openssh.com", "", k32, iv12, {},
                                    true)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(CreatePacketCipher("aes256-gcm@openssh.com", "", k32, iv16, {},
                                    true)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      code(CreatePacketCipher("aes256-ctr", kEtm256, k16, iv16, k32, true)),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      code(CreatePacketCipher("aes128-ctr", kEtm256, k16, iv12, k32, true)),
      StatusCode::kInvalidArgument);
  // CTR needs a supported EtM MAC with the right key length.
  for (const char* mac : {"hmac-sha1", "hmac-sha2-256", "", "none"}) {
    EXPECT_EQ(code(CreatePacketCipher("aes128-ctr", mac, k16, iv16, k32, true)),
              StatusCode::kInvalidArgument)
        << mac;
  }
  EXPECT_EQ(
      code(CreatePacketCipher("aes128-ctr", kEtm256, k16, iv16, k16, true)),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      code(CreatePacketCipher("aes128-ctr", "hmac-sha2-512-etm@openssh.com",
                              k16, iv16, k32, true)),
      StatusCode::kInvalidArgument);
  // AEAD ciphers ignore the MAC entirely.
  EXPECT_TRUE(CreatePacketCipher("aes128-gcm@openssh.com", "hmac-sha1", k16,
                                 iv12, k16, false)
                  .ok());
  EXPECT_TRUE(
      CreatePacketCipher("aes256-ctr", kEtm256, k32, iv16, k32, false).ok());
}

}  // namespace
}  // namespace sallyport::ssh::crypto
