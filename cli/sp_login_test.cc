// `sp login` and `sp status` run in a $SALLYPORT_HOME of their own: what
// they refuse before the CA is contacted, and what they print of the
// CA's certificate.
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "cli/exit_codes.h"
#include "cli/sp_commands.h"
#include "cli/sp_home.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/sign.h"
#include "ssh/crypto/keys.h"

namespace sallyport::cli {
namespace {

// `sp login` in a SALLYPORT_HOME of its own, with a CA address nothing
// listens on: what is refused before the CA is contacted shows as its exit
// code (anything that went on reports the CA unreachable, 7).
class SpLoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sploginXXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    home_ = std::make_unique<SpHome>(dir_ + "/home");
    setenv("SALLYPORT_HOME", home_->dir().c_str(), 1);
  }
  void TearDown() override {
    unsetenv("SALLYPORT_HOME");
    std::system(("rm -rf " + dir_).c_str());
  }

  // A home with the pin and state of an earlier login.
  void Pin() {
    ASSERT_TRUE(home_->Ensure().ok());
    ASSERT_TRUE(WriteFileAtomic(home_->ca_pem(), "earlier pin\n", 0644).ok());
    ASSERT_TRUE(home_->WriteState({"127.0.0.1:1", "alice"}).ok());
  }

  struct Result {
    int rc = -1;
    std::string out;
    std::string err;
  };
  Result Login(LoginOptions options) {
    std::ostringstream out, err;
    Result r;
    r.rc = RunLogin(options, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
  static LoginOptions Options() {
    LoginOptions o;
    o.ca = "127.0.0.1:1";  // nothing listens on port 1
    o.user = "alice";
    o.password_stdin = true;
    return o;
  }

  std::string dir_;
  std::unique_ptr<SpHome> home_;
};

// Found by a probe: with a pin, --ca-fingerprint was neither parsed nor
// compared (a wrong one logged in); in a fresh home "bogus" was an error (1)
// only after the state was written and the CA reached.
TEST_F(SpLoginTest, AGivenCaFingerprintIsParsedBeforeAnythingElse) {
  for (const bool pinned : {false, true}) {
    if (pinned) Pin();
    for (const std::string bad :
         {"bogus", "SHA256:short", "SHA256:", "e3b0c442",
          "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
          "x"}) {
      LoginOptions o = Options();
      o.ca_fingerprint = bad;
      const Result r = Login(o);
      EXPECT_EQ(r.rc, kExitUsage) << pinned << " " << bad << ": " << r.err;
      EXPECT_EQ(r.err,
                "sp: --ca-fingerprint: want SHA256:<base64> or 64 hex "
                "digits (':' between pairs allowed), not \"" +
                    bad + "\"\n");
      EXPECT_EQ(r.out, "");
      // Nothing written: no state remembering this CA and user.
      EXPECT_EQ(ReadTextFile(home_->state()).ok(), pinned) << bad;
    }
  }
  LoginOptions o = Options();
  o.ca_fingerprint = "bo\x1b[2Jgus";
  EXPECT_TRUE(absl::StrContains(Login(o).err, "not \"bo\\x1b[2Jgus\""));
  // Every form ParseFingerprint takes goes on to the CA.
  for (const std::string good :
       {"SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:"
        "4C:A4:95:99:1B:78:52:B8:55"}) {
    o.ca_fingerprint = good;
    const Result r = Login(o);
    EXPECT_EQ(r.rc, kExitUnreachable) << good << ": " << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, "cannot reach the CA")) << r.err;
  }
}

// Found by a probe: a first login that failed left a state file naming
// its CA and user, the defaults of every later sp and spctl command.
TEST_F(SpLoginTest, AFailedLoginWritesNoStateAndNoPin) {
  LoginOptions o = Options();
  for (const std::optional<std::string>& fingerprint :
       {std::optional<std::string>(),
        std::optional<std::string>(
            "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")}) {
    o.ca_fingerprint = fingerprint;
    const Result r = Login(o);
    EXPECT_EQ(r.rc, kExitUnreachable) << r.err;
    EXPECT_EQ(ReadTextFile(home_->state()).status().code(),
              absl::StatusCode::kNotFound);
    EXPECT_EQ(ReadTextFile(home_->ca_pem()).status().code(),
              absl::StatusCode::kNotFound);
  }
  // After a login that worked, a failed one keeps its CA and user.
  Pin();
  o.ca = "127.0.0.1:1,127.0.0.1:2";
  o.user = "bob";
  EXPECT_EQ(Login(o).rc, kExitUnreachable);
  absl::StatusOr<SpState> state = home_->ReadState();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->ca, "127.0.0.1:1");
  EXPECT_EQ(state->user, "alice");
  EXPECT_EQ(*ReadTextFile(home_->ca_pem()), "earlier pin\n");
}

