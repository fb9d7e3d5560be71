// The `sp` fixes of issue 15, each tried as a new user would, against the
// real CA, the real ssh-agent and the real ssh: four logins and a logout
// leave no Sallyport certificate in the agent; a fresh key per login; the
// include changes nothing for other hosts (`ssh -G github.com`); no
// `@cert-authority *`; the CA and user are remembered after a logout and
// after a failed first login; --version, unknown commands, SALLYPORT_HOME
// in --help; `sp status` fields and JSON; `sp login --ttl` asks for a
// shorter certificate, capped by the roles' max_ttl and the CA's 8 h (the
// validity read back with `ssh-keygen -L`). The distinct exit codes are in
// pinning_e2e_test and login_e2e_test.
#include <unistd.h>

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::e2e {
namespace {

using sallyport::testing::BackgroundProcess;
using sallyport::testing::ReadFileOrEmpty;
using sallyport::testing::RunCommand;
using sallyport::testing::RunOptions;

class SpFixesTest : public SpctlTestBase {
 protected:
  void SetUp() override {
    SpctlTestBase::SetUp();
    AddUser("dana", "login");
  }
  // valid_before - valid_after of `user`'s certificate, as `ssh-keygen -L`
  // prints it ("Valid: from 2026-11-30T10:00:00 to 2026-11-30T12:01:00").
  absl::Duration CertificateSpan(const std::string& user) {
    auto r = sallyport::testing::RunCommandOk(
        {"ssh-keygen", "-L", "-f", env_->CertPath(user)});
    EXPECT_TRUE(r.ok()) << r.status();
    std::smatch m;
    if (!r.ok() ||
        !std::regex_search(r->out, m,
                           std::regex(R"(Valid: from (\S+) to (\S+))"))) {
      ADD_FAILURE() << (r.ok() ? r->out : "");
      return absl::ZeroDuration();
    }
    absl::Time from, to;
    std::string error;
    EXPECT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%S", m[1].str(),
                                absl::LocalTimeZone(), &from, &error))
        << error;
    EXPECT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%S", m[2].str(),
                                absl::LocalTimeZone(), &to, &error))
        << error;
    return to - from;
  }
};

// The span `ssh-keygen -L` shows for a certificate of `ttl`: the CA backdates
// valid_after by one minute; a second is lost to truncation at most.
void ExpectSpan(absl::Duration span, absl::Duration ttl) {
  EXPECT_GE(span, ttl + absl::Minutes(1) - absl::Seconds(2)) << span;
  EXPECT_LE(span, ttl + absl::Minutes(1)) << span;
}

TEST_F(SpFixesTest, LoginTtlAsksForAShorterCertificateCappedByTheRoles) {
  ASSERT_TRUE(env_->Spctl({"roles", "create", "-f",
                           env_->WriteFile("short.yaml",
                                           "name: short\nlogins: [x]\n"
                                           "max_ttl: 3h\n")})
                  .ok());
  ASSERT_TRUE(env_->Spctl({"roles", "create", "-f",
                           env_->WriteFile("long.yaml",
                                           "name: long\nlogins: [y]\n"
                                           "max_ttl: 24h\n")})
                  .ok());
  AddUser("sam", "short");
  AddUser("lee", "long");

  // Shorter than the role allows: exactly what was asked, quietly.
  auto two = env_->Login("sam", kPassword, {"--ttl", "2h"});
  ASSERT_TRUE(two.ok()) << two.Describe();
  ExpectSpan(CertificateSpan("sam"), absl::Hours(2));
  EXPECT_FALSE(absl::StrContains(two.err, "capped")) << two.err;
  // Also a non-round ttl.
  ASSERT_TRUE(env_->Login("sam", kPassword, {"--ttl", "1h30m"}).ok());
  ExpectSpan(CertificateSpan("sam"), absl::Minutes(90));

  // Longer than the role's max_ttl: capped at 3h, and sp says so.
  auto five = env_->Login("sam", kPassword, {"--ttl", "5h"});
  ASSERT_TRUE(five.ok()) << five.Describe();
  ExpectSpan(CertificateSpan("sam"), absl::Hours(3));
  EXPECT_TRUE(absl::StrContains(five.err, "you asked for 5h")) << five.err;
  EXPECT_TRUE(absl::StrContains(five.err, "at most 3h00m")) << five.err;
  EXPECT_TRUE(absl::StrContains(five.err, "capped")) << five.err;
  // Without --ttl: the role's max_ttl, as before.
  ASSERT_TRUE(env_->Login("sam", kPassword).ok());
  ExpectSpan(CertificateSpan("sam"), absl::Hours(3));

  // A role that allows 24h is still capped by the CA's 8h.
  auto twelve = env_->Login("lee", kPassword, {"--ttl", "12h"});
  ASSERT_TRUE(twelve.ok()) << twelve.Describe();
  ExpectSpan(CertificateSpan("lee"), absl::Hours(8));
  EXPECT_TRUE(absl::StrContains(twelve.err, "at most 8h00m")) << twelve.err;

  // Bad values: a usage error before asking the CA; under a minute is the
  // CA's INVALID_ARGUMENT with the reason.
  auto bad = env_->Login("sam", kPassword, {"--ttl", "soon"});
  EXPECT_EQ(bad.exit_code, 2) << bad.Describe();
  EXPECT_TRUE(absl::StrContains(bad.err, "--ttl")) << bad.err;
  auto tiny = env_->Login("sam", kPassword, {"--ttl", "30s"});
  EXPECT_EQ(tiny.exit_code, 1) << tiny.Describe();
  EXPECT_TRUE(absl::StrContains(tiny.err, "at least 1m")) << tiny.err;
}

