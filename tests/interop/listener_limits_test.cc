// example_server under pre-auth load (issue 10): 300 clients that connect
// and never send a version line, plus 300 that stop in the middle of the
// key exchange, while 50 stock `ssh` logins in a row succeed and an
// established session keeps moving data; connections beyond the cap on
// unauthenticated connections are dropped.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/interop/example_server_fixture.h"

namespace sallyport::testing {
namespace {

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void PutUint32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    s.push_back(static_cast<char>((v >> shift) & 0xff));
}
void PutString(std::string& s, const std::string& v) {
  PutUint32(s, static_cast<uint32_t>(v.size()));
  s += v;
}

// A client version line and an unencrypted KEXINIT packet (RFC 4253 §6,
// §7.1); nothing after it, so the server waits in the key exchange.
std::string VersionAndKexInit() {
  std::string payload;
  payload.push_back(20);  // SSH_MSG_KEXINIT
  payload.append(16, 'c');
  for (const char* list :
       {"curve25519-sha256,ecdh-sha2-nistp256", "ssh-ed25519",
        "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes128-ctr",
        "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes128-ctr",
        "hmac-sha2-256-etm@openssh.com", "hmac-sha2-256-etm@openssh.com",
        "none", "none", "", ""})
    PutString(payload, list);
  payload.push_back(0);  // first_kex_packet_follows
  PutUint32(payload, 0);
  size_t padding = 8 - (5 + payload.size()) % 8;
  if (padding < 4) padding += 8;
  std::string packet;
  PutUint32(packet, static_cast<uint32_t>(1 + payload.size() + padding));
  packet.push_back(static_cast<char>(padding));
  packet += payload;
  packet.append(padding, '\0');
  return "SSH-2.0-Stalled_1.0\r\n" + packet;
}

// Whether the server closed the connection (EOF or reset) within `wait`.
bool ClosedByServer(int fd, absl::Duration wait) {
  const absl::Time end = absl::Now() + wait;
  char buf[4096];
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return true;
    if (n < 0 && absl::Now() >= end) return false;
    if (n < 0) absl::SleepFor(absl::Milliseconds(10));
  }
}

// Whether the server's version line arrived on `fd` by `deadline` (the
// server accepted the connection and spoke first).
bool GotServerVersion(int fd, absl::Time deadline) {
  std::string got;
  char buf[4096];
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  while (got.find("SSH-2.0-") == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) return false;
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

class ListenerLimitsTest : public ExampleServerTest {};

TEST_F(ListenerLimitsTest, LoginsAndDataGoOnUnderPreAuthLoad) {
  // The login grace outlasts the test even on a loaded machine.
  StartServer({"--max-startups", "650:30:700", "--max-unauthenticated", "650",
               "--login-grace-seconds", "900"});

  // The established session: the server streams zeros; a thread counts
  // what arrives.
  std::vector<std::string> stream_argv = SshArgs();
  stream_argv.push_back(Destination());
  stream_argv.push_back("cat /dev/zero");
  FILE* stream = popen(ShellJoin(stream_argv).c_str(), "r");
  ASSERT_NE(stream, nullptr);
  std::atomic<uint64_t> streamed{0};
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    char buf[65536];
    while (!stop.load()) {
      size_t n = fread(buf, 1, sizeof buf, stream);
      if (n == 0) break;
      streamed += n;
    }
  });
  // However the test ends, the stream ends with the server and the reader
  // is joined (an ASSERT that returns early must not leave it joinable).
  struct AtEnd {
    std::function<void()> run;
    ~AtEnd() { run(); }
  } end_stream{[&] {
    stop = true;
    server_.reset();
    reader.join();
    pclose(stream);
  }};
  const absl::Time stream_start = absl::Now();
  while (streamed.load() < (1 << 20) &&
         absl::Now() - stream_start < absl::Seconds(30)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(streamed.load(), 1u << 20) << "the session never started";

  std::vector<int> silent, stalled;
  for (int i = 0; i < 300; ++i) {
    int fd = Connect(server_->port());
    ASSERT_GE(fd, 0) << "connect " << i;
    silent.push_back(fd);
  }
  const std::string hello = VersionAndKexInit();
  for (int i = 0; i < 300; ++i) {
    int fd = Connect(server_->port());
    ASSERT_GE(fd, 0) << "connect " << i;
    ASSERT_EQ(write(fd, hello.data(), hello.size()),
              static_cast<ssize_t>(hello.size()));
    stalled.push_back(fd);
  }

  // The server took all 600 (its version line arrived on each), however
  // slow the machine: the logins below compete with 600 held pre-auth
  // connections, not with a backlog of accepts behind ssh's ConnectTimeout.
  const absl::Time accepted_by = absl::Now() + absl::Seconds(300);
  for (int fd : silent) ASSERT_TRUE(GotServerVersion(fd, accepted_by));
  for (int fd : stalled) ASSERT_TRUE(GotServerVersion(fd, accepted_by));

  const uint64_t before_logins = streamed.load();
  for (int i = 0; i < 50; ++i) {
    RunResult r = Ssh("echo ok");
    ASSERT_EQ(r.exit_code, 0) << "login " << i << ": " << r.Describe();
    ASSERT_EQ(r.out, "ok\n") << "login " << i;
  }
  const uint64_t during_logins = streamed.load() - before_logins;
  EXPECT_GE(during_logins, uint64_t{10} << 20)
      << "the established session stalled";

  // The 600 are still held (none was dropped: below MaxStartups' start).
  int closed = 0;
  for (int fd : silent) closed += ClosedByServer(fd, absl::ZeroDuration());
  for (int fd : stalled) closed += ClosedByServer(fd, absl::ZeroDuration());
  EXPECT_EQ(closed, 0);

  // Beyond the cap (650 unauthenticated) new connections are dropped.
  std::vector<int> extra;
  for (int i = 0; i < 100; ++i) {
    int fd = Connect(server_->port());
    ASSERT_GE(fd, 0);
    extra.push_back(fd);
  }
  // The server accepts them between the session's writes: poll.
  std::vector<bool> is_closed(extra.size(), false);
  int dropped = 0;
  for (const absl::Time end = absl::Now() + absl::Seconds(30);
       dropped < 50 && absl::Now() < end;) {
    absl::SleepFor(absl::Milliseconds(100));
    for (size_t i = 0; i < extra.size(); ++i) {
      if (!is_closed[i] && ClosedByServer(extra[i], absl::ZeroDuration())) {
        is_closed[i] = true;
        ++dropped;
      }
    }
  }
  EXPECT_EQ(dropped, 50);
  EXPECT_TRUE(WaitForLog("dropping connection"));

  for (int fd : silent) close(fd);
  for (int fd : stalled) close(fd);
  for (int fd : extra) close(fd);
  stop = true;
  // end_stream ends the remote cat: the server's shell is killed when ssh
  // goes away.
  ASSERT_TRUE(server_->Running());
}

}  // namespace
}  // namespace sallyport::testing
