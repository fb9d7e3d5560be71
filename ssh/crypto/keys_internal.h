// Helpers shared by keys.cc, signature_verify.cc, private_key.cc and
// private_key_format.cc. Not part of the public API.
#ifndef SALLYPORT_SSH_CRYPTO_KEYS_INTERNAL_H_
#define SALLYPORT_SSH_CRYPTO_KEYS_INTERNAL_H_

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/openssl_handles.h"
#include "base/secret_bytes.h"
#include "ssh/crypto/hash.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ssh::crypto::keys_internal {

inline constexpr std::string_view kEd25519Name = "ssh-ed25519";
inline constexpr std::string_view kEcdsaP256Name = "ecdsa-sha2-nistp256";
inline constexpr std::string_view kRsaName = "ssh-rsa";
inline constexpr std::string_view kNistP256 = "nistp256";
// OpenSSL's name for the P-256 group.
inline constexpr char kP256GroupName[] = "prime256v1";

inline constexpr size_t kEd25519PublicSize = 32;
inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;
inline constexpr size_t kP256PointSize = 65;  // 0x04 || X || Y
inline constexpr size_t kP256ScalarSize = 32;
// Longest key type or algorithm name we read.
inline constexpr uint32_t kMaxNameLength = 64;
// Largest RSA modulus (in bits) we read.
inline constexpr int kMaxRsaBits = 16384;

// absl::StrCat cannot take std::string_view in this Abseil build.
inline std::string Str(std::string_view s) { return std::string(s); }

// `status` with "context: " before its message, same code.
absl::Status Annotate(const absl::Status& status, std::string_view context);

// Takes ownership of an EVP_PKEY for sharing between copies of a key.
inline std::shared_ptr<EVP_PKEY> Share(base::EvpPkeyPtr pkey) {
  return std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free);
}

// True for "*-cert-v01@openssh.com" (and the long-gone v00) type names.
bool IsCertificateTypeName(std::string_view name);

// A public P-256 key from a 65-byte uncompressed point; the point must be on
// the curve and not the point at infinity. kInvalidArgument otherwise.
absl::StatusOr<base::EvpPkeyPtr> P256PublicKeyFromPoint(Bytes point);

// The last string field of a plain key blob: the Ed25519 public key or the
// ECDSA point Q. The blob must be one PublicKey::FromBlob accepted.
absl::StatusOr<Bytes> PublicKeyField(const PublicKey& key);

// Decodes base64, skipping '\n' and '\r' when `skip_newlines` (PEM bodies),
// into secret storage.
absl::StatusOr<base::SecretBytes> Base64DecodeSecret(std::string_view text,
                                                     bool skip_newlines);
// Appends the base64 of `data` to `out`, with a '\n' after every
// `line_length` characters when line_length > 0 (not after the last line).
void AppendBase64(Bytes data, size_t line_length, std::string* out);

// Drops the calling thread's OpenSSL error queue after an expected failure,
// so it does not leak into later, unrelated error messages.
void ClearOpenSslErrors();

}  // namespace sallyport::ssh::crypto::keys_internal

#endif  // SALLYPORT_SSH_CRYPTO_KEYS_INTERNAL_H_
