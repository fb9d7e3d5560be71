// `sp config`, `sp ls` and `sp ssh` (issue 13) against the real CA, with
// the real `sp login` and the real `ssh -G`: the generated ssh_config lists
// exactly the hosts RBAC allows (a deny rule hides one, an unselected host
// is absent), `ssh -G web01` shows ProxyJump to the gateway, the
// certificate, IdentitiesOnly and the Sallyport known_hosts; with the
// Include at the top of a user's ~/.ssh/config (`sp config --install`,
// twice) `ssh -G github.com` is exactly what it was before, and web01 and
// the gateway keep StrictHostKeyChecking yes under the user's `Host *`
// that says no; `sp ssh` runs
// the stock ssh with that config. The recorded jump itself (`ssh web01`
// through the gateway) is in tests/e2e/gateway_proxyjump_*.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/e2e/spctl_e2e_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::e2e {
namespace {

using sallyport::testing::ReadFileOrEmpty;
using sallyport::testing::RunCommand;

// Nothing listens on port 1: `sp ssh` reaching the gateway's address
// shows that ssh ran with the generated ProxyJump.
constexpr char kGateway[] = "127.0.0.1:1";

constexpr char kProd[] = R"(name: prod
logins: [root]
hosts: [{labels: {env: prod}}]
channels: [shell, exec]
deny:
  - hosts: [{name_globs: ["web02"]}]
)";
constexpr char kOps[] = R"(name: ops
logins: [root, deploy]
hosts: [{name_globs: ["db*"]}]
channels: [shell]
)";

class SpConfigE2eTest : public SpctlTestBase {
 protected:
  void SetUp() override {
    ca_config_append_ =
        absl::StrCat("gateway:\n  ssh_addresses: [\"", kGateway, "\"]\n");
    SpctlTestBase::SetUp();
    ASSERT_NE(env_, nullptr);
    for (const auto& [name, text] :
         std::vector<std::pair<std::string, std::string>>{{"prod", kProd},
                                                          {"ops", kOps}}) {
      auto r = env_->Spctl(
          {"roles", "create", "-f", env_->WriteFile(name + ".yaml", text)});
      ASSERT_TRUE(r.ok()) << r.Describe();
    }
    for (const auto& [host, port, label] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"web01", "2201", "env=prod"},
             {"web02", "2202", "env=prod"},
             {"db01", "22", "env=dev"},
             {"app01", "22", "env=dev"}}) {
      auto r = env_->Spctl({"hosts", "add", host, "--address", "127.0.0.1",
                            "--port", port, "--label", label});
      ASSERT_TRUE(r.ok()) << r.Describe();
    }
    ASSERT_TRUE(env_->Spctl({"users", "add", "erin", "--password-file", pwfile_,
                             "--role", "prod", "--role", "ops"})
                    .ok());
    login_ = env_->Login("erin", kPassword);
    ASSERT_TRUE(login_.ok()) << login_.Describe();
    fragment_ = env_->Home("erin") + "/ssh_config";
  }

  // `ssh -G -F config host`: the effective options, one "key value" a line.
  std::string SshG(const std::string& config, const std::string& host) {
    auto r = RunCommand({"ssh", "-G", "-F", config, host});
    EXPECT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->Describe() : "");
    return r.ok() ? r->out : "";
  }

  static bool HasLine(const std::string& text, const std::string& line) {
    for (absl::string_view l : absl::StrSplit(text, '\n')) {
      if (l == line) return true;
    }
    return false;
  }

  sallyport::testing::RunResult login_;
  std::string fragment_;
};

