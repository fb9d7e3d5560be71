// Moving files through the real `sallyport-gateway` with the stock tools
// (issue 12's E2E rows), against a real sshd target with a host
// certificate from our host CA:
//  - scp in both modes (SFTP, the default, and the legacy `-O` protocol,
//    which runs `scp -t/-f` on the target), both directions;
//  - `sftp -b` with put, get, ls and rm;
//  - `rsync -e ssh` of a 200-file tree, both directions, trees compared;
//  - 200 MiB through `cat` each way with matching SHA-256;
//  - git over the gateway: a bare repository created on the target, a
//    push to it and a `git clone` of it (GIT_SSH_COMMAND with the user's
//    ssh_config).
// The target is this machine, so what arrived there is read directly.
#include <sys/stat.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"

namespace sallyport::testing {
namespace {

class GatewayFilesE2eTest : public GatewaySuite<GatewayFilesE2eTest> {
 protected:
  // `LOGIN+web01@gateway:PATH` for scp, sftp and rsync.
  static std::string Remote(const std::string& path) {
    return absl::StrCat(env_->GatewayUser("web01"), "@gateway:", path);
  }
  // "Starting session: subsystem 'sftp'" lines in web01's sshd log so far.
  static int SftpSubsystemRequests() {
    const std::string log = env_->fixture().target("web01")->sshd->Log();
    int n = 0;
    constexpr char kLine[] = "Starting session: subsystem 'sftp'";
    for (size_t at = log.find(kLine); at != std::string::npos;
         at = log.find(kLine, at + 1)) {
      ++n;
    }
    return n;
  }
  // A directory with `n` files spread over nested subdirectories, sizes
  // from 0 bytes to ~64 KiB.
  static void MakeTree(const std::string& root, int n) {
    ASSERT_EQ(mkdir(root.c_str(), 0755), 0) << root;
    for (int d = 0; d < 5; ++d) {
      const std::string sub = absl::StrCat(root, "/d", d);
      ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
      ASSERT_EQ(mkdir((sub + "/deeper").c_str(), 0755), 0);
    }
    for (int i = 0; i < n; ++i) {
      const std::string path =
          absl::StrCat(root, "/d", i % 5, i % 3 == 0 ? "/deeper" : "", "/file-",
                       i, i % 7 == 0 ? ".bin" : ".txt");
      ASSERT_TRUE(
          GatewayE2eEnv::RandomFile(path, static_cast<size_t>(i * 331 % 65536))
              .ok());
    }
  }
  static int CountFiles(const std::string& root) {
    const RunResult r =
        GatewayE2eEnv::Shell("find " + ShellQuote(root) + " -type f | wc -l");
    return r.ok() ? std::atoi(r.out.c_str()) : -1;
  }
};

TEST_F(GatewayFilesE2eTest, ScpInBothModesAndBothDirections) {
  const std::string local = env_->File("scp-local");
  ASSERT_TRUE(GatewayE2eEnv::RandomFile(local, 3 << 20).ok());
  const std::string want = GatewayE2eEnv::Sha256(local);
  const std::string cfg = env_->SshConfig("alice");
  // mode "": SFTP (the default of OpenSSH 9); "-O": the legacy protocol.
  for (const std::string mode : {"sftp", "legacy"}) {
    SCOPED_TRACE(mode);
    std::vector<std::string> scp = {"scp", "-F", cfg};
    if (mode == "legacy") scp.push_back("-O");
    const int sftp_before = SftpSubsystemRequests();
    const std::string up = env_->File("scp-up-" + mode);
    const std::string down = env_->File("scp-down-" + mode);
    std::vector<std::string> put = scp;
    put.insert(put.end(), {local, Remote(up)});
    const RunResult p = GatewayE2eEnv::Run(put);
    ASSERT_EQ(p.exit_code, 0) << p.Describe();
    EXPECT_EQ(GatewayE2eEnv::Sha256(up), want);
    std::vector<std::string> get = scp;
    get.insert(get.end(), {Remote(up), down});
    const RunResult g = GatewayE2eEnv::Run(get);
    ASSERT_EQ(g.exit_code, 0) << g.Describe();
    EXPECT_EQ(GatewayE2eEnv::Sha256(down), want);
    // Each SFTP-mode scp opened the sftp subsystem on the target; the
    // legacy ones ran `scp -t` / `scp -f` instead.
    EXPECT_EQ(SftpSubsystemRequests() - sftp_before, mode == "sftp" ? 2 : 0);
  }
}

TEST_F(GatewayFilesE2eTest, SftpBatchPutsGetsListsAndRemoves) {
  const std::string local = env_->File("sftp-local");
  ASSERT_TRUE(GatewayE2eEnv::RandomFile(local, 1234567).ok());
  const std::string remote = env_->File("sftp-remote");
  const std::string back = env_->File("sftp-back");
  const std::string batch = env_->File("sftp-batch");
  ASSERT_TRUE(
      WriteFile(batch,
                absl::StrCat("put ", local, " ", remote, "\nget ", remote, " ",
                             back, "\nls -l ", remote, "\nrm ", remote, "\n"))
          .ok());
  const RunResult r = GatewayE2eEnv::Run(
      {"sftp", "-F", env_->SshConfig("alice"), "-b", batch,
       absl::StrCat(env_->GatewayUser("web01"), "@gateway")});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(GatewayE2eEnv::Sha256(back), GatewayE2eEnv::Sha256(local));
  // ls -l showed the file with its size, then rm removed it.
  EXPECT_TRUE(absl::StrContains(r.out, " 1234567 ")) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.out, "sftp> rm ")) << r.Describe();
  struct stat st;
  EXPECT_NE(stat(remote.c_str(), &st), 0) << remote << " still exists";
}

