#include "tests/harness/echo_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/harness/net_util.h"

namespace sallyport::testing {

EchoServer::EchoServer() {
  const LoopbackListener l = ListenOnLoopback(16);
  fd_ = l.fd;
  port_ = l.port;
  if (fd_ < 0) return;
  thread_ = std::thread([this] { Loop(); });
}

EchoServer::~EchoServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) close(fd_);
}

void EchoServer::Loop() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) continue;
    ++accepted_;
    char buf[4096];
    while (!stop_) {
      pollfd q{c, POLLIN, 0};
      if (poll(&q, 1, 100) <= 0) continue;
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      if (write(c, buf, static_cast<size_t>(n)) != n) break;
    }
    close(c);
  }
}

std::string RoundTrip(uint16_t port, const std::string& text) {
  const int fd = ConnectToLoopback(port);
  if (fd < 0) return "";
  (void)!write(fd, text.data(), text.size());
  shutdown(fd, SHUT_WR);
  std::string got;
  const absl::Time limit = absl::Now() + absl::Seconds(20);
  char buf[4096];
  while (absl::Now() < limit) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return got;
}

bool EchoesThrough(uint16_t port, const std::string& text) {
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  while (absl::Now() < limit) {
    if (RoundTrip(port, text) == text) return true;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return false;
}

}  // namespace sallyport::testing