// Found by a probe: `sp login --user ""` went to the CA as the remembered
// user (and failed with "wrong user name, password or one-time code").
TEST_F(SpLoginTest, AFlagGivenEmptyOrBadIsAUsageError) {
  using Field = std::optional<std::string> LoginOptions::*;
  const std::vector<std::pair<std::string, Field>> flags = {
      {"--ca", &LoginOptions::ca},
      {"--user", &LoginOptions::user},
      {"--otp", &LoginOptions::otp},
      {"--ttl", &LoginOptions::ttl},
      {"--ca-fingerprint", &LoginOptions::ca_fingerprint}};
  for (const bool pinned : {false, true}) {
    if (pinned) Pin();
    for (const auto& [flag, field] : flags) {
      LoginOptions o = Options();
      o.*field = "";
      const Result r = Login(o);
      EXPECT_EQ(r.rc, kExitUsage) << pinned << " " << flag << ": " << r.err;
      EXPECT_EQ(r.err, "sp: " + flag + " must not be empty\n");
      EXPECT_EQ(ReadTextFile(home_->state()).ok(), pinned) << flag;
    }
  }
  std::system(("rm -rf " + home_->dir()).c_str());
  // Missing where nothing is remembered, or not a CA address or user name.
  LoginOptions o = Options();
  o.ca.reset();
  Result r = Login(o);
  EXPECT_EQ(r.rc, kExitUsage) << r.err;
  EXPECT_TRUE(absl::StartsWith(r.err, "sp: which CA? pass --ca")) << r.err;
  o = Options();
  o.user.reset();
  r = Login(o);
  EXPECT_EQ(r.rc, kExitUsage) << r.err;
  EXPECT_EQ(r.err, "sp: which user? pass --user NAME\n");
  o = Options();
  o.ca = "127.0.0.1:0";
  r = Login(o);
  EXPECT_EQ(r.rc, kExitUsage) << r.err;
  EXPECT_TRUE(absl::StartsWith(r.err, "sp: --ca: ")) << r.err;
  o = Options();
  o.user = "../alice";
  r = Login(o);
  EXPECT_EQ(r.rc, kExitUsage) << r.err;
  EXPECT_TRUE(absl::StartsWith(r.err, "sp: user names for sp are")) << r.err;
  EXPECT_EQ(ReadTextFile(home_->state()).status().code(),
            absl::StatusCode::kNotFound);
  // The same from a broken state file is an error, not a usage error.
  ASSERT_TRUE(home_->WriteState({"127.0.0.1:0", "../alice"}).ok());
  o = Options();
  o.ca.reset();
  EXPECT_EQ(Login(o).rc, kExitError);
  o = Options();
  o.user.reset();
  EXPECT_EQ(Login(o).rc, kExitError);
}

// Found in review: `sp login --ca $'127.0.0.1:17443,\nProxyCommand'` was
// taken (each part of the list is stripped of spaces), and the text as
// typed went into the ssh_config's header, where the newline began an
// option every ssh refused once the Include was installed, and into the
// state file, whose `ca=` line it cut ("empty address" for every later sp
// and spctl). A control character in --ca is a usage error; nothing is
// written.
TEST_F(SpLoginTest, AControlCharacterInTheCaIsAUsageError) {
  for (const std::string bad : {"127.0.0.1:1,\nProxyCommand", "127.0.0.1:1\r",
                                "\t127.0.0.1:1", "127.0.0.1:1,\x1b[2J"}) {
    LoginOptions o = Options();
    o.ca = bad;
    const Result r = Login(o);
    EXPECT_EQ(r.rc, kExitUsage) << base::EscapeControls(bad) << ": " << r.err;
    EXPECT_TRUE(absl::StartsWith(r.err, "sp: --ca: a control character in \""))
        << r.err;
    EXPECT_EQ(r.err.find_first_of("\n\r\t\x1b"), r.err.size() - 1) << r.err;
    EXPECT_EQ(ReadTextFile(home_->state()).status().code(),
              absl::StatusCode::kNotFound);
  }
}

