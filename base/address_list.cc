#include "base/address_list.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/rpc_limits.h"
#include "base/safe_text.h"

namespace sallyport::base {
namespace {

// Debian's Abseil does not alias std::string_view.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

absl::StatusOr<HostPort> ParseOne(std::string_view text,
                                  uint16_t default_port) {
  const bool bracketed = !text.empty() && text[0] == '[';
  const size_t colons = std::count(text.begin(), text.end(), ':');
  if (!bracketed && colons > 1) {
    return absl::InvalidArgumentError(
        "write an IPv6 address in brackets: [V6] or [V6]:PORT");
  }
  const bool has_port =
      bracketed ? text.find("]:") != std::string_view::npos : colons == 1;
  if (has_port || default_port == 0) return ParseHostPort(text);
  return ParseHostPort(absl::StrCat(Sv(text), ":", default_port));
}

struct Resolved {
  std::string ip;  // numeric, without brackets
  bool v6 = false;
};

// Appends the addresses `address` resolves to; false when none.
bool Resolve(const HostPort& address, std::vector<Resolved>* out,
             std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const std::string port = absl::StrCat(address.port);
  const int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    *error = gai_strerror(rc);
    return false;
  }
  bool any = false;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    Resolved r;
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr,
                text, sizeof(text));
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6,
                &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text,
                sizeof(text));
      r.v6 = true;
    } else {
      continue;
    }
    r.ip = text;
    out->push_back(std::move(r));
    any = true;
  }
  freeaddrinfo(list);
  if (!any) *error = "no IPv4 or IPv6 address";
  return any;
}

}  // namespace

absl::StatusOr<std::vector<HostPort>> ParseAddressList(std::string_view text,
                                                       uint16_t default_port) {
  std::vector<HostPort> out;
  for (absl::string_view part : absl::StrSplit(Sv(text), ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) {
      return absl::InvalidArgumentError(
          "empty address in the list (expected ADDR[,ADDR...])");
    }
    if (out.size() == kMaxAddresses) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", kMaxAddresses, " addresses"));
    }
    absl::StatusOr<HostPort> one =
        ParseOne(std::string_view(part.data(), part.size()), default_port);
    if (!one.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", SafeText(std::string_view(part.data(), part.size()), 80),
          "\": ", one.status().message()));
    }
    for (const HostPort& seen : out) {
      if (seen.host == one->host && seen.port == one->port) {
        return absl::InvalidArgumentError(
            absl::StrCat(FormatHostPort(*one), " is listed twice"));
      }
    }
    out.push_back(*std::move(one));
  }
  return out;
}

std::string FormatAddressList(const std::vector<HostPort>& addresses) {
  return absl::StrJoin(addresses, ", ", [](std::string* s, const HostPort& a) {
    s->append(FormatHostPort(a));
  });
}

absl::StatusOr<std::string> FailoverTarget(
    const std::vector<HostPort>& addresses) {
  if (addresses.empty()) return absl::InvalidArgumentError("no address");
  if (addresses.size() == 1) return FormatHostPort(addresses[0]);
  std::vector<std::pair<Resolved, uint16_t>> all;
  std::vector<std::string> errors;
  for (const HostPort& a : addresses) {
    std::vector<Resolved> found;
    std::string error;
    if (!Resolve(a, &found, &error)) {
      errors.push_back(absl::StrCat(FormatHostPort(a), ": ", error));
      continue;
    }
    for (Resolved& r : found) {
      const bool seen = std::any_of(all.begin(), all.end(), [&](const auto& x) {
        return x.first.ip == r.ip && x.second == a.port;
      });
      if (!seen) all.emplace_back(std::move(r), a.port);
    }
  }
  if (all.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "none of the addresses resolves: ", absl::StrJoin(errors, "; ")));
  }
  const bool any_v6 = std::any_of(all.begin(), all.end(),
                                  [](const auto& x) { return x.first.v6; });
  std::vector<std::string> parts;
  for (const auto& [r, port] : all) {
    if (!any_v6) {
      parts.push_back(absl::StrCat(r.ip, ":", port));
    } else {
      parts.push_back(
          absl::StrCat("[", r.v6 ? "" : "::ffff:", r.ip, "]:", port));
    }
  }
  return absl::StrCat(any_v6 ? "ipv6:" : "ipv4:", absl::StrJoin(parts, ","));
}

void SetReconnectBackoff(grpc::ChannelArguments* args) {
  args->SetInt(
      GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
      static_cast<int>(absl::ToInt64Milliseconds(kFailoverInitialBackoff)));
  args->SetInt(
      GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
      static_cast<int>(absl::ToInt64Milliseconds(kFailoverMaxBackoff)));
}

void SetFailoverArguments(grpc::ChannelArguments* args) {
  // gRPC's minimum connect timeout: each attempt at one address.
  args->SetInt(
      GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
      static_cast<int>(absl::ToInt64Milliseconds(kFailoverConnectTimeout)));
  SetReconnectBackoff(args);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> FailoverChannel(
    const std::vector<HostPort>& addresses,
    const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    grpc::ChannelArguments args) {
  absl::StatusOr<std::string> target = FailoverTarget(addresses);
  if (!target.ok()) return target.status();
  // Named, not left to gRPC: the CA pages its listings to fit it.
  args.SetMaxReceiveMessageSize(kMaxCaResponseBytes);
  if (addresses.size() > 1) {
    SetFailoverArguments(&args);
  } else {
    SetReconnectBackoff(&args);
  }
  return grpc::CreateCustomChannel(*target, credentials, args);
}

std::string UnreachableMessage(std::string_view what,
                               const std::vector<HostPort>& addresses,
                               const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
      status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
    return status.error_message();
  }
  if (addresses.size() == 1) {
    return absl::StrCat("cannot reach ", Sv(what), " at ",
                        FormatHostPort(addresses[0]), ": ",
                        status.error_message());
  }
  return absl::StrCat("cannot reach ", Sv(what), " at any of its ",
                      addresses.size(), " addresses (tried ",
                      FormatAddressList(addresses),
                      "): ", status.error_message());
}

}  // namespace sallyport::base