TEST_F(SpConfigE2eTest, LoginWritesExactlyTheHostsRbacAllows) {
  const std::string home = env_->Home("erin");
  EXPECT_TRUE(absl::StrContains(login_.out, "Wrote " + fragment_ + " (2 hosts"))
      << login_.out;
  EXPECT_TRUE(absl::StrContains(login_.out, "Include \"" + fragment_ + "\""))
      << login_.out;
  const std::string config = ReadFileOrEmpty(fragment_);
  std::vector<std::string> hosts;
  for (absl::string_view line : absl::StrSplit(config, '\n')) {
    if (absl::ConsumePrefix(&line, "Host ")) hosts.emplace_back(line);
  }
  // web02: a deny rule; app01: no role selects it.
  EXPECT_EQ(hosts, (std::vector<std::string>{"127.0.0.1", "db01", "web01"}))
      << config;
  EXPECT_FALSE(absl::StrContains(config, "Host *")) << config;

  const std::string known_hosts = ReadFileOrEmpty(home + "/known_hosts");
  const std::string host_ca =
      ReadFileOrEmpty(env_->ca().state_dir() + "/host_ca.pub");
  const std::string host_ca_key = host_ca.substr(0, host_ca.rfind(' '));
  EXPECT_TRUE(absl::StrContains(
      known_hosts,
      absl::StrCat("@cert-authority [127.0.0.1]:1,db01,web01 ", host_ca_key)))
      << known_hosts;
  EXPECT_FALSE(absl::StrContains(known_hosts, "*")) << known_hosts;

  // (ssh -G prints a jump host's address in brackets.)
  const std::string web01 = SshG(fragment_, "web01");
  EXPECT_TRUE(HasLine(web01, "proxyjump [127.0.0.1]")) << web01;
  EXPECT_TRUE(HasLine(web01, "user root")) << web01;
  EXPECT_TRUE(HasLine(web01, "certificatefile " + env_->CertPath("erin")))
      << web01;
  EXPECT_TRUE(HasLine(web01, "identityfile " + env_->KeyPath("erin"))) << web01;
  EXPECT_TRUE(HasLine(web01, "identitiesonly yes")) << web01;
  EXPECT_TRUE(HasLine(web01, "userknownhostsfile " + home + "/known_hosts"))
      << web01;
  // db01: two logins, so no default user (ssh's own default stays).
  const std::string db01 = SshG(fragment_, "db01");
  EXPECT_TRUE(HasLine(db01, "proxyjump [127.0.0.1]")) << db01;
  EXPECT_TRUE(absl::StrContains(
      config, "Host db01\n  ProxyJump 127.0.0.1\n  # logins: deploy, root"))
      << config;
  // The gateway hop: its port, a principal as the user, no ProxyJump.
  const std::string gw = SshG(fragment_, "127.0.0.1");
  EXPECT_TRUE(HasLine(gw, "port 1")) << gw;
  EXPECT_TRUE(HasLine(gw, "identitiesonly yes")) << gw;
  EXPECT_TRUE(HasLine(gw, "stricthostkeychecking true")) << gw;
  EXPECT_FALSE(absl::StrContains(gw, "proxyjump")) << gw;
  // Hosts RBAC refuses get nothing from Sallyport.
  for (const char* other : {"web02", "app01"}) {
    const std::string g = SshG(fragment_, other);
    EXPECT_FALSE(absl::StrContains(g, "proxyjump")) << g;
    EXPECT_FALSE(absl::StrContains(g, home)) << g;
  }
}

