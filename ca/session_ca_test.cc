// The optional session CA key (ca.yaml keys.session_ca, `sallyport-ca init
// --session-ca`): it signs the gateway's session certificates instead of
// the user CA key, so a host that trusts only it admits sessions the CA
// issued to a gateway and refuses users' own 8-hour certificates (which
// the user CA signs). Against the real sshd, on SQLite and PostgreSQL.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ca/gateway_session_fixture.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/ca.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;
namespace pb = admin::v1;

// GetCaPublicKeys on `channel` (a user's).
v1::CaPublicKeys PublicKeys(const std::shared_ptr<grpc::Channel>& channel) {
  v1::CaPublicKeys keys;
  grpc::ClientContext ctx;
  grpc::Status st = v1::CertificateAuthority::NewStub(channel)->GetCaPublicKeys(
      &ctx, {}, &keys);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return keys;
}

// `spctl ca rotate --purpose session` as the admin.
grpc::Status RotateSessionKey(CaTestEnv& env, pb::CaKey* rotated) {
  pb::RotateCaKeyRequest req;
  req.set_purpose("session");
  grpc::ClientContext ctx;
  return pb::Admin::NewStub(AdminChannel(env))->RotateCaKey(&ctx, req, rotated);
}

class SessionCaKeyTest : public GatewaySessionTest {
 protected:
  SessionCaKeyTest() { session_ca_ = true; }
  v1::CaPublicKeys PublicKeys() {
    return sallyport::ca::PublicKeys(alice_.channel);
  }

  // A session certificate for web01, written to `path` (both empty on
  // failure).
  struct Issued {
    std::string path;
    std::optional<ssh::cert::Certificate> cert;
  };
  Issued IssueAndWrite(const std::string& session_id) {
    gw::IssueSessionCertificateResponse response;
    grpc::Status st =
        IssueSession(gateway_.channel, login_, "web01", &response, session_id);
    EXPECT_TRUE(st.ok()) << st.error_message();
    if (!st.ok()) return {};
    auto parsed = ssh::cert::Certificate::FromLine(
        response.certificate().ssh_certificate());
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    if (!parsed.ok()) return {};
    Issued issued{dir_->File(session_id + "-cert.pub"), *std::move(parsed)};
    EXPECT_TRUE(
        testing::WriteFile(issued.path,
                           response.certificate().ssh_certificate() + "\n")
            .ok());
    return issued;
  }

  // `ssh` with alice's own login key and certificate to `sshd`.
  testing::RunResult SshAsAlice(const testing::SshdFixture& sshd) {
    const std::string key = dir_->File("alice");
    EXPECT_TRUE(testing::WriteFile(key, alice_.ssh_private_key, 0600).ok());
    EXPECT_TRUE(testing::WriteFile(key + "-cert.pub",
                                   alice_.response.ssh_certificate() + "\n")
                    .ok());
    std::vector<std::string> args = testing::SshClientArgs(
        sshd.port(), sshd.known_hosts_path(), key, key + "-cert.pub");
    args.push_back(login_ + "@127.0.0.1");
    args.push_back("echo ok");
    auto r = testing::RunCommand(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testing::RunResult();
  }
};

TEST_P(SessionCaKeyTest, HostsTrustingOnlyTheSessionKeyRefuseUsersOwnCerts) {
  const v1::CaPublicKeys keys = PublicKeys();
  ASSERT_EQ(keys.session_ca_size(), 1);
  EXPECT_TRUE(keys.session_ca(0).active());
  const std::string session_fp = keys.session_ca(0).fingerprint();
  ASSERT_EQ(keys.user_ca_size(), 1);
  EXPECT_NE(keys.user_ca(0).fingerprint(), session_fp);
  EXPECT_TRUE(absl::StartsWith(env_->init().session_ca_public_key,
                               keys.session_ca(0).public_key().substr(0, 60)));

  // A session certificate is signed by the session key (and recorded so)
  // and the host, which trusts only that key, accepts it.
  const Issued issued = IssueAndWrite("s-1");
  ASSERT_TRUE(issued.cert.has_value());
  EXPECT_EQ(issued.cert->CaFingerprint(), session_fp);
  auto stored = env_->store().GetCertificate(issued.cert->serial);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->ca_key_fingerprint, session_fp);
  testing::RunResult ok = Ssh(issued.path);
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe() << sshd_->Log();
  EXPECT_EQ(ok.out, "ok\n");