// `sp login` and `sp config` refuse such a home before writing anything.
TEST_F(SpLoginTest, AHomeSshCannotNameIsRefusedBeforeAnythingIsWritten) {
  const std::string bad = dir_ + "/my home";
  setenv("SALLYPORT_HOME", bad.c_str(), 1);
  const Result r = Login(Options());
  EXPECT_EQ(r.rc, kExitError) << r.err;
  EXPECT_EQ(r.err, absl::StrCat("sp: cannot use \"", bad,
                                "\" for sp's files: ssh_config would need to "
                                "quote its \" \"; set SALLYPORT_HOME to a "
                                "directory whose path has only A-Z a-z 0-9 / "
                                ". _ @ + , -\n"));
  struct stat st;
  EXPECT_NE(stat(bad.c_str(), &st), 0);
  std::ostringstream out, err;
  EXPECT_EQ(RunConfig(ConfigOptions(), out, err), kExitError);
  EXPECT_EQ(err.str(), r.err);
  EXPECT_NE(stat(bad.c_str(), &st), 0);
}

// Found in review: `sp status` printed the certificate's key id,
// principals and extensions as they are (the CA's text: a terminal escape
// in one drove the user's terminal), and `--output json` let DEL and
// invalid UTF-8 through, which is not JSON.
TEST_F(SpLoginTest, StatusEscapesTheCertificatesText) {
  ASSERT_TRUE(home_->Ensure().ok());
  ASSERT_TRUE(home_->WriteState({"127.0.0.1:1", "alice"}).ok());
  absl::StatusOr<ssh::crypto::PrivateKey> ca =
      ssh::crypto::PrivateKey::GenerateEd25519();
  absl::StatusOr<ssh::crypto::PrivateKey> user =
      ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(ca.ok() && user.ok());
  ssh::cert::CertificateRequest req;
  req.public_key = user->public_key();
  req.serial = 7;
  req.key_id = "alice";
  req.principals = {"alice"};
  // Expired: nothing asks the CA.
  req.valid_after = 1;
  req.valid_before = 2;
  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::SignCertificate(req, *ca);
  ASSERT_TRUE(cert.ok()) << cert.status();
  // What a hostile CA can sign: the parser takes it (sp status does not
  // check the signature of the user's own certificate).
  cert->key_id = "id\x1b[2J\x7f\xff\nKey ID:      forged";
  cert->principals = {"root\x1b]0;owned\x07", "\xc3"};
  cert->extensions = {ssh::cert::CertOption::Flag("permit-\x7f\xfe")};
  cert->blob = cert->Encode();
  ASSERT_TRUE(ssh::cert::Certificate::FromLine(cert->ToLine()).ok());
  ASSERT_TRUE(
      WriteFileAtomic(home_->certificate("alice"), cert->ToLine() + "\n", 0644)
          .ok());

  std::ostringstream text, text_err;
  EXPECT_EQ(RunStatus(/*json=*/false, text, text_err), 1) << text_err.str();
  EXPECT_TRUE(absl::StrContains(text.str(),
                                "\nKey ID:      id\\x1b[2J\\x7f\\xff\\x0aKey "
                                "ID:      forged\n"))
      << text.str();
  EXPECT_FALSE(absl::StrContains(text.str(), "\nKey ID:      forged"))
      << text.str();
  EXPECT_TRUE(absl::StrContains(text.str(),
                                "Principals:  root\\x1b]0;owned\\x07, \\xc3\n"))
      << text.str();
  EXPECT_TRUE(absl::StrContains(text.str(), "Extensions:  permit-\\x7f\\xfe\n"))
      << text.str();
  EXPECT_TRUE(base::IsValidUtf8(text.str()));
  EXPECT_EQ(text.str().find_first_of("\x1b\x07\x7f"), std::string::npos);

  std::ostringstream json, json_err;
  EXPECT_EQ(RunStatus(/*json=*/true, json, json_err), 1) << json_err.str();
  // One line of valid UTF-8 without raw controls or DEL: JSON.
  const std::string j = json.str();
  EXPECT_TRUE(base::IsValidUtf8(j)) << base::EscapeControls(j);
  EXPECT_EQ(j.find_first_of("\x1b\x07\x7f"), std::string::npos)
      << base::EscapeControls(j);
  EXPECT_EQ(j.find('\n'), j.size() - 1) << base::EscapeControls(j);
  EXPECT_TRUE(absl::StrContains(
      j, "\"key_id\": \"id\\u001b[2J\\u007f\xef\xbf\xbd\\u000aKey ID:"))
      << base::EscapeControls(j);
  EXPECT_TRUE(absl::StrContains(
      j, "\"principals\": [\"root\\u001b]0;owned\\u0007\", \"\xef\xbf\xbd\"]"))
      << base::EscapeControls(j);
}

}  // namespace
}  // namespace sallyport::cli
