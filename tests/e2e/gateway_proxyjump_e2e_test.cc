// Recorded ProxyJump (issue 13) with stock OpenSSH and Host blocks in the
// shape `sp config` writes (tests/e2e/gateway_proxyjump_env.h; the real
// output: gateway_proxyjump_sp_e2e_test): `ssh web01 CMD`,
// scp, sftp, rsync, git clone and a tmux pty session go through the
// gateway's inner SSH server, are recorded (the InMemoryRecorder holds the
// output), show no host-key prompt or warning (StrictHostKeyChecking=yes,
// stderr empty) and use no agent (no SSH_AUTH_SOCK anywhere). The inner
// session's certificate is issued for the id it is recorded under (issue
// 14: that id is then the gateway's own).
#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/e2e/gateway_proxyjump_env.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/tmux_session.h"

namespace sallyport::testing {
namespace {

using gateway::Direction;

class ProxyJumpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = ProxyJumpEnv::Start();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = env->release();
  }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(env_, nullptr);
    ASSERT_EQ(getenv("SSH_AUTH_SOCK"), nullptr);
  }
  // No agent forwarding was ever asked for.
  static void ExpectNoAgentRequests() {
    for (const auto& e : env_->recorder().events()) {
      EXPECT_FALSE(e.kind == "request" &&
                   absl::StrContains(e.bytes, "auth-agent"))
          << e.bytes;
    }
  }
  friend bool Recorded(Direction d, size_t before, const std::string& needle);

 public:
  static ProxyJumpEnv* env_;
};
ProxyJumpEnv* ProxyJumpTest::env_ = nullptr;

