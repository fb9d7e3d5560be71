// HostCertificatePolicy: our client trusts internal hosts only through host
// certificates from a trusted host CA naming the host.
#include "ssh/cert/host_cert_policy.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/clock.h"
#include "gtest/gtest.h"
#include "ssh/cert/cert_test_util.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/sign.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ssh::cert {
namespace {

using ::sallyport::ssh::cert::testing::CertFixture;
using ::sallyport::ssh::cert::testing::ExpectRefused;
using ::sallyport::ssh::cert::testing::LoadCertificateFile;
using ::sallyport::ssh::cert::testing::RawCert;

constexpr char kEd25519Alg[] = "ssh-ed25519-cert-v01@openssh.com";
constexpr auto kDenied = absl::StatusCode::kPermissionDenied;
constexpr auto kUnauthenticated = absl::StatusCode::kUnauthenticated;

class HostCertificatePolicyTest : public CertFixture {
 protected:
  void SetUp() override {
    CertFixture::SetUp();
    clock_ = std::make_unique<base::FakeClock>(absl::FromUnixSeconds(kNow));
  }

  std::unique_ptr<HostCertificatePolicy> Policy(
      RevocationCheck revocation = nullptr) {
    HostCertificatePolicy::Options options;
    options.trusted_cas = {ca_->public_key()};
    options.host_name = "db1.internal";
    options.clock = clock_.get();
    options.revocation_check = std::move(revocation);
    auto policy = HostCertificatePolicy::Create(std::move(options));
    EXPECT_TRUE(policy.ok()) << policy.status();
    return policy.ok() ? *std::move(policy) : nullptr;
  }

  // A good host certificate for subject_ naming db1.internal.
  RawCert Host() const {
    RawCert raw = Base();
    raw.type = 2;
    raw.principals = {"db1.internal", "db1"};
    raw.extensions.clear();
    return raw;
  }

  std::unique_ptr<base::FakeClock> clock_;
};

TEST_F(HostCertificatePolicyTest, OffersCertificateAlgorithmsOnly) {
  EXPECT_EQ(
      Policy()->Algorithms(),
      (std::vector<std::string>{"ssh-ed25519-cert-v01@openssh.com",
                                "ecdsa-sha2-nistp256-cert-v01@openssh.com",
                                "rsa-sha2-512-cert-v01@openssh.com",
                                "rsa-sha2-256-cert-v01@openssh.com"}));
}

TEST_F(HostCertificatePolicyTest, AcceptsAGoodHostCertificate) {
  auto key = Policy()->Check(kEd25519Alg, Host().SignWith(*ca_));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, subject_->public_key());
}

TEST_F(HostCertificatePolicyTest, AcceptsCertificatesWeSign) {
  auto ecdsa = crypto::PrivateKey::GenerateEcdsaP256();
  ASSERT_TRUE(ecdsa.ok());
  CertificateRequest request;
  request.public_key = ecdsa->public_key();
  request.type = CertType::kHost;
  request.key_id = "db1";
  request.principals = {"db1.internal"};
  request.valid_after = kNow - 60;
  request.valid_before = kNow + 60;
  auto cert = SignCertificate(request, *ca_);
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto key =
      Policy()->Check("ecdsa-sha2-nistp256-cert-v01@openssh.com", cert->blob);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, ecdsa->public_key());
  ExpectRefused(Policy()->Check(kEd25519Alg, cert->blob).status(),
                kUnauthenticated, "for host key algorithm");
}

TEST_F(HostCertificatePolicyTest, RsaHostCertificateFromSshKeygen) {
  auto dir = sallyport::testing::TempDir::Create("hostcert");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(ca_->WriteFile(dir->File("host_ca")).ok());
  auto host = sallyport::testing::GenerateKey(dir->path(), "host", "rsa");
  ASSERT_TRUE(host.ok());
  auto path = sallyport::testing::SignWithSshKeygen(
      dir->File("host_ca"), host->public_path, "db1", "db1.internal", "-5m:+1h",
      /*host=*/true);
  ASSERT_TRUE(path.ok()) << path.status();
  auto cert = LoadCertificateFile(*path);
  ASSERT_TRUE(cert.ok()) << cert.status();
  clock_->Set(absl::Now());
  for (const char* alg : {"rsa-sha2-512-cert-v01@openssh.com",
                          "rsa-sha2-256-cert-v01@openssh.com"}) {
    auto key = Policy()->Check(alg, cert->blob);
    ASSERT_TRUE(key.ok()) << alg << " " << key.status();
    EXPECT_EQ(key->TypeName(), "ssh-rsa");
  }
  // The SHA-1 certificate algorithm is never offered or accepted, nor is a
  // certificate blob under another type's algorithm, nor a plain algorithm.
  for (const char* alg :
       {"ssh-rsa-cert-v01@openssh.com", kEd25519Alg, "rsa-sha2-512", ""}) {
    EXPECT_EQ(Policy()->Check(alg, cert->blob).status().code(),
              kUnauthenticated)
        << alg;
  }
}

