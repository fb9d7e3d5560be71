// Known-answer checks: each construction is rebuilt here from its
// definition (published ChaCha20 keystreams, OpenSSL primitives used
// directly) and compared with what Seal produces.
#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/types/span.h"
#include "base/openssl_handles.h"
#include "gtest/gtest.h"
#include "ssh/crypto/cipher.h"
#include "ssh/crypto/cipher_test_util.h"

namespace sallyport::ssh::crypto {
namespace {

// -------------------------------------------- chacha20-poly1305@openssh.com

// The original ChaCha20 (64-bit nonce, 64-bit counter) keystream from block
// 0, as published in draft-strombergson-chacha-test-vectors (TC1..TC3):
// 128 bytes each = blocks 0 and 1.
constexpr std::string_view kZeroKeyZeroNonce =  // TC1
    "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
    "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
    "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
    "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f";
constexpr std::string_view kKeyOneZeroNonce =  // TC2: key 00..0001
    "4540f05a9f1fb296d7736e7b208e3c96eb4fe1834688d2604f450952ed432d41";
constexpr std::string_view kZeroKeyNonceOne =  // TC3: nonce 00..0001
    "de9cba7bf3d69ef5e786dc63973f653a0b49e015adbff7134fcb7df137821031"
    "e85a050278a7084527214f73efc7fa5b5277062eb7a0433e445f41e31afab757"
    "283547e3d3d30ee0371c1e6025ff4c91b794a291cf7568d48ff84b37329e2730"
    "b12738a072a2b2c7169e326fe4893a7b2421bb910b79599a7ce4fbaee86be427";

Bytes Poly1305(absl::Span<const uint8_t> key, absl::Span<const uint8_t> data) {
  Bytes tag(16);
  size_t len = 0;
  EXPECT_NE(EVP_Q_mac(nullptr, "POLY1305", nullptr, nullptr, nullptr,
                      key.data(), key.size(), data.data(), data.size(),
                      tag.data(), tag.size(), &len),
            nullptr);
  EXPECT_EQ(len, 16u);
  return tag;
}

// `n` bytes of keystream of a stream cipher (mode) under OpenSSL.
Bytes Keystream(const char* evp_name, absl::Span<const uint8_t> key,
                absl::Span<const uint8_t> iv, size_t n) {
  base::EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, evp_name, nullptr));
  base::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  Bytes out(n, 0);
  int len = 0;
  EXPECT_EQ(EVP_EncryptInit_ex2(ctx.get(), cipher.get(), key.data(), iv.data(),
                                nullptr),
            1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx.get(), out.data(), &len, out.data(),
                              static_cast<int>(n)),
            1);
  EXPECT_EQ(static_cast<size_t>(len), n);
  return out;
}

// ChaCha20 keystream under OpenSSL's IV layout: LE64 block counter || nonce.
Bytes ChaChaStream(absl::Span<const uint8_t> key, uint64_t counter,
                   uint64_t nonce, size_t n) {
  uint8_t iv[16];
  for (int i = 0; i < 8; ++i) iv[i] = static_cast<uint8_t>(counter >> (8 * i));
  for (int i = 0; i < 8; ++i)
    iv[8 + i] = static_cast<uint8_t>(nonce >> (56 - 8 * i));
  return Keystream("ChaCha20", key, iv, n);
}

// A 32-byte body: padding_length, 27 bytes of payload, 4 bytes of padding.
Packet ChaChaPacket(const PacketCipher& c) { return BuildPacket(c, 27, 0x30); }

TEST(ChaChaPolyTest, MatchesPublishedKeystreamsAndKeySplit) {
  // K_2 (first half: payload and Poly1305 key) = 0, K_1 (length) = 00..01.
  Bytes key(64, 0);
  key[63] = 1;
  auto enc = CreatePacketCipher("chacha20-poly1305@openssh.com", "", key, {},
                                {}, true);
  ASSERT_TRUE(enc.ok()) << enc.status();
  Packet p = ChaChaPacket(**enc);
  ASSERT_EQ(p.size, 36u);
  (*enc)->Seal(0, p.span(), p.tag());

  const Bytes k2_stream = Hex(kZeroKeyZeroNonce);
  const Bytes k1_stream = Hex(kKeyOneZeroNonce);
  const Bytes length = Xor(absl::MakeSpan(p.clear).subspan(0, 4), k1_stream);
  // The payload starts at block 1 (byte 64) of K_2's keystream.
  const Bytes body = Xor(absl::MakeSpan(p.clear).subspan(4),
                         absl::MakeSpan(k2_stream).subspan(64));
  const Bytes tag =
      Poly1305(absl::MakeSpan(k2_stream).subspan(0, 32), Concat(length, body));
  EXPECT_EQ(Bytes(p.buf.begin(), p.buf.begin() + 4), length);
  EXPECT_EQ(Bytes(p.buf.begin() + 4, p.buf.begin() + 36), body);
  EXPECT_EQ(Bytes(p.tag(), p.tag() + 16), tag);
}

