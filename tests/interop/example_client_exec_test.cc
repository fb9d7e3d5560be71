// Interop, our client: example_client logs in to the machine's real sshd
// (by authorized key, and by a certificate that our own //ssh/cert code
// signed, trusted through TrustedUserCAKeys), runs commands with exit
// codes, stdout, stderr and stdin, moves 100 MiB each way, and re-keys
// every mebibyte.
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ssh/cert/sign.h"
#include "ssh/crypto/keys.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"
#include "tests/interop/example_server_fixture.h"

namespace sallyport::testing {
namespace {

int KexCount(const std::string& err) {
  static const std::regex kCount(R"(example_client: kex count (\d+))");
  std::smatch m;
  return std::regex_search(err, m, kCount) ? std::stoi(m[1].str()) : -1;
}

class ExampleClientExec : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("excli");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto user = GenerateKey(dir_->path(), "user_key");
    ASSERT_TRUE(user.ok()) << user.status();
    user_ = *user;
  }

  void StartSshd(SshdFixture::Options options = {}) {
    auto sshd = SshdFixture::Start(options);
    ASSERT_TRUE(sshd.ok()) << sshd.status();
    sshd_ = std::move(*sshd);
    ASSERT_TRUE(
        WriteFile(sshd_->authorized_keys_path(), user_.public_line + "\n")
            .ok());
  }

  std::vector<std::string> ClientArgs(const std::string& identity = "",
                                      const std::string& cert = "") const {
    std::vector<std::string> argv = {
        RunfilePath("ssh/examples/example_client"),
        "--connect",
        absl::StrCat("127.0.0.1:", sshd_->port()),
        "--known-host-key",
        sshd_->host_key_path() + ".pub",
        "--user",
        CurrentUserName(),
        "--identity",
        identity.empty() ? user_.private_path : identity};
    if (!cert.empty()) argv.insert(argv.end(), {"--cert", cert});
    return argv;
  }

  RunResult Client(const std::string& command, const RunOptions& run = {},
                   const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> argv = ClientArgs();
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--", command});
    auto r = RunCommand(argv, run);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult{};
  }

  RunResult Shell(const std::string& script) const {
    RunOptions run;
    run.timeout = absl::Seconds(180);
    auto r = RunCommand({"/bin/sh", "-c", script}, run);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult{};
  }

  std::unique_ptr<TempDir> dir_;
  KeyPair user_;
  std::unique_ptr<SshdFixture> sshd_;
};

TEST_F(ExampleClientExec, ExitCodesStdoutAndStderr) {
  StartSshd();
  for (int code : {0, 1, 42}) {
    SCOPED_TRACE(code);
    RunResult r = Client(absl::StrCat("echo out-", code, "; echo err-", code,
                                      " >&2; exit ", code));
    EXPECT_EQ(r.exit_code, code) << r.Describe();
    EXPECT_EQ(r.out, absl::StrCat("out-", code, "\n"));
    ExpectContains(r.err, absl::StrCat("err-", code, "\n"));
    ExpectContains(r.err, "example_client: kex count 1");
  }
}

TEST_F(ExampleClientExec, StdinIsStreamedToTheCommand) {
  StartSshd();
  RunOptions run;
  for (int i = 0; i < 20000; ++i) absl::StrAppend(&run.stdin_data, i, "\n");
  RunResult r = Client("tac | head -n 3; echo done", run);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "19999\n19998\n19997\ndone\n");
}

TEST_F(ExampleClientExec, CommandKilledBySignal) {
  StartSshd();
  RunResult r = Client("kill -TERM $$");
  EXPECT_EQ(r.exit_code, 128 + 15) << r.Describe();
  ExpectContains(r.err, "killed by signal TERM");
}

TEST_F(ExampleClientExec, WrongKeyIsRefused) {
  StartSshd();
  auto other = GenerateKey(dir_->path(), "other");
  ASSERT_TRUE(other.ok());
  std::vector<std::string> argv = ClientArgs(other->private_path);
  argv.insert(argv.end(), {"--", "echo should not run"});
  auto r = RunCommand(argv);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 255) << r->Describe();
  EXPECT_EQ(r->out, "");
  ExpectContains(r->err, "Permission denied");
}

TEST_F(ExampleClientExec, HundredMebibytesEachWay) {
  StartSshd();
  const std::string src = dir_->File("src"), up = dir_->File("up"),
                    down = dir_->File("down");
  MakeRandomFile(src, "100M");
  const std::string want = Sha256OfFile(src);
  const std::string client = ShellJoin(ClientArgs());
  RunResult r = Shell(
      absl::StrCat(client, " -- ", ShellQuote("cat > " + up), " < ", src));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Sha256OfFile(up), want);
  r = Shell(absl::StrCat(client, " -- ", ShellQuote("cat " + up), " > ", down));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Sha256OfFile(down), want);
}

TEST_F(ExampleClientExec, RekeyEveryMebibyte) {
  StartSshd();
  const std::string src = dir_->File("src"), up = dir_->File("up");
  MakeRandomFile(src, "100M");
  RunResult r =
      Shell(absl::StrCat(ShellJoin(ClientArgs()), " --rekey-bytes 1048576 -- ",
                         ShellQuote("cat > " + up), " < ", src));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Sha256OfFile(up), Sha256OfFile(src));
  EXPECT_GT(KexCount(r.err), 50) << r.err;
}

TEST_F(ExampleClientExec, CertificateSignedByOurCaCode) {
  // The CA and the certificate come from //ssh/crypto and //ssh/cert; sshd
  // trusts the CA through TrustedUserCAKeys.
  auto ca = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(ca.ok()) << ca.status();
  const std::string ca_path = dir_->File("user_ca.pub");
  ASSERT_TRUE(
      WriteFile(ca_path, ca->public_key().ToAuthorizedKeysLine("ca") + "\n")
          .ok());
  SshdFixture::Options options;
  options.config["TrustedUserCAKeys"] = ca_path;
  StartSshd(options);

  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(key.ok());
  const std::string key_path = dir_->File("cert_user");
  ASSERT_TRUE(key->WriteFile(key_path, "cert_user").ok());
  ssh::cert::CertificateRequest request;
  request.public_key = key->public_key();
  request.serial = 4242;
  request.type = ssh::cert::CertType::kUser;
  request.key_id = "example-client-test";
  request.principals = {CurrentUserName()};
  const uint64_t now = static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  request.valid_after = now - 300;
  request.valid_before = now + 3600;
  auto cert = ssh::cert::SignCertificate(request, *ca);
  ASSERT_TRUE(cert.ok()) << cert.status();
  const std::string cert_path = key_path + "-cert.pub";
  ASSERT_TRUE(WriteFile(cert_path, cert->ToLine("cert_user") + "\n").ok());

  std::vector<std::string> argv = ClientArgs(key_path, cert_path);
  argv.insert(argv.end(), {"--", "echo certified"});
  auto r = RunCommand(argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "certified\n");
  // The plain key is not in authorized_keys: sshd accepted the certificate.
  ExpectContains(sshd_->Log(), "ID example-client-test (serial 4242)");

  // Without the certificate the same key is refused.
  argv = ClientArgs(key_path);
  argv.insert(argv.end(), {"--", "echo certified"});
  r = RunCommand(argv);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 255) << r->Describe();
}

}  // namespace
}  // namespace sallyport::testing
