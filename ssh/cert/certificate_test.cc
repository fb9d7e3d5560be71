// Certificates made by the machine's real `ssh-keygen -s` parse and verify
// in our code: Ed25519, ECDSA P-256 and RSA CAs, Ed25519/ECDSA/RSA subject
// keys, user and host certificates, with -O options; plus the encoders and
// the "-cert.pub" line format.
#include "ssh/cert/certificate.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ssh/cert/cert_test_util.h"
#include "ssh/cert/verify.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ssh::cert {
namespace {

using ::sallyport::ssh::cert::testing::LoadCertificateFile;
using ::sallyport::ssh::cert::testing::LoadPublicKeyFile;
using ::sallyport::testing::GenerateKey;
using ::sallyport::testing::KeyPair;
using ::sallyport::testing::SignWithSshKeygen;
using ::sallyport::testing::TempDir;

struct KeySpec {
  const char* type;  // ssh-keygen -t
  const char* plain_name;
  const char* cert_name;
  const char* ca_signature_algorithm;  // what ssh-keygen signs with
};

const KeySpec kKeySpecs[] = {
    {"ed25519", "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com",
     "ssh-ed25519"},
    {"ecdsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
     "ecdsa-sha2-nistp256"},
    {"rsa", "ssh-rsa", "ssh-rsa-cert-v01@openssh.com", "rsa-sha2-512"},
};

class SshKeygenCertTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dir = TempDir::Create("certtest");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new TempDir(std::move(*dir));
    for (const KeySpec& spec : kKeySpecs) {
      auto ca =
          GenerateKey(dir_->path(), absl::StrCat("ca_", spec.type), spec.type);
      ASSERT_TRUE(ca.ok()) << ca.status();
      cas_.push_back(*ca);
      auto subject = GenerateKey(
          dir_->path(), absl::StrCat("subject_", spec.type), spec.type);
      ASSERT_TRUE(subject.ok()) << subject.status();
      subjects_.push_back(*subject);
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
    cas_.clear();
    subjects_.clear();
  }

  static crypto::PublicKey Pub(const KeyPair& k) {
    auto key = LoadPublicKeyFile(k.public_path);
    EXPECT_TRUE(key.ok()) << key.status();
    return *key;
  }

  static TempDir* dir_;
  static std::vector<KeyPair> cas_;
  static std::vector<KeyPair> subjects_;
};

TempDir* SshKeygenCertTest::dir_ = nullptr;
std::vector<KeyPair> SshKeygenCertTest::cas_;
std::vector<KeyPair> SshKeygenCertTest::subjects_;

TEST_F(SshKeygenCertTest, UserCertsFromEveryCaForEveryKeyTypeVerify) {
  for (size_t c = 0; c < cas_.size(); ++c) {
    for (size_t s = 0; s < subjects_.size(); ++s) {
      SCOPED_TRACE(absl::StrCat("CA ", kKeySpecs[c].type, " subject ",
                                kKeySpecs[s].type));
      const std::string key_id = absl::StrCat("user-", c, "-", s);
      auto path = SignWithSshKeygen(
          cas_[c].private_path, subjects_[s].public_path, key_id, "alice,bob",
          "-5m:+1h", /*host=*/false, {"-z", absl::StrCat(1000 + c * 10 + s)});
      ASSERT_TRUE(path.ok()) << path.status();
      auto cert = LoadCertificateFile(*path);
      ASSERT_TRUE(cert.ok()) << cert.status();

      EXPECT_EQ(cert->type_name, kKeySpecs[s].cert_name);
      EXPECT_EQ(cert->key, Pub(subjects_[s]));
      EXPECT_EQ(cert->key.TypeName(), kKeySpecs[s].plain_name);
      EXPECT_EQ(cert->type, CertType::kUser);
      EXPECT_EQ(cert->key_id, key_id);
      EXPECT_EQ(cert->serial, 1000 + c * 10 + s);
      EXPECT_EQ(cert->principals, (std::vector<std::string>{"alice", "bob"}));
      EXPECT_EQ(cert->signature_key_blob, Pub(cas_[c]).Blob());
      ASSERT_TRUE(cert->signature_key.has_value());
      EXPECT_EQ(*cert->signature_key, Pub(cas_[c]));
      EXPECT_EQ(cert->signature_algorithm, kKeySpecs[c].ca_signature_algorithm);
      EXPECT_TRUE(cert->critical_options.empty());
      EXPECT_EQ(cert->Encode(), cert->blob);

      const int64_t now = absl::ToUnixSeconds(absl::Now());
      EXPECT_LE(cert->valid_after, static_cast<uint64_t>(now - 4 * 60));
      EXPECT_GE(cert->valid_before, static_cast<uint64_t>(now + 59 * 60));

      VerifyOptions options;
      options.trusted_cas = {Pub(cas_[c])};
      options.principal = "bob";
      options.now = absl::Now();
      auto permissions = VerifyCertificate(*cert, options);
      ASSERT_TRUE(permissions.ok()) << permissions.status();
      // ssh-keygen's default extensions.
      EXPECT_TRUE(permissions->permit_pty);
      EXPECT_TRUE(permissions->permit_port_forwarding);
      EXPECT_TRUE(permissions->permit_agent_forwarding);
      EXPECT_TRUE(permissions->permit_x11_forwarding);
      EXPECT_TRUE(permissions->permit_user_rc);
      EXPECT_FALSE(permissions->force_command.has_value());
    }
  }
}