TEST(ChaChaPolyTest, NonceIsBigEndianSequenceNumber) {
  const Bytes key(64, 0);
  auto enc = CreatePacketCipher("chacha20-poly1305@openssh.com", "", key, {},
                                {}, true);
  ASSERT_TRUE(enc.ok()) << enc.status();
  Packet p = ChaChaPacket(**enc);
  ASSERT_EQ(p.size, 36u);
  (*enc)->Seal(1, p.span(), p.tag());  // nonce 00 00 00 00 00 00 00 01

  const Bytes stream = Hex(kZeroKeyNonceOne);
  const Bytes length = Xor(absl::MakeSpan(p.clear).subspan(0, 4), stream);
  const Bytes body = Xor(absl::MakeSpan(p.clear).subspan(4),
                         absl::MakeSpan(stream).subspan(64));
  EXPECT_EQ(Bytes(p.buf.begin(), p.buf.begin() + 4), length);
  EXPECT_EQ(Bytes(p.buf.begin() + 4, p.buf.begin() + 36), body);
  EXPECT_EQ(
      Bytes(p.tag(), p.tag() + 16),
      Poly1305(absl::MakeSpan(stream).subspan(0, 32), Concat(length, body)));
}

TEST(ChaChaPolyTest, MatchesStepByStepConstruction) {
  // The helper's IV layout is pinned to the published vectors first.
  EXPECT_EQ(ChaChaStream(Bytes(32, 0), 0, 1, 128), Hex(kZeroKeyNonceOne));
  const Bytes zero_stream = Hex(kZeroKeyZeroNonce);
  EXPECT_EQ(ChaChaStream(Bytes(32, 0), 1, 0, 64),
            Bytes(zero_stream.begin() + 64, zero_stream.end()));

  const Bytes key = Pattern(64, 0x77);
  const absl::Span<const uint8_t> k2 = absl::MakeSpan(key).subspan(0, 32);
  const absl::Span<const uint8_t> k1 = absl::MakeSpan(key).subspan(32);
  auto enc = CreatePacketCipher("chacha20-poly1305@openssh.com", "", key, {},
                                {}, true);
  ASSERT_TRUE(enc.ok()) << enc.status();
  for (uint32_t seq : {0u, 3u, 0x01000000u, 0xdeadbeefu, 0xffffffffu}) {
    for (size_t payload : {0u, 200u, 35000u}) {
      SCOPED_TRACE(testing::Message() << seq << " " << payload);
      Packet p = BuildPacket(**enc, payload, 5);
      (*enc)->Seal(seq, p.span(), p.tag());
      const size_t body_len = p.size - 4;
      const Bytes length = Xor(absl::MakeSpan(p.clear).subspan(0, 4),
                               ChaChaStream(k1, 0, seq, 4));
      const Bytes body = Xor(absl::MakeSpan(p.clear).subspan(4),
                             ChaChaStream(k2, 1, seq, body_len));
      const Bytes poly_key = ChaChaStream(k2, 0, seq, 32);
      EXPECT_EQ(Bytes(p.buf.begin(), p.buf.begin() + p.size),
                Concat(length, body));
      EXPECT_EQ(Bytes(p.tag(), p.tag() + 16),
                Poly1305(poly_key, Concat(length, body)));
    }
  }
}

// -------------------------------------------------- aes*-gcm@openssh.com

struct GcmOut {
  Bytes ciphertext, tag;
};

GcmOut ReferenceGcm(const char* evp_name, absl::Span<const uint8_t> key,
                    absl::Span<const uint8_t> iv, absl::Span<const uint8_t> aad,
                    absl::Span<const uint8_t> plaintext) {
  base::EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, evp_name, nullptr));
  base::EvpCipherCtxPtr ctx_handle(EVP_CIPHER_CTX_new());
  EVP_CIPHER_CTX* ctx = ctx_handle.get();
  GcmOut out{Bytes(plaintext.size()), Bytes(16)};
  int len = 0;
  EXPECT_EQ(
      EVP_EncryptInit_ex2(ctx, cipher.get(), key.data(), iv.data(), nullptr),
      1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), aad.size()), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, out.ciphertext.data(), &len,
                              plaintext.data(), plaintext.size()),
            1);
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, out.ciphertext.data() + len, &len), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.tag.data()),
            1);
  return out;
}

