// Exit codes of `sp` and `spctl` (documented in their --help).
#ifndef SALLYPORT_CLI_EXIT_CODES_H_
#define SALLYPORT_CLI_EXIT_CODES_H_

#include "base/version.h"

namespace sallyport::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
// Bad command line: unknown command or option, missing argument.
inline constexpr int kExitUsage = 2;
// The user, role, host, certificate ... does not exist.
inline constexpr int kExitNotFound = 3;
// Refused: not an admin, or `access check` said deny.
inline constexpr int kExitDenied = 4;
// `sp login` only.
inline constexpr int kExitWrongPassword = 5;
inline constexpr int kExitLocked = 6;
inline constexpr int kExitUnreachable = 7;
inline constexpr int kExitPinMismatch = 8;

// The one release version (base/version.h), for `--version`.
using ::sallyport::base::kVersion;

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_EXIT_CODES_H_
