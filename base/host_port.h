// HOST:PORT addresses in config files and flags: checking a listen address
// and splitting an address to dial.
#ifndef SALLYPORT_BASE_HOST_PORT_H_
#define SALLYPORT_BASE_HOST_PORT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sallyport::base {

// Checks a listen address: HOST:PORT (HOST a name, an IPv4 address or an
// IPv6 address in brackets) with the port in 1..65535, or 0..65535 when
// `allow_port_zero` (tests: "pick a free port"). kInvalidArgument naming
// `what` ("listen", "--listen") and the problem.
absl::Status ValidateListen(std::string_view what, std::string_view listen,
                            bool allow_port_zero = false);

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};
// "host:port", "1.2.3.4:port" or "[v6]:port" with a port in 1..65535.
// kInvalidArgument otherwise.
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

// "host:port", or "[v6]:port" when the host holds a ':' (for gRPC targets).
std::string FormatHostPort(const HostPort& address);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_HOST_PORT_H_