  // alice's own certificate, straight to the host: refused. It is a valid
  // certificate for that login: a host that trusts the user CA (as every
  // host had to before) takes it, which is the bypass this key closes.
  testing::RunResult direct = SshAsAlice(*sshd_);
  EXPECT_NE(direct.exit_code, 0) << direct.Describe();
  EXPECT_NE(direct.out, "ok\n");
  testing::SshdFixture::Options trusting_users;
  trusting_users.config = {{"TrustedUserCAKeys", "%DIR%/user_ca.pub"}};
  auto old_style = testing::SshdFixture::Start(trusting_users);
  ASSERT_TRUE(old_style.ok()) << old_style.status();
  ASSERT_TRUE(testing::WriteFile((*old_style)->dir() + "/user_ca.pub",
                                 env_->init().user_ca_public_key + "\n")
                  .ok());
  testing::RunResult bypass = SshAsAlice(**old_style);
  EXPECT_EQ(bypass.exit_code, 0) << bypass.Describe() << (*old_style)->Log();
}

TEST_P(SessionCaKeyTest,
       TheSessionKeyRotatesAndTheOldOneStaysTrustedLikeAUserKey) {
  const std::string old_fp = PublicKeys().session_ca(0).fingerprint();
  pb::CaKey rotated;
  grpc::Status st = RotateSessionKey(*env_, &rotated);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_NE(rotated.fingerprint(), old_fp);
  EXPECT_EQ(rotated.purpose(), "session");

  const Issued issued = IssueAndWrite("s-2");
  ASSERT_TRUE(issued.cert.has_value());
  EXPECT_EQ(issued.cert->CaFingerprint(), rotated.fingerprint());
  v1::CaPublicKeys keys = PublicKeys();
  ASSERT_EQ(keys.session_ca_size(), 2);
  EXPECT_EQ(keys.session_ca(0).fingerprint(), rotated.fingerprint());
  EXPECT_EQ(keys.session_ca(1).fingerprint(), old_fp);
  EXPECT_FALSE(keys.session_ca(1).active());
  // The old key stays trusted as long as a retired user key (8 hours
  // here), so CA instances not yet restarted may go on signing with it.
  // (Past the 8-hour TLS certificates of this test, so the keyring itself.)
  auto trusted = [&] {
    auto t =
        env_->server().keyring().TrustedKeys(storage::CaKeyPurpose::kSession);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : std::vector<CaKeyring::TrustedKey>();
  };
  env_->clock().Advance(absl::Hours(7));
  EXPECT_EQ(trusted().size(), 2u);
  env_->clock().Advance(absl::Hours(1) + absl::Minutes(1));
  ASSERT_EQ(trusted().size(), 1u);
  EXPECT_EQ(trusted()[0].fingerprint, rotated.fingerprint());
  // The user CA key was not touched.
  EXPECT_EQ(keys.user_ca_size(), 1);
}

// Without a session CA key (the default) the user CA key signs session
// certificates, no session key is listed, and rotating one says what to
// configure.
TEST_P(GatewaySessionTest, WithoutASessionKeyTheUserKeySignsSessions) {
  gw::IssueSessionCertificateResponse response;
  ASSERT_TRUE(IssueSession(gateway_.channel, login_, "web01", &response).ok());
  auto cert = ssh::cert::Certificate::FromLine(
      response.certificate().ssh_certificate());
  ASSERT_TRUE(cert.ok());
  const v1::CaPublicKeys keys = PublicKeys(alice_.channel);
  EXPECT_EQ(keys.session_ca_size(), 0);
  ASSERT_EQ(keys.user_ca_size(), 1);
  EXPECT_EQ(cert->CaFingerprint(), keys.user_ca(0).fingerprint());

  pb::CaKey rotated;
  grpc::Status st = RotateSessionKey(*env_, &rotated);
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "keys.session_ca"))
      << st.error_message();
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(SessionCaKeyTest);
SP_INSTANTIATE_ON_BOTH_BACKENDS(GatewaySessionTest);

}  // namespace
}  // namespace sallyport::ca
