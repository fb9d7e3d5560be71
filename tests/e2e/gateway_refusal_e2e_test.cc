// Issue 12 "Refusals, each a test", with the real `sallyport-gateway`
// (enrolled and served by BastionFixture), the real CA, real sshd targets
// and stock `ssh`: certificates that are expired, not yet valid, from an
// untrusted CA, signed with the CA's key but not issued by the CA, revoked
// before and during a session, or that end mid-session; roles that do not
// select a host, deny it by label, deny a kind over another role's allow, or do
// not allow a kind; -R and agent forwarding; target host keys that do not match
// (pinned key, host certificate for another name, host certificate from another
// CA). The CA going away is in gateway_refusal_ca_down_e2e_test.cc.
//
// Certificates the CA did not issue through `sp login` are signed here with
// ssh-keygen and the user CA key in the CA's state dir: the test is the
// CA's operator.
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_refusal_util.h"
#include "tests/harness/ssh_clients.h"

namespace sallyport::testing {
namespace {

// Extra policy on top of BastionFixture::DefaultOptions():
//  - role execonly: exec only on env=dev; user eve.
//  - role dev-nosecret: shell/exec/sftp on env=dev, but a deny rule on the
//    label tier=secret (every kind); user dana; target web03 env=dev
//    tier=secret.
//  - users rex and rose [dev]: revoked before / during a session.
//  - role brief: exec on env=dev with certificates of 1 min (max_ttl); user
//    sam, whose certificate ends during a session.
BastionFixture::Options RefusalOptions() {
  BastionFixture::Options o = BastionFixture::DefaultOptions();
  const std::string login = CurrentUserName();
  admin::v1::Role exec_only;
  exec_only.set_name("execonly");
  exec_only.add_logins(login);
  (*exec_only.add_hosts()->mutable_labels())["env"] = "dev";
  exec_only.add_channels("exec");
  o.roles.push_back(exec_only);
  admin::v1::Role nosecret;
  nosecret.set_name("dev-nosecret");
  nosecret.add_logins(login);
  (*nosecret.add_hosts()->mutable_labels())["env"] = "dev";
  for (const char* kind : {"shell", "exec", "sftp"})
    nosecret.add_channels(kind);
  (*nosecret.add_deny()->add_hosts()->mutable_labels())["tier"] = "secret";
  o.roles.push_back(nosecret);
  // Certificates of a minute (the least max_ttl), so that one ends during a
  // session.
  admin::v1::Role brief;
  brief.set_name("brief");
  brief.add_logins(login);
  (*brief.add_hosts()->mutable_labels())["env"] = "dev";
  brief.add_channels("exec");
  brief.mutable_max_ttl()->set_seconds(60);
  o.roles.push_back(brief);
  for (const auto& [name, role] :
       std::vector<std::pair<std::string, std::string>>{
           {"eve", "execonly"},
           {"dana", "dev-nosecret"},
           {"rex", "dev"},
           {"rose", "dev"},
           {"sam", "brief"}}) {
    BastionUserSpec u;
    u.name = name;
    u.roles = {role};
    o.users.push_back(u);
  }
  o.targets.push_back({"web03", {{"env", "dev"}, {"tier", "secret"}}});
  return o;
}

class GatewayRefusalE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto f = BastionFixture::Start(RefusalOptions());
    ASSERT_TRUE(f.ok()) << f.status();
    fixture_ = f->release();
    absl::Status st =
        fixture_->StartGateway(RunfilePath("gateway/sallyport-gateway"));
    ASSERT_TRUE(st.ok()) << st << "\n" << fixture_->GatewayLog();
    auto dir = TempDir::Create("gwrefuse");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = new TempDir(std::move(*dir));
  }
  static void TearDownTestSuite() {
    if (fixture_ != nullptr) fixture_->StopGateway();
    for (auto* s : extra_sshds_) delete s;
    extra_sshds_.clear();
    delete fixture_;
    fixture_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(fixture_, nullptr); }
  void TearDown() override {
    if (HasFailure()) {
      std::fprintf(stderr, "--- gateway log ---\n%s\n",
                   fixture_->GatewayLog().c_str());
    }
  }

  static RunResult Via(const std::string& user, const std::string& host,
                       const std::string& command,
                       const std::vector<std::string>& options = {},
                       const RunOptions& ro = {}) {
    return ViaGateway(*fixture_, user, host, command, options, ro);
  }

