// Human-readable certificate text, line for line as `ssh-keygen -L -f`
// prints it (without ssh-keygen's leading "file:" line).
#ifndef SALLYPORT_SSH_CERT_RENDER_H_
#define SALLYPORT_SSH_CERT_RENDER_H_

#include <string>

#include "absl/time/time.h"
#include "ssh/cert/certificate.h"

namespace sallyport::ssh::cert {

// Renders `cert` as ssh-keygen's print_cert does: Type, Public key, Signing
// CA (with the signature algorithm), Key ID, Serial, Valid ("forever",
// "after T", "before T" or "from T to T" with T as YYYY-MM-DDTHH:MM:SS in
// `tz`; ssh-keygen uses the local time zone), Principals, Critical Options
// and Extensions, each line ending in '\n'. Unknown options print as
// "UNKNOWN OPTION: <hex> (len n)" or "UNKNOWN FLAG OPTION". Never fails.
std::string Render(const Certificate& cert,
                   absl::TimeZone tz = absl::LocalTimeZone());

}  // namespace sallyport::ssh::cert

#endif  // SALLYPORT_SSH_CERT_RENDER_H_
