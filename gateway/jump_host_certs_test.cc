#include "gateway/jump_host_certs.h"

#include <optional>

#include "absl/strings/match.h"
#include "base/clock.h"
#include "gtest/gtest.h"
#include "ssh/cert/sign.h"
#include "ssh/crypto/keys.h"

namespace sallyport::gateway {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::vector<uint8_t> Blob(int i) { return {static_cast<uint8_t>(i), 1, 2}; }

TEST(TargetCertificateCacheTest, HitUntilRenewMargin) {
  TargetCertificateCache cache;
  cache.Put("web01", "SHA256:k", Blob(1), kNow + absl::Hours(1));
  EXPECT_EQ(cache.Get("web01", "SHA256:k", kNow), Blob(1));
  // Another gateway host key or another host: a miss.
  EXPECT_FALSE(cache.Get("web01", "SHA256:other", kNow).has_value());
  EXPECT_FALSE(cache.Get("web02", "SHA256:k", kNow).has_value());
  // Within renew_before of the expiry it is no longer handed out.
  const absl::Time late =
      kNow + absl::Hours(1) - TargetCertificateCache::kDefaultRenewBefore;
  EXPECT_TRUE(cache.Get("web01", "SHA256:k", late - absl::Seconds(1)));
  EXPECT_FALSE(cache.Get("web01", "SHA256:k", late).has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(TargetCertificateCacheTest, BoundedAtMaxEntries) {
  TargetCertificateCache::Options o;
  o.max_entries = 8;
  TargetCertificateCache cache(o);
  for (int i = 0; i < 8; ++i) {
    cache.Put("h" + std::to_string(i), "k", Blob(i),
              kNow + absl::Hours(1) + absl::Minutes(i));
  }
  EXPECT_EQ(cache.size(), 8u);
  // At the limit: one more host evicts the one that expires first (h0).
  cache.Put("h8", "k", Blob(8), kNow + absl::Hours(2));
  EXPECT_EQ(cache.size(), 8u);
  EXPECT_FALSE(cache.Get("h0", "k", kNow).has_value());
  EXPECT_EQ(cache.Get("h1", "k", kNow), Blob(1));
  EXPECT_EQ(cache.Get("h8", "k", kNow), Blob(8));
  // Replacing a cached host does not evict another.
  cache.Put("h8", "k", Blob(9), kNow + absl::Hours(3));
  EXPECT_EQ(cache.size(), 8u);
  EXPECT_EQ(cache.Get("h8", "k", kNow), Blob(9));
  EXPECT_EQ(cache.Get("h1", "k", kNow), Blob(1));
}

TEST(TargetCertificateCacheTest, ZeroEntriesCachesNothing) {
  TargetCertificateCache::Options o;
  o.max_entries = 0;
  TargetCertificateCache cache(o);
  cache.Put("web01", "k", Blob(1), kNow + absl::Hours(1));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Get("web01", "k", kNow).has_value());
}

// The host certificate the CA issued for a recorded ProxyJump's inner
// server: each test breaks one thing of an otherwise good certificate.
class TargetCertificateCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = ssh::crypto::PrivateKey::GenerateEd25519();
    auto other_ca = ssh::crypto::PrivateKey::GenerateEd25519();
    auto gateway = ssh::crypto::PrivateKey::GenerateEd25519();
    auto other = ssh::crypto::PrivateKey::GenerateEd25519();
    ASSERT_TRUE(ca.ok() && other_ca.ok() && gateway.ok() && other.ok());
    ca_.emplace(std::move(*ca));
    other_ca_.emplace(std::move(*other_ca));
    gateway_.emplace(std::move(*gateway));
    other_.emplace(std::move(*other));
  }
  ssh::cert::CertificateRequest Good() const {
    ssh::cert::CertificateRequest r;
    r.public_key = gateway_->public_key();
    r.serial = 7;
    r.type = ssh::cert::CertType::kHost;
    r.key_id = "gw1 for web01";
    r.principals = {"web01"};
    r.valid_after = static_cast<uint64_t>(absl::ToUnixSeconds(kNow)) - 60;
    r.valid_before = static_cast<uint64_t>(absl::ToUnixSeconds(kNow)) + 3600;
    return r;
  }
  absl::Status Check(const ssh::cert::CertificateRequest& r,
                     const ssh::crypto::PrivateKey* signer = nullptr) {
    absl::StatusOr<ssh::cert::Certificate> cert =
        ssh::cert::SignCertificate(r, signer != nullptr ? *signer : *ca_);
    if (!cert.ok()) return cert.status();
    return CheckTargetCertificate(*cert, gateway_->public_key(), "web01",
                                  {ca_->public_key()}, &clock_);
  }

  base::FakeClock clock_{kNow};
  std::optional<ssh::crypto::PrivateKey> ca_, other_ca_, gateway_, other_;
};

TEST_F(TargetCertificateCheckTest, AGoodCertificatePasses) {
  EXPECT_TRUE(Check(Good()).ok()) << Check(Good());
}

TEST_F(TargetCertificateCheckTest, AnotherCaIsRefused) {
  EXPECT_FALSE(Check(Good(), &*other_ca_).ok());
}

TEST_F(TargetCertificateCheckTest, AUserCertificateIsRefused) {
  ssh::cert::CertificateRequest r = Good();
  r.type = ssh::cert::CertType::kUser;
  EXPECT_FALSE(Check(r).ok());
}

TEST_F(TargetCertificateCheckTest, AnotherHostNameIsRefused) {
  ssh::cert::CertificateRequest r = Good();
  r.principals = {"web02"};
  EXPECT_FALSE(Check(r).ok());
}

TEST_F(TargetCertificateCheckTest, ValidityIsChecked) {
  ssh::cert::CertificateRequest r = Good();
  r.valid_before = static_cast<uint64_t>(absl::ToUnixSeconds(kNow));
  EXPECT_FALSE(Check(r).ok()) << "expired";
  r = Good();
  r.valid_after = static_cast<uint64_t>(absl::ToUnixSeconds(kNow)) + 1;
  EXPECT_FALSE(Check(r).ok()) << "not yet valid";
}

TEST_F(TargetCertificateCheckTest, AnotherKeyIsRefused) {
  ssh::cert::CertificateRequest r = Good();
  r.public_key = other_->public_key();
  absl::Status st = Check(r);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(absl::StrContains(st.message(), "another key")) << st;
}

}  // namespace
}  // namespace sallyport::gateway
