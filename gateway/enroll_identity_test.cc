// Renewing the identity `sallyport-gateway enroll` wrote (RenewIdentity)
// against a real CA (the in-process CaTestEnv over real TLS on loopback),
// a TLS or host key its certificate is not for (refused, and `enroll
// --force` the way out), and the CA channel's pinned certificate.
#include <filesystem>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "base/files.h"
#include "gateway/enroll.h"
#include "gateway/enroll_test_fixture.h"
#include "gateway/renew_host.h"
#include "gtest/gtest.h"
#include "tests/harness/subprocess.h"

namespace sallyport::gateway {
namespace {

using sallyport::testing::RunCommandOk;

TEST_F(EnrollTest, RenewIdentityReplacesTheCertificate) {
  absl::StatusOr<EnrollResult> r = Enroll(Options(Token(), "s"));
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(r->config_path);
  ASSERT_TRUE(s.ok());
  auto before = base::ReadTextFile(s->files.tls_certificate);
  auto key_before = base::ReadTextFile(s->files.tls_key);
  ASSERT_TRUE(before.ok() && key_before.ok());
  auto channel = OpenCaChannel(*s);
  ASSERT_TRUE(channel.ok()) << channel.status();
  absl::StatusOr<absl::Time> until = RenewIdentity(*s, *channel);
  ASSERT_TRUE(until.ok()) << until.status();
  EXPECT_GE(*until, r->tls_valid_before);
  auto after = base::ReadTextFile(s->files.tls_certificate);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, *before);  // a new serial
  EXPECT_EQ(*base::ReadTextFile(s->files.tls_key), *key_before);
  EXPECT_EQ(Mode(s->files.tls_certificate), 0644);
  EXPECT_FALSE(TemporaryLeft(s->files.tls_certificate));
  // The renewed certificate authenticates.
  EXPECT_TRUE(CallWithIdentity(r->config_path).ok());
  // A user's identity cannot renew a gateway certificate.
  ca::CaTestEnv::LoginResult user =
      env_->Login(env_->init().admin, env_->admin_password());
  ASSERT_TRUE(user.status.ok());
  absl::StatusOr<absl::Time> refused = RenewIdentity(*s, user.channel);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied)
      << refused.status();
  EXPECT_EQ(*base::ReadTextFile(s->files.tls_certificate), *after);
}

// A TLS key its certificate is not for (a crash in `enroll --force`, a
// copied file) is not sent to the CA to be certified: the renewal is
// refused with the mismatch, and the certificate stays.
TEST_F(EnrollTest, RenewIdentityRefusesAKeyItsCertificateIsNotFor) {
  absl::StatusOr<EnrollResult> r = Enroll(Options(Token(), "s"));
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(r->config_path);
  ASSERT_TRUE(s.ok());
  auto channel = OpenCaChannel(*s);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto before = base::ReadTextFile(s->files.tls_certificate);
  ASSERT_TRUE(before.ok());
  const std::string stray = dir_->File("stray.key");
  ASSERT_TRUE(
      RunCommandOk({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", stray})
          .ok());
  ASSERT_TRUE(std::filesystem::copy_file(
      stray, s->files.tls_key,
      std::filesystem::copy_options::overwrite_existing));
  EXPECT_EQ(CheckTlsKeyPair(*s).code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<absl::Time> refused = RenewIdentity(*s, *channel);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                "run `sallyport-gateway enroll --force` again"))
      << refused.status();
  EXPECT_EQ(*base::ReadTextFile(s->files.tls_certificate), *before);
}

// What such a crash leaves, a new key beside the old certificate (each
// pair in turn, the other pair and gateway.yaml whole), is no obstacle to
// the way out: `enroll --force` again redoes everything, and both pairs
// match after it.
TEST_F(EnrollTest, ForceRedoesAStateDirWhoseKeysAreNotTheirCertificates) {
  EnrollOptions o = Options(Token(), "s");
  ASSERT_TRUE(Enroll(o).ok());
  const std::string other = dir_->File("other");
  ASSERT_TRUE(RunCommandOk({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            other + "_ed25519"})
                  .ok());
  ASSERT_TRUE(
      RunCommandOk({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", other + "_tls.key"})
          .ok());
  const std::pair<const char*, std::string> strays[] = {
      {"ssh_host_ed25519_key", other + "_ed25519"},
      {"gateway_tls.key", other + "_tls.key"}};
  for (const auto& [name, stray] : strays) {
    ASSERT_TRUE(std::filesystem::copy_file(
        stray, o.state_dir + "/" + name,
        std::filesystem::copy_options::overwrite_existing));
    absl::StatusOr<GatewaySettings> s =
        LoadGatewayConfig(o.state_dir + "/gateway.yaml");
    ASSERT_TRUE(s.ok()) << s.status();
    const bool host = absl::StartsWith(name, "ssh_");
    EXPECT_EQ(host ? ReadHostCertificate(*s).status().code()
                   : CheckTlsKeyPair(*s).code(),
              absl::StatusCode::kFailedPrecondition)
        << name;
    EnrollOptions again = Options(Token("gw1"), "s");
    again.force = true;
    absl::StatusOr<EnrollResult> r = Enroll(again);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(ReadHostCertificate(*s).ok())
        << ReadHostCertificate(*s).status();
    EXPECT_TRUE(CheckTlsKeyPair(*s).ok()) << CheckTlsKeyPair(*s);
    EXPECT_EQ(Mode(o.state_dir + "/" + name), 0600) << name;
    EXPECT_TRUE(CallWithIdentity(r->config_path).ok());
  }
}

TEST_F(EnrollTest, OpenCaChannelRefusesASwappedCaCertificate) {
  absl::StatusOr<EnrollResult> r = Enroll(Options(Token(), "s"));
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<GatewaySettings> s = LoadGatewayConfig(r->config_path);
  ASSERT_TRUE(s.ok());
  s->ca_fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  auto channel = OpenCaChannel(*s);
  ASSERT_FALSE(channel.ok());
  EXPECT_TRUE(absl::StrContains(channel.status().message(), "ca.pem"));
}

}  // namespace
}  // namespace sallyport::gateway
