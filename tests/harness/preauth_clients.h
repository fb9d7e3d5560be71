// PreauthClients: N TCP connections to a server that never finish the SSH
// handshake (the "300 pre-auth clients sitting in the banner" of issue 12's
// load test), so a test can check that logged-in users still get through
// and see which of the idle connections the server has dropped.
#ifndef SALLYPORT_TESTS_HARNESS_PREAUTH_CLIENTS_H_
#define SALLYPORT_TESTS_HARNESS_PREAUTH_CLIENTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sallyport::testing {

class PreauthClients {
 public:
  enum class Mode {
    kSilent,         // connect and send nothing
    kPartialBanner,  // send "SSH-2.0-" and never finish the line
    kBannerOnly,     // send a whole banner, then nothing (no KEXINIT)
  };

  // Opens `count` connections to host:port (all must connect). A bounded
  // number: the caller picks it, at most 4096.
  static absl::StatusOr<std::unique_ptr<PreauthClients>> Open(
      const std::string& host, uint16_t port, int count, Mode mode);
  // Closes every connection.
  ~PreauthClients();
  PreauthClients(const PreauthClients&) = delete;
  PreauthClients& operator=(const PreauthClients&) = delete;

  int count() const { return static_cast<int>(fds_.size()); }
  // How many the server has not closed (reads and drops whatever the server
  // sent, without blocking).
  int StillOpen();

 private:
  PreauthClients() = default;
  std::vector<int> fds_;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_PREAUTH_CLIENTS_H_
