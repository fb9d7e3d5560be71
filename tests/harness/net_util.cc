#include "tests/harness/net_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace sallyport::testing {

namespace {

// The kernel's ephemeral range (ip_local_port_range), from which it picks
// the local port of every outgoing connection and of a bind to port 0.
std::pair<int, int> EphemeralRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  if (!(in >> low >> high)) return {32768, 60999};
  return {low, high};
}

// Whether 127.0.0.1:port can be bound now.
bool CanBind(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

absl::StatusOr<uint16_t> FreeLoopbackPort() {
  // Below the ephemeral range: a port from it (what a bind to port 0
  // gives) was free when picked, but until the test's server binds it any
  // outgoing connection (an ssh client, a CA client) may take it as its
  // local port, and the server failed with "Address already in use" (seen
  // in gateway_test with another test running beside it). Ports below the
  // range are taken only by another test's server; the pick is random
  // (seeded per process) so two tests rarely try the same one.
  static std::mt19937 rng(std::random_device{}() ^
                          static_cast<uint32_t>(getpid()));
  static absl::Mutex mu(absl::kConstInit);
  const auto [low, high] = EphemeralRange();
  (void)high;
  constexpr int kFirst = 10000;
  if (low - kFirst >= 1000) {
    absl::MutexLock lock(&mu);
    std::uniform_int_distribution<int> pick(kFirst, low - 1);
    for (int attempt = 0; attempt < 100; ++attempt) {
      const auto port = static_cast<uint16_t>(pick(rng));
      if (CanBind(port)) return port;
    }
  }
  // No room below the range (or all tried were busy): let the kernel pick.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("bind: ", strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

LoopbackListener ListenOnLoopback(int backlog) {
  LoopbackListener out;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return out;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(fd, backlog) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return out;
  }
  out.fd = fd;
  out.port = ntohs(addr.sin_port);
  return out;
}

int ConnectToLoopback(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

absl::Status WaitForTcpListener(const std::string& host, uint16_t port,
                                absl::Duration timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an IPv4 address: ", host));
  }
  const absl::Time deadline = absl::Now() + timeout;
  std::string last_error;
  while (absl::Now() < deadline) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    last_error = rc == 0 ? "" : strerror(errno);
    close(fd);
    if (rc == 0) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("nothing accepted on ", host, ":", port, " within ",
                   absl::FormatDuration(timeout), " (", last_error, ")"));
}

std::pair<int, std::string> HttpGet(uint16_t port, const std::string& path) {
  const int fd = ConnectToLoopback(port);
  if (fd < 0) return {0, ""};
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const std::string req =
      absl::StrCat("GET ", path,
                   " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return {0, ""};
  }
  std::string resp;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  int code = 0;
  if (resp.size() > 12) (void)absl::SimpleAtoi(resp.substr(9, 3), &code);
  const size_t body = resp.find("\r\n\r\n");
  return {code, body == std::string::npos ? "" : resp.substr(body + 4)};
}

double MetricValue(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ")) {
      double v = -1;
      return absl::SimpleAtod(line, &v) ? v : -1;
    }
  }
  return -1;
}

}  // namespace sallyport::testing
