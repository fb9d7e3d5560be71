// VerifiedUserCertificates: the CA's memory of user certificates that
// verified stays within kMaxEntries and returns what was remembered.
#include "ca/presented_cert.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ssh/cert/sign.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ca {
namespace {

ssh::cert::Certificate MakeCertificate(uint64_t serial) {
  auto ca = ssh::crypto::PrivateKey::GenerateEd25519();
  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  EXPECT_TRUE(ca.ok() && key.ok());
  ssh::cert::CertificateRequest request;
  request.public_key = key->public_key();
  request.serial = serial;
  request.key_id = "alice";
  request.principals = {"alice"};
  request.valid_after = 1700000000;
  request.valid_before = 1700028800;
  auto cert = ssh::cert::SignCertificate(request, *ca);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return *cert;
}

// At the limit: one more entry than it holds; the memory never exceeds the
// limit and what it returns is what was remembered under that key.
TEST(VerifiedUserCertificatesTest, BoundedAndExact) {
  VerifiedUserCertificates memory;
  const ssh::cert::Certificate cert = MakeCertificate(42);
  ssh::cert::CertificatePermissions permissions;
  permissions.permit_pty = true;
  const size_t n = VerifiedUserCertificates::kMaxEntries + 1;
  for (size_t i = 0; i < n; ++i) {
    memory.Remember(absl::StrCat("key", i), {cert, permissions});
    EXPECT_LE(memory.size(), VerifiedUserCertificates::kMaxEntries);
    auto found = memory.Find(absl::StrCat("key", i));
    ASSERT_TRUE(found.has_value()) << i;
    EXPECT_EQ(found->certificate.serial, 42u);
    EXPECT_TRUE(found->permissions.permit_pty);
  }
  EXPECT_FALSE(memory.Find("key").has_value());
  EXPECT_FALSE(memory.Find("").has_value());
}

}  // namespace
}  // namespace sallyport::ca
