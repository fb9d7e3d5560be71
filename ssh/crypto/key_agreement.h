// Ephemeral key agreement for key exchange: X25519 (RFC 8731) and ECDH on
// NIST P-256 (RFC 5656).
#ifndef SALLYPORT_SSH_CRYPTO_KEY_AGREEMENT_H_
#define SALLYPORT_SSH_CRYPTO_KEY_AGREEMENT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/openssl_handles.h"
#include "base/secret_bytes.h"

namespace sallyport::ssh::crypto {

class KeyAgreement {
 public:
  enum class Curve { kX25519, kP256 };

  // A fresh ephemeral key pair.
  static absl::StatusOr<std::unique_ptr<KeyAgreement>> Generate(Curve curve);

  // Our public value: 32 bytes (X25519) or a 65-byte uncompressed point.
  const std::vector<uint8_t>& public_value() const { return public_value_; }

  // The shared secret X as unsigned big-endian bytes (for X25519, the raw 32
  // bytes as RFC 8731 prescribes; for P-256, the x coordinate, 32 bytes).
  // Refuses (kInvalidArgument) a peer value of the wrong size, a P-256 point
  // that is compressed, off the curve or at infinity, and an all-zero
  // X25519 result.
  absl::StatusOr<base::SecretBytes> Compute(
      absl::Span<const uint8_t> peer_public) const;

 private:
  KeyAgreement(Curve curve, base::EvpPkeyPtr key, std::vector<uint8_t> pub)
      : curve_(curve), key_(std::move(key)), public_value_(std::move(pub)) {}
  Curve curve_;
  base::EvpPkeyPtr key_;
  std::vector<uint8_t> public_value_;
};

}  // namespace sallyport::ssh::crypto

#endif  // SALLYPORT_SSH_CRYPTO_KEY_AGREEMENT_H_
