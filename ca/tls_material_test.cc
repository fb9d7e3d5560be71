#include "ca/tls_material.h"

#include <openssl/evp.h>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace sallyport::ca {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

struct Ca {
  base::EvpPkeyPtr key;
  base::X509Ptr cert;
};

Ca MakeCa() {
  Ca ca;
  auto key = GenerateTlsKey();
  EXPECT_TRUE(key.ok());
  ca.key = std::move(*key);
  CertificateSpec spec;
  spec.common_name = "Sallyport internal TLS CA";
  spec.serial = 1;
  spec.not_before = kNow - absl::Hours(1);
  spec.not_after = kNow + absl::Hours(24 * 365);
  spec.is_ca = true;
  auto cert = IssueCertificate(spec, ca.key.get(), nullptr, ca.key.get());
  EXPECT_TRUE(cert.ok()) << cert.status();
  ca.cert = std::move(*cert);
  return ca;
}

TEST(TlsMaterialTest, ClientCertificateCarriesIdentityAndSerial) {
  Ca ca = MakeCa();
  auto client_key = GenerateTlsKey();
  ASSERT_TRUE(client_key.ok());
  // The CA only sees the public key, as DER.
  auto der = PublicKeyToDer(client_key->get());
  ASSERT_TRUE(der.ok());
  auto pub = PublicKeyFromDer(*der);
  ASSERT_TRUE(pub.ok()) << pub.status();
  CertificateSpec spec;
  // Longer than X.509's 64-character CN limit: user names may be.
  spec.common_name = std::string(100, 'a');
  spec.organizational_unit = std::string(kIdentityUser);
  spec.serial = 4242;
  spec.not_before = kNow - absl::Minutes(1);
  spec.not_after = kNow + absl::Hours(8);
  spec.client = true;
  auto cert = IssueCertificate(spec, pub->get(), ca.cert.get(), ca.key.get());
  ASSERT_TRUE(cert.ok()) << cert.status();

  auto info = InspectCertificate(cert->get());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, spec.common_name);
  EXPECT_EQ(info->organizational_unit, "user");
  EXPECT_EQ(info->serial, 4242u);
  EXPECT_EQ(info->not_before, spec.not_before);
  EXPECT_EQ(info->not_after, spec.not_after);

  EXPECT_TRUE(VerifyIssuedBy(cert->get(), ca.cert.get(), kNow).ok());
  EXPECT_EQ(
      VerifyIssuedBy(cert->get(), ca.cert.get(), kNow + absl::Hours(8)).code(),
      absl::StatusCode::kUnauthenticated);
  Ca other = MakeCa();
  EXPECT_EQ(VerifyIssuedBy(cert->get(), other.cert.get(), kNow).code(),
            absl::StatusCode::kUnauthenticated);

  // PEM round trip keeps the fingerprint.
  auto pem = CertificateToPem(cert->get());
  ASSERT_TRUE(pem.ok());
  auto back = CertificateFromPem(*pem);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*CertificateFingerprint(cert->get()),
            *CertificateFingerprint(back->get()));
}

TEST(TlsMaterialTest, SelfSignedServerCertificate) {
  auto key = GenerateTlsKey();
  ASSERT_TRUE(key.ok());
  CertificateSpec spec;
  spec.common_name = "sallyport-ca";
  spec.serial = 7;
  spec.not_before = kNow;
  spec.not_after = kNow + absl::Hours(24);
  spec.server = true;
  spec.dns_names = {"sallyport-ca", "localhost"};
  spec.ip_addresses = {"127.0.0.1", "::1"};
  auto cert = IssueCertificate(spec, key->get(), nullptr, key->get());
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto fp = CertificateFingerprint(cert->get());
  ASSERT_TRUE(fp.ok());
  EXPECT_TRUE(absl::StartsWith(*fp, "SHA256:"));
  EXPECT_EQ(fp->size(), 7u + 43u);
  EXPECT_TRUE(VerifyIssuedBy(cert->get(), cert->get(), kNow).ok());

  spec.ip_addresses = {"not-an-ip"};
  EXPECT_FALSE(IssueCertificate(spec, key->get(), nullptr, key->get()).ok());
}

TEST(TlsMaterialTest, PrivateKeyPemRoundTrip) {
  auto key = GenerateTlsKey();
  ASSERT_TRUE(key.ok());
  auto pem = PrivateKeyToPem(key->get());
  ASSERT_TRUE(pem.ok());
  EXPECT_TRUE(absl::StrContains(std::string(pem->view()), "BEGIN PRIVATE KEY"));
  auto back = PrivateKeyFromPem(pem->view());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(EVP_PKEY_eq(key->get(), back->get()), 1);
  EXPECT_FALSE(PrivateKeyFromPem("garbage").ok());
}

TEST(TlsMaterialTest, PublicKeyFromDerRefusesOtherKeysAndTrailingBytes) {
  auto key = GenerateTlsKey();
  ASSERT_TRUE(key.ok());
  auto der = PublicKeyToDer(key->get());
  ASSERT_TRUE(der.ok());
  EXPECT_FALSE(PublicKeyFromDer(*der + "x").ok());
  EXPECT_FALSE(PublicKeyFromDer("").ok());
  EXPECT_FALSE(PublicKeyFromDer(der->substr(0, der->size() - 1)).ok());

  base::EvpPkeyPtr p384(EVP_EC_gen("P-384"));
  ASSERT_NE(p384, nullptr);
  auto p384_der = PublicKeyToDer(p384.get());
  ASSERT_TRUE(p384_der.ok());
  EXPECT_FALSE(PublicKeyFromDer(*p384_der).ok());

  base::EvpPkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(ed, nullptr);
  auto ed_der = PublicKeyToDer(ed.get());
  ASSERT_TRUE(ed_der.ok());
  EXPECT_TRUE(PublicKeyFromDer(*ed_der).ok());
  // The same key with a BIT STRING claiming 2 unused bits: OpenSSL parses
  // it, we refuse anything but the canonical encoding.
  std::string odd = *ed_der;
  ASSERT_EQ(odd[11], '\0');
  odd[11] = 2;
  EXPECT_FALSE(PublicKeyFromDer(odd).ok());
}

}  // namespace
}  // namespace sallyport::ca
