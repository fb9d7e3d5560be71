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

// Waits until a TCP connect to host:port succeeds, or the timeout passes.
absl::Status WaitForTcpListener(const std::string& host, uint16_t port,
                                absl::Duration timeout);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_NET_UTIL_H_