TEST_F(SshKeygenCertTest, HostCertsFromEveryCaVerifyAsHostOnly) {
  for (size_t c = 0; c < cas_.size(); ++c) {
    for (size_t s = 0; s < subjects_.size(); ++s) {
      SCOPED_TRACE(absl::StrCat("CA ", kKeySpecs[c].type, " subject ",
                                kKeySpecs[s].type));
      auto path =
          SignWithSshKeygen(cas_[c].private_path, subjects_[s].public_path,
                            "host", "db1.internal,db1", "-5m:+1h",
                            /*host=*/true);
      ASSERT_TRUE(path.ok()) << path.status();
      auto cert = LoadCertificateFile(*path);
      ASSERT_TRUE(cert.ok()) << cert.status();
      EXPECT_EQ(cert->type, CertType::kHost);
      EXPECT_TRUE(cert->extensions.empty());

      VerifyOptions options;
      options.trusted_cas = {Pub(cas_[c])};
      options.expected_type = CertType::kHost;
      options.principal = "db1.internal";
      options.now = absl::Now();
      auto ok = VerifyCertificate(*cert, options);
      EXPECT_TRUE(ok.ok()) << ok.status();
      EXPECT_FALSE(ok->permit_pty);

      options.expected_type = CertType::kUser;
      EXPECT_EQ(VerifyCertificate(*cert, options).status().code(),
                absl::StatusCode::kPermissionDenied);
    }
  }
}

