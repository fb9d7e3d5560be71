// Loopback helpers: free ports, waiting for a listener, and reading an
// HTTP endpoint such as the gateway's /metrics.
#ifndef SALLYPORT_TESTS_HARNESS_NET_UTIL_H_
#define SALLYPORT_TESTS_HARNESS_NET_UTIL_H_

#include <cstdint>
#include <string>
#include <utility>

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

// GET `path` from 127.0.0.1:port over plain HTTP/1.1 (Connection: close,
// 30 s for the answer): the status code and the body (code 0 when nothing
// answered).
std::pair<int, std::string> HttpGet(uint16_t port, const std::string& path);

// The value of the sample `series` (a metric's name and its labels as
// rendered, e.g. `name{label="v"}`) in Prometheus text `text`, or -1 when
// it has no such line.
double MetricValue(const std::string& text, const std::string& series);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_NET_UTIL_H_
