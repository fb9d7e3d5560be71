// ClientCertificateAuthority::Verify, with its memory of verified
// certificates: a remembered certificate is still refused once expired, a
// foreign one is refused and never remembered, and the memory stays within
// kMaxVerifiedCertificates.
#include "ca/client_ca.h"

#include "absl/strings/str_cat.h"
#include "ca/tls_material.h"
#include "gtest/gtest.h"

namespace sallyport::ca {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

std::unique_ptr<ClientCertificateAuthority> MakeCa() {
  auto key = GenerateTlsKey();
  EXPECT_TRUE(key.ok());
  CertificateSpec spec;
  spec.common_name = "Sallyport internal TLS CA";
  spec.serial = 1;
  spec.not_before = kNow - absl::Hours(1);
  spec.not_after = kNow + absl::Hours(24 * 365);
  spec.is_ca = true;
  auto cert = IssueCertificate(spec, key->get(), nullptr, key->get());
  EXPECT_TRUE(cert.ok()) << cert.status();
  auto ca = ClientCertificateAuthority::FromPem(
      *CertificateToPem(cert->get()), PrivateKeyToPem(key->get())->view());
  EXPECT_TRUE(ca.ok()) << ca.status();
  return std::move(*ca);
}

std::string ClientPem(const ClientCertificateAuthority& ca,
                      ClientIdentity::Kind kind, const std::string& name,
                      uint64_t serial) {
  auto key = GenerateTlsKey();
  EXPECT_TRUE(key.ok());
  auto pem = ca.Issue(kind, name, serial, kNow - absl::Minutes(1),
                      kNow + absl::Hours(8), *PublicKeyToDer(key->get()));
  EXPECT_TRUE(pem.ok()) << pem.status();
  return *pem;
}

TEST(ClientCaTest, RememberedCertificateIsCheckedForExpiryEveryTime) {
  auto ca = MakeCa();
  const std::string pem =
      ClientPem(*ca, ClientIdentity::Kind::kGateway, "gw1", 7);
  for (int i = 0; i < 2; ++i) {  // verified, then remembered
    auto id = ca->Verify(pem, kNow);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->kind, ClientIdentity::Kind::kGateway);
    EXPECT_EQ(id->name, "gw1");
    EXPECT_EQ(id->serial, 7u);
    EXPECT_EQ(ca->VerifiedCountForTest(), 1u);
  }
  EXPECT_EQ(ca->Verify(pem, kNow + absl::Hours(8)).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ca->Verify(pem, kNow - absl::Minutes(2)).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(ca->Verify(pem, kNow + absl::Hours(7)).ok());
}

TEST(ClientCaTest, ForeignCertificateIsRefusedAndNotRemembered) {
  auto ca = MakeCa();
  auto other = MakeCa();
  const std::string pem =
      ClientPem(*other, ClientIdentity::Kind::kUser, "mallory", 9);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ca->Verify(pem, kNow).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  EXPECT_EQ(ca->VerifiedCountForTest(), 0u);
  EXPECT_EQ(ca->Verify("not a certificate", kNow).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ca->VerifiedCountForTest(), 0u);
}

// At the limit: one more certificate than the memory holds; every one
// still verifies to its own identity and the memory never exceeds it.
TEST(ClientCaTest, MemoryOfVerifiedCertificatesIsBounded) {
  auto ca = MakeCa();
  const size_t n = ClientCertificateAuthority::kMaxVerifiedCertificates + 1;
  std::vector<std::string> pems;
  for (size_t i = 0; i < n; ++i) {
    pems.push_back(ClientPem(*ca, ClientIdentity::Kind::kUser,
                             absl::StrCat("user", i), i + 1));
  }
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < n; ++i) {
      auto id = ca->Verify(pems[i], kNow);
      ASSERT_TRUE(id.ok()) << i << ": " << id.status();
      EXPECT_EQ(id->name, absl::StrCat("user", i));
      EXPECT_EQ(id->serial, i + 1);
      EXPECT_LE(ca->VerifiedCountForTest(),
                ClientCertificateAuthority::kMaxVerifiedCertificates);
    }
  }
}

}  // namespace
}  // namespace sallyport::ca
