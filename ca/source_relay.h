// SourceRelay (tests): a TCP relay on 127.0.0.1 that connects onwards to
// 127.0.0.1:target_port from a socket bound to `source_ip` (another
// loopback address such as 127.0.0.2), so the server sees that peer
// address. Bytes pass through unchanged (TLS stays end to end).
#ifndef SALLYPORT_CA_SOURCE_RELAY_H_
#define SALLYPORT_CA_SOURCE_RELAY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace sallyport::ca {

class SourceRelay {
 public:
  // Listens on `listen_port`, or a free port when 0 (a relay started again
  // on the port of one that was destroyed: the server "comes back").
  static absl::StatusOr<std::unique_ptr<SourceRelay>> Start(
      const std::string& source_ip, int target_port, int listen_port = 0);
  ~SourceRelay();

  // "127.0.0.1:PORT" to connect to.
  std::string address() const;
  // Stops passing bytes either way, with every connection left open (a
  // hung server, or a network that drops packets): new connections are
  // accepted and hang too.
  void Freeze() { frozen_ = true; }
  // Passes bytes again, what was held back first.
  void Thaw() { frozen_ = false; }

 private:
  SourceRelay() = default;
  void AcceptLoop();
  void Pump(int client, int upstream);

  std::string source_ip_;
  int target_port_ = 0;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> frozen_{false};
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<std::thread> pumps_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_SOURCE_RELAY_H_