  // A fresh key with a certificate ssh-keygen signs with `ca_key` for
  // the target login, valid for `validity` (ssh-keygen -V syntax), and
  // `ssh` through the gateway with only that key.
  static RunResult ViaWithCertificate(const std::string& name,
                                      const std::string& ca_key,
                                      const std::string& key_id,
                                      const std::string& validity,
                                      const std::string& command,
                                      const RunOptions& ro = {}) {
    auto key = GenerateKey(dir_->path(), name);
    EXPECT_TRUE(key.ok()) << key.status();
    if (!key.ok()) return RunResult();
    auto cert = SignWithSshKeygen(ca_key, key->public_path, key_id,
                                  fixture_->target_login(), validity);
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!cert.ok()) return RunResult();
    return ViaGatewayWithKey(*fixture_, key->private_path, *cert, "web01",
                             command, ro);
  }

  static std::string UserCaKey() {
    return fixture_->ca_state_dir() + "/user_ca";
  }

  static BastionFixture* fixture_;
  static TempDir* dir_;
  static std::vector<SshdFixture*> extra_sshds_;
};

BastionFixture* GatewayRefusalE2eTest::fixture_ = nullptr;
TempDir* GatewayRefusalE2eTest::dir_ = nullptr;
std::vector<SshdFixture*> GatewayRefusalE2eTest::extra_sshds_;

// ------------------------------------------------------------ certificates

// A certificate signed with the CA's own user CA key outside its issuance
// (ssh-keygen -s with a copy of the key: no record, no cert.issued event)
// passes the gateway's checks of signature, validity and principals, and
// the CA refuses it: it has no record of its serial. Made the same way as
// the refused ones below, valid now: so their refusals are the validity
// and trust rules, and this one is the issuance rule.
TEST_F(GatewayRefusalE2eTest, ACertificateTheCaDidNotIssueIsRefused) {
  const RunResult r = ViaWithCertificate("valid", UserCaKey(), "alice",
                                         "-5m:+1h", "echo should-not-run");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "was not issued by this CA")) << r.err;
  // Whole, with its advice at the end (it was cut at 128 bytes; found by a
  // red-team run).
  EXPECT_TRUE(absl::StrContains(r.err, "); log in with `sp login`")) << r.err;
  EXPECT_TRUE(
      absl::StrContains(fixture_->GatewayLog(), "was not issued by this CA"))
      << fixture_->GatewayLog();
}

TEST_F(GatewayRefusalE2eTest, AnExpiredCertificateIsRefused) {
  const RunResult r =
      ViaWithCertificate("expired", UserCaKey(), "alice", "20200101:20200102",
                         "echo should-not-run");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "certificate refused")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "expired")) << r.err;
  // When, in UTC and whole (it was Unix seconds, cut off mid-number), and
  // the one hint that applies.
  EXPECT_TRUE(absl::StrContains(r.err, "valid until 2020-01-02 00:00:00 UTC"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(
      r.err, "Your certificate has expired: run `sp login` for a new one."))
      << r.err;
}

TEST_F(GatewayRefusalE2eTest, ANotYetValidCertificateIsRefused) {
  const RunResult r = ViaWithCertificate("future", UserCaKey(), "alice",
                                         "+1d:+2d", "echo should-not-run");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "certificate refused")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "not yet valid")) << r.err;
}

TEST_F(GatewayRefusalE2eTest, ACertificateFromAnotherCaIsRefused) {
  // A CA of its own, made with ssh-keygen, signing a certificate that is
  // otherwise like alice's.
  auto other_ca = GenerateKey(dir_->path(), "other_user_ca");
  ASSERT_TRUE(other_ca.ok()) << other_ca.status();
  const RunResult r =
      ViaWithCertificate("untrusted", other_ca->private_path, "alice",
                         "-5m:+1h", "echo should-not-run");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "CA is not trusted")) << r.err;
}

