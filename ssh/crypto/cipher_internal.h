// Private to //ssh/crypto:cipher: what cipher.cc (the algorithm tables,
// "none", aes-ctr with hmac-sha2-etm) and cipher_aead.cc
// (chacha20-poly1305, aes-gcm) share. Not part of the public API.
#ifndef SALLYPORT_SSH_CRYPTO_CIPHER_INTERNAL_H_
#define SALLYPORT_SSH_CRYPTO_CIPHER_INTERNAL_H_

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/openssl_handles.h"
#include "ssh/crypto/cipher.h"

namespace sallyport::ssh::crypto::cipher_internal {

inline constexpr std::string_view kChaChaPoly = "chacha20-poly1305@openssh.com";
inline constexpr std::string_view kAes128Gcm = "aes128-gcm@openssh.com";
inline constexpr std::string_view kAes256Gcm = "aes256-gcm@openssh.com";
inline constexpr std::string_view kAes128Ctr = "aes128-ctr";
inline constexpr std::string_view kAes256Ctr = "aes256-ctr";
inline constexpr std::string_view kNone = "none";
inline constexpr std::string_view kHmacSha256Etm =
    "hmac-sha2-256-etm@openssh.com";
inline constexpr std::string_view kHmacSha512Etm =
    "hmac-sha2-512-etm@openssh.com";

inline uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline void StoreBe32(uint32_t v, uint8_t* p) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// kInternal: `what` and OpenSSL's error queue.
absl::Status OpenSslError(std::string_view what);

// Runs `ctx` over `len` bytes of `data` in place. False on an OpenSSL error.
bool CryptInPlace(EVP_CIPHER_CTX* ctx, uint8_t* data, size_t len);

// "POLY1305" or "HMAC", fetched once per process; null if unavailable.
const EVP_MAC* FetchMac(const char* mac_name);

// A context for the OpenSSL cipher `evp_name` ("ChaCha20", "AES-256-GCM",
// ...) keyed with `key` and `iv`.
absl::StatusOr<base::EvpCipherCtxPtr> NewCipherCtx(const char* evp_name,
                                                   const uint8_t* key,
                                                   const uint8_t* iv,
                                                   bool encrypt);

// Seal cannot report errors (an EVP failure here means OOM or a broken
// library). Failing closed: nothing of the plaintext leaves, the peer sees
// a packet whose tag cannot verify, and every later call fails too.
void WipePacket(absl::Span<uint8_t> packet, uint8_t* tag, size_t tag_length);

// Returned by DecryptLength when the cipher is broken: the packet codec
// refuses any length below 5.
inline constexpr uint32_t kBrokenLength = 0;

// chacha20-poly1305@openssh.com with a 64-byte key (K_2 || K_1).
absl::StatusOr<std::unique_ptr<PacketCipher>> CreateChaChaPolyCipher(
    absl::Span<const uint8_t> key);
// aes{128,256}-gcm@openssh.com: `name` is the SSH name (kept, so a constant),
// `evp_name` OpenSSL's; key and IV of the cipher's lengths.
absl::StatusOr<std::unique_ptr<PacketCipher>> CreateGcmCipher(
    std::string_view name, const char* evp_name, absl::Span<const uint8_t> key,
    absl::Span<const uint8_t> iv, bool encrypt);

}  // namespace sallyport::ssh::crypto::cipher_internal

#endif  // SALLYPORT_SSH_CRYPTO_CIPHER_INTERNAL_H_
