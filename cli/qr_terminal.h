// A QR code drawn with Unicode half blocks, for `spctl users totp-enroll`
// (an authenticator app scans the otpauth:// URI from the terminal).
#ifndef SALLYPORT_CLI_QR_TERMINAL_H_
#define SALLYPORT_CLI_QR_TERMINAL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sallyport::cli {

// Light modules are drawn as text (light on a dark terminal), dark modules
// as the background, with a 2-module quiet zone; two module rows per text
// line. kInvalidArgument when the text does not fit in a QR code.
absl::StatusOr<std::string> TerminalQrCode(std::string_view text);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_QR_TERMINAL_H_
