// Hashes and HMAC over OpenSSL 3 EVP.
#ifndef SALLYPORT_SSH_CRYPTO_HASH_H_
#define SALLYPORT_SSH_CRYPTO_HASH_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/openssl_handles.h"

namespace sallyport::ssh::crypto {

using Bytes = absl::Span<const uint8_t>;

enum class HashAlgorithm { kSha256, kSha512 };

// Digest length in bytes (32 or 64).
size_t DigestLength(HashAlgorithm alg);

std::vector<uint8_t> Sha256(Bytes data);
std::vector<uint8_t> Sha512(Bytes data);
std::vector<uint8_t> Hash(HashAlgorithm alg, Bytes data);

// Incremental hash (exchange hash, key derivation).
class Hasher {
 public:
  explicit Hasher(HashAlgorithm alg);
  Hasher& Update(Bytes data);
  std::vector<uint8_t> Finish();  // the hasher may not be used afterwards

 private:
  base::EvpMdCtxPtr ctx_;
};

}  // namespace sallyport::ssh::crypto

#endif  // SALLYPORT_SSH_CRYPTO_HASH_H_
