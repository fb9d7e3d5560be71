// Interop, post-quantum key exchange: OpenSSH 10's `ssh` from a Debian
// trixie root (tests/harness/trixie_root.h, run through chroot on loopback)
// against example_server negotiates mlkem768x25519-sha256 (read from
// `ssh -vvv`), runs a command, moves 100 MiB with a matching SHA-256 and
// completes 300 handshakes; the machine's Debian 12 `ssh` (OpenSSH 9.2, no
// ML-KEM) still connects, with curve25519-sha256.
//
// trixie ships OpenSSH 10.0, which has no WarnWeakCrypto option and no
// post-quantum warning yet (10.1 added them): the warning is checked with
// the `ssh` of trixie-backports (10.1 or later, tests/interop/
// pq_backports_ssh.h) — none against example_server with
// `-o WarnWeakCrypto=yes`, and the warning when the server is limited to
// curve25519 (so the check can fail).
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/trixie_root.h"
#include "tests/interop/example_server_fixture.h"
#include "tests/interop/pq_backports_ssh.h"

namespace sallyport::testing {
namespace {

class PqKexInterop : public ExampleServerTest {
 protected:
  void SetUp() override {
    ExampleServerTest::SetUp();
    if (HasFatalFailure()) return;
    auto root = TrixieRoot::Get();
    ASSERT_TRUE(root.ok()) << root.status();
    root_.emplace(std::move(*root));
    auto dir = root_->MakeDir("pqkex");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_in_root_.emplace(std::move(*dir));
    // The user key must be readable inside the root, mode 0600.
    ASSERT_TRUE(WriteFile(dir_in_root_->outside.File("id"),
                          ReadFileOrEmpty(user_.private_path), 0600)
                    .ok());
    StartServerInRoot();
  }

  // Starts example_server and copies its known_hosts line into the root.
  // A restart stops the running server first and starts a fresh log (the
  // port is read from the log's first "listening on" line).
  void StartServerInRoot(const std::vector<std::string>& extra = {}) {
    if (server_) {
      server_.reset();
      unlink(dir_->File("server.log").c_str());
    }
    StartServer(extra);
    ASSERT_TRUE(WriteFile(dir_in_root_->outside.File("known_hosts"),
                          ReadFileOrEmpty(dir_->File("known_hosts")))
                    .ok());
  }

  // The backports ssh (10.1 or later) running `echo ok` on example_server
  // with -o WarnWeakCrypto=yes.
  absl::StatusOr<RunResult> BackportsSshEchoOk() {
    auto ssh = BackportsSsh(*root_);
    if (!ssh.ok()) return ssh.status();
    auto version = root_->RunOk({*ssh, "-V"});
    if (!version.ok()) return version.status();
    // "OpenSSH_10.3p1 ...": at least 10.1.
    const size_t at = version->err.find("OpenSSH_");
    int major = 0, minor = 0;
    if (at == std::string::npos ||
        !absl::SimpleAtoi(version->err.substr(at + 8, 2), &major) ||
        !absl::SimpleAtoi(version->err.substr(at + 11, 1), &minor) ||
        major * 100 + minor < 1001) {
      return absl::FailedPreconditionError(
          absl::StrCat("backports ssh is not 10.1+: ", version->err));
    }
    std::vector<std::string> argv =
        TrixieSsh({"-v", "-o", "WarnWeakCrypto=yes", Destination(), "echo ok"});
    argv[0] = *ssh;
    return root_->Run(argv);
  }

  std::string InRoot(const std::string& name) const {
    return dir_in_root_->inside + "/" + name;
  }

