// Helpers shared by cipher_test.cc and cipher_known_answer_test.cc: key
// material, packet framing as the transport does it, and small byte utilities.
#ifndef SALLYPORT_SSH_CRYPTO_CIPHER_TEST_UTIL_H_
#define SALLYPORT_SSH_CRYPTO_CIPHER_TEST_UTIL_H_

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "ssh/crypto/cipher.h"

// Test-only helpers, in the package namespace for brevity.
namespace sallyport::ssh::crypto {

using Bytes = std::vector<uint8_t>;

inline Bytes Hex(std::string_view hex) {
  auto nibble = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return c - '0';
    return c - 'a' + 10;
  };
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(
        static_cast<uint8_t>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

inline Bytes Pattern(size_t n, uint8_t seed) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<uint8_t>(seed + i * 29 + (i >> 8));
  return out;
}

inline void StoreBe32(uint32_t v, uint8_t* p) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

inline Bytes Xor(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b) {
  Bytes out(a.begin(), a.end());
  for (size_t i = 0; i < out.size(); ++i) out[i] ^= b[i];
  return out;
}

inline Bytes Concat(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

struct Suite {
  const char* cipher;
  const char* mac;  // "" for AEAD ciphers
};

inline void PrintTo(const Suite& s, std::ostream* os) {
  *os << s.cipher << (*s.mac ? " + " : "") << s.mac;
}

inline constexpr Suite kSuites[] = {
    {"chacha20-poly1305@openssh.com", ""},
    {"aes128-gcm@openssh.com", ""},
    {"aes256-gcm@openssh.com", ""},
    {"aes128-ctr", "hmac-sha2-256-etm@openssh.com"},
    {"aes128-ctr", "hmac-sha2-512-etm@openssh.com"},
    {"aes256-ctr", "hmac-sha2-256-etm@openssh.com"},
    {"aes256-ctr", "hmac-sha2-512-etm@openssh.com"},
};

struct KeyMaterial {
  Bytes key, iv, mac_key;
};

inline KeyMaterial MakeKeys(const Suite& s, uint8_t seed) {
  KeyMaterial k;
  auto spec = LookupCipher(s.cipher);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) return k;
  k.key = Pattern(spec->key_length, seed);
  k.iv = Pattern(spec->iv_length, seed + 101);
  if (!spec->aead) {
    auto mac_len = LookupMacKeyLength(s.mac);
    EXPECT_TRUE(mac_len.ok()) << mac_len.status();
    if (mac_len.ok()) k.mac_key = Pattern(*mac_len, seed + 202);
  }
  return k;
}

inline std::unique_ptr<PacketCipher> Make(const Suite& s, const KeyMaterial& k,
                                          bool encrypt) {
  auto c = CreatePacketCipher(s.cipher, s.mac, k.key, k.iv, k.mac_key, encrypt);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// [uint32 length][padding_length][payload][padding][room for the tag], padded
// as the cipher asks (RFC 4253 §6, at least 4 bytes of padding).
struct Packet {
  Bytes buf;
  size_t size = 0;  // 4 + packet_length
  absl::Span<uint8_t> span() { return absl::MakeSpan(buf.data(), size); }
  uint8_t* tag() { return buf.data() + size; }
  Bytes clear;  // a copy of the first `size` bytes before sealing
};

inline Packet BuildPacket(const PacketCipher& c, size_t payload_size,
                          uint8_t seed) {
  const size_t block = std::max<size_t>(8, c.block_size());
  const size_t unpadded = 1 + payload_size + (c.aligns_length_field() ? 4 : 0);
  size_t pad = block - unpadded % block;
  if (pad < 4) pad += block;
  const uint32_t length = static_cast<uint32_t>(1 + payload_size + pad);
  Packet p;
  p.size = 4 + length;
  p.buf.assign(p.size + c.tag_length(), 0);
  StoreBe32(length, p.buf.data());
  p.buf[4] = static_cast<uint8_t>(pad);
  const Bytes payload = Pattern(payload_size, seed);
  std::copy(payload.begin(), payload.end(), p.buf.begin() + 5);
  for (size_t i = 0; i < pad; ++i) p.buf[5 + payload_size + i] = 0xa5 ^ i;
  p.clear.assign(p.buf.begin(), p.buf.begin() + p.size);
  return p;
}

inline void SealPacket(PacketCipher& c, uint32_t seq, Packet& p) {
  c.Seal(seq, p.span(), p.tag());
}

// Receives like the packet codec: length first, then the rest.
inline bool Receive(PacketCipher& c, uint32_t seq, Packet& p) {
  const uint32_t length = c.DecryptLength(seq, p.buf.data());
  if (length + 4 != p.size) return false;
  return c.Open(seq, p.span(), p.tag());
}

inline std::string SuiteName(const testing::TestParamInfo<Suite>& info) {
  std::string name = std::string(info.param.cipher) + "_" + info.param.mac;
  for (char& ch : name) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

inline bool IsChaCha(const Suite& s) {
  return std::string_view(s.cipher).find("chacha") != std::string_view::npos;
}

}  // namespace sallyport::ssh::crypto

#endif  // SALLYPORT_SSH_CRYPTO_CIPHER_TEST_UTIL_H_
