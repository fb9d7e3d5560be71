#include "ssh/crypto/mlkem_poly.h"

#include <openssl/crypto.h>

#include <vector>

#include "ssh/crypto/sha3.h"

namespace sallyport::ssh::crypto::mlkem_internal {
namespace {

// BitRev7 of FIPS 203 §4.3: the 7-bit reversal of i.
constexpr uint32_t BitRev7(uint32_t i) {
  uint32_t r = 0;
  for (int b = 0; b < 7; ++b) r |= ((i >> b) & 1) << (6 - b);
  return r;
}

constexpr uint32_t PowModQ(uint32_t base, uint32_t exp) {
  uint32_t r = 1;
  for (uint32_t e = 0; e < exp; ++e) r = (r * base) % kQ;
  return r;
}

// zeta = 17 is a primitive 256th root of unity mod q (§4.3).
constexpr uint32_t kZeta = 17;

// zetas[i] = 17^BitRev7(i) mod q, used by NTT and its inverse.
constexpr std::array<uint16_t, 128> MakeZetas() {
  std::array<uint16_t, 128> z{};
  for (uint32_t i = 0; i < 128; ++i) {
    z[i] = static_cast<uint16_t>(PowModQ(kZeta, BitRev7(i)));
  }
  return z;
}

// gammas[i] = 17^(2*BitRev7(i)+1) mod q, used by MultiplyNTTs.
constexpr std::array<uint16_t, 128> MakeGammas() {
  std::array<uint16_t, 128> g{};
  for (uint32_t i = 0; i < 128; ++i) {
    g[i] = static_cast<uint16_t>(PowModQ(kZeta, 2 * BitRev7(i) + 1));
  }
  return g;
}

constexpr std::array<uint16_t, 128> kZetas = MakeZetas();
constexpr std::array<uint16_t, 128> kGammas = MakeGammas();
static_assert(kZetas[1] == 1729);  // FIPS 203 Appendix A
static_assert(kGammas[0] == 17);   // FIPS 203 Appendix A

// 128^-1 mod q, the final scaling of the inverse NTT.
constexpr uint32_t kInv128 = 3303;
static_assert((kInv128 * 128) % kQ == 1);

// Barrett constant floor(2^32 / q).
constexpr uint64_t kBarrett = (uint64_t{1} << 32) / kQ;

// r in [0, 2q) to [0, q) with a mask, not a branch. Unsigned throughout:
// signed arithmetic here would let a compiler or sanitizer (UBSan's overflow
// checks) branch on the secret value.
inline uint16_t CondSubQ(uint32_t r) {
  const uint32_t t = r - kQ;             // wraps below zero when r < q
  const uint32_t mask = 0u - (t >> 31);  // all ones when r < q (r < 2^31)
  return static_cast<uint16_t>(t + (mask & kQ));
}

inline uint16_t MulMod(uint32_t a, uint32_t b) { return Reduce(a * b); }
inline uint16_t AddMod(uint32_t a, uint32_t b) { return CondSubQ(a + b); }
inline uint16_t SubMod(uint32_t a, uint32_t b) { return CondSubQ(a + kQ - b); }

// Compression by multiply-and-shift: floor(N / (2q)) == (N * kCompressM) >> 40
// for every N < 2^25 (error < 2^-15 < 1/(2q)); the test checks every input.
constexpr int kCompressShift = 40;
constexpr uint64_t kCompressM =
    ((uint64_t{1} << kCompressShift) + 2 * kQ - 1) / (2 * kQ);

}  // namespace

uint16_t Reduce(uint32_t x) {
  uint32_t quotient = static_cast<uint32_t>((uint64_t{x} * kBarrett) >> 32);
  return CondSubQ(x - quotient * kQ);
}

Poly Add(const Poly& a, const Poly& b) {
  Poly r;
  for (int i = 0; i < kN; ++i) r[i] = AddMod(a[i], b[i]);
  return r;
}

Poly Sub(const Poly& a, const Poly& b) {
  Poly r;
  for (int i = 0; i < kN; ++i) r[i] = SubMod(a[i], b[i]);
  return r;
}

void Ntt(Poly& f) {
  int k = 1;
  for (int len = 128; len >= 2; len /= 2) {
    for (int start = 0; start < kN; start += 2 * len) {
      uint32_t zeta = kZetas[k++];
      for (int j = start; j < start + len; ++j) {
        uint16_t t = MulMod(zeta, f[j + len]);
        f[j + len] = SubMod(f[j], t);
        f[j] = AddMod(f[j], t);
      }
    }
  }
}

void InverseNtt(Poly& f) {
  int k = 127;
  for (int len = 2; len <= 128; len *= 2) {
    for (int start = 0; start < kN; start += 2 * len) {
      uint32_t zeta = kZetas[k--];
      for (int j = start; j < start + len; ++j) {
        uint16_t t = f[j];
        f[j] = AddMod(t, f[j + len]);
        f[j + len] = MulMod(zeta, SubMod(f[j + len], t));
      }
    }
  }
  for (uint16_t& c : f) c = MulMod(c, kInv128);
}

void MultiplyNttsAccumulate(const Poly& f, const Poly& g, Poly& acc) {
  for (int i = 0; i < 128; ++i) {
    uint32_t a0 = f[2 * i], a1 = f[2 * i + 1];
    uint32_t b0 = g[2 * i], b1 = g[2 * i + 1];
    // Algorithm 12 BaseCaseMultiply.
    uint16_t c0 = AddMod(MulMod(a0, b0), MulMod(MulMod(a1, b1), kGammas[i]));
    uint16_t c1 = AddMod(MulMod(a0, b1), MulMod(a1, b0));
    acc[2 * i] = AddMod(acc[2 * i], c0);
    acc[2 * i + 1] = AddMod(acc[2 * i + 1], c1);
  }
}

void ByteEncode(int d, const Poly& f, uint8_t* out) {
  const uint32_t mask = (uint32_t{1} << d) - 1;
  uint64_t acc = 0;
  int bits = 0;
  size_t pos = 0;
  for (int i = 0; i < kN; ++i) {
    acc |= (uint64_t{f[i]} & mask) << bits;
    bits += d;
    while (bits >= 8) {
      out[pos++] = static_cast<uint8_t>(acc);
      acc >>= 8;
      bits -= 8;
    }
  }
}

Poly ByteDecode(int d, const uint8_t* in) {
  const uint32_t mask = (uint32_t{1} << d) - 1;
  Poly f;
  uint64_t acc = 0;
  int bits = 0;
  size_t pos = 0;
  for (int i = 0; i < kN; ++i) {
    while (bits < d) {
      acc |= uint64_t{in[pos++]} << bits;
      bits += 8;
    }
    f[i] = static_cast<uint16_t>(acc & mask);
    acc >>= d;
    bits -= d;
  }
  return f;
}

Poly ByteDecode12(const uint8_t* in) {
  Poly f = ByteDecode(12, in);
  for (uint16_t& c : f) c = CondSubQ(c);  // c < 4096 < 2q
  return f;
}

bool AllBelowModulus(const uint8_t* in) {
  Poly f = ByteDecode(12, in);
  uint32_t bad = 0;
  for (uint16_t c : f) bad |= static_cast<uint32_t>(c >= kQ);
  return bad == 0;
}

uint16_t CompressCoefficient(int d, uint16_t x) {
  // round(2^d * x / q) = floor((2^(d+1) * x + q) / (2q)).
  uint64_t n = (uint64_t{x} << (d + 1)) + kQ;
  uint64_t rounded = (n * kCompressM) >> kCompressShift;
  return static_cast<uint16_t>(rounded & ((uint32_t{1} << d) - 1));
}

Poly Compress(int d, const Poly& f) {
  Poly r;
  for (int i = 0; i < kN; ++i) r[i] = CompressCoefficient(d, f[i]);
  return r;
}

Poly Decompress(int d, const Poly& f) {
  // round(q * y / 2^d) = (q * y + 2^(d-1)) >> d.
  Poly r;
  for (int i = 0; i < kN; ++i) {
    r[i] = static_cast<uint16_t>((kQ * f[i] + (uint32_t{1} << (d - 1))) >> d);
  }
  return r;
}

Poly SampleNtt(absl::Span<const uint8_t> rho, uint8_t j, uint8_t i) {
  const uint8_t index[2] = {j, i};
  // SHAKE128 output is a prefix-stable stream, so when the first (public)
  // 5 blocks do not yield 256 coefficients, squeeze a longer prefix again.
  size_t stream_len = 5 * 168;
  for (;;) {
    std::vector<uint8_t> stream(stream_len);
    Shake128({rho, index}, stream.data(), stream.size());
    Poly a;
    int n = 0;
    for (size_t p = 0; p + 3 <= stream.size() && n < kN; p += 3) {
      uint32_t d1 = stream[p] | ((uint32_t{stream[p + 1]} & 0x0f) << 8);
      uint32_t d2 = (stream[p + 1] >> 4) | (uint32_t{stream[p + 2]} << 4);
      if (d1 < kQ) a[n++] = static_cast<uint16_t>(d1);
      if (d2 < kQ && n < kN) a[n++] = static_cast<uint16_t>(d2);
    }
    if (n == kN) return a;
    stream_len *= 2;
  }
}

Poly SamplePolyCbd(int eta, absl::Span<const uint8_t> bytes) {
  auto bit = [&](int k) -> uint32_t { return (bytes[k / 8] >> (k % 8)) & 1; };
  Poly f;
  for (int i = 0; i < kN; ++i) {
    uint32_t x = 0, y = 0;
    for (int j = 0; j < eta; ++j) {
      x += bit(2 * i * eta + j);
      y += bit(2 * i * eta + eta + j);
    }
    f[i] = CondSubQ(x + kQ - y);
  }
  return f;
}

}  // namespace sallyport::ssh::crypto::mlkem_internal
