// ML-KEM-768 (FIPS 203, parameter set k = 3, eta1 = eta2 = 2, du = 10,
// dv = 4), written from the standard. SHA3/SHAKE come from OpenSSL EVP.
//
// Constant time with respect to secrets: no branch or table index depends on
// the decapsulation key, the message or the shared secret; compression uses
// multiply-and-shift instead of division; Decaps compares and selects the
// implicit-rejection key with masks.
//
// Untrusted input is checked as FIPS 203 §7 requires: Encaps refuses an
// encapsulation key of the wrong length or with a coefficient >= q (§7.2);
// Decaps refuses a ciphertext or decapsulation key of the wrong length and a
// decapsulation key whose embedded hash H(ek) does not match (§7.3).
#ifndef SALLYPORT_SSH_CRYPTO_MLKEM768_H_
#define SALLYPORT_SSH_CRYPTO_MLKEM768_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/secret_bytes.h"

namespace sallyport::ssh::crypto::mlkem768 {

inline constexpr size_t kEncapsulationKeySize = 1184;
inline constexpr size_t kDecapsulationKeySize = 2400;
inline constexpr size_t kCiphertextSize = 1088;
inline constexpr size_t kSharedSecretSize = 32;
inline constexpr size_t kSeedSize = 32;  // each of d, z and m

struct KeyPair {
  std::vector<uint8_t> encapsulation_key;  // 1184 bytes
  base::SecretBytes decapsulation_key;     // 2400 bytes
};

struct Encapsulation {
  std::vector<uint8_t> ciphertext;  // 1088 bytes
  base::SecretBytes shared_secret;  // 32 bytes
};

// Algorithm 19 with fresh randomness from the OpenSSL DRBG.
absl::StatusOr<KeyPair> GenerateKeyPair();
// Algorithm 16 ML-KEM.KeyGen_internal(d, z): deterministic, for known-answer
// tests. Refuses seeds that are not 32 bytes each.
absl::StatusOr<KeyPair> KeyPairFromSeed(absl::Span<const uint8_t> d,
                                        absl::Span<const uint8_t> z);

// Algorithm 20 with fresh randomness.
absl::StatusOr<Encapsulation> Encapsulate(
    absl::Span<const uint8_t> encapsulation_key);
// Algorithm 17 ML-KEM.Encaps_internal(ek, m): deterministic, for tests.
absl::StatusOr<Encapsulation> EncapsulateWithMessage(
    absl::Span<const uint8_t> encapsulation_key, absl::Span<const uint8_t> m);

// Algorithm 21: the shared secret, or, for a ciphertext that does not
// re-encrypt to itself, the implicit-rejection key J(z || c). Only lengths and
// the §7.3 hash check are refused; a bad ciphertext of the right length is
// never an error.
absl::StatusOr<base::SecretBytes> Decapsulate(
    absl::Span<const uint8_t> decapsulation_key,
    absl::Span<const uint8_t> ciphertext);

}  // namespace sallyport::ssh::crypto::mlkem768

#endif  // SALLYPORT_SSH_CRYPTO_MLKEM768_H_
