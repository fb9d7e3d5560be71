#include "ca/totp.h"

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace sallyport::ca {
namespace {

using base::SecretBytes;

// RFC 6238 Appendix B: the seeds and the 8-digit codes.
TEST(TotpTest, Rfc6238AppendixBVectors) {
  const SecretBytes sha1 = SecretBytes::FromString("12345678901234567890");
  const SecretBytes sha256 =
      SecretBytes::FromString("12345678901234567890123456789012");
  const SecretBytes sha512 = SecretBytes::FromString(
      "1234567890123456789012345678901234567890123456789012345678901234");
  struct Vector {
    int64_t time;
    const char* sha1;
    const char* sha256;
    const char* sha512;
  };
  const Vector vectors[] = {
      {59, "94287082", "46119246", "90693936"},
      {1111111109, "07081804", "68084774", "25091201"},
      {1111111111, "14050471", "67062674", "99943326"},
      {1234567890, "89005924", "91819424", "93441116"},
      {2000000000, "69279037", "90698825", "38618901"},
      {20000000000, "65353130", "77737706", "47863826"},
  };
  for (const Vector& v : vectors) {
    const absl::Time t = absl::FromUnixSeconds(v.time);
    TotpParams p{.digits = 8};
    p.algorithm = TotpAlgorithm::kSha1;
    EXPECT_EQ(TotpCode(sha1, t, p), v.sha1) << v.time;
    p.algorithm = TotpAlgorithm::kSha256;
    EXPECT_EQ(TotpCode(sha256, t, p), v.sha256) << v.time;
    p.algorithm = TotpAlgorithm::kSha512;
    EXPECT_EQ(TotpCode(sha512, t, p), v.sha512) << v.time;
  }
}

// RFC 4226 Appendix D: HOTP values for counters 0..9.
TEST(TotpTest, Rfc4226HotpVectors) {
  const SecretBytes key = SecretBytes::FromString("12345678901234567890");
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(HotpCode(key, i), expected[i]) << i;
  }
}

TEST(TotpTest, VerifyAcceptsOneStepEitherSideAndReturnsTheStep) {
  const SecretBytes key = SecretBytes::FromString("12345678901234567890");
  const absl::Time now = absl::FromUnixSeconds(1700000015);
  const uint64_t step = TotpStep(now);
  for (int delta : {-1, 0, 1}) {
    const std::string code = HotpCode(key, step + delta);
    auto matched = VerifyTotp(key, code, now);
    ASSERT_TRUE(matched.has_value()) << delta;
    EXPECT_EQ(*matched, step + delta);
  }
  EXPECT_FALSE(VerifyTotp(key, HotpCode(key, step - 2), now).has_value());
  EXPECT_FALSE(VerifyTotp(key, HotpCode(key, step + 2), now).has_value());
}

TEST(TotpTest, VerifyRefusesMalformedCodes) {
  const SecretBytes key = SecretBytes::FromString("12345678901234567890");
  const absl::Time now = absl::FromUnixSeconds(1700000015);
  const std::string good = TotpCode(key, now);
  EXPECT_TRUE(VerifyTotp(key, good, now).has_value());
  EXPECT_FALSE(VerifyTotp(key, "", now).has_value());
  EXPECT_FALSE(VerifyTotp(key, good + "0", now).has_value());
  EXPECT_FALSE(VerifyTotp(key, good.substr(0, 5), now).has_value());
  EXPECT_FALSE(VerifyTotp(key, " " + good.substr(1), now).has_value());
  EXPECT_FALSE(VerifyTotp(SecretBytes(), good, now).has_value());
}

TEST(TotpTest, Base32RoundTripAndRfc4648Vectors) {
  EXPECT_EQ(Base32Encode(SecretBytes::FromString("foobar").span()),
            "MZXW6YTBOI");
  EXPECT_EQ(Base32Encode(SecretBytes::FromString("f").span()), "MY");
  auto decoded = Base32Decode("mzxw 6ytb oi======");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->view(), "foobar");
  EXPECT_FALSE(Base32Decode("MZ1W").ok());
  EXPECT_FALSE(Base32Decode("MY==MY").ok());
  auto secret = GenerateTotpSecret();
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(secret->size(), 20u);
  auto back = Base32Decode(Base32Encode(secret->span()));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->Equals(*secret));
}

TEST(TotpTest, OtpauthUri) {
  const std::string uri =
      OtpauthUri("Sallyport", "alice smith", SecretBytes::FromString("foobar"));
  EXPECT_EQ(uri,
            "otpauth://totp/Sallyport:alice%20smith?secret=MZXW6YTBOI"
            "&issuer=Sallyport&algorithm=SHA1&digits=6&period=30");
}

}  // namespace
}  // namespace sallyport::ca
