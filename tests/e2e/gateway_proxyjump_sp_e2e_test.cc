// Recorded ProxyJump the way a user sets it up (issue 13), end to end with
// the real binaries: `sp login` and `sp config` against the real CA (whose
// gateway.ssh_addresses names the real `sallyport-gateway`), a temporary
// HOME whose ssh config holds only the Include line `sp` printed, and stock
// OpenSSH clients with StrictHostKeyChecking=yes and no SSH_AUTH_SOCK:
// `ssh web01 CMD`, scp both ways, `sftp -b`, rsync both ways and `git clone
// web01:REPO`. Each prints nothing on stderr (no prompt, no warning) and is
// in the recordings of the user's web01 sessions (the CA's store and the
// gateway's spool): exec output whole; SFTP and SCP content counted only
// (gateway/spool_tap.h). The CA's event log has each jump as "authz.jump"
// with mode "record" and no "authz.denied".
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/e2e/sp_home_e2e_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

// Alice, set up as the docs say (tests/e2e/sp_home_e2e_fixture.h).
class GatewayProxyJumpSpE2eTest : public SpHomeE2eTest {};

TEST_F(GatewayProxyJumpSpE2eTest, SpLoginConfigThenSshWeb01IsRecorded) {
  BastionFixture& f = env_->fixture();
  const std::string marker = "sp-jump-marker-";
  const std::string command = "echo " + marker + "$((6*7))";
  RunResult ssh = Run(Client("ssh", {"web01", command}));
  ExpectQuietSuccess(ssh);
  EXPECT_EQ(ssh.out, marker + "42\n") << f.GatewayLog();

  // Recorded by the real gateway: the exec and its output.
  EXPECT_TRUE(WaitForChannel([&](const RecordedChannel& c) {
    return c.HasRequest("exec", command) && c.output == marker + "42\n";
  }));
  EXPECT_TRUE(absl::StrContains(f.GatewayLog(), "event=jump.record"))
      << f.GatewayLog();

  // The CA decided "record" once, and audited no denial for it.
  std::vector<std::string> jumps = Events(f, "authz.jump");
  ASSERT_EQ(jumps.size(), 1u);
  EXPECT_TRUE(absl::StrContains(jumps[0], "record")) << jumps[0];
  EXPECT_TRUE(absl::StrContains(jumps[0], "web01")) << jumps[0];
  EXPECT_TRUE(Events(f, "authz.denied").empty());

  // `sp ssh` runs the same ssh, the command after HOST or after `--` (which
  // was refused: "The following arguments were not expected").
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"web01", "echo", "sp-$((6*7))"},
           {"web01", "--", "echo", "sp-$((6*7))"},
           // With options of its own: CLI11 took them as sp's and ssh ran
           // only `-e` ("bash: -c: option requires an argument").
           {"web01", "echo", "-e", "sp-$((6*7))"},
           {"web01", "--", "echo", "-e", "sp-$((6*7))"},
           // The inventory name in capitals: ssh matches the config's Host
           // blocks by case (WEB01 went to DNS).
           {"WEB01", "echo", "sp-$((6*7))"}}) {
    std::vector<std::string> argv = {RunfilePath("cli/sp"), "ssh"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult sp = Run(argv);
    ExpectQuietSuccess(sp);
    EXPECT_EQ(sp.out, "sp-42\n") << absl::StrJoin(args, " ");
  }
}

