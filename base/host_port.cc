#include "base/host_port.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sallyport::base {

absl::Status ValidateListen(std::string_view what, std::string_view listen,
                            bool allow_port_zero) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": \"", std::string(listen),
                     "\" is not HOST:PORT (", std::string(why), ")"));
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = listen.substr(0, colon);
  const std::string_view port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 address needs brackets: [::1]:7443");
  }
  if (host.empty()) return bad("no host; use 0.0.0.0 or [::] for all");
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '-' && c != ':' && c != '_') {
      return bad("bad character in the host");
    }
  }
  int value = 0;
  if (port.empty() || port.size() > 5) return bad("the port must be 1..65535");
  for (char c : port) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return bad("the port must be 1..65535");
    }
    value = value * 10 + (c - '0');
  }
  if (value > 65535 || (value == 0 && !allow_port_zero)) {
    return bad("the port must be 1..65535");
  }
  return absl::OkStatus();
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  HostPort out;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return absl::InvalidArgumentError("expected [IPv6]:PORT");
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return absl::InvalidArgumentError("expected HOST:PORT");
    }
    out.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  uint32_t p = 0;
  if (out.host.empty() ||
      !absl::SimpleAtoi(absl::string_view(port.data(), port.size()), &p) ||
      p == 0 || p > 65535) {
    return absl::InvalidArgumentError(
        "expected HOST:PORT with a port 1..65535");
  }
  out.port = static_cast<uint16_t>(p);
  return out;
}

std::string FormatHostPort(const HostPort& address) {
  return address.host.find(':') != std::string::npos
             ? absl::StrCat("[", address.host, "]:", address.port)
             : absl::StrCat(address.host, ":", address.port);
}

}  // namespace sallyport::base
