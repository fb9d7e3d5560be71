// The `source-address` critical option: a comma-separated list of IPv4 and
// IPv6 addresses and CIDR blocks (OpenSSH PROTOCOL.certkeys, sshd's
// addr_match_cidr_list), matched against the real TCP peer address.
#ifndef SALLYPORT_SSH_CERT_SOURCE_ADDRESS_H_
#define SALLYPORT_SSH_CERT_SOURCE_ADDRESS_H_

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sallyport::ssh::cert {

// One IP address or network.
struct IpNetwork {
  bool ipv6 = false;
  // Network-order address; IPv4 uses the first 4 bytes.
  std::array<uint8_t, 16> address = {};
  // 0..32 for IPv4, 0..128 for IPv6.
  int prefix_length = 0;
};

// Parses "a.b.c.d", "a.b.c.d/n", "h:h::h" or "h:h::h/n". The address is
// parsed with inet_pton (no hostnames, no zone ids); the prefix is 1 to 3
// decimal digits within the family's range; host bits below the prefix must
// be zero (as in OpenSSH, "10.0.0.1/8" is refused). kInvalidArgument
// otherwise.
absl::StatusOr<IpNetwork> ParseIpNetwork(std::string_view text);

// Parses a whole source-address list: comma-separated entries, none empty,
// at least one. kInvalidArgument on any bad entry.
absl::StatusOr<std::vector<IpNetwork>> ParseSourceAddressList(
    std::string_view list);

// Whether `address` (an IP address in text form, as the TCP peer) lies in
// any network of `list`. An IPv4-mapped IPv6 peer (::ffff:a.b.c.d) is
// matched as IPv4. kInvalidArgument if the list or the address does not
// parse; callers must treat that as a refusal.
absl::StatusOr<bool> SourceAddressMatches(std::string_view list,
                                          std::string_view address);

}  // namespace sallyport::ssh::cert

#endif  // SALLYPORT_SSH_CERT_SOURCE_ADDRESS_H_
