// Certificates signed by our code are read by OpenSSH (`ssh-keygen -L`
// shows our fields; sshd accepts them), and our Render prints exactly what
// `ssh-keygen -L` prints, for our certificates and for ssh-keygen's own.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ssh/cert/cert_test_util.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/render.h"
#include "ssh/cert/sign.h"
#include "ssh/cert/verify.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ssh::cert {
namespace {

using ::sallyport::ssh::cert::testing::LoadCertificateFile;
using ::sallyport::ssh::cert::testing::LoadPublicKeyFile;
using ::sallyport::ssh::cert::testing::SshKeygenList;
using ::sallyport::ssh::cert::testing::WriteCertificateFile;
using ::sallyport::testing::GenerateKey;
using ::sallyport::testing::KeyPair;
using ::sallyport::testing::SignWithSshKeygen;
using ::sallyport::testing::TempDir;

// 2023-11-14T22:13:20Z and one hour later.
constexpr uint64_t kAfter = 1700000000;
constexpr uint64_t kBefore = 1700003600;

class SignRenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("certsign");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto ca = crypto::PrivateKey::GenerateEd25519();
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_.emplace(*std::move(ca));
    auto user = GenerateKey(dir_->path(), "user", "ed25519");
    ASSERT_TRUE(user.ok()) << user.status();
    user_ = *user;
    auto key = LoadPublicKeyFile(user_.public_path);
    ASSERT_TRUE(key.ok()) << key.status();
    user_key_.emplace(*key);
  }

  CertificateRequest UserRequest() const {
    CertificateRequest r;
    r.public_key = *user_key_;
    r.serial = 123456789012345ULL;
    r.type = CertType::kUser;
    r.key_id = "alice@sallyport";
    r.principals = {"alice", "deploy"};
    r.valid_after = kAfter;
    r.valid_before = kBefore;
    // Deliberately unsorted: SignCertificate sorts.
    r.critical_options = {
        CertOption::WithValue(kSourceAddress, "10.1.0.0/16,2001:db8::/32"),
        CertOption::WithValue(kForceCommand, "/usr/bin/id -u")};
    r.extensions = {CertOption::Flag(kPermitPty),
                    CertOption::WithValue("login@example.com", "alice"),
                    CertOption::Flag(kPermitPortForwarding),
                    CertOption::Flag("flag@example.com")};
    return r;
  }

  // Writes `cert` and returns ssh-keygen -L's text for it.
  std::string ListWithSshKeygen(const Certificate& cert) {
    const std::string path = dir_->File("listed-cert.pub");
    EXPECT_TRUE(WriteCertificateFile(path, cert).ok());
    auto text = SshKeygenList(path);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  }

  void ExpectRenderMatchesSshKeygen(const Certificate& cert) {
    const std::string theirs = ListWithSshKeygen(cert);
    const std::string ours = Render(cert, absl::UTCTimeZone());
    std::vector<std::string> their_lines = absl::StrSplit(theirs, '\n');
    std::vector<std::string> our_lines = absl::StrSplit(ours, '\n');
    EXPECT_EQ(our_lines.size(), their_lines.size()) << ours << theirs;
    for (size_t i = 0; i < std::min(our_lines.size(), their_lines.size());
         ++i) {
      EXPECT_EQ(our_lines[i], their_lines[i]) << "line " << i;
    }
  }

  std::unique_ptr<TempDir> dir_;
  std::optional<crypto::PrivateKey> ca_;
  KeyPair user_;
  std::optional<crypto::PublicKey> user_key_;
};