TEST_F(HostCertificatePolicyTest, RefusesAnotherHostName) {
  RawCert raw = Host();
  raw.principals = {"db2.internal", "db1.internal.evil.example",
                    "db1.internal,db2"};
  ExpectRefused(Policy()->Check(kEd25519Alg, raw.SignWith(*ca_)).status(),
                kDenied, "principal \"db1.internal\" is not listed");
  raw.principals = {"*.internal"};
  ExpectRefused(Policy()->Check(kEd25519Alg, raw.SignWith(*ca_)).status(),
                kDenied, "is not listed");
  raw.principals.clear();
  ExpectRefused(Policy()->Check(kEd25519Alg, raw.SignWith(*ca_)).status(),
                kDenied, "no principals");
}

TEST_F(HostCertificatePolicyTest, RefusesAUserCertificate) {
  RawCert raw = Host();
  raw.type = 1;
  ExpectRefused(Policy()->Check(kEd25519Alg, raw.SignWith(*ca_)).status(),
                kDenied, "user certificate where a host certificate");
}

TEST_F(HostCertificatePolicyTest, RefusesAnUntrustedCa) {
  RawCert raw = Host();
  raw.signature_key = other_ca_->public_key().Blob();
  ExpectRefused(Policy()->Check(kEd25519Alg, raw.SignWith(*other_ca_)).status(),
                kUnauthenticated, "CA is not trusted");
}

TEST_F(HostCertificatePolicyTest, RefusesAnyCriticalOption) {
  for (const CertOption& option :
       {CertOption::WithValue(kForceCommand, "true"),
        CertOption::WithValue(kSourceAddress, "0.0.0.0/0,::/0"),
        CertOption::Flag(kVerifyRequired), CertOption::Flag("x@example.com")}) {
    RawCert raw = Host();
    raw.critical_options = {option};
    ExpectRefused(Policy()->Check(kEd25519Alg, raw.SignWith(*ca_)).status(),
                  kDenied, "host certificate has critical option");
  }
}

TEST_F(HostCertificatePolicyTest, RefusesExpiredAndNotYetValid) {
  const std::vector<uint8_t> blob = Host().SignWith(*ca_);
  clock_->Set(absl::FromUnixSeconds(1700003600));
  ExpectRefused(Policy()->Check(kEd25519Alg, blob).status(), kDenied,
                "expired");
  clock_->Set(absl::FromUnixSeconds(1700000000 - 1));
  ExpectRefused(Policy()->Check(kEd25519Alg, blob).status(), kDenied,
                "not yet valid");
}

TEST_F(HostCertificatePolicyTest, RevocationErrorRefuses) {
  auto policy = Policy([](const Certificate&) {
    return absl::UnavailableError("cannot read revocation list");
  });
  ExpectRefused(policy->Check(kEd25519Alg, Host().SignWith(*ca_)).status(),
                kDenied, "cannot read revocation list");
}

TEST_F(HostCertificatePolicyTest, RefusesPlainKeysAndGarbage) {
  ExpectRefused(
      Policy()->Check(kEd25519Alg, subject_->public_key().Blob()).status(),
      kUnauthenticated, "not a usable host certificate");
  ExpectRefused(
      Policy()->Check("ssh-ed25519", subject_->public_key().Blob()).status(),
      kUnauthenticated, "was not offered");
  ExpectRefused(Policy()->Check(kEd25519Alg, Bytes()).status(),
                kUnauthenticated, "not a usable host certificate");
}

TEST_F(HostCertificatePolicyTest, CreateNeedsACaAndAHostName) {
  HostCertificatePolicy::Options options;
  options.host_name = "db1";
  EXPECT_EQ(HostCertificatePolicy::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.trusted_cas = {ca_->public_key()};
  options.host_name = "";
  EXPECT_FALSE(HostCertificatePolicy::Create(options).ok());
  options.host_name = "a,b";
  EXPECT_FALSE(HostCertificatePolicy::Create(options).ok());
  options.host_name = "db1";
  EXPECT_TRUE(HostCertificatePolicy::Create(options).ok());
}

}  // namespace
}  // namespace sallyport::ssh::cert