  // OpenSSH 10's ssh inside the root: options for 127.0.0.1:port.
  std::vector<std::string> TrixieSsh(
      const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> argv =
        SshClientArgs(server_->port(), InRoot("known_hosts"), InRoot("id"), "");
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  std::optional<TrixieRoot> root_;
  std::optional<TrixieRoot::Dir> dir_in_root_;
};

TEST_F(PqKexInterop, OpenSsh10NegotiatesMlKem768X25519AndRunsACommand) {
  auto version = root_->RunOk({"ssh", "-V"});
  ASSERT_TRUE(version.ok()) << version.status();
  ExpectContains(version->err, "OpenSSH_10");

  std::vector<std::string> argv = TrixieSsh({"-vvv"});
  argv.push_back(Destination());
  argv.push_back("echo hello from $USER");
  auto r = root_->Run(argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, absl::StrCat("hello from ", login_, "\n"));
  ExpectContains(r->err, "kex: algorithm: mlkem768x25519-sha256");
  EXPECT_EQ(r->err.find("post-quantum"), std::string::npos) << r->err;
  EXPECT_EQ(r->err.find("WARNING"), std::string::npos) << r->err;
}

TEST_F(PqKexInterop, OpenSsh10Moves100MiBWithMatchingSha256) {
  MakeRandomFile(dir_in_root_->outside.File("blob"), "100M");
  const std::string want = Sha256OfFile(dir_in_root_->outside.File("blob"));
  ASSERT_EQ(want.size(), 64u);
  // Upload: the server hashes what it received on stdin.
  RunOptions run;
  run.timeout = absl::Seconds(300);
  auto up = root_->Run({"/bin/sh", "-c",
                        ShellJoin(TrixieSsh({Destination(), "sha256sum"})) +
                            " < " + ShellQuote(InRoot("blob"))},
                       run);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->exit_code, 0) << up->Describe();
  EXPECT_EQ(up->out.substr(0, 64), want);
  // Download: the server sends the file back (it lives on the same disk).
  auto down = root_->Run(
      {"/bin/sh", "-c",
       ShellJoin(TrixieSsh(
           {Destination(),
            "cat " + ShellQuote(dir_in_root_->outside.File("blob"))})) +
           " | sha256sum"},
      run);
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(down->exit_code, 0) << down->Describe();
  EXPECT_EQ(down->out.substr(0, 64), want);
}

TEST_F(PqKexInterop, ThreeHundredOpenSsh10HandshakesWithoutFailure) {
  // 4 shell loops of 75 connections inside the root; every success prints
  // one "ok" line, every failure a "failed" line with its round.
  const std::string ssh = ShellJoin(TrixieSsh(
      {"-o", "KexAlgorithms=mlkem768x25519-sha256", Destination(), "true"}));
  const std::string loop = "i=0; while [ $i -lt 75 ]; do if " + ssh +
                           "; then echo ok; else echo failed at $i; fi; "
                           "i=$((i+1)); done";
  RunOptions run;
  run.timeout = absl::Seconds(600);
  auto r = root_->Run(
      {"/bin/sh", "-c", "for w in 1 2 3 4; do (" + loop + ") & done; wait"},
      run);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  size_t ok = 0;
  for (size_t p = r->out.find("ok\n"); p != std::string::npos;
       p = r->out.find("ok\n", p + 1)) {
    ++ok;
  }
  EXPECT_EQ(ok, 300u) << r->out << r->err;
  EXPECT_EQ(r->out.find("failed"), std::string::npos) << r->out << r->err;
}

TEST_F(PqKexInterop, OpenSsh10WithWarnWeakCryptoPrintsNoPostQuantumWarning) {
  auto r = BackportsSshEchoOk();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "ok\n");
  ExpectContains(r->err, "kex: algorithm: mlkem768x25519-sha256");
  EXPECT_EQ(r->err.find("post-quantum"), std::string::npos) << r->err;
  EXPECT_EQ(r->err.find("WARNING"), std::string::npos) << r->err;
}

TEST_F(PqKexInterop, OpenSsh10WarnsWhenTheServerOffersNoPostQuantumKex) {
  // The same ssh and check as above against a server limited to
  // curve25519: the warning appears, so its absence above means something.
  StartServerInRoot({"--kex", "curve25519-sha256"});
  auto r = BackportsSshEchoOk();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "ok\n");
  ExpectContains(r->err, "kex: algorithm: curve25519-sha256");
  ExpectContains(r->err, "post-quantum");
}

TEST_F(PqKexInterop, Debian12SshWithoutMlKemStillConnectsWithCurve25519) {
  std::vector<std::string> argv = SshArgs();
  argv.push_back("-vvv");
  argv.push_back(Destination());
  argv.push_back("echo ok");
  auto r = RunCommand(argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, "ok\n");
  ExpectContains(r->err, "kex: algorithm: curve25519-sha256");
}

}  // namespace
}  // namespace sallyport::testing