TEST_F(SshKeygenCertTest, OptionsFromSshKeygenAreParsedAndEnforced) {
  auto path = SignWithSshKeygen(
      cas_[0].private_path, subjects_[0].public_path, "restricted", "alice",
      "-5m:+1h", /*host=*/false,
      {"-O", "force-command=ls -l /tmp", "-O",
       "source-address=127.0.0.1/32,::1", "-O", "no-pty", "-O",
       "no-agent-forwarding", "-O", "extension:login@example.com=alice"});
  ASSERT_TRUE(path.ok()) << path.status();
  auto cert = LoadCertificateFile(*path);
  ASSERT_TRUE(cert.ok()) << cert.status();

  ASSERT_EQ(cert->critical_options.size(), 2u);
  EXPECT_EQ(cert->critical_options[0].name, "force-command");
  EXPECT_EQ(*cert->critical_options[0].Value(), "ls -l /tmp");
  EXPECT_EQ(cert->critical_options[1].name, "source-address");
  // Option data is wrapped twice: the tuple's string holds a string.
  const std::vector<uint8_t> wrapped = {0,   0,   0,   16,  '1', '2', '7',
                                        '.', '0', '.', '0', '.', '1', '/',
                                        '3', '2', ',', ':', ':', '1'};
  EXPECT_EQ(cert->critical_options[1].data, wrapped);

  VerifyOptions options;
  options.trusted_cas = {Pub(cas_[0])};
  options.principal = "alice";
  options.now = absl::Now();
  options.source_address = "127.0.0.1";
  auto permissions = VerifyCertificate(*cert, options);
  ASSERT_TRUE(permissions.ok()) << permissions.status();
  EXPECT_EQ(permissions->force_command, "ls -l /tmp");
  EXPECT_EQ(permissions->source_address, "127.0.0.1/32,::1");
  EXPECT_FALSE(permissions->permit_pty);
  EXPECT_FALSE(permissions->permit_agent_forwarding);
  EXPECT_TRUE(permissions->permit_port_forwarding);
  EXPECT_TRUE(permissions->permit_x11_forwarding);
  ASSERT_EQ(permissions->other_extensions.size(), 1u);
  EXPECT_EQ(permissions->other_extensions[0].name, "login@example.com");
  EXPECT_EQ(*permissions->other_extensions[0].Value(), "alice");

  options.source_address = "::1";
  EXPECT_TRUE(VerifyCertificate(*cert, options).ok());
  options.source_address = "127.0.0.2";
  EXPECT_EQ(VerifyCertificate(*cert, options).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(SshKeygenCertTest, VerifyRequiredFlagIsReported) {
  auto path =
      SignWithSshKeygen(cas_[0].private_path, subjects_[1].public_path, "fido",
                        "alice", "-5m:+1h", false, {"-O", "verify-required"});
  ASSERT_TRUE(path.ok()) << path.status();
  auto cert = LoadCertificateFile(*path);
  ASSERT_TRUE(cert.ok()) << cert.status();
  VerifyOptions options;
  options.trusted_cas = {Pub(cas_[0])};
  options.principal = "alice";
  options.now = absl::Now();
  auto permissions = VerifyCertificate(*cert, options);
  ASSERT_TRUE(permissions.ok()) << permissions.status();
  EXPECT_TRUE(permissions->verify_required);
}

TEST_F(SshKeygenCertTest, P384CaParsesButCannotBeTrusted) {
  // GenerateKey has no -b, so call ssh-keygen directly.
  auto r = sallyport::testing::RunCommandOk({"ssh-keygen", "-q", "-t", "ecdsa",
                                             "-b", "384", "-N", "", "-f",
                                             dir_->File("ca_p384_real")});
  ASSERT_TRUE(r.ok()) << r.status();
  auto path = SignWithSshKeygen(dir_->File("ca_p384_real"),
                                subjects_[0].public_path, "p384", "alice");
  ASSERT_TRUE(path.ok()) << path.status();
  auto cert = LoadCertificateFile(*path);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->signature_algorithm, "ecdsa-sha2-nistp384");
  EXPECT_FALSE(cert->signature_key.has_value());
  VerifyOptions options;
  options.trusted_cas = {Pub(cas_[1])};
  options.principal = "alice";
  options.now = absl::Now();
  EXPECT_EQ(VerifyCertificate(*cert, options).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(SshKeygenCertTest, LineRoundTrip) {
  auto path = SignWithSshKeygen(cas_[2].private_path, subjects_[2].public_path,
                                "line", "alice");
  ASSERT_TRUE(path.ok()) << path.status();
  const std::string text = sallyport::testing::ReadFileOrEmpty(*path);
  auto cert = Certificate::FromLine(text);
  ASSERT_TRUE(cert.ok()) << cert.status();
  // ssh-keygen writes "type base64 comment"; our line without the comment
  // is its prefix.
  EXPECT_EQ(text.rfind(cert->ToLine(), 0), 0u);
  auto again = Certificate::FromLine(cert->ToLine("some comment"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->blob, cert->blob);

  // The type in the line must be the blob's.
  std::string wrong = cert->ToLine();
  wrong.replace(0, wrong.find(' '), "ssh-ed25519-cert-v01@openssh.com");
  EXPECT_EQ(Certificate::FromLine(wrong).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A plain key line is not a certificate.
  EXPECT_FALSE(Certificate::FromLine(sallyport::testing::ReadFileOrEmpty(
                                         subjects_[0].public_path))
                   .ok());
  EXPECT_FALSE(Certificate::FromLine("").ok());
  EXPECT_FALSE(
      Certificate::FromLine("ssh-ed25519-cert-v01@openssh.com !!!!").ok());
}

TEST(CertOptionTest, WrapsValuesTwiceAndFlagsNotAtAll) {
  CertOption flag = CertOption::Flag("permit-pty");
  EXPECT_TRUE(flag.data.empty());
  CertOption value = CertOption::WithValue("force-command", "a");
  EXPECT_EQ(value.data, (std::vector<uint8_t>{0, 0, 0, 1, 'a'}));
  EXPECT_EQ(*value.Value(), "a");
  value.data.push_back(0);
  EXPECT_FALSE(value.Value().ok());
  EXPECT_FALSE(flag.Value().ok());
}

TEST(CertTypeTest, Names) {
  EXPECT_EQ(CertTypeName(CertType::kUser), "user");
  EXPECT_EQ(CertTypeName(CertType::kHost), "host");
  EXPECT_EQ(CertTypeName(static_cast<CertType>(3)), "unknown");
  EXPECT_EQ(PlainKeyTypeForCertType("ssh-rsa-cert-v01@openssh.com"), "ssh-rsa");
  EXPECT_EQ(CertTypeForPlainKeyType("ecdsa-sha2-nistp256"),
            "ecdsa-sha2-nistp256-cert-v01@openssh.com");
  EXPECT_EQ(PlainKeyTypeForCertType("ssh-dss-cert-v01@openssh.com"), "");
  EXPECT_TRUE(IsAllowedCaSignatureAlgorithm("rsa-sha2-256"));
  EXPECT_FALSE(IsAllowedCaSignatureAlgorithm("ssh-rsa"));
  EXPECT_FALSE(IsAllowedCaSignatureAlgorithm("ssh-dss"));
}

}  // namespace
}  // namespace sallyport::ssh::cert
