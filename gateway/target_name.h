// The gateway's addressing (issue 12 "Addressing"): the SSH user name
// `LOGIN+HOST` names the login on an inventory host. Both halves are
// checked here, before any lookup, so names like `a;id`, `$(x)`, newlines
// or 300-byte strings never reach the CA, a shell or a log line.
#ifndef SALLYPORT_GATEWAY_TARGET_NAME_H_
#define SALLYPORT_GATEWAY_TARGET_NAME_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sallyport::gateway {

// RFC 1123 host names: at most this many bytes in all, 63 per label.
inline constexpr size_t kMaxHostNameBytes = 253;
inline constexpr size_t kMaxLabelBytes = 63;
// Login names: at most 32 bytes (Linux useradd's limit).
inline constexpr size_t kMaxLoginBytes = 32;

struct Target {
  std::string login;
  std::string host;
};

// A host name: dot-separated labels of [A-Za-z0-9-], each 1..63 bytes,
// not starting or ending with '-'; 1..253 bytes; no trailing dot.
// kInvalidArgument with a message that quotes the name only through
// base::SafeText.
absl::Status ValidateHostName(std::string_view host);

// A login: 1..32 bytes, first [A-Za-z_], then [A-Za-z0-9._-].
// kInvalidArgument otherwise.
absl::Status ValidateLogin(std::string_view login);

// Splits "LOGIN+HOST" at its only '+' and validates both halves.
// kInvalidArgument when there is no '+', more than one, or either half is
// invalid; the message is safe to show the user and to log.
absl::StatusOr<Target> ParseTarget(std::string_view user);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_TARGET_NAME_H_
