// Self-consistency and refusal tests of ML-KEM-768. The known-answer tests
// against OpenSSL 3.5 are in mlkem768_known_answer_test.cc.
#include "ssh/crypto/mlkem768.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ssh/crypto/mlkem_poly.h"

namespace sallyport::ssh::crypto::mlkem768 {
namespace {

namespace internal = mlkem_internal;
using ::testing::HasSubstr;

std::vector<uint8_t> Filled(size_t n, uint8_t v) {
  return std::vector<uint8_t>(n, v);
}

TEST(MlKemPolyTest, CompressMatchesRoundingByDivisionForEveryInput) {
  for (int d = 1; d <= 11; ++d) {
    for (uint32_t x = 0; x < internal::kQ; ++x) {
      // round(2^d x / q) with round(y) = floor(y + 1/2), by exact division.
      uint32_t want = ((x << (d + 1)) + internal::kQ) / (2 * internal::kQ);
      want &= (1u << d) - 1;
      ASSERT_EQ(internal::CompressCoefficient(d, static_cast<uint16_t>(x)),
                want)
          << "d=" << d << " x=" << x;
    }
  }
}

TEST(MlKemPolyTest, ReduceMatchesModulo) {
  for (uint32_t x = 0; x < (1u << 24) + 12345; x += 7) {
    ASSERT_EQ(internal::Reduce(x), x % internal::kQ) << x;
  }
  EXPECT_EQ(internal::Reduce(0xffffffffu), 0xffffffffu % internal::kQ);
}

TEST(MlKemPolyTest, NttRoundTripAndProductMatchesSchoolbook) {
  internal::Poly a, b;
  for (int i = 0; i < internal::kN; ++i) {
    a[i] = static_cast<uint16_t>((i * 37 + 11) % internal::kQ);
    b[i] = static_cast<uint16_t>((i * i * 5 + 3) % internal::kQ);
  }
  // Schoolbook product in Z_q[X]/(X^256 + 1).
  std::vector<int64_t> want(internal::kN, 0);
  for (int i = 0; i < internal::kN; ++i) {
    for (int j = 0; j < internal::kN; ++j) {
      int64_t p = int64_t{a[i]} * b[j];
      if (i + j < internal::kN) {
        want[i + j] += p;
      } else {
        want[i + j - internal::kN] -= p;
      }
    }
  }
  internal::Poly a_hat = a, b_hat = b;
  internal::Ntt(a_hat);
  internal::Ntt(b_hat);
  internal::Poly round_trip = a_hat;
  internal::InverseNtt(round_trip);
  EXPECT_EQ(round_trip, a);
  internal::Poly prod{};
  internal::MultiplyNttsAccumulate(a_hat, b_hat, prod);
  internal::InverseNtt(prod);
  for (int i = 0; i < internal::kN; ++i) {
    int64_t w = ((want[i] % internal::kQ) + internal::kQ) % internal::kQ;
    ASSERT_EQ(prod[i], w) << i;
  }
}

TEST(MlKemPolyTest, ByteEncodeDecodeRoundTrip) {
  for (int d = 1; d <= 12; ++d) {
    internal::Poly f;
    for (int i = 0; i < internal::kN; ++i) {
      f[i] = static_cast<uint16_t>((i * 977 + d) %
                                   (d == 12 ? internal::kQ : (1u << d)));
    }
    std::vector<uint8_t> bytes(32 * d);
    internal::ByteEncode(d, f, bytes.data());
    internal::Poly g = d == 12 ? internal::ByteDecode12(bytes.data())
                               : internal::ByteDecode(d, bytes.data());
    EXPECT_EQ(f, g) << d;
  }
}

TEST(MlKem768Test, EncapsulateThenDecapsulateAgree) {
  for (int round = 0; round < 20; ++round) {
    auto kp = GenerateKeyPair();
    ASSERT_TRUE(kp.ok()) << kp.status();
    ASSERT_EQ(kp->encapsulation_key.size(), kEncapsulationKeySize);
    ASSERT_EQ(kp->decapsulation_key.size(), kDecapsulationKeySize);
    auto enc = Encapsulate(kp->encapsulation_key);
    ASSERT_TRUE(enc.ok()) << enc.status();
    ASSERT_EQ(enc->ciphertext.size(), kCiphertextSize);
    auto ss = Decapsulate(kp->decapsulation_key.span(), enc->ciphertext);
    ASSERT_TRUE(ss.ok()) << ss.status();
    EXPECT_TRUE(ss->Equals(enc->shared_secret));
  }
}

TEST(MlKem768Test, KeyGenIsDeterministicInItsSeeds) {
  auto d = Filled(32, 1), z = Filled(32, 2);
  auto a = KeyPairFromSeed(d, z);
  auto b = KeyPairFromSeed(d, z);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->encapsulation_key, b->encapsulation_key);
  EXPECT_TRUE(a->decapsulation_key.Equals(b->decapsulation_key));
  auto c = KeyPairFromSeed(Filled(32, 3), z);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->encapsulation_key, c->encapsulation_key);
}

