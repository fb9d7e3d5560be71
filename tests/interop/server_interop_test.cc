// Interop, our server: the machine's OpenSSH `ssh` client completes key
// exchange with example_server for every cipher and kex we offer, with
// strict kex, sends its encrypted service request, and reaches user
// authentication (refused until the auth layer exists).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

class ServerInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("srvinterop");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto host = GenerateKey(dir_->path(), "host_key");
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *host;
    auto user = GenerateKey(dir_->path(), "user_key");
    ASSERT_TRUE(user.ok()) << user.status();
    user_ = *user;
  }

  void StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {RunfilePath("ssh/examples/example_server"),
                                     "--listen", "127.0.0.1:0", "--host-key",
                                     host_.private_path};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto server = ListeningProcess::Start(argv, dir_->File("server.log"));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_TRUE(WriteFile(dir_->File("known_hosts"),
                          absl::StrCat("[127.0.0.1]:", server_->port(), " ",
                                       host_.public_line, "\n"))
                    .ok());
  }

  RunResult Ssh(const std::vector<std::string>& options) {
    std::vector<std::string> argv = SshClientArgs(
        server_->port(), dir_->File("known_hosts"), user_.private_path);
    argv.insert(argv.begin() + 1, "-vvv");
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("tester@127.0.0.1");
    argv.push_back("true");
    auto r = RunCommand(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RunResult{};
  }

  std::unique_ptr<TempDir> dir_;
  KeyPair host_, user_;
  std::unique_ptr<ListeningProcess> server_;
};

void ExpectContains(const std::string& haystack, const std::string& needle) {
  EXPECT_NE(haystack.find(needle), std::string::npos) << "missing: " << needle;
}

TEST_F(ServerInterop, EveryCipherAndKexReachesUserAuthWithStrictKex) {
  StartServer();
  const std::vector<std::string> ciphers = {
      "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
      "aes128-gcm@openssh.com", "aes256-ctr", "aes128-ctr"};
  const std::vector<std::string> kexes = {"curve25519-sha256",
                                          "curve25519-sha256@libssh.org",
                                          "ecdh-sha2-nistp256"};
  for (const auto& cipher : ciphers) {
    for (const auto& kex : kexes) {
      SCOPED_TRACE(cipher + " / " + kex);
      const bool etm = cipher.ends_with("-ctr");
      std::vector<std::string> opts = {"-o", "Ciphers=" + cipher, "-o",
                                       "KexAlgorithms=" + kex};
      if (etm) {
        opts.push_back("-o");
        opts.push_back("MACs=hmac-sha2-256-etm@openssh.com");
      }
      RunResult r = Ssh(opts);
      EXPECT_EQ(r.exit_code, 255);
      ExpectContains(r.err, "kex: algorithm: " + kex);
      ExpectContains(r.err, "kex: host key algorithm: ssh-ed25519");
      ExpectContains(r.err, "kex: client->server cipher: " + cipher);
      ExpectContains(r.err, "kex: server->client cipher: " + cipher);
      if (etm) ExpectContains(r.err, "MAC: hmac-sha2-256-etm@openssh.com");
      ExpectContains(r.err, "will use strict KEX ordering");
      ExpectContains(r.err, "resetting send seqnr");
      ExpectContains(r.err, "resetting read seqnr");
      ExpectContains(r.err, "SSH2_MSG_EXT_INFO received");
      ExpectContains(r.err, "server-sig-algs=<ssh-ed25519,");
      EXPECT_EQ(r.err.find("ssh-rsa"), std::string::npos)
          << "server-sig-algs offers ssh-rsa";
      ExpectContains(r.err, "SSH2_MSG_SERVICE_ACCEPT received");
      ExpectContains(r.err, "Permission denied (publickey)");
    }
  }
  ExpectContains(server_->Log(), "strict-kex=yes");
}

TEST_F(ServerInterop, HmacSha512EtmWorks) {
  StartServer();
  RunResult r = Ssh(
      {"-o", "Ciphers=aes256-ctr", "-o", "MACs=hmac-sha2-512-etm@openssh.com"});
  ExpectContains(r.err, "MAC: hmac-sha2-512-etm@openssh.com");
  ExpectContains(r.err, "SSH2_MSG_SERVICE_ACCEPT received");
}

TEST_F(ServerInterop, ManyHandshakes) {
  // A wrong mpint encoding of the shared secret fails ~1 in 256 handshakes:
  // SECURITY.md asks for at least 1,000 with a real peer.
  StartServer();
  for (int i = 0; i < 1000; ++i) {
    RunResult r = Ssh({"-o", i % 2 ? "KexAlgorithms=curve25519-sha256"
                                   : "KexAlgorithms=ecdh-sha2-nistp256"});
    ASSERT_NE(r.err.find("SSH2_MSG_SERVICE_ACCEPT received"), std::string::npos)
        << "handshake " << i << "\n"
        << r.err;
  }
}

TEST_F(ServerInterop, HostCertificateTrustedThroughCertAuthority) {
  auto ca = GenerateKey(dir_->path(), "host_ca");
  ASSERT_TRUE(ca.ok());
  auto cert =
      SignWithSshKeygen(ca->private_path, host_.public_path, "test-host",
                        "127.0.0.1", "-5m:+1h", /*host=*/true);
  ASSERT_TRUE(cert.ok()) << cert.status();
  StartServer({"--host-cert", *cert});
  ASSERT_TRUE(
      WriteFile(dir_->File("known_hosts"),
                absl::StrCat("@cert-authority [127.0.0.1]:", server_->port(),
                             " ", ca->public_line, "\n"))
          .ok());
  RunResult r = Ssh({});
  ExpectContains(r.err,
                 "kex: host key algorithm: ssh-ed25519-cert-v01@openssh.com");
  ExpectContains(r.err, "Server host certificate:");
  ExpectContains(r.err, "SSH2_MSG_SERVICE_ACCEPT received");
}

TEST_F(ServerInterop, SilentClientIsCutOffAtLoginGraceTime) {
  StartServer({"--login-grace-seconds", "2"});
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const absl::Time start = absl::Now();
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    got.append(buf, static_cast<size_t>(n));
  const absl::Duration took = absl::Now() - start;
  close(fd);
  EXPECT_EQ(n, 0) << "connection was not closed by the server";
  EXPECT_GE(took, absl::Milliseconds(1500));
  EXPECT_TRUE(got.starts_with("SSH-2.0-Sallyport")) << got;
  // The server logs after closing: give it a moment.
  for (int i = 0;
       i < 100 && server_->Log().find("login grace time") == std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ExpectContains(server_->Log(), "login grace time");
}

TEST_F(ServerInterop, GarbageInsteadOfVersionIsRefused) {
  StartServer();
  auto r = RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 10 "
                    "bash -c 'cat > /dev/tcp/127.0.0.1/",
                    server_->port(), "'; sleep 0.3")});
  ASSERT_TRUE(r.ok());
  for (int i = 0; i < 100 && server_->Log().find("did not start with") ==
                                 std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ExpectContains(server_->Log(), "did not start with an SSH version line");
  EXPECT_TRUE(server_->Running());
}

}  // namespace
}  // namespace sallyport::testing