TEST_F(SpFixesTest, FourLoginsAndALogoutLeaveNothingInTheAgent) {
  const std::string sock = env_->Path("agent.sock");
  BackgroundProcess::Options po;
  po.log_path = env_->Path("agent.log");
  auto agent = BackgroundProcess::Start({"ssh-agent", "-D", "-a", sock}, po);
  ASSERT_TRUE(agent.ok()) << agent.status();
  for (int i = 0; i < 100 && access(sock.c_str(), F_OK) != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const std::map<std::string, std::string> env = {{"SSH_AUTH_SOCK", sock}};
  RunOptions ro;
  ro.env = env;
  // Something of the user's own stays in the agent throughout.
  auto own = sallyport::testing::GenerateKey(env_->Path(""), "own");
  ASSERT_TRUE(own.ok());
  ASSERT_TRUE(RunCommand({"ssh-add", own->private_path}, ro).ok());

  std::vector<std::string> keys;
  for (int i = 0; i < 4; ++i) {
    auto login = env_->Login("dana", kPassword, {}, env);
    ASSERT_TRUE(login.ok()) << login.Describe();
    keys.push_back(ReadFileOrEmpty(env_->KeyPath("dana") + ".pub"));
    auto list = RunCommand({"ssh-add", "-l"}, ro);
    ASSERT_TRUE(list.ok());
    // One key + its certificate + the user's own key, never more.
    EXPECT_EQ(std::count(list->out.begin(), list->out.end(), '\n'), 3)
        << list->out;
  }
  // A fresh key pair per login.
  for (size_t i = 1; i < keys.size(); ++i) EXPECT_NE(keys[i], keys[i - 1]);

  auto status = env_->Sp("dana", {"status"}, "", env);
  EXPECT_TRUE(status.ok()) << status.Describe();
  for (const char* field :
       {"Certificate: ", "Key ID:      dana",
        "Principals:  ", "Extensions:  permit-", "Valid from:  ",
        "Valid until: ", "Time left:   ", "In agent:    yes"}) {
    EXPECT_TRUE(absl::StrContains(status.out, field)) << field << "\n"
                                                      << status.out;
  }
  auto json = env_->Sp("dana", {"status", "--output", "json"}, "", env);
  EXPECT_TRUE(IsJson(json.out)) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"in_agent\": true")) << json.out;

  auto logout = env_->Sp("dana", {"logout"}, "", env);
  ASSERT_TRUE(logout.ok()) << logout.Describe();
  auto list = RunCommand({"ssh-add", "-l"}, ro);
  ASSERT_TRUE(list.ok());
  EXPECT_FALSE(absl::StrContains(list->out, "CERT")) << list->out;
  EXPECT_FALSE(absl::StrContains(list->out, "dana@sallyport")) << list->out;
  EXPECT_TRUE(absl::StrContains(list->out, "(ED25519)"))
      << "own key kept: " << list->out;

  // The CA and the user are remembered after the logout.
  auto again = env_->Sp("dana", {"login", "--password-stdin"},
                        std::string(kPassword) + "\n");
  EXPECT_TRUE(again.ok()) << again.Describe();
}

TEST_F(SpFixesTest, IncludeChangesNothingForOtherHosts) {
  ASSERT_TRUE(env_->Login("dana", kPassword).ok());
  const std::string fragment = env_->Home("dana") + "/ssh_config";
  EXPECT_FALSE(absl::StrContains(ReadFileOrEmpty(fragment), "Host *"));
  const std::string known_hosts =
      ReadFileOrEmpty(env_->Home("dana") + "/known_hosts");
  EXPECT_FALSE(absl::StrContains(known_hosts, "@cert-authority *"))
      << known_hosts;

  const std::string with =
      env_->WriteFile("with.conf", "Include " + fragment + "\n");
  const std::string without = env_->WriteFile("without.conf", "\n");
  auto a = RunCommand({"ssh", "-G", "-F", with, "github.com"});
  auto b = RunCommand({"ssh", "-G", "-F", without, "github.com"});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->ok()) << a->Describe();
  EXPECT_EQ(a->out, b->out);
}

