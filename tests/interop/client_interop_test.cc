// Interop, our client: example_client completes key exchange with the
// machine's real sshd for every cipher and kex and gets SERVICE_ACCEPT for
// ssh-userauth; it refuses an unpinned host key and accepts one certified
// by a trusted host CA.
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

RunResult Client(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {RunfilePath("ssh/examples/example_client")};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.timeout = absl::Seconds(30);
  auto r = RunCommand(argv, options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : RunResult{};
}

void ExpectContains(const std::string& haystack, const std::string& needle) {
  EXPECT_NE(haystack.find(needle), std::string::npos)
      << "missing: " << needle << "\nin:\n"
      << haystack;
}

TEST(ClientInterop, EveryCipherAndKexAgainstRealSshd) {
  SshdFixture::Options options;
  options.config["Ciphers"] =
      "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh."
      "com,aes256-ctr,"
      "aes128-ctr";
  auto sshd = SshdFixture::Start(options);
  ASSERT_TRUE(sshd.ok()) << sshd.status();
  const std::string port = std::to_string((*sshd)->port());
  for (std::string cipher :
       {"chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com", "aes256-ctr", "aes128-ctr"}) {
    for (std::string kex : {"curve25519-sha256", "curve25519-sha256@libssh.org",
                            "ecdh-sha2-nistp256"}) {
      SCOPED_TRACE(cipher + " / " + kex);
      RunResult r =
          Client({"--connect", "127.0.0.1:" + port, "--known-host-key",
                  (*sshd)->host_key_path() + ".pub", "--ciphers", cipher,
                  "--kex", kex});
      EXPECT_EQ(r.exit_code, 0) << r.Describe();
      ExpectContains(r.err, "SERVICE_ACCEPT ssh-userauth");
      ExpectContains(r.err, "kex=" + kex);
      ExpectContains(r.err, "cipher=" + cipher);
      ExpectContains(r.err, "strict-kex=yes");
    }
  }
}

TEST(ClientInterop, EtmMacsAgainstRealSshd) {
  auto sshd = SshdFixture::Start();
  ASSERT_TRUE(sshd.ok()) << sshd.status();
  for (std::string mac :
       {"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"}) {
    RunResult r =
        Client({"--connect", absl::StrCat("127.0.0.1:", (*sshd)->port()),
                "--known-host-key", (*sshd)->host_key_path() + ".pub",
                "--ciphers", "aes128-ctr", "--macs", mac});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    ExpectContains(r.err, "mac=" + mac);
  }
}

TEST(ClientInterop, RefusesHostKeyThatIsNotPinned) {
  auto sshd = SshdFixture::Start();
  ASSERT_TRUE(sshd.ok()) << sshd.status();
  auto dir = TempDir::Create("cli");
  ASSERT_TRUE(dir.ok());
  auto other = GenerateKey(dir->path(), "other");
  ASSERT_TRUE(other.ok());
  RunResult r =
      Client({"--connect", absl::StrCat("127.0.0.1:", (*sshd)->port()),
              "--known-host-key", other->public_path});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectContains(r.err, "not the pinned key");
  EXPECT_EQ(r.err.find("SERVICE_ACCEPT"), std::string::npos);
}

TEST(ClientInterop, AcceptsHostCertificateFromTrustedCa) {
  auto dir = TempDir::Create("cli");
  ASSERT_TRUE(dir.ok());
  auto ca = GenerateKey(dir->path(), "host_ca");
  ASSERT_TRUE(ca.ok());
  auto wrong_ca = GenerateKey(dir->path(), "wrong_ca");
  ASSERT_TRUE(wrong_ca.ok());
  // The fixture makes its host key at start; certify it from a copy made
  // by a first start, then restart with HostCertificate.
  auto host = GenerateKey(dir->path(), "host");
  ASSERT_TRUE(host.ok());
  auto cert =
      SignWithSshKeygen(ca->private_path, host->public_path, "sshd-host",
                        "127.0.0.1,target.internal", "-5m:+1h", /*host=*/true);
  ASSERT_TRUE(cert.ok()) << cert.status();
  SshdFixture::Options options;
  options.config["HostKey"] = host->private_path;
  options.config["HostCertificate"] = *cert;
  auto sshd = SshdFixture::Start(options);
  ASSERT_TRUE(sshd.ok()) << sshd.status();
  const std::string addr = absl::StrCat("127.0.0.1:", (*sshd)->port());

  RunResult ok = Client({"--connect", addr, "--host-ca", ca->public_path});
  EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
  ExpectContains(ok.err, "hostkey=ssh-ed25519-cert-v01@openssh.com");

  RunResult named = Client({"--connect", addr, "--host-ca", ca->public_path,
                            "--host-name", "target.internal"});
  EXPECT_EQ(named.exit_code, 0) << named.Describe();

  RunResult wrong_name =
      Client({"--connect", addr, "--host-ca", ca->public_path, "--host-name",
              "other.internal"});
  EXPECT_EQ(wrong_name.exit_code, 1) << wrong_name.Describe();

  RunResult untrusted =
      Client({"--connect", addr, "--host-ca", wrong_ca->public_path});
  EXPECT_EQ(untrusted.exit_code, 1) << untrusted.Describe();
  ExpectContains(untrusted.err, "host key refused");
}

}  // namespace
}  // namespace sallyport::testing