TEST_F(GatewayRefusalE2eTest, ALoginNotInThePrincipalsIsRefused) {
  // bob's certificate names only "guest" (his role's login).
  const RunResult r = Via("bob", "web01", "echo should-not-run");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "certificate refused")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "is not listed")) << r.err;
  // Not "run sp login" (a fresh certificate lists the same logins).
  EXPECT_TRUE(absl::StrContains(
      r.err, "That login is not one of your certificate's logins"))
      << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "fresh certificate")) << r.err;
  // The logins it does list (it suggested "e.g. root+web01", which may be
  // the very login refused).
  EXPECT_TRUE(absl::StrContains(r.err, "the certificate lists \"guest\""))
      << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "e.g. root+web01")) << r.err;
}

TEST_F(GatewayRefusalE2eTest, ACertificateRevokedBeforeConnectingIsRefused) {
  // rex works, then an admin revokes his certificates (what `spctl certs
  // revoke --user` calls), and the next connection is refused.
  RunResult r = Via("rex", "web01", "echo before");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(RevokeUser(*fixture_, "rex").ok());
  // The revocation reaches the gateway on its WatchRevocations stream.
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  do {
    r = Via("rex", "web01", "echo after");
  } while (r.exit_code == 0 && absl::Now() < limit);
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "after"));
  EXPECT_TRUE(absl::StrContains(r.err, "revoked")) << r.err;
}

TEST_F(GatewayRefusalE2eTest, RevokingTheCertificateEndsTheSessionAtOnce) {
  // rose runs a long command; the target touches a marker first, so we
  // know the session runs before revoking.
  const std::string marker = dir_->File("rose-started");
  RunResult r;
  std::thread client([&] {
    RunOptions ro;
    ro.timeout = absl::Seconds(120);
    r = Via("rose", "web01",
            absl::StrCat("touch ", marker, "; sleep 60; echo late"), {}, ro);
  });
  const absl::Time limit = absl::Now() + absl::Seconds(60);
  while (access(marker.c_str(), F_OK) != 0 && absl::Now() < limit) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(access(marker.c_str(), F_OK), 0) << "the session never started";
  const absl::Time revoked = absl::Now();
  ASSERT_TRUE(RevokeUser(*fixture_, "rose").ok());
  client.join();
  // Ended well within revocation_grace (60 s), not by the command's end.
  EXPECT_LT(absl::Now() - revoked, absl::Seconds(30));
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "revoked")) << r.err;
  // And no new session.
  const RunResult again = Via("rose", "web01", "echo again");
  EXPECT_EQ(again.exit_code, 255) << again.Describe();
  EXPECT_TRUE(absl::StrContains(again.err, "revoked")) << again.err;
}

TEST_F(GatewayRefusalE2eTest, TheSessionEndsAtTheCertificatesValidBefore) {
  // sam's role gives certificates of a minute (enough to connect on a
  // loaded machine): a fresh one, and a command that would run for 150 s.
  const absl::Time start = absl::Now();
  ASSERT_TRUE(fixture_->Login("sam").ok());
  RunOptions ro;
  ro.timeout = absl::Seconds(200);
  const RunResult r =
      Via("sam", "web01", "echo started; sleep 150; echo late", {}, ro);
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.out, "started")) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "late")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "valid_before reached")) << r.err;
  EXPECT_LT(absl::Now() - start, absl::Seconds(110));
}

// ------------------------------------------------------------ hosts, roles

TEST_F(GatewayRefusalE2eTest, AHostNotInTheInventoryIsRefused) {
  const RunResult r = Via("olivia", "db99", "echo should-not-run");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "\"db99\" is not in the inventory"))
      << r.err;
  // ssh then offers the plain key of the same identity (IdentityFile, as
  // `sp config` writes it): no "log in with `sp login` first" after the
  // reason, which would contradict it.
  EXPECT_FALSE(absl::StrContains(r.err, "sp login` first")) << r.err;
}

TEST_F(GatewayRefusalE2eTest, AHostNoRoleSelectsByLabelIsRefused) {
  // alice's role dev selects env=dev; web02 is env=prod.
  const RunResult r = Via("alice", "web02", "echo should-not-run");
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "none of your roles selects host"))
      << r.err;
}

TEST_F(GatewayRefusalE2eTest, ADenyRuleOnALabelRefusesTheHost) {
  // dana's role selects env=dev (web01 and web03) but denies tier=secret.
  RunResult r = Via("dana", "web01", "echo fine");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  r = Via("dana", "web03", "echo should-not-run");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "dev-nosecret")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "deny rules win")) << r.err;
}