TEST_F(SpFixesTest, RemembersOnlyAfterALoginAndCommandLineBasics) {
  auto wrong = env_->Login("dana", "not-it");
  EXPECT_EQ(wrong.exit_code, 5) << wrong.Describe();
  // A failed first login remembers nothing: no --ca, no --user is a
  // question.
  auto bare = env_->Sp("dana", {"login", "--password-stdin"},
                       std::string(kPassword) + "\n");
  EXPECT_NE(bare.exit_code, 0) << bare.Describe();
  EXPECT_TRUE(absl::StrContains(bare.err, "which CA?")) << bare.Describe();
  ASSERT_TRUE(env_->Login("dana", kPassword).ok());
  // After one that worked, both are remembered.
  auto ok = env_->Sp("dana", {"login", "--password-stdin"},
                     std::string(kPassword) + "\n");
  EXPECT_TRUE(ok.ok()) << ok.Describe();

  auto version = env_->Sp("dana", {"--version"});
  EXPECT_TRUE(version.ok());
  EXPECT_TRUE(absl::StartsWith(version.out, "sp ")) << version.out;
  auto unknown = env_->Sp("dana", {"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.Describe();
  EXPECT_TRUE(absl::StrContains(unknown.err, "login")) << unknown.err;
  EXPECT_TRUE(absl::StrContains(unknown.err, "logout")) << unknown.err;
  auto help = env_->Sp("dana", {"--help"});
  EXPECT_TRUE(absl::StrContains(help.out, "SALLYPORT_HOME")) << help.out;
}

// `sp status` asks the CA whether the certificate still stands: it showed
// a revoked certificate as fine (time left, exit 0) while ssh was refused.
// Its key revoked, or its serial: the CA refuses the login's client
// certificate.
TEST_F(SpFixesTest, StatusSaysWhetherTheCaRevokedTheCertificate) {
  ASSERT_TRUE(env_->Login("dana", kPassword).ok());
  auto status = env_->Sp("dana", {"status"});
  EXPECT_EQ(status.exit_code, 0) << status.Describe();
  EXPECT_TRUE(
      absl::StrContains(status.out, "Revoked:     no (the CA says so)\n"))
      << status.out;
  auto json = env_->Sp("dana", {"status", "--output", "json"});
  EXPECT_TRUE(absl::StrContains(json.out, "\"revoked\": false")) << json.out;

  auto fingerprint = sallyport::testing::RunCommandOk(
      {"ssh-keygen", "-l", "-E", "sha256", "-f", env_->CertPath("dana")});
  ASSERT_TRUE(fingerprint.ok()) << fingerprint.status();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(fingerprint->out, m,
                                std::regex(R"((SHA256:[A-Za-z0-9+/]+))")))
      << fingerprint->out;
  auto revoke = env_->Spctl(
      {"certs", "revoke", "--key", m[1].str(), "--reason", "key leaked"});
  ASSERT_TRUE(revoke.ok()) << revoke.Describe();
  // The CA refuses the login's client certificate with its key (which
  // could otherwise get a certificate for a new key).
  status = env_->Sp("dana", {"status"});
  EXPECT_EQ(status.exit_code, 1) << status.Describe();
  EXPECT_TRUE(absl::StrContains(
      status.out,
      "\nRevoked:     yes: the CA refuses this login (the key this client "
      "certificate was issued for is revoked)\n"))
      << status.out;
  json = env_->Sp("dana", {"status", "--output", "json"});
  EXPECT_TRUE(absl::StrContains(json.out, "\"revoked\": true")) << json.out;

  // A new login has a new key; its serial revoked.
  ASSERT_TRUE(env_->Login("dana", kPassword).ok());
  status = env_->Sp("dana", {"status"});
  EXPECT_EQ(status.exit_code, 0) << status.Describe();
  ASSERT_TRUE(
      std::regex_search(status.out, m, std::regex(R"(\nSerial:\s+(\d+)\n)")))
      << status.out;
  revoke = env_->Spctl({"certs", "revoke", "--serial", m[1].str()});
  ASSERT_TRUE(revoke.ok()) << revoke.Describe();
  status = env_->Sp("dana", {"status"});
  EXPECT_EQ(status.exit_code, 1) << status.Describe();
  EXPECT_TRUE(absl::StrContains(status.out,
                                "Revoked:     yes: the CA refuses this login "
                                "(the client certificate is revoked)\n"))
      << status.out;
}

}  // namespace
}  // namespace sallyport::e2e
