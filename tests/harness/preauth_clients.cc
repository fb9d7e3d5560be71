#include "tests/harness/preauth_clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sallyport::testing {

absl::StatusOr<std::unique_ptr<PreauthClients>> PreauthClients::Open(
    const std::string& host, uint16_t port, int count, Mode mode) {
  if (count < 0 || count > 4096) {
    return absl::InvalidArgumentError("count must be 0..4096");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError("not an IPv4 address: " + host);
  }
  std::unique_ptr<PreauthClients> c(new PreauthClients());
  const std::string greeting = mode == Mode::kPartialBanner ? "SSH-2.0-"
                               : mode == Mode::kBannerOnly
                                   ? "SSH-2.0-preauth-holder\r\n"
                                   : "";
  for (int i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(strerror(errno));
    c->fds_.push_back(fd);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "connect ", i, " to ", host, ":", port, ": ", strerror(errno)));
    }
    if (!greeting.empty() &&
        send(fd, greeting.data(), greeting.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(greeting.size())) {
      return absl::UnavailableError(
          absl::StrCat("send ", i, ": ", strerror(errno)));
    }
  }
  return c;
}

PreauthClients::~PreauthClients() {
  for (int fd : fds_) close(fd);
}

int PreauthClients::StillOpen() {
  int open = 0;
  char buf[4096];
  for (int fd : fds_) {
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) continue;  // the server's banner or KEXINIT: dropped
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++open;
      break;  // 0: closed by the server; other errors: reset
    }
  }
  return open;
}

}  // namespace sallyport::testing
