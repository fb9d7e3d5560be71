// Polynomial arithmetic of ML-KEM (FIPS 203 §4): coefficients mod q = 3329,
// the number-theoretic transform, byte encoding, compression and sampling.
// Internal to //ssh/crypto:mlkem768. Every function here runs in time that
// depends only on public sizes, except SampleNtt, whose input (the public
// seed rho) is public.
#ifndef SALLYPORT_SSH_CRYPTO_MLKEM_POLY_H_
#define SALLYPORT_SSH_CRYPTO_MLKEM_POLY_H_

#include <array>
#include <cstdint>

#include "absl/types/span.h"

namespace sallyport::ssh::crypto::mlkem_internal {

inline constexpr int kN = 256;
inline constexpr uint32_t kQ = 3329;

// Coefficients always in [0, q).
using Poly = std::array<uint16_t, kN>;

// x in [0, 2^32 / 2^7) reduced to [0, q), without division.
uint16_t Reduce(uint32_t x);

Poly Add(const Poly& a, const Poly& b);
Poly Sub(const Poly& a, const Poly& b);

// Algorithm 9 / 10 (in place).
void Ntt(Poly& f);
void InverseNtt(Poly& f);

// Algorithm 11: product of two polynomials in NTT form, added to `acc`.
void MultiplyNttsAccumulate(const Poly& f, const Poly& g, Poly& acc);

// Algorithm 5 ByteEncode_d for 1 <= d <= 12: writes 32*d bytes.
void ByteEncode(int d, const Poly& f, uint8_t* out);
// Algorithm 6 ByteDecode_d for 1 <= d <= 11 (reads 32*d bytes). For d = 12
// use ByteDecode12, which reduces mod q as FIPS 203 prescribes.
Poly ByteDecode(int d, const uint8_t* in);
Poly ByteDecode12(const uint8_t* in);
// True when every 12-bit value of a 384-byte encoding is < q (the §7.2
// modulus check: ByteEncode12(ByteDecode12(x)) == x). Public input only.
bool AllBelowModulus(const uint8_t* in);

// Compress_d / Decompress_d (§4.2.1), coefficient-wise, 1 <= d <= 11.
// Compression uses a multiply and shift instead of dividing by q.
uint16_t CompressCoefficient(int d, uint16_t x);
Poly Compress(int d, const Poly& f);
Poly Decompress(int d, const Poly& f);

// Algorithm 7: rejection sampling from SHAKE128(rho || j || i).
Poly SampleNtt(absl::Span<const uint8_t> rho, uint8_t j, uint8_t i);
// Algorithm 8: centred binomial distribution from 64*eta bytes.
Poly SamplePolyCbd(int eta, absl::Span<const uint8_t> bytes);

}  // namespace sallyport::ssh::crypto::mlkem_internal

#endif  // SALLYPORT_SSH_CRYPTO_MLKEM_POLY_H_
