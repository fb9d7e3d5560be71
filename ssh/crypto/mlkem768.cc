#include "ssh/crypto/mlkem768.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "ssh/crypto/mlkem_poly.h"
#include "ssh/crypto/sha3.h"

namespace sallyport::ssh::crypto::mlkem768 {
namespace {

using mlkem_internal::Poly;
using Span = absl::Span<const uint8_t>;

constexpr int kK = 3;
constexpr int kEta1 = 2;
constexpr int kEta2 = 2;
constexpr int kDu = 10;
constexpr int kDv = 4;
constexpr size_t kPolyBytes = 384;                // ByteEncode12
constexpr size_t kPkeKeyBytes = kK * kPolyBytes;  // 1152
constexpr size_t kU = 32 * kDu * kK;              // 960
// PRF output for the larger eta (both are 2 for ML-KEM-768).
constexpr size_t kPrfMaxBytes = 64 * (kEta1 > kEta2 ? kEta1 : kEta2);
static_assert(kEncapsulationKeySize == kPkeKeyBytes + 32);
static_assert(kDecapsulationKeySize == 2 * kPkeKeyBytes + 96);
static_assert(kCiphertextSize == kU + 32 * kDv);

// Holds secret intermediates and wipes them when they go out of scope.
template <typename T>
struct Wiped {
  T v{};
  Wiped() = default;
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  ~Wiped() { OPENSSL_cleanse(&v, sizeof(v)); }
};
using PolyVec = std::array<Poly, kK>;
using Matrix = std::array<PolyVec, kK>;  // a_hat[i][j]

absl::Status Refused(const char* what, size_t got, size_t want) {
  return absl::InvalidArgumentError(absl::StrCat(
      "ML-KEM-768 ", what, " is ", got, " bytes, expected ", want));
}

// PRF_eta(s, b) = SHAKE256(s || b, 64*eta) then SamplePolyCBD_eta.
Poly SampleCbd(int eta, Span seed, uint8_t counter) {
  Wiped<std::array<uint8_t, kPrfMaxBytes>> prf;
  const uint8_t b[1] = {counter};
  Shake256({seed, b}, prf.v.data(), 64 * eta);
  return mlkem_internal::SamplePolyCbd(eta, Span(prf.v.data(), 64 * eta));
}

// A_hat[i][j] = SampleNTT(rho || j || i); transposed gives A_hat^T.
void ExpandMatrix(Span rho, Matrix& a) {
  for (int i = 0; i < kK; ++i) {
    for (int j = 0; j < kK; ++j) {
      a[i][j] = mlkem_internal::SampleNtt(rho, static_cast<uint8_t>(j),
                                          static_cast<uint8_t>(i));
    }
  }
}

// Algorithm 13 K-PKE.KeyGen(d): writes ek_pke (1184) and dk_pke (1152).
void PkeKeyGen(Span d, uint8_t* ek, uint8_t* dk) {
  Wiped<std::array<uint8_t, 64>> rho_sigma;
  const uint8_t k_byte[1] = {kK};
  Sha3_512({d, k_byte}, rho_sigma.v.data());
  Span rho(rho_sigma.v.data(), 32);
  Span sigma(rho_sigma.v.data() + 32, 32);

  Matrix a;
  ExpandMatrix(rho, a);
  Wiped<PolyVec> s, e;
  uint8_t n = 0;
  for (int i = 0; i < kK; ++i) s.v[i] = SampleCbd(kEta1, sigma, n++);
  for (int i = 0; i < kK; ++i) e.v[i] = SampleCbd(kEta1, sigma, n++);
  for (int i = 0; i < kK; ++i) {
    mlkem_internal::Ntt(s.v[i]);
    mlkem_internal::Ntt(e.v[i]);
  }
  for (int i = 0; i < kK; ++i) {
    Poly t = e.v[i];
    for (int j = 0; j < kK; ++j) {
      mlkem_internal::MultiplyNttsAccumulate(a[i][j], s.v[j], t);
    }
    mlkem_internal::ByteEncode(12, t, ek + i * kPolyBytes);
    mlkem_internal::ByteEncode(12, s.v[i], dk + i * kPolyBytes);
  }
  std::copy(rho.begin(), rho.end(), ek + kPkeKeyBytes);
}

// Algorithm 14 K-PKE.Encrypt(ek_pke, m, r): writes the 1088-byte ciphertext.
// ek_pke has passed the modulus check.
void PkeEncrypt(Span ek, Span m, Span r, uint8_t* c) {
  PolyVec t_hat;
  for (int i = 0; i < kK; ++i) {
    t_hat[i] = mlkem_internal::ByteDecode12(ek.data() + i * kPolyBytes);
  }
  Matrix a;
  ExpandMatrix(ek.subspan(kPkeKeyBytes, 32), a);

  Wiped<PolyVec> y, e1, u;
  Wiped<Poly> e2, v, mu;
  uint8_t n = 0;
  for (int i = 0; i < kK; ++i) y.v[i] = SampleCbd(kEta1, r, n++);
  for (int i = 0; i < kK; ++i) e1.v[i] = SampleCbd(kEta2, r, n++);
  e2.v = SampleCbd(kEta2, r, n++);
  for (int i = 0; i < kK; ++i) mlkem_internal::Ntt(y.v[i]);

  for (int i = 0; i < kK; ++i) {
    Poly acc{};
    for (int j = 0; j < kK; ++j) {
      mlkem_internal::MultiplyNttsAccumulate(a[j][i], y.v[j], acc);  // A^T
    }
    mlkem_internal::InverseNtt(acc);
    u.v[i] = mlkem_internal::Add(acc, e1.v[i]);
    OPENSSL_cleanse(&acc, sizeof(acc));
  }
  mu.v = mlkem_internal::Decompress(1, mlkem_internal::ByteDecode(1, m.data()));
  Poly acc{};
  for (int j = 0; j < kK; ++j) {
    mlkem_internal::MultiplyNttsAccumulate(t_hat[j], y.v[j], acc);
  }
  mlkem_internal::InverseNtt(acc);
  v.v = mlkem_internal::Add(mlkem_internal::Add(acc, e2.v), mu.v);
  OPENSSL_cleanse(&acc, sizeof(acc));

  for (int i = 0; i < kK; ++i) {
    mlkem_internal::ByteEncode(kDu, mlkem_internal::Compress(kDu, u.v[i]),
                               c + i * 32 * kDu);
  }
  mlkem_internal::ByteEncode(kDv, mlkem_internal::Compress(kDv, v.v), c + kU);
}

// Algorithm 15 K-PKE.Decrypt(dk_pke, c): writes the 32-byte message.
void PkeDecrypt(Span dk, Span c, uint8_t* m) {
  Wiped<PolyVec> s_hat;
  Wiped<Poly> w, acc;
  for (int i = 0; i < kK; ++i) {
    s_hat.v[i] = mlkem_internal::ByteDecode12(dk.data() + i * kPolyBytes);
  }
  for (int i = 0; i < kK; ++i) {
    Poly u = mlkem_internal::Decompress(
        kDu, mlkem_internal::ByteDecode(kDu, c.data() + i * 32 * kDu));
    mlkem_internal::Ntt(u);
    mlkem_internal::MultiplyNttsAccumulate(s_hat.v[i], u, acc.v);
  }
  mlkem_internal::InverseNtt(acc.v);
  Poly v = mlkem_internal::Decompress(
      kDv, mlkem_internal::ByteDecode(kDv, c.data() + kU));
  w.v = mlkem_internal::Sub(v, acc.v);
  mlkem_internal::ByteEncode(1, mlkem_internal::Compress(1, w.v), m);
}

// Algorithm 17 ML-KEM.Encaps_internal on a checked key.
Encapsulation EncapsInternal(Span ek, Span m) {
  Wiped<std::array<uint8_t, 64>> k_r;
  uint8_t h[32];
  Sha3_256({ek}, h);
  Sha3_512({m, Span(h, 32)}, k_r.v.data());
  Encapsulation out;
  out.ciphertext.resize(kCiphertextSize);
  PkeEncrypt(ek, m, Span(k_r.v.data() + 32, 32), out.ciphertext.data());
  out.shared_secret = base::SecretBytes(Span(k_r.v.data(), 32));
  return out;
}

}  // namespace

absl::StatusOr<KeyPair> KeyPairFromSeed(Span d, Span z) {
  if (d.size() != kSeedSize) return Refused("seed d", d.size(), kSeedSize);
  if (z.size() != kSeedSize) return Refused("seed z", z.size(), kSeedSize);
  KeyPair kp;
  kp.encapsulation_key.resize(kEncapsulationKeySize);
  kp.decapsulation_key = base::SecretBytes(kDecapsulationKeySize);
  uint8_t* dk = kp.decapsulation_key.data();
  // dk = dk_pke || ek || H(ek) || z (Algorithm 16).
  PkeKeyGen(d, kp.encapsulation_key.data(), dk);
  std::copy(kp.encapsulation_key.begin(), kp.encapsulation_key.end(),
            dk + kPkeKeyBytes);
  Sha3_256({kp.encapsulation_key}, dk + kPkeKeyBytes + kEncapsulationKeySize);
  std::copy(z.begin(), z.end(), dk + kPkeKeyBytes + kEncapsulationKeySize + 32);
  return kp;
}

absl::StatusOr<KeyPair> GenerateKeyPair() {
  Wiped<std::array<uint8_t, 64>> seeds;
  if (RAND_bytes(seeds.v.data(), static_cast<int>(seeds.v.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return KeyPairFromSeed(Span(seeds.v.data(), 32),
                         Span(seeds.v.data() + 32, 32));
}

absl::StatusOr<Encapsulation> EncapsulateWithMessage(Span ek, Span m) {
  if (ek.size() != kEncapsulationKeySize) {
    return Refused("encapsulation key", ek.size(), kEncapsulationKeySize);
  }
  if (m.size() != kSeedSize) return Refused("message", m.size(), kSeedSize);
  // §7.2 modulus check: ByteEncode12(ByteDecode12(t)) == t.
  for (int i = 0; i < kK; ++i) {
    if (!mlkem_internal::AllBelowModulus(ek.data() + i * kPolyBytes)) {
      return absl::InvalidArgumentError(
          "ML-KEM-768 encapsulation key has a coefficient >= q");
    }
  }
  return EncapsInternal(ek, m);
}

absl::StatusOr<Encapsulation> Encapsulate(Span ek) {
  Wiped<std::array<uint8_t, 32>> m;
  if (RAND_bytes(m.v.data(), static_cast<int>(m.v.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return EncapsulateWithMessage(ek, Span(m.v.data(), m.v.size()));
}

absl::StatusOr<base::SecretBytes> Decapsulate(Span dk, Span c) {
  if (c.size() != kCiphertextSize) {
    return Refused("ciphertext", c.size(), kCiphertextSize);
  }
  if (dk.size() != kDecapsulationKeySize) {
    return Refused("decapsulation key", dk.size(), kDecapsulationKeySize);
  }
  Span dk_pke = dk.subspan(0, kPkeKeyBytes);
  Span ek_pke = dk.subspan(kPkeKeyBytes, kEncapsulationKeySize);
  Span h = dk.subspan(kPkeKeyBytes + kEncapsulationKeySize, 32);
  Span z = dk.subspan(kPkeKeyBytes + kEncapsulationKeySize + 32, 32);
  // §7.3 hash check (the hash is not secret-dependent in a way that matters:
  // a mismatch means the key itself is malformed).
  uint8_t check[32];
  Sha3_256({ek_pke}, check);
  if (CRYPTO_memcmp(check, h.data(), 32) != 0) {
    return absl::InvalidArgumentError(
        "ML-KEM-768 decapsulation key fails its hash check");
  }

  Wiped<std::array<uint8_t, 32>> m_prime;
  Wiped<std::array<uint8_t, 64>> k_r;
  Wiped<std::array<uint8_t, 32>> k_bar;
  std::array<uint8_t, kCiphertextSize> c_prime;
  PkeDecrypt(dk_pke, c, m_prime.v.data());
  Span m_span(m_prime.v.data(), 32);
  Sha3_512({m_span, h}, k_r.v.data());
  Shake256({z, c}, k_bar.v.data(), 32);
  PkeEncrypt(ek_pke, m_span, Span(k_r.v.data() + 32, 32), c_prime.data());

  // Constant-time compare and select: mask is 0xff when c != c'.
  uint32_t diff = 0;
  for (size_t i = 0; i < kCiphertextSize; ++i) diff |= c[i] ^ c_prime[i];
  uint8_t mask = static_cast<uint8_t>(0u - ((diff | (0u - diff)) >> 31));
  base::SecretBytes key(kSharedSecretSize);
  for (size_t i = 0; i < kSharedSecretSize; ++i) {
    key[i] = static_cast<uint8_t>((k_r.v[i] & ~mask) | (k_bar.v[i] & mask));
  }
  OPENSSL_cleanse(c_prime.data(), c_prime.size());
  return key;
}

}  // namespace sallyport::ssh::crypto::mlkem768