// A gateway the admin revokes (its host key, `spctl certs revoke --key`)
// is refused by the user's stock ssh once `sp config` (or `sp login`) has
// run again: the fragment's RevokedHostKeys names the KRL of the CA's
// revocations, which holds the key, and ssh refuses it before any
// authentication. The key carries the gateway's own host certificate
// (valid for 30 days) and the target certificates it shows for recorded
// jumps, so neither is accepted any longer.
TEST_F(GatewayProxyJumpSpE2eTest, AGatewayWhoseHostKeyTheCaRevokedIsRefused) {
  BastionFixture& f = env_->fixture();
  const std::string fragment = home_ + "/.sallyport/ssh_config";
  EXPECT_TRUE(absl::StrContains(
      ReadFileOrEmpty(fragment),
      "RevokedHostKeys \"" + home_ + "/.sallyport/revoked_host_keys\""))
      << ReadFileOrEmpty(fragment);
  ExpectQuietSuccess(Run(Client("ssh", {"web01", "echo before"})));

  RunResult fp = Run({"ssh-keygen", "-l", "-f",
                      f.gateway_state_dir() + "/ssh_host_ed25519_key"});
  ASSERT_TRUE(fp.ok()) << fp.Describe();
  std::vector<std::string> words = absl::StrSplit(fp.out, ' ');
  ASSERT_GE(words.size(), 2u) << fp.out;
  ASSERT_TRUE(absl::StartsWith(words[1], "SHA256:")) << fp.out;
  RunResult revoke = Spctl(
      f, {"certs", "revoke", "--key", words[1], "--reason", "gateway retired"});
  ASSERT_TRUE(revoke.ok()) << revoke.Describe();

  RunResult config = Run({RunfilePath("cli/sp"), "config"});
  ASSERT_EQ(config.exit_code, 0) << config.Describe();
  EXPECT_EQ(config.err, "") << config.Describe();
  // The gateway's key is the one revocation.
  EXPECT_TRUE(absl::StrContains(
      config.out, "Wrote " + home_ +
                      "/.sallyport/revoked_host_keys (1 "
                      "revocation of keys and current certificates"))
      << config.Describe();
  RunResult ssh = Run(Client("ssh", {"web01", "echo should-not-run"}));
  EXPECT_EQ(ssh.exit_code, 255) << ssh.Describe();
  EXPECT_FALSE(absl::StrContains(ssh.out, "should-not-run"));
  EXPECT_TRUE(absl::StrContains(ssh.err, "revoked")) << ssh.Describe();
  // The gateway itself, by its Host block.
  const std::vector<std::string> names = absl::StrSplit(
      absl::StripTrailingAsciiWhitespace(ReadFileOrEmpty(fragment)), '\n');
  std::string gateway_host;
  for (const std::string& line : names) {
    if (absl::StartsWith(line, "Host ")) {
      gateway_host = line.substr(5);
      break;
    }
  }
  ASSERT_FALSE(gateway_host.empty());
  ssh = Run(Client("ssh", {gateway_host, "true"}));
  EXPECT_EQ(ssh.exit_code, 255) << ssh.Describe();
  EXPECT_TRUE(absl::StrContains(ssh.err, "revoked")) << ssh.Describe();
}

