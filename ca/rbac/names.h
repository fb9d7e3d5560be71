// Name checks for the RBAC engine (DESIGN.md §6) and for `sp`: host names,
// logins, forward destinations, safe echoes, host-name globs. Pure
// functions with no storage dependency (//ca/rbac:names; `sp` links only
// this). Selector matching over inventory records is in selector.h.
#ifndef SALLYPORT_CA_RBAC_NAMES_H_
#define SALLYPORT_CA_RBAC_NAMES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sallyport::ca::rbac {

// RFC 1123 / RFC 1035 limits.
inline constexpr size_t kMaxHostNameBytes = 253;
inline constexpr size_t kMaxHostLabelBytes = 63;
// Longest login (certificate principal) the engine accepts.
inline constexpr size_t kMaxLoginBytes = 256;
// The one principal of the login certificate of an administrator or
// auditor whose roles grant no logins: their credential for spctl. It is
// no login: ValidateLogin refuses it (so RBAC and the gateway never take
// it) and no Unix account can be called that (':' separates the fields
// of /etc/passwd), so a host that trusts the user CA matches it to no one.
inline constexpr std::string_view kNoLoginPrincipal = "sallyport:no-login";
// EscapeForReason shows at most this many bytes of its input (fewer when
// a UTF-8 sequence would cross it).
inline constexpr size_t kMaxEchoBytes = 64;

// OK when `name` is a host name in RFC 1123 syntax: 1..253 bytes, labels of
// 1..63 letters, digits and '-' separated by single '.', no label starting
// or ending with '-', no trailing '.'. Otherwise kInvalidArgument whose
// message says which rule failed and shows the name only through
// EscapeForReason, so it is safe to print, log or put in a shell.
absl::Status ValidateHostName(std::string_view name);

// ValidateHostName, and the name of an inventory host also must not read as
// an IP address: not a last label of digits only ("10.0.0.5", "167772165";
// RFC 3696 §2: no top-level domain is all-numeric) and nothing inet_aton
// takes for an IPv4 address ("0x0a000005"). ssh and the resolver would
// take such a name for an address, and the gateway, which resolves a
// target by name before address, would send `root+10.0.0.5` to the host
// *named* 10.0.0.5 rather than the one at that address.
absl::Status ValidateInventoryName(std::string_view name);

// OK when `login` is 1..kMaxLoginBytes of letters, digits, '.', '_' and '-'
// and does not start with '-' (so no tool can take it for an option).
// kInvalidArgument otherwise (message safe as above).
absl::Status ValidateLogin(std::string_view login);

// OK when `host` is a host name (ValidateHostName) or an IPv4 / IPv6
// literal, and `port` is 1..65535. kInvalidArgument otherwise.
absl::Status ValidateForwardDestination(std::string_view host, uint32_t port);

// `s` in double quotes for a refusal reason, a log line or a shell: ASCII
// letters, digits, '.', '-' and '_' stay, and so do the letters, marks,
// digits, punctuation and symbols of other scripts (valid UTF-8 whose code
// points base::IsGraphicCodePoint takes, so "сервер" reads as such); every
// other byte is written as \xNN: other ASCII, bytes that are not UTF-8,
// and each byte of a control (C0, DEL, C1), bidirectional control (U+202E
// is \xe2\x80\xae), invisible character (ZWSP, ZWJ, BOM, soft hyphen,
// tags), line separator, private-use character, space other than U+0020
// (U+00A0, U+3000, ...) or blank (U+2800) and quotation mark (U+00AB,
// U+201C, ...). Cut to at most kMaxEchoBytes input bytes, never inside a
// UTF-8 sequence ("..." and the full length follow when cut). The result is
// valid UTF-8 and never contains a control character, a bidirectional
// control or invisible character, a space, a quote of its own, '$', ';',
// '(' or '`'. Letters of right-to-left scripts stay letters: a terminal
// that applies the bidi algorithm shows them right to left inside the
// quotes (no control can move text outside them).
std::string EscapeForReason(std::string_view s);

// Shell-style glob over host names: '*' matches any run of bytes (also
// empty), '?' exactly one byte, every other byte itself, ASCII letters
// without regard to case (host names are case-insensitive). Linear in
// |pattern| * |name| at worst.
bool GlobMatch(std::string_view pattern, std::string_view name);

}  // namespace sallyport::ca::rbac

#endif  // SALLYPORT_CA_RBAC_NAMES_H_
