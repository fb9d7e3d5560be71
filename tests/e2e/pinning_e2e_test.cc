// End to end: TLS fingerprint pinning and sp's error messages (wrong
// password, locked account, CA unreachable, changed CA certificate).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/ca_e2e_util.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::e2e {
namespace {

using sallyport::testing::TempDir;

class PinningE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = RunningCa::Start("alice");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::move(*ca);
    auto home = TempDir::Create("sphome");
    ASSERT_TRUE(home.ok());
    home_ = std::make_unique<TempDir>(std::move(*home));
  }

  sallyport::testing::RunResult Sp(const std::vector<std::string>& args,
                                   const std::string& stdin_data = "") {
    auto r = RunSp(home_->File("sp"), args, stdin_data);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : sallyport::testing::RunResult();
  }

  sallyport::testing::RunResult Login(const RunningCa& ca,
                                      const std::string& user,
                                      const std::string& password,
                                      const std::string& fingerprint) {
    std::vector<std::string> args = {"login",  "--ca", ca.address(),
                                     "--user", user,   "--password-stdin"};
    if (!fingerprint.empty()) {
      args.push_back("--ca-fingerprint");
      args.push_back(fingerprint);
    }
    return Sp(args, password + "\n");
  }

  std::unique_ptr<RunningCa> ca_;
  std::unique_ptr<TempDir> home_;
};

TEST_F(PinningE2eTest, SecondCaWithAnotherCertificateFailsWithTheWarning) {
  auto first = Login(*ca_, "alice", ca_->password(), ca_->fingerprint());
  ASSERT_TRUE(first.ok()) << first.Describe();

  auto other = RunningCa::Start("alice");
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_NE((*other)->fingerprint(), ca_->fingerprint());
  // Even with the new CA's fingerprint given: the pin wins.
  auto second =
      Login(**other, "alice", (*other)->password(), (*other)->fingerprint());
  EXPECT_EQ(second.exit_code, 8);  // pin mismatch
  EXPECT_TRUE(absl::StrContains(
      second.err, "WARNING: SALLYPORT CA CERTIFICATE HAS CHANGED!"))
      << second.Describe();
  EXPECT_TRUE(absl::StrContains(second.err, (*other)->fingerprint()));
  EXPECT_TRUE(absl::StrContains(second.err, ca_->fingerprint()));
  // Nothing was sent: no login attempt reached the second CA.
  EXPECT_FALSE(absl::StrContains((*other)->Log(), "login"));
}

// Found by a probe: with a pin, --ca-fingerprint was neither parsed nor
// compared, so a wrong fingerprint logged in (exit 0).
TEST_F(PinningE2eTest, AGivenFingerprintIsCheckedAlsoWithAPin) {
  auto first = Login(*ca_, "alice", ca_->password(), ca_->fingerprint());
  ASSERT_TRUE(first.ok()) << first.Describe();
  // Every login writes a new certificate: an unchanged one shows none ran.
  const std::string cert_path = home_->File("sp/alice-cert.pub");
  const std::string cert = sallyport::testing::ReadFileOrEmpty(cert_path);
  ASSERT_FALSE(cert.empty());

  const std::string other =
      "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
  auto wrong = Login(*ca_, "alice", ca_->password(), other);
  EXPECT_EQ(wrong.exit_code, 8) << wrong.Describe();  // not the expected one
  EXPECT_EQ(wrong.err,
            absl::StrCat("sp: the CA at ", ca_->address(),
                         " presented a TLS certificate with "
                         "fingerprint\n    ",
                         ca_->fingerprint(), "\nnot the expected\n    ", other,
                         "\nIt is the certificate pinned in ",
                         home_->File("sp/ca.pem"),
                         "\nat your first login: --ca-fingerprint "
                         "names another one, and sp never\n"
                         "replaces a pin. Check the fingerprint "
                         "you were given.\nLogin refused.\n"));
  EXPECT_EQ(sallyport::testing::ReadFileOrEmpty(cert_path), cert);

  auto bogus = Login(*ca_, "alice", ca_->password(), "bogus");
  EXPECT_EQ(bogus.exit_code, 2) << bogus.Describe();  // usage
  EXPECT_TRUE(absl::StrContains(bogus.err, "--ca-fingerprint: want SHA256:"))
      << bogus.Describe();
  EXPECT_EQ(sallyport::testing::ReadFileOrEmpty(cert_path), cert);

  // The pin is kept, and the right fingerprint logs in as before.
  auto again = Login(*ca_, "alice", ca_->password(), ca_->fingerprint());
  EXPECT_TRUE(again.ok()) << again.Describe();
  EXPECT_NE(sallyport::testing::ReadFileOrEmpty(cert_path), cert);
}