TEST_F(SignRenderTest, SshKeygenShowsTheFieldsWeSigned) {
  auto cert = SignCertificate(UserRequest(), *ca_);
  ASSERT_TRUE(cert.ok()) << cert.status();
  const std::string listed = ListWithSshKeygen(*cert);
  const std::string expected = absl::StrCat(
      "        Type: ssh-ed25519-cert-v01@openssh.com user certificate\n"
      "        Public key: ED25519-CERT ",
      user_key_->FingerprintSha256(),
      "\n"
      "        Signing CA: ED25519 ",
      ca_->public_key().FingerprintSha256(),
      " (using ssh-ed25519)\n"
      "        Key ID: \"alice@sallyport\"\n"
      "        Serial: 123456789012345\n"
      "        Valid: from 2023-11-14T22:13:20 to 2023-11-14T23:13:20\n"
      "        Principals: \n"
      "                alice\n"
      "                deploy\n"
      "        Critical Options: \n"
      "                force-command /usr/bin/id -u\n"
      "                source-address 10.1.0.0/16,2001:db8::/32\n"
      "        Extensions: \n"
      "                flag@example.com UNKNOWN FLAG OPTION\n"
      "                login@example.com UNKNOWN OPTION: 00000005616c696365 "
      "(len 9)\n"
      "                permit-port-forwarding\n"
      "                permit-pty\n");
  EXPECT_EQ(listed, expected);
  ExpectRenderMatchesSshKeygen(*cert);
}

TEST_F(SignRenderTest, SignedFieldsAreSortedFreshAndVerify) {
  auto a = SignCertificate(UserRequest(), *ca_);
  auto b = SignCertificate(UserRequest(), *ca_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->nonce.size(), 32u);
  EXPECT_NE(a->nonce, b->nonce);
  EXPECT_TRUE(a->reserved.empty());
  EXPECT_EQ(a->signature_key_blob, ca_->public_key().Blob());
  EXPECT_EQ(a->signature_algorithm, "ssh-ed25519");
  ASSERT_EQ(a->critical_options.size(), 2u);
  EXPECT_EQ(a->critical_options[0].name, kForceCommand);
  EXPECT_EQ(a->critical_options[1].name, kSourceAddress);
  std::vector<std::string> names;
  for (const auto& e : a->extensions) names.push_back(e.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"flag@example.com", "login@example.com",
                                      "permit-port-forwarding", "permit-pty"}));

  VerifyOptions options;
  options.trusted_cas = {ca_->public_key()};
  options.principal = "deploy";
  options.now = absl::FromUnixSeconds(kAfter + 10);
  options.source_address = "10.1.200.3";
  auto permissions = VerifyCertificate(*a, options);
  ASSERT_TRUE(permissions.ok()) << permissions.status();
  EXPECT_EQ(permissions->force_command, "/usr/bin/id -u");
  EXPECT_TRUE(permissions->permit_pty);
  EXPECT_TRUE(permissions->permit_port_forwarding);
  EXPECT_FALSE(permissions->permit_agent_forwarding);
  EXPECT_FALSE(permissions->permit_x11_forwarding);
  EXPECT_FALSE(permissions->permit_user_rc);
  EXPECT_EQ(permissions->other_extensions.size(), 2u);
}

// Nonces come from a per-thread buffer of random bytes: 300 certificates
// (several refills) all have different nonces, and a forked child does not
// hand out the nonce its parent hands out next (the child drops the buffer
// it inherited).
TEST_F(SignRenderTest, NoncesAreFreshAcrossRefillsAndForks) {
  std::set<std::vector<uint8_t>> seen;
  for (int i = 0; i < 300; ++i) {
    auto cert = SignCertificate(UserRequest(), *ca_);
    ASSERT_TRUE(cert.ok()) << cert.status();
    ASSERT_EQ(cert->nonce.size(), 32u);
    EXPECT_TRUE(seen.insert(cert->nonce).second) << "nonce repeated at " << i;
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto cert = SignCertificate(UserRequest(), *ca_);
    const bool ok = cert.ok() && cert->nonce.size() == 32 &&
                    write(fds[1], cert->nonce.data(), 32) == 32;
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  std::vector<uint8_t> child_nonce(32);
  const ssize_t got = read(fds[0], child_nonce.data(), child_nonce.size());
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, 32);
  auto parent = SignCertificate(UserRequest(), *ca_);
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_NE(parent->nonce, child_nonce);
  EXPECT_EQ(seen.count(child_nonce), 0u);
}

