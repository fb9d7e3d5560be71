// Interop, our server: the machine's OpenSSH `ssh` logs in to
// example_server by plain key and by certificate (and is refused for a
// wrong key, an expired certificate, a wrong principal and an untrusted
// CA), runs commands with stdout, stderr, stdin, exit codes, exit signals
// and LANG/LC_* environment, and forwards a port (`ssh -L`) to a loopback
// echo server but not elsewhere.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"
#include "tests/interop/example_server_fixture.h"

namespace sallyport::testing {
namespace {

using ExampleServerExec = ExampleServerTest;

TEST_F(ExampleServerExec, StdoutStderrAndExitCodes) {
  StartServer();
  for (int code : {0, 1, 42}) {
    SCOPED_TRACE(code);
    RunResult r = Ssh(absl::StrCat("echo out-", code, "; echo err-", code,
                                   " >&2; exit ", code));
    EXPECT_EQ(r.exit_code, code) << r.Describe();
    EXPECT_EQ(r.out, absl::StrCat("out-", code, "\n"));
    EXPECT_EQ(r.err, absl::StrCat("err-", code, "\n"));
  }
  EXPECT_TRUE(WaitForLog("exited with status 42"));
}

TEST_F(ExampleServerExec, StdinReachesTheCommand) {
  StartServer();
  RunOptions run;
  run.stdin_data = "first line\nsecond line\n";
  RunResult r = Ssh("tr a-z A-Z", {}, run);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "FIRST LINE\nSECOND LINE\n");
}

TEST_F(ExampleServerExec, CommandKilledBySignalSendsExitSignal) {
  StartServer();
  RunResult r = Ssh("echo before; kill -TERM $$", {"-v"});
  // OpenSSH's client exits 255 when it gets exit-signal, not exit-status.
  EXPECT_EQ(r.exit_code, 255) << r.Describe();
  EXPECT_EQ(r.out, "before\n");
  ExpectContains(r.err, "rtype exit-signal");
  EXPECT_TRUE(WaitForLog("killed by signal 15"));
}

TEST_F(ExampleServerExec, OnlyLangAndLcVariablesArePassed) {
  StartServer();
  RunResult r = Ssh("echo \"$LANG|$LC_TEST|$NOT_PASSED|$TERM\"",
                    {"-o", "SetEnv=LANG=C.UTF-8 LC_TEST=yes NOT_PASSED=no"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "C.UTF-8|yes||\n");
}

TEST_F(ExampleServerExec, LoginByCertificateFromTrustedUserCa) {
  auto ca = GenerateKey(dir_->path(), "user_ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto key = GenerateKey(dir_->path(), "cert_user");
  ASSERT_TRUE(key.ok()) << key.status();
  auto cert = SignWithSshKeygen(ca->private_path, key->public_path,
                                "alice-laptop", login_);
  ASSERT_TRUE(cert.ok()) << cert.status();
  StartServer({"--user-ca", ca->public_path});

  std::vector<std::string> argv = SshArgs(key->private_path, *cert);
  argv.push_back(Destination());
  argv.push_back("echo logged in as $USER");
  auto r = RunCommand(argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  EXPECT_EQ(r->out, absl::StrCat("logged in as ", login_, "\n"));
  // The key itself is not authorized: it was the certificate.
  ExpectContains(ServerLog(), "certificate id \"alice-laptop\"");
}

class ExampleServerRefusal : public ExampleServerTest {
 protected:
  // Logs in with `identity` (+ certificate) and expects a refusal.
  void ExpectRefused(const std::string& identity,
                     const std::string& certificate,
                     const std::string& server_reason) {
    std::vector<std::string> argv = SshArgs(identity, certificate);
    argv.push_back(Destination());
    argv.push_back("echo should not run");
    auto r = RunCommand(argv);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, 255) << r->Describe();
    EXPECT_EQ(r->out, "");
    ExpectContains(r->err, "Permission denied");
    EXPECT_TRUE(WaitForLog(server_reason)) << ServerLog();
  }

  void SetUpCa() {
    auto ca = GenerateKey(dir_->path(), "user_ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = *ca;
    StartServer({"--user-ca", ca_.public_path});
  }

  // A fresh key (not in authorized_keys) certified by `ca`.
  std::pair<std::string, std::string> CertifiedKey(
      const std::string& name, const KeyPair& ca, const std::string& principal,
      const std::string& validity = "-5m:+1h") {
    auto key = GenerateKey(dir_->path(), name);
    EXPECT_TRUE(key.ok()) << key.status();
    auto cert = SignWithSshKeygen(ca.private_path, key->public_path, name,
                                  principal, validity);
    EXPECT_TRUE(cert.ok()) << cert.status();
    return {key->private_path, cert.ok() ? *cert : ""};
  }

  KeyPair ca_;
};

TEST_F(ExampleServerRefusal, KeyNotInAuthorizedKeys) {
  StartServer();
  auto other = GenerateKey(dir_->path(), "other_key");
  ASSERT_TRUE(other.ok());
  ExpectRefused(other->private_path, "", "key not in authorized keys");
}

TEST_F(ExampleServerRefusal, ExpiredCertificate) {
  SetUpCa();
  auto [key, cert] = CertifiedKey("expired", ca_, login_, "20200101:20200102");
  ExpectRefused(key, cert, "expired");
}

TEST_F(ExampleServerRefusal, WrongPrincipal) {
  SetUpCa();
  auto [key, cert] = CertifiedKey("wrong_principal", ca_, "someone-else");
  ExpectRefused(key, cert, "is not listed");
}

TEST_F(ExampleServerRefusal, UntrustedCa) {
  SetUpCa();
  auto other_ca = GenerateKey(dir_->path(), "other_ca");
  ASSERT_TRUE(other_ca.ok());
  auto [key, cert] = CertifiedKey("untrusted", *other_ca, login_);
  ExpectRefused(key, cert, "CA is not trusted");
}

// A loopback TCP echo server on its own thread, one connection at a time.
class EchoServer {
 public:
  EchoServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(fd_, 4) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "echo server: " << strerror(errno);
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~EchoServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return port_; }
  int connections() const { return connections_; }

 private:
  void Run() {
    while (!stop_) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      ++connections_;
      char buf[65536];
      ssize_t n;
      while ((n = read(c, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
          ssize_t w = write(c, buf + off, static_cast<size_t>(n - off));
          if (w <= 0) break;
          off += w;
        }
      }
      close(c);
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Sends `data` to 127.0.0.1:port, half-closes, and returns what comes back
// until EOF (bounded by a 30 s receive timeout).
std::string RoundTrip(uint16_t port, const std::string& data) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "<connect failed>";
  }
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::thread writer([fd, &data] {
    for (size_t off = 0; off < data.size();) {
      ssize_t w = write(fd, data.data() + off, data.size() - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    shutdown(fd, SHUT_WR);
  });
  std::string got;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0)
    got.append(buf, static_cast<size_t>(n));
  writer.join();
  close(fd);
  return got;
}

// Starts `ssh -N -L local:host:port` in the background and waits until it
// listens.
std::unique_ptr<BackgroundProcess> StartForward(
    const std::vector<std::string>& ssh_args, const std::string& dest,
    uint16_t local, const std::string& target, const std::string& log) {
  std::vector<std::string> argv = ssh_args;
  argv.insert(argv.end(),
              {"-v", "-N", "-o", "ExitOnForwardFailure=yes", "-L",
               absl::StrCat("127.0.0.1:", local, ":", target), dest});
  BackgroundProcess::Options options;
  options.log_path = log;
  // OpenSSH 9.2's `ssh -N` often sleeps through a SIGTERM that arrives
  // right after a refused forward (until the 10 s grace ends); its own
  // shutdown is not under test.
  options.stop_signal = SIGKILL;
  auto p = BackgroundProcess::Start(argv, options);
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return nullptr;
  EXPECT_TRUE(WaitForTcpListener("127.0.0.1", local, absl::Seconds(20)).ok())
      << ReadFileOrEmpty(log);
  return std::move(*p);
}

TEST_F(ExampleServerExec, LocalForwardReachesLoopbackEchoServer) {
  StartServer();
  EchoServer echo;
  ASSERT_NE(echo.port(), 0);
  auto local = FreeLoopbackPort();
  ASSERT_TRUE(local.ok());
  auto ssh = StartForward(SshArgs(), Destination(), *local,
                          absl::StrCat("127.0.0.1:", echo.port()),
                          dir_->File("forward.log"));
  ASSERT_NE(ssh, nullptr);
  // 4 MiB: more than one channel window each way.
  std::string data(4 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  const std::string echoed = RoundTrip(*local, data);
  EXPECT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data);
  EXPECT_EQ(RoundTrip(*local, "second connection"), "second connection");
  // (WaitForTcpListener's probe connection was forwarded too.)
  EXPECT_GE(echo.connections(), 2);
  ExpectContains(ServerLog(),
                 absl::StrCat(" to 127.0.0.1:", echo.port(), "\n"));
}

TEST_F(ExampleServerExec, LocalForwardToNonLoopbackIsProhibited) {
  StartServer();
  auto local = FreeLoopbackPort();
  ASSERT_TRUE(local.ok());
  // A name, never resolved: the server refuses without any network traffic.
  auto ssh = StartForward(SshArgs(), Destination(), *local, "target.invalid:80",
                          dir_->File("forward.log"));
  ASSERT_NE(ssh, nullptr);
  EXPECT_EQ(RoundTrip(*local, "hello"), "");
  const std::string log_path = dir_->File("forward.log");
  for (int i = 0;
       i < 200 && ReadFileOrEmpty(log_path).find(
                      "administratively prohibited") == std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(25));
  }
  ExpectContains(ReadFileOrEmpty(log_path), "administratively prohibited");
  EXPECT_TRUE(WaitForLog("direct-tcpip refused")) << ServerLog();
}

}  // namespace
}  // namespace sallyport::testing
