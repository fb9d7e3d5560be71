// SHA3-256, SHA3-512, SHAKE128 and SHAKE256 (FIPS 202) over OpenSSL 3 EVP,
// writing into caller-owned buffers so secret outputs never pass through an
// unwiped temporary. The input is the concatenation of `parts`.
#ifndef SALLYPORT_SSH_CRYPTO_SHA3_H_
#define SALLYPORT_SSH_CRYPTO_SHA3_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "absl/types/span.h"

namespace sallyport::ssh::crypto {

using Parts = std::initializer_list<absl::Span<const uint8_t>>;

void Sha3_256(Parts parts, uint8_t out[32]);
void Sha3_512(Parts parts, uint8_t out[64]);
void Shake128(Parts parts, uint8_t* out, size_t out_len);
void Shake256(Parts parts, uint8_t* out, size_t out_len);

}  // namespace sallyport::ssh::crypto

#endif  // SALLYPORT_SSH_CRYPTO_SHA3_H_