// SignCertificate fills the certificate it returns without parsing its
// blob again (release builds): every field must be what Parse reads from
// that blob, and the signature must verify, for both CA key types.
TEST_F(SignRenderTest, ReturnedCertificateIsWhatItsBlobSays) {
  auto ecdsa = crypto::PrivateKey::GenerateEcdsaP256();
  ASSERT_TRUE(ecdsa.ok()) << ecdsa.status();
  for (const crypto::PrivateKey* ca : {&*ca_, &*ecdsa}) {
    SCOPED_TRACE(std::string(ca->SignatureAlgorithm()));
    auto cert = SignCertificate(UserRequest(), *ca);
    ASSERT_TRUE(cert.ok()) << cert.status();
    auto parsed = Certificate::Parse(cert->blob);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(cert->type_name, parsed->type_name);
    EXPECT_EQ(cert->nonce, parsed->nonce);
    EXPECT_EQ(cert->key, parsed->key);
    EXPECT_EQ(cert->serial, parsed->serial);
    EXPECT_EQ(cert->type, parsed->type);
    EXPECT_EQ(cert->key_id, parsed->key_id);
    EXPECT_EQ(cert->principals, parsed->principals);
    EXPECT_EQ(cert->valid_after, parsed->valid_after);
    EXPECT_EQ(cert->valid_before, parsed->valid_before);
    EXPECT_EQ(cert->critical_options, parsed->critical_options);
    EXPECT_EQ(cert->extensions, parsed->extensions);
    EXPECT_EQ(cert->reserved, parsed->reserved);
    EXPECT_EQ(cert->signature_key_blob, parsed->signature_key_blob);
    ASSERT_TRUE(cert->signature_key.has_value());
    ASSERT_TRUE(parsed->signature_key.has_value());
    EXPECT_EQ(*cert->signature_key, *parsed->signature_key);
    EXPECT_EQ(cert->signature_algorithm, parsed->signature_algorithm);
    EXPECT_EQ(cert->signature, parsed->signature);
    EXPECT_EQ(cert->signed_length, parsed->signed_length);
    EXPECT_EQ(cert->blob, parsed->blob);
    EXPECT_EQ(cert->Encode(), cert->blob);
    EXPECT_TRUE(ca->public_key()
                    .Verify(cert->SignedData(), cert->signature,
                            ca->SignatureAlgorithm())
                    .ok());
    VerifyOptions options;
    options.trusted_cas = {ca->public_key()};
    options.principal = "alice";
    options.now = absl::FromUnixSeconds(kAfter + 10);
    options.source_address = "10.1.200.3";
    auto permissions = VerifyCertificate(*cert, options);
    EXPECT_TRUE(permissions.ok()) << permissions.status();
  }
}

TEST_F(SignRenderTest, EcdsaCaAndHostCertificate) {
  auto ca = crypto::PrivateKey::GenerateEcdsaP256();
  ASSERT_TRUE(ca.ok()) << ca.status();
  CertificateRequest r;
  r.public_key = *user_key_;
  r.serial = 0;
  r.type = CertType::kHost;
  r.key_id = "db1 host key";
  r.principals = {"db1.internal"};
  r.valid_after = kAfter;
  r.valid_before = kForever;
  auto cert = SignCertificate(r, *ca);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->signature_algorithm, "ecdsa-sha2-nistp256");
  const std::string listed = ListWithSshKeygen(*cert);
  EXPECT_NE(listed.find("host certificate"), std::string::npos) << listed;
  EXPECT_NE(listed.find("Signing CA: ECDSA "), std::string::npos) << listed;
  EXPECT_NE(listed.find("Valid: after 2023-11-14T22:13:20"), std::string::npos)
      << listed;
  ExpectRenderMatchesSshKeygen(*cert);
}