TEST_F(GatewayRefusalE2eTest, ADenyRuleBeatsAnotherRolesAllow) {
  // ops allows sftp on env=prod; prod-readonly denies it there. olivia has
  // ops only, rita has both.
  RunResult r = Via("olivia", "web02", "sftp", {"-s"}, StdinOf(""));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  r = Via("rita", "web02", "sftp", {"-s"}, StdinOf(""));
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "denied by role 'prod-readonly'"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "deny rules win")) << r.err;
  // What the deny does not name is still allowed by ops.
  r = Via("rita", "web02", "echo exec-ok");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
}

TEST_F(GatewayRefusalE2eTest, AChannelKindTheRoleDoesNotAllowIsRefused) {
  // eve may exec only.
  RunResult r = Via("eve", "web01", "echo exec-ok");
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  // A shell (no command).
  r = Via("eve", "web01", "", {"-T"}, StdinOf("echo should-not-run\n"));
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "do not allow shell")) << r.err;
  // sftp.
  r = Via("eve", "web01", "sftp", {"-s"}, StdinOf(""));
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "do not allow sftp")) << r.err;
}

TEST_F(GatewayRefusalE2eTest, OnlyTheSftpSubsystemIsAllowed) {
  const RunResult r = Via("olivia", "web01", "backdoor", {"-s"}, StdinOf(""));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "not allowed (only sftp)")) << r.err;
}

TEST_F(GatewayRefusalE2eTest, BadTargetNamesAreRefusedBeforeAnyLookup) {
  // Stock ssh refuses to send such user names itself; paramiko sends them
  // as given, with olivia's valid certificate.
  auto clients = SshClients::Create();
  ASSERT_TRUE(clients.ok()) << clients.status();
  auto olivia = fixture_->user("olivia");
  ASSERT_TRUE(olivia.ok());
  auto host_key =
      RunCommandOk({"ssh-keygen", "-y", "-f",
                    fixture_->gateway_state_dir() + "/ssh_host_ed25519_key"});
  ASSERT_TRUE(host_key.ok()) << host_key.status();
  SshEndpoint to;
  to.port = fixture_->gateway_port();
  to.key = (*olivia)->key;
  to.certificate = (*olivia)->certificate;
  to.host_public_key = std::string(absl::StripAsciiWhitespace(host_key->out));
  const std::string login = fixture_->target_login();
  for (const std::string& host :
       {std::string("a;id"), std::string("$(x)"), std::string("web01\nid"),
        std::string("web01%00"), std::string(300, 'a')}) {
    to.user = login + "+" + host;
    auto r = (*clients)->Exec(SshClientKind::kParamiko, to, "echo ran");
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, 255) << r->Describe();
    EXPECT_FALSE(absl::StrContains(r->out, "ran")) << r->Describe();
  }
  // The raw names never reached the log (nor, so, a shell or the CA).
  const std::string log = fixture_->GatewayLog();
  EXPECT_FALSE(absl::StrContains(log, "$(x)")) << log;
  EXPECT_FALSE(absl::StrContains(log, "a;id")) << log;
  EXPECT_FALSE(absl::StrContains(log, "web01\nid")) << log;
  EXPECT_FALSE(absl::StrContains(log, std::string(300, 'a'))) << log;
  // The same client with a good name gets through.
  to.user = login + "+web01";
  auto r = (*clients)->Exec(SshClientKind::kParamiko, to, "echo ran");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "ran\n");
}

// ------------------------------------------------------------ forwarding

TEST_F(GatewayRefusalE2eTest, RemoteForwardingIsRefused) {
  // alice's role allows no forwarding at all. -N: only the forward; with
  // the rule gone, ssh would sit there until the timeout.
  RunOptions ro;
  ro.timeout = absl::Seconds(45);
  const RunResult r =
      Via("alice", "web01", "",
          {"-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"}, ro);
  EXPECT_FALSE(r.timed_out) << r.Describe();
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "remote port forwarding failed"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(fixture_->GatewayLog(), "tcpip-forward"))
      << fixture_->GatewayLog();
}