TEST(MlKem768Test, ModifiedCiphertextGivesTheRejectionKey) {
  auto kp = KeyPairFromSeed(Filled(32, 7), Filled(32, 9));
  ASSERT_TRUE(kp.ok());
  auto enc = EncapsulateWithMessage(kp->encapsulation_key, Filled(32, 5));
  ASSERT_TRUE(enc.ok());
  std::vector<uint8_t> bad = enc->ciphertext;
  bad[100] ^= 0x01;
  auto ss = Decapsulate(kp->decapsulation_key.span(), bad);
  ASSERT_TRUE(ss.ok());
  EXPECT_FALSE(ss->Equals(enc->shared_secret));
  // Two different bad ciphertexts give different rejection keys, and the
  // same one gives the same key (J(z || c) is a function of c).
  auto again = Decapsulate(kp->decapsulation_key.span(), bad);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->Equals(*ss));
  bad[200] ^= 0x80;
  auto other = Decapsulate(kp->decapsulation_key.span(), bad);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->Equals(*ss));
}

TEST(MlKem768Test, RefusesWrongLengths) {
  auto kp = KeyPairFromSeed(Filled(32, 1), Filled(32, 2));
  ASSERT_TRUE(kp.ok());
  std::vector<uint8_t> ek = kp->encapsulation_key;
  std::vector<uint8_t> short_ek(ek.begin(), ek.end() - 1);
  std::vector<uint8_t> long_ek = ek;
  long_ek.push_back(0);
  EXPECT_EQ(Encapsulate(short_ek).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Encapsulate(long_ek).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(EncapsulateWithMessage(ek, Filled(31, 0)).ok());
  EXPECT_FALSE(KeyPairFromSeed(Filled(31, 0), Filled(32, 0)).ok());
  EXPECT_FALSE(KeyPairFromSeed(Filled(32, 0), Filled(33, 0)).ok());

  auto enc = Encapsulate(ek);
  ASSERT_TRUE(enc.ok());
  std::vector<uint8_t> ct = enc->ciphertext;
  std::vector<uint8_t> short_ct(ct.begin(), ct.end() - 1);
  std::vector<uint8_t> long_ct = ct;
  long_ct.push_back(0);
  EXPECT_EQ(Decapsulate(kp->decapsulation_key.span(), short_ct).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decapsulate(kp->decapsulation_key.span(), long_ct).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto dk = kp->decapsulation_key.span();
  std::vector<uint8_t> short_dk(dk.begin(), dk.end() - 1);
  EXPECT_EQ(Decapsulate(short_dk, ct).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Sets the 12-bit coefficient `index` of an encoded key.
void SetCoefficient(std::vector<uint8_t>& ek, int index, uint16_t value) {
  size_t byte = index / 2 * 3;
  if (index % 2 == 0) {
    ek[byte] = value & 0xff;
    ek[byte + 1] = static_cast<uint8_t>((ek[byte + 1] & 0xf0) | (value >> 8));
  } else {
    ek[byte + 1] = static_cast<uint8_t>((ek[byte + 1] & 0x0f) | (value << 4));
    ek[byte + 2] = static_cast<uint8_t>(value >> 4);
  }
}

TEST(MlKem768Test, RefusesEncapsulationKeyWithCoefficientAtLeastQ) {
  auto kp = KeyPairFromSeed(Filled(32, 1), Filled(32, 2));
  ASSERT_TRUE(kp.ok());
  // q - 1 is accepted, q and 4095 are refused, in the first, a middle and
  // the last coefficient of the 768.
  for (int index : {0, 1, 383, 767}) {
    std::vector<uint8_t> ek = kp->encapsulation_key;
    SetCoefficient(ek, index, internal::kQ - 1);
    EXPECT_TRUE(Encapsulate(ek).ok()) << index;
    for (uint16_t bad : {uint16_t{internal::kQ}, uint16_t{4095}}) {
      SetCoefficient(ek, index, bad);
      auto enc = Encapsulate(ek);
      EXPECT_EQ(enc.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(enc.status().message(), HasSubstr(">= q"));
    }
  }
}

TEST(MlKem768Test, RefusesDecapsulationKeyFailingItsHashCheck) {
  auto kp = KeyPairFromSeed(Filled(32, 1), Filled(32, 2));
  ASSERT_TRUE(kp.ok());
  auto enc = Encapsulate(kp->encapsulation_key);
  ASSERT_TRUE(enc.ok());
  // Changing the embedded ek, or the embedded hash, fails the check;
  // changing z does not (it is not covered by the hash).
  for (size_t offset :
       {size_t{1152}, size_t{2335}, size_t{2336}, size_t{2367}}) {
    std::vector<uint8_t> dk(kp->decapsulation_key.span().begin(),
                            kp->decapsulation_key.span().end());
    dk[offset] ^= 0x01;
    auto ss = Decapsulate(dk, enc->ciphertext);
    EXPECT_EQ(ss.status().code(), absl::StatusCode::kInvalidArgument) << offset;
    EXPECT_THAT(ss.status().message(), HasSubstr("hash check"));
  }
  std::vector<uint8_t> dk(kp->decapsulation_key.span().begin(),
                          kp->decapsulation_key.span().end());
  dk[2399] ^= 0x01;
  EXPECT_TRUE(Decapsulate(dk, enc->ciphertext).ok());
}

}  // namespace
}  // namespace sallyport::ssh::crypto::mlkem768