// Found in review: `sp login --ca $'ADDR,\nProxyCommand'` logged in (the
// parts of the list are stripped of spaces) and wrote the text as typed
// into the ssh_config's header, where `ProxyCommand).` made every ssh
// that includes it fail ("bad configuration options"), and into the state
// file, whose cut `ca=ADDR,` failed every later sp and spctl ("empty
// address"). A control character in --ca is refused before anything is
// written; the CA is remembered and written as parsed.
TEST_F(SpConfigE2eTest, TheCaIsWrittenAsParsedAndAControlCharacterIsRefused) {
  const std::string address = env_->ca().address();
  const auto login = [&](const std::string& ca) {
    return env_->Sp("erin2",
                    {"login", "--ca", ca, "--user", "erin", "--password-stdin",
                     "--ca-fingerprint", env_->ca().fingerprint()},
                    std::string(kPassword) + "\n");
  };
  const std::string home = env_->Home("erin2");
  sallyport::testing::RunResult r = login(address + ",\nProxyCommand");
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(absl::StartsWith(r.err, "sp: --ca: a control character in \""))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(home + "/state"));
  EXPECT_FALSE(std::filesystem::exists(home + "/ssh_config"));

  r = login("  " + address + " ");
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(ReadFileOrEmpty(home + "/state"),
            absl::StrCat("ca=", address, "\nuser=erin\n"));
  const std::string config = ReadFileOrEmpty(home + "/ssh_config");
  EXPECT_TRUE(absl::StrContains(config, ", CA " + address + ")")) << config;
  EXPECT_TRUE(
      HasLine(SshG(home + "/ssh_config", "web01"), "proxyjump [127.0.0.1]"))
      << config;
  // Later commands read it back.
  r = env_->Sp("erin2", {"status"});
  EXPECT_TRUE(r.ok()) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.out, "CA:          " + address)) << r.out;
}

TEST_F(SpConfigE2eTest, IncludeInHomeSshConfigLeavesOtherHostsAlone) {
  // The user's own ~/.ssh/config in a temporary HOME.
  const std::string user_home = env_->Path("userhome");
  ASSERT_TRUE(sallyport::testing::RunCommandOk(
                  {"mkdir", "-p", "-m", "700", user_home + "/.ssh"})
                  .ok());
  const std::string own =
      "Host github.com\n  User git\n  IdentityFile ~/.ssh/github_ed25519\n"
      "Host *\n  ServerAliveInterval 17\n  UserKnownHostsFile "
      "~/.ssh/known_hosts_mine\n  StrictHostKeyChecking no\n";
  const std::string user_config = user_home + "/.ssh/config";
  ASSERT_TRUE(sallyport::testing::WriteFile(user_config, own, 0600).ok());
  const std::string before = SshG(user_config, "github.com");

  // Only the Include: github.com's options are ssh's defaults, unchanged.
  const std::string only =
      env_->WriteFile("only-include.conf", "Include \"" + fragment_ + "\"\n");
  const std::string empty = env_->WriteFile("empty.conf", "\n");
  EXPECT_EQ(SshG(only, "github.com"), SshG(empty, "github.com"));
  EXPECT_TRUE(HasLine(SshG(only, "web01"), "proxyjump [127.0.0.1]"));

  // --install, twice: the Include on top once, a backup of the original.
  for (int i = 0; i < 2; ++i) {
    auto r =
        env_->Sp("erin", {"config", "--install"}, "", {{"HOME", user_home}});
    ASSERT_TRUE(r.ok()) << r.Describe();
    EXPECT_TRUE(absl::StrContains(
        r.out, i == 0 ? "Added `Include" : "already includes it"))
        << r.out;
  }
  const std::string installed = ReadFileOrEmpty(user_config);
  EXPECT_EQ(installed, "Include \"" + fragment_ + "\"\n" + own);
  EXPECT_EQ(ReadFileOrEmpty(user_config + ".sallyport-backup"), own);

  const std::string after = SshG(user_config, "github.com");
  EXPECT_EQ(after, before);
  EXPECT_FALSE(absl::StrContains(after, env_->Home("erin"))) << after;
  EXPECT_TRUE(HasLine(after, "user git")) << after;
  EXPECT_TRUE(HasLine(after, "serveraliveinterval 17")) << after;
  EXPECT_TRUE(HasLine(after, "stricthostkeychecking false")) << after;
  // ... while web01 goes through the gateway with Sallyport's files.
  const std::string web01 = SshG(user_config, "web01");
  EXPECT_TRUE(HasLine(web01, "proxyjump [127.0.0.1]")) << web01;
  EXPECT_TRUE(HasLine(
      web01, "userknownhostsfile " + env_->Home("erin") + "/known_hosts"))
      << web01;
  // Found in review: the inventory Host blocks left StrictHostKeyChecking
  // to the user's own config, whose `Host *` (no, or accept-new) had ssh
  // take a host key the Sallyport host CA never signed. Every Sallyport
  // block says yes, and the Include comes first: it wins.
  EXPECT_TRUE(HasLine(web01, "stricthostkeychecking true")) << web01;
  const std::string gw = SshG(user_config, "127.0.0.1");
  EXPECT_TRUE(HasLine(gw, "stricthostkeychecking true")) << gw;
}

