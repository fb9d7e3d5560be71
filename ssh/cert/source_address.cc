#include "ssh/cert/source_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace sallyport::ssh::cert {
namespace {

// Longest textual IPv6 address (INET6_ADDRSTRLEN without the NUL).
constexpr size_t kMaxAddressText = 45;

absl::Status Bad(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "source address \"",
      absl::CHexEscape(std::string(text.substr(0, kMaxAddressText + 8))),
      "\": ", std::string(why)));
}

// inet_pton on a bounded, NUL-free copy. Returns false if it is neither
// IPv4 nor IPv6.
bool ParseAddress(std::string_view text, IpNetwork* out) {
  if (text.empty() || text.size() > kMaxAddressText) return false;
  for (char c : text) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                    (c >= 'A' && c <= 'F') || c == '.' || c == ':';
    if (!ok) return false;
  }
  const std::string copy(text);
  IpNetwork n;
  if (inet_pton(AF_INET, copy.c_str(), n.address.data()) == 1) {
    n.ipv6 = false;
    n.prefix_length = 32;
  } else if (inet_pton(AF_INET6, copy.c_str(), n.address.data()) == 1) {
    n.ipv6 = true;
    n.prefix_length = 128;
  } else {
    return false;
  }
  *out = n;
  return true;
}

// Whether the first `bits` bits of a and b are equal.
bool PrefixEqual(const std::array<uint8_t, 16>& a,
                 const std::array<uint8_t, 16>& b, int bits) {
  int i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (a[i] != b[i]) return false;
  }
  if (bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits));
  return (a[i] & mask) == (b[i] & mask);
}

bool HostBitsZero(const IpNetwork& n) {
  const int total = n.ipv6 ? 128 : 32;
  for (int bit = n.prefix_length; bit < total; ++bit) {
    if ((n.address[bit / 8] & (0x80 >> (bit % 8))) != 0) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<IpNetwork> ParseIpNetwork(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string_view addr = text.substr(0, slash);
  IpNetwork n;
  if (!ParseAddress(addr, &n)) return Bad(text, "not an IP address");
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    if (len.empty() || len.size() > 3) return Bad(text, "bad prefix length");
    int value = 0;
    for (char c : len) {
      if (c < '0' || c > '9') return Bad(text, "bad prefix length");
      value = value * 10 + (c - '0');
    }
    if (value > (n.ipv6 ? 128 : 32)) return Bad(text, "prefix too long");
    n.prefix_length = value;
  }
  if (!HostBitsZero(n)) {
    return Bad(text, "address has bits set below the prefix length");
  }
  return n;
}

absl::StatusOr<std::vector<IpNetwork>> ParseSourceAddressList(
    std::string_view list) {
  std::vector<IpNetwork> out;
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view entry = list.substr(0, comma);
    if (entry.empty()) return Bad(entry, "empty entry in source-address list");
    auto n = ParseIpNetwork(entry);
    if (!n.ok()) return n.status();
    out.push_back(*n);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

absl::StatusOr<bool> SourceAddressMatches(std::string_view list,
                                          std::string_view address) {
  auto networks = ParseSourceAddressList(list);
  if (!networks.ok()) return networks.status();
  IpNetwork peer;
  if (!ParseAddress(address, &peer)) {
    return Bad(address, "peer address is not an IP address");
  }
  // ::ffff:a.b.c.d is an IPv4 peer on a dual-stack socket.
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0,    0,
                                                0, 0, 0, 0, 0xff, 0xff};
  if (peer.ipv6 &&
      std::equal(kMappedPrefix, kMappedPrefix + 12, peer.address.begin())) {
    IpNetwork v4;
    std::copy(peer.address.begin() + 12, peer.address.end(),
              v4.address.begin());
    v4.prefix_length = 32;
    peer = v4;
  }
  for (const IpNetwork& n : *networks) {
    if (n.ipv6 == peer.ipv6 &&
        PrefixEqual(n.address, peer.address, n.prefix_length)) {
      return true;
    }
  }
  return false;
}

}  // namespace sallyport::ssh::cert