TEST(GcmKnownAnswerTest, NonceIsFixedFieldAndBigEndianInvocationCounter) {
  struct Case {
    const char* name;
    const char* evp;
    size_t key_len;
    std::string_view iv;                // as derived by key exchange
    std::vector<std::string_view> ivs;  // what packets 1, 2, 3 must use
  };
  const Case cases[] = {
      {"aes128-gcm@openssh.com",
       "AES-128-GCM",
       16,
       "a0a1a2a3"
       "00000000fffffffe",
       {"a0a1a2a300000000fffffffe", "a0a1a2a300000000ffffffff",
        "a0a1a2a30000000100000000"}},
      {"aes256-gcm@openssh.com",
       "AES-256-GCM",
       32,
       "cafebabe"
       "fffffffffffffffe",
       {"cafebabefffffffffffffffe", "cafebabeffffffffffffffff",
        "cafebabe0000000000000000"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Bytes key = Pattern(c.key_len, 0x42);
    const Bytes iv = Hex(c.iv);
    auto enc = CreatePacketCipher(c.name, "ignored-mac", key, iv, {}, true);
    ASSERT_TRUE(enc.ok()) << enc.status();
    for (size_t i = 0; i < c.ivs.size(); ++i) {
      Packet p = BuildPacket(**enc, 10 + 20 * i, static_cast<uint8_t>(i));
      (*enc)->Seal(/*seq=*/static_cast<uint32_t>(100 + i), p.span(), p.tag());
      const GcmOut want = ReferenceGcm(c.evp, key, Hex(c.ivs[i]),
                                       absl::MakeSpan(p.clear).subspan(0, 4),
                                       absl::MakeSpan(p.clear).subspan(4));
      EXPECT_EQ(Bytes(p.buf.begin(), p.buf.begin() + 4),
                Bytes(p.clear.begin(), p.clear.begin() + 4));
      EXPECT_EQ(Bytes(p.buf.begin() + 4, p.buf.begin() + p.size),
                want.ciphertext);
      EXPECT_EQ(Bytes(p.tag(), p.tag() + 16), want.tag);
    }
  }
}

// ---------------------------------------------- aes*-ctr + hmac-sha2-*-etm

class CtrEtmTest : public testing::TestWithParam<Suite> {};

TEST_P(CtrEtmTest, MatchesStepByStepConstruction) {
  const Suite& s = GetParam();
  const KeyMaterial keys = MakeKeys(s, 33);
  const bool aes256 = std::string_view(s.cipher) == "aes256-ctr";
  const bool sha512 =
      std::string_view(s.mac).find("512") != std::string_view::npos;
  auto enc = Make(s, keys, true);
  ASSERT_NE(enc, nullptr);

  Packet a = BuildPacket(*enc, 21, 1);
  Packet b = BuildPacket(*enc, 1000, 2);
  SealPacket(*enc, 0x12345678, a);
  SealPacket(*enc, 0x12345679, b);

  // One AES-CTR keystream runs across both bodies.
  const Bytes bodies = Concat(absl::MakeSpan(a.clear).subspan(4),
                              absl::MakeSpan(b.clear).subspan(4));
  const Bytes stream = Keystream(aes256 ? "AES-256-CTR" : "AES-128-CTR",
                                 keys.key, keys.iv, bodies.size());
  const Bytes encrypted = Xor(bodies, stream);
  const size_t a_body = a.size - 4;

  for (auto [p, seq, offset] :
       {std::tuple<Packet*, uint32_t, size_t>{&a, 0x12345678, 0},
        std::tuple<Packet*, uint32_t, size_t>{&b, 0x12345679, a_body}}) {
    const Bytes body(encrypted.begin() + offset,
                     encrypted.begin() + offset + p->size - 4);
    // Length in clear; MAC over uint32 seq || length || encrypted body.
    const Bytes packet = Concat(absl::MakeSpan(p->clear).subspan(0, 4), body);
    Bytes mac_input = {
        static_cast<uint8_t>(seq >> 24), static_cast<uint8_t>(seq >> 16),
        static_cast<uint8_t>(seq >> 8), static_cast<uint8_t>(seq)};
    mac_input = Concat(mac_input, packet);
    Bytes mac(64);
    size_t mac_len = 0;
    ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, sha512 ? "SHA512" : "SHA256",
                        nullptr, keys.mac_key.data(), keys.mac_key.size(),
                        mac_input.data(), mac_input.size(), mac.data(),
                        mac.size(), &mac_len),
              nullptr);
    mac.resize(mac_len);
    EXPECT_EQ(Bytes(p->buf.begin(), p->buf.begin() + p->size), packet);
    EXPECT_EQ(Bytes(p->tag(), p->tag() + enc->tag_length()), mac);
  }
}

INSTANTIATE_TEST_SUITE_P(CtrSuites, CtrEtmTest,
                         testing::ValuesIn(kSuites + 3, kSuites + 7),
                         SuiteName);

}  // namespace
}  // namespace sallyport::ssh::crypto