TEST_F(SpConfigE2eTest, LsListsTheHostsAndSshRunsTheStockSsh) {
  auto ls = env_->Sp("erin", {"ls"});
  ASSERT_TRUE(ls.ok()) << ls.Describe();
  std::vector<std::string> lines =
      absl::StrSplit(ls.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << ls.out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "NAME")) << ls.out;
  std::vector<std::string> db01 =
      absl::StrSplit(lines[1], ' ', absl::SkipEmpty());
  EXPECT_EQ(db01, (std::vector<std::string>{"db01", "127.0.0.1:22", "env=dev",
                                            "deploy,root"}));
  std::vector<std::string> web01 =
      absl::StrSplit(lines[2], ' ', absl::SkipEmpty());
  EXPECT_EQ(web01, (std::vector<std::string>{"web01", "127.0.0.1:2201",
                                             "env=prod", "root"}));
  auto json = env_->Sp("erin", {"ls", "--output", "json"});
  ASSERT_TRUE(json.ok()) << json.Describe();
  EXPECT_TRUE(IsJson(json.out)) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"logins\"")) << json.out;
  EXPECT_FALSE(absl::StrContains(json.out, "web02")) << json.out;

  // Not one of the user's hosts, or not a host name: refused before ssh.
  auto other = env_->Sp("erin", {"ssh", "web02", "true"});
  EXPECT_EQ(other.exit_code, 1) << other.Describe();
  EXPECT_TRUE(absl::StrContains(other.err, "not among your hosts"))
      << other.err;
  auto bad = env_->Sp("erin", {"ssh", "-oProxyCommand=x", "true"});
  EXPECT_NE(bad.exit_code, 0) << bad.Describe();
  // The stock ssh with the generated config: it jumps through the gateway
  // address of the CA's config (nothing listens there in this test).
  auto ssh = env_->Sp("erin", {"ssh", "root@web01", "true"});
  EXPECT_EQ(ssh.exit_code, 255) << ssh.Describe();
  EXPECT_TRUE(absl::StrContains(ssh.err, "127.0.0.1 port 1")) << ssh.err;

  // A copy of erin's login whose CA does not answer: exit 7 (CA
  // unreachable) as for `sp login`, not 1.
  std::error_code ec;
  std::filesystem::copy(env_->Home("erin"), env_->Home("ghost"),
                        std::filesystem::copy_options::recursive, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(sallyport::testing::WriteFile(env_->Home("ghost") + "/state",
                                            "ca=127.0.0.1:1\nuser=erin\n")
                  .ok());
  auto down = env_->Sp("ghost", {"ls"});
  EXPECT_EQ(down.exit_code, 7) << down.Describe();
  // Its certificate expired: `sp ssh` says so instead of running ssh (which
  // printed the validity in raw Unix seconds, cut off).
  const std::string ca_key = env_->Path("throwaway_ca");
  ASSERT_TRUE(sallyport::testing::RunCommandOk(
                  {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca_key})
                  .ok());
  ASSERT_TRUE(
      sallyport::testing::RunCommandOk(
          {"ssh-keygen", "-q", "-s", ca_key, "-I", "erin", "-n", "root", "-V",
           "20200101:20200102", env_->Home("ghost") + "/erin.pub"})
          .ok());
  auto expired = env_->Sp("ghost", {"ssh", "root@web01", "true"});
  EXPECT_EQ(expired.exit_code, 1) << expired.Describe();
  EXPECT_TRUE(
      absl::StrContains(expired.err, "your login has expired: run `sp login`"))
      << expired.Describe();
}

}  // namespace
}  // namespace sallyport::e2e