TEST_F(GatewayProxyJumpSpE2eTest, ScpSftpRsyncAndGitCloneAreRecorded) {
  // Large enough that a channel's byte counts tell the transfer apart.
  constexpr size_t kSize = 200 << 10;
  const std::string src = env_->File("big");
  ASSERT_TRUE(GatewayE2eEnv::RandomFile(src, kSize).ok());
  const std::string sum = GatewayE2eEnv::Sha256(src);
  // Up or down an SFTP channel (scp's default protocol, and sftp).
  auto sftp_up = [&](const RecordedChannel& c) {
    return c.HasRequest("subsystem", "sftp") && c.bytes_input >= kSize &&
           c.bytes_output < kSize;
  };
  auto sftp_down = [&](const RecordedChannel& c) {
    return c.HasRequest("subsystem", "sftp") && c.bytes_output >= kSize &&
           c.bytes_input < kSize;
  };

  // scp up and back.
  const std::string up = env_->File("scp-up"), down = env_->File("scp-down");
  ExpectQuietSuccess(Run(Client("scp", {src, "web01:" + up})));
  EXPECT_EQ(GatewayE2eEnv::Sha256(up), sum);
  EXPECT_TRUE(WaitForChannel(sftp_up));
  ExpectQuietSuccess(Run(Client("scp", {"web01:" + up, down})));
  EXPECT_EQ(GatewayE2eEnv::Sha256(down), sum);
  EXPECT_TRUE(WaitForChannel(sftp_down));

  // sftp in batch mode.
  const std::string batch = env_->File("sftp-batch");
  const std::string put = env_->File("sftp-put");
  ASSERT_TRUE(
      WriteFile(batch, absl::StrCat("put ", src, " ", put, "\nls ", put, "\n"))
          .ok());
  RunResult r = Run(Client("sftp", {"-b", batch, "web01"}));
  ExpectQuietSuccess(r);
  EXPECT_TRUE(absl::StrContains(r.out, "sftp> ls " + put + "\n" + put))
      << r.out;
  EXPECT_EQ(GatewayE2eEnv::Sha256(put), sum);
  EXPECT_TRUE(WaitForChannel(sftp_up));

  // rsync of a small tree (and the big file) there; its files back.
  const std::string tree = env_->File("tree"), copy = env_->File("tree-copy");
  ASSERT_EQ(mkdir(tree.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((tree + "/a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((tree + "/a/b").c_str(), 0755), 0);
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(WriteFile(absl::StrCat(tree, "/a/b/f", i),
                          absl::StrCat("rsync-file-", i, "\n"))
                    .ok());
  }
  ASSERT_EQ(link(src.c_str(), (tree + "/big").c_str()), 0);
  ExpectQuietSuccess(
      Run({"rsync", "-a", "-e", SshCommand(), tree + "/", "web01:" + copy}));
  EXPECT_EQ(ReadFileOrEmpty(copy + "/a/b/f5"), "rsync-file-5\n");
  EXPECT_EQ(GatewayE2eEnv::Sha256(copy + "/big"), sum);
  EXPECT_TRUE(WaitForChannel([&](const RecordedChannel& c) {
    return c.HasRequest("exec", "rsync --server ") &&
           !c.HasRequest("exec", "--sender") && c.bytes_input >= kSize;
  }));
  const std::string back = env_->File("tree-back");
  ExpectQuietSuccess(
      Run({"rsync", "-a", "-e", SshCommand(), "web01:" + copy + "/a/", back}));
  EXPECT_EQ(ReadFileOrEmpty(back + "/b/f5"), "rsync-file-5\n");
  // What the target sent is kept whole: the files' content.
  EXPECT_TRUE(WaitForChannel([&](const RecordedChannel& c) {
    return c.HasRequest("exec", "rsync --server --sender ") &&
           absl::StrContains(c.output, "rsync-file-5");
  }));

  // git clone of a repository on web01.
  const std::string repo = env_->File("repo"), clone = env_->File("clone");
  RunOptions git;
  git.env["GIT_SSH_COMMAND"] = SshCommand();
  git.env["GIT_CONFIG_NOSYSTEM"] = "1";
  git.env["GIT_AUTHOR_NAME"] = git.env["GIT_COMMITTER_NAME"] = "sp";
  git.env["GIT_AUTHOR_EMAIL"] = git.env["GIT_COMMITTER_EMAIL"] = "sp@test";
  r = Run(
      {"/bin/sh", "-c",
       absl::StrCat("set -e; git init -q -b main ", repo, "; cd ", repo,
                    "; echo sp-readme > README; git add README; "
                    "git commit -q -m sp-first-commit; git rev-parse HEAD")},
      git);
  ASSERT_TRUE(r.ok()) << r.Describe();
  const std::string head(absl::StripAsciiWhitespace(r.out));
  ExpectQuietSuccess(Run({"git", "clone", "-q", "web01:" + repo, clone}, git));
  EXPECT_EQ(ReadFileOrEmpty(clone + "/README"), "sp-readme\n");
  // Recorded: git-upload-pack's exec, the commit it advertised and the pack
  // it sent (compressed: the output is there, not the README's words).
  EXPECT_TRUE(WaitForChannel([&](const RecordedChannel& c) {
    return c.HasRequest("exec", "git-upload-pack") &&
           absl::StrContains(c.output, head) &&
           absl::StrContains(c.output, "PACK");
  }));

  // No channel or request for an agent; no jump denied.
  for (const RecordedChannel& c : Channels()) {
    EXPECT_FALSE(absl::StrContains(c.type, "auth-agent")) << c.type;
    EXPECT_FALSE(c.HasRequest("auth-agent-req@openssh.com", ""));
  }
  EXPECT_TRUE(Events(env_->fixture(), "authz.denied").empty());
}

}  // namespace
}  // namespace sallyport::testing