TEST_F(SignRenderTest, RenderMatchesSshKeygenForItsOwnCertificates) {
  auto ed_ca = GenerateKey(dir_->path(), "ca_ed", "ed25519");
  auto ec_ca = GenerateKey(dir_->path(), "ca_ec", "ecdsa");
  auto rsa_ca = GenerateKey(dir_->path(), "ca_rsa", "rsa");
  auto rsa_user = GenerateKey(dir_->path(), "rsa_user", "rsa");
  ASSERT_TRUE(ed_ca.ok() && ec_ca.ok() && rsa_ca.ok() && rsa_user.ok());
  struct Case {
    const KeyPair* ca;
    const KeyPair* subject;
    std::string principals;
    std::string validity;
    bool host;
    std::vector<std::string> extra;
  };
  const std::vector<Case> cases = {
      {&*ed_ca, &user_, "alice,bob", "-5m:+1h", false, {"-z", "42"}},
      {&*ed_ca, &user_, "alice", "always:forever", false, {}},
      {&*ed_ca, &user_, "alice", "always:20300101", false, {"-O", "clear"}},
      {&*ed_ca,
       &user_,
       "alice",
       "20200101:forever",
       false,
       {"-O", "clear", "-O", "permit-pty", "-O", "verify-required"}},
      {&*ec_ca,
       &*rsa_user,
       "",
       "20200101:20991231235959",
       false,
       {"-O", "force-command=echo hi there", "-O",
        "source-address=192.0.2.0/24,2001:db8::/48", "-O",
        "critical:zz@example.com=x", "-O", "extension:e@example.com", "-O",
        "extension:v@example.com=value"}},
      {&*rsa_ca, &user_, "db1.internal,db1", "-1d:+52w", true, {}},
      {&*rsa_ca,
       &*rsa_user,
       "a b,c\"d",
       "-5m:+1h",
       false,
       {"-t", "rsa-sha2-256"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("case ", i));
    const Case& c = cases[i];
    auto path = SignWithSshKeygen(c.ca->private_path, c.subject->public_path,
                                  absl::StrCat("render ", i), c.principals,
                                  c.validity, c.host, c.extra);
    ASSERT_TRUE(path.ok()) << path.status();
    auto cert = LoadCertificateFile(*path);
    ASSERT_TRUE(cert.ok()) << cert.status();
    ExpectRenderMatchesSshKeygen(*cert);
  }
}

TEST_F(SignRenderTest, RenderUsesTheGivenTimeZone) {
  auto cert = SignCertificate(UserRequest(), *ca_);
  ASSERT_TRUE(cert.ok());
  absl::TimeZone plus_two = absl::FixedTimeZone(2 * 3600);
  EXPECT_NE(Render(*cert, plus_two)
                .find("Valid: from 2023-11-15T00:13:20 to 2023-11-15T01:13:20"),
            std::string::npos);
}

TEST_F(SignRenderTest, SshdAcceptsOurCertificate) {
  const std::string ca_path = dir_->File("our_ca.pub");
  ASSERT_TRUE(sallyport::testing::WriteFile(
                  ca_path, ca_->public_key().ToAuthorizedKeysLine("ca") + "\n")
                  .ok());
  sallyport::testing::SshdFixture::Options sshd_options;
  sshd_options.config["TrustedUserCAKeys"] = ca_path;
  auto sshd = sallyport::testing::SshdFixture::Start(sshd_options);
  ASSERT_TRUE(sshd.ok()) << sshd.status();

  const std::string login = sallyport::testing::CurrentUserName();
  CertificateRequest r;
  r.public_key = *user_key_;
  r.serial = 77;
  r.key_id = "sallyport-signed";
  r.principals = {login};
  const uint64_t now = static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  r.valid_after = now - 60;
  r.valid_before = now + 3600;
  r.critical_options = {CertOption::WithValue(kForceCommand, "echo forced")};
  auto cert = SignCertificate(r, *ca_);
  ASSERT_TRUE(cert.ok()) << cert.status();
  const std::string cert_path = user_.private_path + "-cert.pub";
  ASSERT_TRUE(WriteCertificateFile(cert_path, *cert).ok());

  auto args = sallyport::testing::SshClientArgs((*sshd)->port(),
                                                (*sshd)->known_hosts_path(),
                                                user_.private_path, cert_path);
  args.push_back(login + "@127.0.0.1");
  args.push_back("echo not-forced");
  auto run = sallyport::testing::RunCommand(args);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->Describe() << (*sshd)->Log();
  // sshd obeyed the force-command we signed.
  EXPECT_EQ(run->out, "forced\n");
  EXPECT_NE((*sshd)->Log().find("ID sallyport-signed (serial 77)"),
            std::string::npos)
      << (*sshd)->Log();
}

TEST_F(SignRenderTest, RequestValidateRefusesBadRequests) {
  EXPECT_TRUE(UserRequest().Validate().ok());
  auto refused = [&](auto mutate) {
    CertificateRequest r = UserRequest();
    mutate(r);
    absl::Status s = r.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    // SignCertificate refuses the same requests.
    EXPECT_FALSE(SignCertificate(r, *ca_).ok());
  };
  refused([](CertificateRequest& r) { r.public_key.reset(); });
  refused([](CertificateRequest& r) { r.type = static_cast<CertType>(3); });
  refused([](CertificateRequest& r) { r.key_id = ""; });
  refused([](CertificateRequest& r) { r.key_id = "a\nb"; });
  refused([](CertificateRequest& r) { r.key_id = std::string(1025, 'k'); });
  refused([](CertificateRequest& r) { r.principals.clear(); });
  refused([](CertificateRequest& r) { r.principals = {""}; });
  refused([](CertificateRequest& r) { r.principals = {"alice,root"}; });
  refused(
      [](CertificateRequest& r) { r.principals = {std::string("al\0ce", 5)}; });
  refused([](CertificateRequest& r) { r.principals = {"alice", "alice"}; });
  refused([](CertificateRequest& r) {
    r.principals.clear();
    for (int i = 0; i <= 256; ++i) r.principals.push_back(absl::StrCat("u", i));
  });
  refused([](CertificateRequest& r) { r.valid_before = r.valid_after; });
  refused([](CertificateRequest& r) {
    r.critical_options.push_back(CertOption::Flag("no-such-option"));
  });
  refused([](CertificateRequest& r) {
    r.critical_options.push_back(CertOption::WithValue(kForceCommand, "x"));
  });
  refused([](CertificateRequest& r) {
    r.critical_options = {CertOption::WithValue(kForceCommand, "")};
  });
  refused([](CertificateRequest& r) {
    r.critical_options = {CertOption::Flag(kForceCommand)};
  });
  refused([](CertificateRequest& r) {
    r.critical_options = {CertOption::WithValue(kSourceAddress, "10.0.0.1/8")};
  });
  refused([](CertificateRequest& r) {
    r.critical_options = {CertOption::WithValue(kVerifyRequired, "yes")};
  });
  refused([](CertificateRequest& r) {
    r.type = CertType::kHost;
    r.critical_options = {CertOption::Flag(kVerifyRequired)};
  });
  refused([](CertificateRequest& r) {
    r.extensions.push_back(CertOption::WithValue(kPermitPty, "yes"));
  });
  refused([](CertificateRequest& r) {
    r.extensions = {CertOption::Flag(kPermitPty), CertOption::Flag(kPermitPty)};
  });
  refused([](CertificateRequest& r) {
    r.extensions = {CertOption{"x@example.com", {1, 2, 3}}};
  });
}

}  // namespace
}  // namespace sallyport::ssh::cert