TEST_F(ProxyJumpTest, SshWeb01IsRecordedWithNoPromptOrWarning) {
  const size_t before =
      env_->recorder().DataFor("web01", Direction::kOutput).size();
  RunResult local = env_->Run("alice", {"hostname"});
  ASSERT_TRUE(local.ok()) << local.Describe();
  std::vector<std::string> argv = env_->Ssh("alice");
  argv.insert(argv.end(), {"-o", "StrictHostKeyChecking=yes", "web01",
                           "hostname; echo pj-marker-$((6*7))"});
  RunResult r = env_->Run("alice", argv);
  ASSERT_TRUE(r.ok()) << r.Describe() << env_->GatewayLog();
  EXPECT_EQ(r.out, local.out + "pj-marker-42\n");
  EXPECT_EQ(r.err, "") << "ssh printed a prompt or a warning";
  // Recorded: the output is in the recording of a web01 channel of alice.
  EXPECT_TRUE(absl::StrContains(
      env_->recorder().DataFor("web01", Direction::kOutput).substr(before),
      "pj-marker-42"));
  bool found = false;
  for (const auto& c : env_->recorder().channels()) {
    if (c.info.host == "web01" && c.info.user == "alice" &&
        c.info.login == env_->login() && c.info.type == "session") {
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(absl::StrContains(env_->GatewayLog(), "event=jump.record"));
  ExpectNoAgentRequests();

  // Issue 14: the inner session's certificate is issued for the id its
  // channels are recorded (and its events written) under, which the CA
  // then holds for this gateway: its own writes are never refused.
  const std::string log = env_->GatewayLog();
  const size_t at = log.rfind("inner_session=");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string inner = std::string(absl::StripPrefix(
      absl::StripSuffix(
          log.substr(at + 14, log.find_first_of(" \n", at + 14) - (at + 14)),
          "\""),
      "\""));
  bool recorded_under_inner = false;
  for (const auto& c : env_->recorder().channels()) {
    recorded_under_inner |= c.info.host == "web01" &&
                            c.info.type == "session" &&
                            c.info.session_id == inner;
  }
  EXPECT_TRUE(recorded_under_inner) << inner << "\n" << log;
  // The jump's end is an audit event like its start (proxyjump.close, as
  // for a passthrough jump), with the bytes of the inner connection.
  const absl::StatusOr<std::string> closed =
      WaitForLogLine([] { return env_->GatewayLog(); },
                     {"event=proxyjump.close", inner}, absl::Seconds(20));
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_TRUE(absl::StrContains(*closed, "mode=\"recorded\"")) << *closed;
  EXPECT_FALSE(absl::StrContains(*closed, " bytes_in=0 ")) << *closed;
  EXPECT_FALSE(absl::StrContains(*closed, " bytes_out=0 ")) << *closed;
  EXPECT_TRUE(absl::StrContains(*closed, "destination=\"web01\"")) << *closed;
  grpc::ClientContext ctx;
  admin::v1::ListCertificatesRequest list;
  list.set_user("alice");
  list.set_purpose("session");
  list.set_limit(10000);
  admin::v1::ListCertificatesResponse certs;
  grpc::Status listed =
      env_->fixture().admin().ListCertificates(&ctx, list, &certs);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  int issued_for_inner = 0;
  for (const auto& c : certs.certificates()) {
    issued_for_inner += c.key_id() == "alice@" + inner;
  }
  EXPECT_EQ(issued_for_inner, 1) << inner;
}

// Whether the recording of web01 has `needle` in the given direction
// after `before` bytes.
bool Recorded(Direction d, size_t before, const std::string& needle) {
  const std::string all = ProxyJumpTest::env_->recorder().DataFor("web01", d);
  return all.size() >= before && absl::StrContains(all.substr(before), needle);
}

TEST_F(ProxyJumpTest, ScpSftpRsyncAndGitCloneGoThroughRecorded) {
  const std::string login = env_->login();
  const std::string cfg = env_->Config("alice");
  // scp up and back.
  const std::string src = env_->File("scp-src.txt");
  ASSERT_TRUE(WriteFile(src, "scp-content-7c1f9\n").ok());
  size_t before = env_->recorder().DataFor("web01", Direction::kInput).size();
  RunResult r = env_->Run(
      "alice", {"scp", "-F", cfg, src, "web01:" + env_->File("scp-dst.txt")});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(ReadFileOrEmpty(env_->File("scp-dst.txt")), "scp-content-7c1f9\n");
  EXPECT_TRUE(Recorded(Direction::kInput, before, "scp-content-7c1f9"));
  before = env_->recorder().DataFor("web01", Direction::kOutput).size();
  r = env_->Run("alice",
                {"scp", "-F", cfg, "web01:" + env_->File("scp-dst.txt"),
                 env_->File("scp-back.txt")});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(ReadFileOrEmpty(env_->File("scp-back.txt")), "scp-content-7c1f9\n");
  EXPECT_TRUE(Recorded(Direction::kOutput, before, "scp-content-7c1f9"));

  // sftp in batch mode.
  const std::string batch = env_->File("sftp-batch");
  ASSERT_TRUE(WriteFile(batch, absl::StrCat("put ", src, " ",
                                            env_->File("sftp-dst.txt"), "\nls ",
                                            env_->File(""), "\n"))
                  .ok());
  before = env_->recorder().DataFor("web01", Direction::kOutput).size();
  r = env_->Run("alice", {"sftp", "-F", cfg, "-b", batch, "web01"});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(ReadFileOrEmpty(env_->File("sftp-dst.txt")), "scp-content-7c1f9\n");
  EXPECT_TRUE(Recorded(Direction::kOutput, before, "sftp-dst.txt"));

  // rsync of a small tree.
  const std::string tree = env_->File("tree");
  r = env_->Shell("alice", absl::StrCat("mkdir -p ", tree,
                                        "/a/b && for i in 1 2 3 4 5; "
                                        "do echo rsync-file-$i > ",
                                        tree, "/a/b/f$i; done"));
  ASSERT_TRUE(r.ok()) << r.Describe();
  before = env_->recorder().DataFor("web01", Direction::kInput).size();
  r = env_->Run("alice", {"rsync", "-a", "-e", "ssh -F " + cfg, tree + "/",
                          "web01:" + env_->File("tree-copy/")});
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(ReadFileOrEmpty(env_->File("tree-copy/a/b/f5")), "rsync-file-5\n");
  EXPECT_TRUE(Recorded(Direction::kInput, before, "rsync-file-5"));

  // git clone of a repository on web01.
  const std::string repo = env_->File("repo");
  RunOptions git;
  git.env["GIT_SSH_COMMAND"] = "ssh -F " + cfg;
  git.env["GIT_CONFIG_NOSYSTEM"] = "1";
  git.env["GIT_AUTHOR_NAME"] = git.env["GIT_COMMITTER_NAME"] = "pj";
  git.env["GIT_AUTHOR_EMAIL"] = git.env["GIT_COMMITTER_EMAIL"] = "pj@test";
  r = env_->Shell(
      "alice",
      absl::StrCat("set -e; git init -q -b main ", repo, "; cd ", repo,
                   "; echo pj-readme > README; git add README; "
                   "git commit -q -m pj-first-commit"),
      git);
  ASSERT_TRUE(r.ok()) << r.Describe();
  const std::string clone = env_->File("clone");
  const size_t events_before = env_->recorder().events().size();
  r = env_->Run("alice", {"git", "clone", "-q", "web01:" + repo, clone}, git);
  ASSERT_TRUE(r.ok()) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(ReadFileOrEmpty(clone + "/README"), "pj-readme\n");
  // Recorded: the clone's exec of git-upload-pack and the pack it sent (its
  // content is compressed: the output is there, not the README's words).
  bool upload_pack = false;
  size_t pack_bytes = 0;
  const auto events = env_->recorder().events();
  for (size_t i = events_before; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.kind == "request" && e.bytes == "exec" &&
        absl::StrContains(e.summary, "git-upload-pack")) {
      upload_pack = true;
    }
    if (upload_pack && e.kind == "data" && e.direction == Direction::kOutput) {
      pack_bytes += e.bytes.size();
    }
  }
  EXPECT_TRUE(upload_pack);
  EXPECT_GT(pack_bytes, 100u);
  ExpectNoAgentRequests();

  // web01's host certificate came from the CA once at most: the other
  // inner connections of this test were served from the gateway's
  // TargetCertificateCache, with no CA call.
  int issued = 0, cached = 0;
  for (absl::string_view line :
       absl::StrSplit(env_->GatewayLog(), '\n', absl::SkipEmpty())) {
    if (!absl::StrContains(line, "event=jump.host_cert ") ||
        !absl::StrContains(line, " to=web01 ")) {
      continue;
    }
    issued += absl::StrContains(line, " source=issued") ? 1 : 0;
    cached += absl::StrContains(line, " source=cached") ? 1 : 0;
  }
  EXPECT_LE(issued, 1) << env_->GatewayLog();
  EXPECT_GE(cached, 4) << env_->GatewayLog();
}

TEST_F(ProxyJumpTest, PtySessionInTmuxIsRecordedWithWindowChanges) {
  TmuxSession::Options o;
  o.width = 120;
  o.height = 40;
  o.env["HOME"] = env_->Home("alice");
  auto tmux = TmuxSession::Start(
      {"ssh", "-F", env_->Config("alice"), "-tt", "web01"}, o);
  ASSERT_TRUE(tmux.ok()) << tmux.status();
  ASSERT_TRUE((*tmux)->TypeLine("echo pj-pty-$((3*3)); stty size").ok());
  auto screen = (*tmux)->WaitForText("40 120", absl::Seconds(60));
  ASSERT_TRUE(screen.ok()) << screen.status() << env_->GatewayLog();
  ASSERT_TRUE((*tmux)->Resize(100, 30).ok());
  // The shell sees the new size once the window-change went through.
  ASSERT_TRUE((*tmux)->TypeLine("clear; stty size").ok());
  screen = (*tmux)->WaitForText("30 100", absl::Seconds(60));
  ASSERT_TRUE(screen.ok()) << screen.status();
  ASSERT_TRUE((*tmux)->TypeLine("exit").ok());
  auto status = (*tmux)->WaitForExit(absl::Seconds(60));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0);
  EXPECT_TRUE(absl::StrContains(
      env_->recorder().DataFor("web01", Direction::kOutput), "pj-pty-9"));
  // pty-req's size is the first window event; the shell is a request.
  bool initial = false, resized = false, shell = false;
  for (const auto& e : env_->recorder().events()) {
    if (e.kind == "window" && e.columns == 120 && e.rows == 40) initial = true;
    if (e.kind == "window" && e.columns == 100 && e.rows == 30) resized = true;
    if (e.kind == "request" && e.bytes == "shell") shell = true;
  }
  EXPECT_TRUE(shell);
  EXPECT_TRUE(initial);
  EXPECT_TRUE(resized);
}

}  // namespace
}  // namespace sallyport::testing
