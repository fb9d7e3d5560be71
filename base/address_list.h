// Several addresses of one service (the CA instances of an HA setup) and a
// gRPC channel that fails over between them (DESIGN.md §10).
//
// A list is "ADDR,ADDR,..." (commas, optional spaces); each ADDR is
// HOST[:PORT] or [V6][:PORT]. One address keeps gRPC's usual "HOST:PORT"
// target (names re-resolved by gRPC). Several become one static target
// ("ipv4:A:P,B:P" or "ipv6:[A]:P,...") over which gRPC's pick_first
// policy connects to the first address that answers, in order, and moves
// to the next one when the connected instance goes away. Host names in a
// list are resolved once, when the channel is made.
#ifndef SALLYPORT_BASE_ADDRESS_LIST_H_
#define SALLYPORT_BASE_ADDRESS_LIST_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/host_port.h"

namespace sallyport::base {

// At most this many addresses in one list.
inline constexpr size_t kMaxAddresses = 16;
// Each connection attempt to one address of a list gives up after this
// long (gRPC's default is 20 s), so a silent (black-holed) first address
// still leaves time to reach the next one within a call's deadline.
inline constexpr absl::Duration kFailoverConnectTimeout = absl::Seconds(4);
// A failed address is tried again after at most this long: gRPC's own
// backoff grows to 120 s, so a CA that was away for a few minutes would be
// tried again up to two minutes after it came back, every call failing at
// once in between (a gateway refused every login for ~100 s after a
// 3-minute CA outage). Every FailoverChannel, of one address or several.
inline constexpr absl::Duration kFailoverMaxBackoff = absl::Seconds(10);
// The first retry after a failed connection attempt.
inline constexpr absl::Duration kFailoverInitialBackoff =
    absl::Milliseconds(500);

// Parses a list. An address without a port gets `default_port`; with
// `default_port` 0 the port is required. kInvalidArgument for an empty
// list, an empty entry, a bad address, a duplicate, or more than
// kMaxAddresses entries.
absl::StatusOr<std::vector<HostPort>> ParseAddressList(std::string_view text,
                                                       uint16_t default_port);

// "A:P, B:P" (for messages).
std::string FormatAddressList(const std::vector<HostPort>& addresses);

// The gRPC target for `addresses` (see the file comment). Names in a list
// of several are resolved now (getaddrinfo, numeric ports); a name that
// does not resolve is left out, kUnavailable naming every address when
// none does. Mixed IPv4 and IPv6 results use IPv4-mapped IPv6 addresses.
absl::StatusOr<std::string> FailoverTarget(
    const std::vector<HostPort>& addresses);

// Sets the reconnect backoff above on `args` (kFailoverInitialBackoff,
// at most kFailoverMaxBackoff).
void SetReconnectBackoff(grpc::ChannelArguments* args);
// Sets the connect timeout and the reconnect backoff above on `args` (done
// by FailoverChannel for lists of several addresses).
void SetFailoverArguments(grpc::ChannelArguments* args);

// A channel over FailoverTarget(addresses) with `credentials` and `args`
// plus SetFailoverArguments when there are several addresses, else
// SetReconnectBackoff, taking messages of at most kMaxCaResponseBytes
// (base/rpc_limits.h).
absl::StatusOr<std::shared_ptr<grpc::Channel>> FailoverChannel(
    const std::vector<HostPort>& addresses,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    grpc::ChannelArguments args);

// For a call that failed because no instance answered (UNAVAILABLE,
// DEADLINE_EXCEEDED): "cannot reach the CA at A:P (tried A:P, B:P): <gRPC's
// message>" with `what` = "the CA"; other statuses: their message.
std::string UnreachableMessage(std::string_view what,
                               const std::vector<HostPort>& addresses,
                               const grpc::Status& status);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_ADDRESS_LIST_H_