TEST_F(GatewayFilesE2eTest, RsyncOfA200FileTreeBothWays) {
  const std::string tree = env_->File("tree");
  MakeTree(tree, 200);
  ASSERT_EQ(CountFiles(tree), 200);
  const std::string rsh = "ssh -F " + env_->SshConfig("alice");
  const std::string there = env_->File("tree-on-target");
  RunResult r =
      GatewayE2eEnv::Run({"rsync", "-a", "-e", rsh, tree + "/", Remote(there)});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = GatewayE2eEnv::Run({"diff", "-r", tree, there});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(CountFiles(there), 200);

  // Change a few files on the target and pull the tree back.
  ASSERT_TRUE(WriteFile(there + "/d1/file-1.txt", "changed there\n").ok());
  ASSERT_TRUE(WriteFile(there + "/d4/new-file.txt", "new there\n").ok());
  const std::string back = env_->File("tree-back");
  r = GatewayE2eEnv::Run({"rsync", "-a", "-e", rsh, Remote(there + "/"), back});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = GatewayE2eEnv::Run({"diff", "-r", there, back});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(CountFiles(back), 201);
  EXPECT_EQ(ReadFileOrEmpty(back + "/d1/file-1.txt"), "changed there\n");
}

TEST_F(GatewayFilesE2eTest, TwoHundredMiBThroughCatEachWay) {
  constexpr size_t kBytes = size_t{200} << 20;
  const std::string big = env_->File("big");
  ASSERT_TRUE(GatewayE2eEnv::RandomFile(big, kBytes).ok());
  const std::string want = GatewayE2eEnv::Sha256(big);
  const std::string ssh = absl::StrJoin(
      env_->Ssh("alice", "web01"), " ",
      [](std::string* out, const std::string& a) { *out += ShellQuote(a); });
  RunOptions run;
  run.timeout = absl::Minutes(10);

  const std::string up = env_->File("big-up");
  absl::Time start = absl::Now();
  RunResult r = GatewayE2eEnv::Shell(
      absl::StrCat(ssh, " ", ShellQuote("cat > " + ShellQuote(up)), " < ",
                   ShellQuote(big)),
      run);
  const absl::Duration up_time = absl::Now() - start;
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(GatewayE2eEnv::Sha256(up), want);
  remove(up.c_str());

  const std::string down = env_->File("big-down");
  start = absl::Now();
  r = GatewayE2eEnv::Shell(
      absl::StrCat(ssh, " ", ShellQuote("cat " + ShellQuote(big)), " > ",
                   ShellQuote(down)),
      run);
  const absl::Duration down_time = absl::Now() - start;
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(GatewayE2eEnv::Sha256(down), want);
  remove(down.c_str());
  remove(big.c_str());
  // For the log, not a goal: whole ssh runs, connect included.
  std::printf("200 MiB up %.1f s (%.1f MB/s), down %.1f s (%.1f MB/s)\n",
              absl::ToDoubleSeconds(up_time),
              kBytes / 1e6 / absl::ToDoubleSeconds(up_time),
              absl::ToDoubleSeconds(down_time),
              kBytes / 1e6 / absl::ToDoubleSeconds(down_time));
}

TEST_F(GatewayFilesE2eTest, GitPushAndCloneOfABareRepositoryOnTheTarget) {
  const std::string repo = env_->File("repo.git");
  // The repository is created on the target, through the gateway.
  std::vector<std::string> init = env_->Ssh("alice", "web01");
  init.push_back("git init -q --bare " + ShellQuote(repo) + " && echo created");
  RunResult r = GatewayE2eEnv::Run(init);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_EQ(r.out, "created\n");

  RunOptions git;
  git.env["GIT_SSH_COMMAND"] = "ssh -F " + env_->SshConfig("alice");
  git.env["GIT_CONFIG_NOSYSTEM"] = "1";
  git.env["HOME"] = env_->dir();
  git.env["GIT_AUTHOR_NAME"] = git.env["GIT_COMMITTER_NAME"] = "gwe2e";
  git.env["GIT_AUTHOR_EMAIL"] = git.env["GIT_COMMITTER_EMAIL"] = "gwe2e@test";
  const std::string work = env_->File("work");
  const std::string url = Remote(repo);
  r = GatewayE2eEnv::Shell(
      absl::StrCat("set -e; git init -q ", ShellQuote(work), "; cd ",
                   ShellQuote(work),
                   "; seq 1 20000 > numbers.txt; echo hello > README; "
                   "git add .; git commit -q -m first; "
                   "echo more >> README; git commit -q -am second; "
                   "git push -q ",
                   ShellQuote(url), " HEAD:refs/heads/main"),
      git);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();

  const std::string clone = env_->File("clone");
  r = GatewayE2eEnv::Run({"git", "clone", "-q", "-b", "main", url, clone}, git);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const RunResult head_work =
      GatewayE2eEnv::Run({"git", "-C", work, "rev-parse", "HEAD"}, git);
  const RunResult head_clone =
      GatewayE2eEnv::Run({"git", "-C", clone, "rev-parse", "HEAD"}, git);
  EXPECT_EQ(head_work.out.size(), 41u) << head_work.Describe();
  EXPECT_EQ(head_clone.out, head_work.out) << head_clone.Describe();
  EXPECT_EQ(ReadFileOrEmpty(clone + "/README"), "hello\nmore\n");
  const RunResult log =
      GatewayE2eEnv::Run({"git", "-C", clone, "log", "--format=%s"}, git);
  EXPECT_EQ(log.out, "second\nfirst\n") << log.Describe();
}

}  // namespace
}  // namespace sallyport::testing