TEST_F(GatewayRefusalE2eTest, AgentForwardingIsRefusedWhenNoRoleAllowsIt) {
  // A real agent to forward; alice's role (dev) does not allow
  // agent-forward, so the target never gets an agent socket.
  auto agent = StartAgent(dir_->File("agent.sock"), dir_->File("agent.log"));
  ASSERT_TRUE(agent.ok()) << agent.status();
  // The user's config says IdentityAgent none, which also turns agent
  // forwarding off: name the agent on the command line.
  const RunResult r = Via("alice", "web01", "echo \"agent=[$SSH_AUTH_SOCK]\"",
                          {"-o", "IdentityAgent=" + dir_->File("agent.sock"),
                           "-o", "ForwardAgent=yes"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "agent=[]\n") << r.Describe();
  // The client did ask (so the test would see a forwarded agent).
  EXPECT_TRUE(
      absl::StrContains(fixture_->GatewayLog(), "auth-agent-req@openssh.com"))
      << fixture_->GatewayLog();
}

TEST_F(GatewayRefusalE2eTest, ACommandTooLongToRecordDoesNotRun) {
  // Over the 64 KiB the recording and the exec.command audit event take:
  // it ran on the host, recorded and audited as `command=""`, so padding
  // a command hid it. Now it is refused, and says why.
  const std::string marker = dir_->File("long-command-ran");
  const std::string command =
      absl::StrCat("touch ", marker, "; #", std::string(70000, 'x'));
  const RunResult r = Via("alice", "web01", command);
  EXPECT_EQ(r.exit_code, 1) << r.exit_code << "\n" << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "command cannot be recorded")) << r.err;
  EXPECT_NE(access(marker.c_str(), F_OK), 0) << "the command ran";
  // Under the limit it runs (and is recorded) as before.
  const RunResult ok =
      Via("alice", "web01",
          absl::StrCat("echo long-ok; #", std::string(30000, 'x')));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "long-ok\n");
}

// ------------------------------------------------------------ host keys

TEST_F(GatewayRefusalE2eTest, APinnedHostKeyMismatchRefusesTheSession) {
  // web07: web01's sshd, pinned in the inventory to a key it does not
  // have.
  auto other = GenerateKey(dir_->path(), "not_web07");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(AddInventoryHost(*fixture_, "web07", "pinned-key",
                               fixture_->target("web01")->sshd->port(),
                               other->public_line)
                  .ok());
  const RunResult r = Via("alice", "web07", "echo should-not-run");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "web07")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "host key")) << r.err;
}

TEST_F(GatewayRefusalE2eTest, AHostCertificateForAnotherNameIsRefused) {
  // web05 presents a host certificate from our host CA, but for "web01".
  auto sshd = StartSshdWithHostCertificate(
      *fixture_, *dir_, "web05", fixture_->ca_state_dir() + "/host_ca",
      "web01");
  ASSERT_TRUE(sshd.ok()) << sshd.status();
  extra_sshds_.push_back(sshd->release());
  ASSERT_TRUE(AddInventoryHost(*fixture_, "web05", "host-ca",
                               extra_sshds_.back()->port(), "")
                  .ok());
  const RunResult r = Via("alice", "web05", "echo should-not-run");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "web05")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "host key")) << r.err;
  // Why, whole: after the certificate's name, serial and CA fingerprint
  // it was cut at 128 bytes ("principal \"web05\" is no...").
  EXPECT_TRUE(absl::StrContains(r.err, "principal \"web05\" is not listed"))
      << r.err;
}

TEST_F(GatewayRefusalE2eTest, AHostCertificateFromAnotherCaIsRefused) {
  // web06 presents a host certificate naming "web06", signed by a CA the
  // inventory does not know.
  auto other_ca = GenerateKey(dir_->path(), "other_host_ca");
  ASSERT_TRUE(other_ca.ok());
  auto sshd = StartSshdWithHostCertificate(*fixture_, *dir_, "web06",
                                           other_ca->private_path, "web06");
  ASSERT_TRUE(sshd.ok()) << sshd.status();
  extra_sshds_.push_back(sshd->release());
  ASSERT_TRUE(AddInventoryHost(*fixture_, "web06", "host-ca",
                               extra_sshds_.back()->port(), "")
                  .ok());
  const RunResult r = Via("alice", "web06", "echo should-not-run");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(absl::StrContains(r.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(r.err, "web06")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "host key")) << r.err;
}

}  // namespace
}  // namespace sallyport::testing