// Found by a probe: `sp login --user ""` went to the CA as the remembered
// user and failed there (exit 5). A value that is not UTF-8 reached the
// CA's request, whose serializer refused it with its own words.
TEST_F(PinningE2eTest, AFlagGivenEmptyIsAUsageError) {
  auto first = Login(*ca_, "alice", ca_->password(), ca_->fingerprint());
  ASSERT_TRUE(first.ok()) << first.Describe();
  const std::string cert_path = home_->File("sp/alice-cert.pub");
  const std::string cert = sallyport::testing::ReadFileOrEmpty(cert_path);
  for (const std::string flag :
       {"--ca", "--user", "--otp", "--ttl", "--ca-fingerprint"}) {
    auto empty =
        Sp({"login", "--password-stdin", flag, ""}, ca_->password() + "\n");
    EXPECT_EQ(empty.exit_code, 2) << empty.Describe();  // usage
    EXPECT_EQ(empty.err, "sp: " + flag + " must not be empty\n")
        << empty.Describe();
    // `--ca=` (as in `--ca=$CA`) is the same.
    empty =
        Sp({"login", "--password-stdin", flag + "="}, ca_->password() + "\n");
    EXPECT_EQ(empty.exit_code, 2) << empty.Describe();
    EXPECT_EQ(empty.err, "sp: " + flag + " must not be empty\n")
        << empty.Describe();
  }
  // Bytes that are not UTF-8 (a terminal in Latin-1): said, not sent.
  for (const std::string flag : {"--ca", "--user", "--otp", "--ttl"}) {
    auto latin1 = Sp({"login", "--password-stdin", flag, "j\xf6rg"},
                     ca_->password() + "\n");
    EXPECT_EQ(latin1.exit_code, 2) << latin1.Describe();  // usage
    EXPECT_EQ(latin1.err, "sp: " + flag + ": not valid UTF-8: \"j\\xf6rg\"\n")
        << latin1.Describe();
  }
  EXPECT_EQ(sallyport::testing::ReadFileOrEmpty(cert_path), cert);
  // Not given: the remembered CA and user.
  auto again = Sp({"login", "--password-stdin"}, ca_->password() + "\n");
  EXPECT_TRUE(again.ok()) << again.Describe();
}

TEST_F(PinningE2eTest, FirstContactNeedsAConfirmedFingerprint) {
  // A wrong expected fingerprint.
  auto wrong = Login(*ca_, "alice", ca_->password(),
                     "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
  EXPECT_EQ(wrong.exit_code, 8);  // pin mismatch
  EXPECT_TRUE(absl::StrContains(wrong.err, "not the expected"))
      << wrong.Describe();
  // No fingerprint and no terminal to ask on.
  auto unconfirmed = Login(*ca_, "alice", ca_->password(), "");
  EXPECT_EQ(unconfirmed.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(unconfirmed.err, "--ca-fingerprint"))
      << unconfirmed.Describe();
  EXPECT_TRUE(absl::StrContains(unconfirmed.out, ca_->fingerprint()));
  // Nothing was pinned by the failed attempts.
  EXPECT_NE(access(home_->File("sp/ca.pem").c_str(), F_OK), 0);
}

// Found by a probe: a first login the CA refused left the CA's certificate
// pinned and a state file naming the CA and user, as if it had worked.
TEST_F(PinningE2eTest, AFailedFirstLoginPinsNothing) {
  auto wrong = Login(*ca_, "alice", "not-the-password", ca_->fingerprint());
  EXPECT_EQ(wrong.exit_code, 5) << wrong.Describe();  // wrong password
  EXPECT_FALSE(absl::StrContains(wrong.out, "Pinned")) << wrong.Describe();
  EXPECT_NE(access(home_->File("sp/ca.pem").c_str(), F_OK), 0);
  EXPECT_NE(access(home_->File("sp/state").c_str(), F_OK), 0);
  // So the next login asks again: with no terminal, it needs the
  // fingerprint (and the CA and user) once more.
  auto bare = Sp({"login", "--password-stdin"}, ca_->password() + "\n");
  EXPECT_NE(bare.exit_code, 0) << bare.Describe();
  EXPECT_TRUE(absl::StrContains(bare.err, "which CA?")) << bare.Describe();
  auto unconfirmed = Login(*ca_, "alice", ca_->password(), "");
  EXPECT_EQ(unconfirmed.exit_code, 1) << unconfirmed.Describe();
  EXPECT_TRUE(absl::StrContains(unconfirmed.err, "pass --ca-fingerprint"))
      << unconfirmed.Describe();

  auto ok = Login(*ca_, "alice", ca_->password(), ca_->fingerprint());
  EXPECT_TRUE(ok.ok()) << ok.Describe();
  EXPECT_TRUE(absl::StrContains(
      ok.out, "Pinned the CA's certificate in " + home_->File("sp/ca.pem")))
      << ok.Describe();
  EXPECT_EQ(access(home_->File("sp/ca.pem").c_str(), F_OK), 0);
  EXPECT_EQ(access(home_->File("sp/state").c_str(), F_OK), 0);
}

TEST_F(PinningE2eTest, ClearErrorMessages) {
  // Failed logins pin nothing: each one gives the fingerprint.
  auto wrong = Login(*ca_, "alice", "not-the-password", ca_->fingerprint());
  EXPECT_EQ(wrong.exit_code, 5);  // wrong password
  EXPECT_EQ(wrong.err,
            "sp: login failed: wrong user name, password or one-time code\n");
  auto unknown = Login(*ca_, "mallory", "not-the-password", ca_->fingerprint());
  EXPECT_EQ(unknown.err, wrong.err);

  // Five failures lock an account (the default policy); unknown names too.
  for (int i = 0; i < 4; ++i) {
    Login(*ca_, "mallory", "guess", ca_->fingerprint());
  }
  auto locked = Login(*ca_, "mallory", "guess", ca_->fingerprint());
  EXPECT_EQ(locked.exit_code, 6);  // locked
  EXPECT_TRUE(absl::StrContains(locked.err, "locked")) << locked.Describe();

  auto port = sallyport::testing::FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  auto unreachable = Sp({"login", "--ca", absl::StrCat("127.0.0.1:", *port),
                         "--user", "alice", "--password-stdin"},
                        "x\n");
  EXPECT_EQ(unreachable.exit_code, 7);  // unreachable
  EXPECT_TRUE(absl::StrContains(unreachable.err, "cannot reach the CA at"))
      << unreachable.Describe();
}

}  // namespace
}  // namespace sallyport::e2e
