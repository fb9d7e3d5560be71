#include "ca/source_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sallyport::ca {
namespace {

sockaddr_in Loopback(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SourceRelay>> SourceRelay::Start(
    const std::string& source_ip, int target_port, int listen_port) {
  std::unique_ptr<SourceRelay> r(new SourceRelay());
  r->source_ip_ = source_ip;
  r->target_port_ = target_port;
  r->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = Loopback("127.0.0.1", listen_port);
  socklen_t len = sizeof(a);
  const int one = 1;
  if (r->listen_fd_ < 0 ||
      setsockopt(r->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) !=
          0 ||
      bind(r->listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(r->listen_fd_, 16) != 0 ||
      getsockname(r->listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return absl::InternalError(absl::StrCat("relay: ", strerror(errno)));
  }
  r->port_ = ntohs(a.sin_port);
  r->acceptor_ = std::thread([raw = r.get()] { raw->AcceptLoop(); });
  return r;
}

SourceRelay::~SourceRelay() {
  stop_ = true;
  shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  if (acceptor_.joinable()) acceptor_.join();
  close(listen_fd_);
  std::vector<std::thread> pumps;
  {
    absl::MutexLock lock(&mu_);
    pumps.swap(pumps_);
  }
  for (std::thread& t : pumps) t.join();
}

std::string SourceRelay::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void SourceRelay::AcceptLoop() {
  while (!stop_) {
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR) continue;
      return;
    }
    const int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in from = Loopback(source_ip_, 0);
    sockaddr_in to = Loopback("127.0.0.1", target_port_);
    if (up < 0 ||
        bind(up, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
        connect(up, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
      if (up >= 0) close(up);
      close(client);
      continue;
    }
    absl::MutexLock lock(&mu_);
    pumps_.emplace_back([this, client, up] { Pump(client, up); });
  }
}

void SourceRelay::Pump(int client, int upstream) {
  pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
  char buf[16384];
  bool open[2] = {true, true};
  while (!stop_ && (open[0] || open[1])) {
    if (frozen_) {
      poll(nullptr, 0, 100);
      continue;
    }
    fds[0].events = open[0] ? POLLIN : 0;
    fds[1].events = open[1] ? POLLIN : 0;
    if (poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      const int to = fds[1 - i].fd;
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        open[i] = false;
        shutdown(to, SHUT_WR);
        continue;
      }
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = send(to, buf + done, n - done, MSG_NOSIGNAL);
        if (w <= 0) {
          open[0] = open[1] = false;
          break;
        }
        done += w;
      }
    }
  }
  close(client);
  close(upstream);
}

}  // namespace sallyport::ca
