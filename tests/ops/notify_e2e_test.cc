// sd_notify from the real sallyport-ca and sallyport-gateway: started with
// $NOTIFY_SOCKET pointing at a unix datagram socket this test owns (as
// systemd does for Type=notify units), each sends READY=1 once it serves,
// RELOADING=1 then READY=1 on SIGHUP, and STOPPING=1 on SIGTERM (the
// gateway with EXTEND_TIMEOUT_USEC: drain_timeout + 20 s, as long as its
// unit's TimeoutStopSec).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

// The receiving end of $NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    ok_ = fd_ >= 0 && path_.size() < sizeof(addr.sun_path) &&
          bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }

  // Reads datagrams until one contains `want` (a line such as "READY=1");
  // returns that datagram, or "" after `timeout`. Every datagram read is
  // kept in seen().
  std::string WaitFor(const std::string& want,
                      absl::Duration timeout = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      int ms = static_cast<int>(
          absl::ToInt64Milliseconds(deadline - absl::Now()) + 1);
      if (poll(&p, 1, ms) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      std::string msg(buf, static_cast<size_t>(n));
      seen_.push_back(msg);
      for (absl::string_view line : absl::StrSplit(msg, '\n')) {
        if (line == want) return msg;
      }
    }
    return "";
  }
  std::string Seen() const { return absl::StrJoin(seen_, " | "); }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
  std::vector<std::string> seen_;
};

// The READY / RELOADING / READY / STOPPING sequence of one daemon; the
// STOPPING=1 datagram goes to `*stopping`.
void ExpectNotifyCycle(NotifySocket& sock, BackgroundProcess& proc,
                       const std::string& log_path, std::string* stopping) {
  std::string ready = sock.WaitFor("READY=1");
  ASSERT_FALSE(ready.empty()) << "no READY=1; seen: " << sock.Seen() << "\n"
                              << ReadFileOrEmpty(log_path);
  EXPECT_TRUE(absl::StrContains(ready, "STATUS=listening on ")) << ready;

  proc.Signal(SIGHUP);
  std::string reloading = sock.WaitFor("RELOADING=1");
  ASSERT_FALSE(reloading.empty())
      << "no RELOADING=1 after SIGHUP; seen: " << sock.Seen() << "\n"
      << ReadFileOrEmpty(log_path);
  EXPECT_TRUE(absl::StrContains(reloading, "MONOTONIC_USEC=")) << reloading;
  EXPECT_FALSE(sock.WaitFor("READY=1").empty())
      << "no READY=1 after the reload; seen: " << sock.Seen();
  EXPECT_TRUE(proc.Running()) << ReadFileOrEmpty(log_path);

  proc.Signal(SIGTERM);
  *stopping = sock.WaitFor("STOPPING=1");
  EXPECT_FALSE(stopping->empty())
      << "no STOPPING=1 on SIGTERM; seen: " << sock.Seen() << "\n"
      << ReadFileOrEmpty(log_path);
  int status = proc.Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "wait status " << status << "\n"
      << ReadFileOrEmpty(log_path);
}

// `sallyport-ca init` in DIR/ca (scrypt 2^10: fast logins).
void InitCa(const TempDir& dir) {
  ASSERT_TRUE(WriteFile(dir.File("pw"), "notify-test-password-1\n", 0600).ok());
  absl::StatusOr<RunResult> init = RunCommandOk(
      {RunfilePath("ca/sallyport-ca"), "init", "--state-dir", dir.File("ca"),
       "--admin-password-file", dir.File("pw"), "--scrypt-log-n", "10"});
  ASSERT_TRUE(init.ok()) << init.status();
}

// Runs `BINARY serve --config CONFIG --listen 127.0.0.1:FREE` with
// $NOTIFY_SOCKET set to a socket in `dir`, checks the notify cycle and
// returns the STOPPING=1 datagram.
std::string ServeUnderNotifySocket(const TempDir& dir,
                                   const std::string& binary,
                                   const std::string& config) {
  NotifySocket sock(dir.File("notify"));
  EXPECT_TRUE(sock.ok()) << strerror(errno);
  absl::StatusOr<uint16_t> port = FreeLoopbackPort();
  EXPECT_TRUE(port.ok());
  if (!sock.ok() || !port.ok()) return "";
  BackgroundProcess::Options o;
  o.log_path = dir.File("serve.log");
  o.env["NOTIFY_SOCKET"] = sock.path();
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> proc =
      BackgroundProcess::Start({binary, "serve", "--config", config, "--listen",
                                absl::StrCat("127.0.0.1:", *port)},
                               o);
  EXPECT_TRUE(proc.ok()) << proc.status();
  if (!proc.ok()) return "";
  std::string stopping;
  ExpectNotifyCycle(sock, **proc, o.log_path, &stopping);
  return stopping;
}

TEST(NotifyE2e, CaReadyReloadingStopping) {
  absl::StatusOr<TempDir> dir = TempDir::Create("spnotify");
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_NO_FATAL_FAILURE(InitCa(*dir));
  const std::string stopping = ServeUnderNotifySocket(
      *dir, RunfilePath("ca/sallyport-ca"), dir->File("ca/ca.yaml"));
  EXPECT_EQ(stopping, "STOPPING=1");
}

TEST(NotifyE2e, GatewayReadyReloadingStopping) {
  BastionFixture::Options options;  // a CA only: no users, roles or targets
  absl::StatusOr<std::unique_ptr<BastionFixture>> f =
      BastionFixture::Start(options);
  ASSERT_TRUE(f.ok()) << f.status();
  const std::string gw = RunfilePath("gateway/sallyport-gateway");
  // Enrol and write gateway.yaml the documented way, then run `serve`
  // ourselves under a notify socket.
  absl::Status st = (*f)->StartGateway(gw);
  ASSERT_TRUE(st.ok()) << st << "\n" << (*f)->GatewayLog();
  (void)(*f)->StopGateway();
  absl::StatusOr<TempDir> dir = TempDir::Create("spnotify");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string stopping = ServeUnderNotifySocket(
      *dir, gw, (*f)->gateway_state_dir() + "/gateway.yaml");
  // Enrolment wrote drain_timeout 30s: systemd is asked to wait 30 + 20 s,
  // which is what the shipped unit's TimeoutStopSec says.
  EXPECT_EQ(stopping, "STOPPING=1\nEXTEND_TIMEOUT_USEC=50000000");
  const std::string unit =
      ReadFileOrEmpty(RunfilePath("deploy/systemd/sallyport-gateway.service"));
  EXPECT_TRUE(absl::StrContains(unit, "\nTimeoutStopSec=50\n")) << unit;
}

// Without $NOTIFY_SOCKET (not under systemd) nothing changes: `serve` runs
// and stops as before (sd_notify is a no-op).
TEST(NotifyE2e, NoNotifySocketIsANoOp) {
  absl::StatusOr<TempDir> dir = TempDir::Create("spnotify");
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_NO_FATAL_FAILURE(InitCa(*dir));
  const std::string ca = RunfilePath("ca/sallyport-ca");
  absl::StatusOr<std::unique_ptr<ListeningProcess>> p =
      ListeningProcess::Start({ca, "serve", "--config", dir->File("ca/ca.yaml"),
                               "--listen", "127.0.0.1:0"},
                              dir->File("ca.log"), absl::Seconds(60));
  ASSERT_TRUE(p.ok()) << p.status();
  int status = (*p)->process().Stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << (*p)->Log();
}

}  // namespace
}  // namespace sallyport::testing
