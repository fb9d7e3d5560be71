// Loopback helpers: free ports and waiting for a listener.
#ifndef SALLYPORT_TESTS_HARNESS_NET_UTIL_H_
#define SALLYPORT_TESTS_HARNESS_NET_UTIL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sallyport::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it
// for a socket bound to port 0, which is then closed).
absl::StatusOr<uint16_t> FreeLoopbackPort();

// A TCP socket listening on 127.0.0.1, on a port the kernel picked, with
// `backlog`: its descriptor (the caller's to close) and port; fd -1 and
// port 0 when it could not be made.
struct LoopbackListener {
  int fd = -1;
  uint16_t port = 0;
};
LoopbackListener ListenOnLoopback(int backlog);

// A TCP socket connected to 127.0.0.1:port (the caller's to close), or -1.
int ConnectToLoopback(uint16_t port);

// Waits until a TCP connect to host:port succeeds, or the timeout passes.
absl::Status WaitForTcpListener(const std::string& host, uint16_t port,
                                absl::Duration timeout);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_NET_UTIL_H_
