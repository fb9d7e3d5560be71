// TOTP (RFC 6238) over HOTP (RFC 4226): HMAC through OpenSSL's EVP_MAC,
// 30-second steps, 6 digits, SHA-1 by default (what authenticator apps use).
// Replay protection (a code is accepted once) is the caller's job: Verify
// returns the time step that matched so the caller can refuse steps at or
// before the last one it accepted.
#ifndef SALLYPORT_CA_TOTP_H_
#define SALLYPORT_CA_TOTP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/secret_bytes.h"

namespace sallyport::ca {

enum class TotpAlgorithm { kSha1, kSha256, kSha512 };

struct TotpParams {
  TotpAlgorithm algorithm = TotpAlgorithm::kSha1;
  int digits = 6;                           // 6..8
  absl::Duration step = absl::Seconds(30);  // > 0, whole seconds
  int skew_steps = 1;  // also accept this many steps before and after now
};

// The HOTP value (RFC 4226 §5.3) of `key` at `counter`, zero-padded to
// `digits` (6..8) characters.
std::string HotpCode(const base::SecretBytes& key, uint64_t counter,
                     int digits = 6,
                     TotpAlgorithm algorithm = TotpAlgorithm::kSha1);

// The RFC 6238 time step of `now`: floor(unix seconds / step). 0 before the
// epoch.
uint64_t TotpStep(absl::Time now, absl::Duration step = absl::Seconds(30));

// The code for `now`.
std::string TotpCode(const base::SecretBytes& key, absl::Time now,
                     const TotpParams& params = {});

// The time step in [step(now) - skew, step(now) + skew] whose code equals
// `code`, or nullopt (also for a code that is not exactly params.digits
// ASCII digits, or an empty key). Every candidate is computed and compared
// in constant time, so the time taken does not say which one matched.
std::optional<uint64_t> VerifyTotp(const base::SecretBytes& key,
                                   std::string_view code, absl::Time now,
                                   const TotpParams& params = {});

// A new random TOTP key (20 bytes, the size of an HMAC-SHA-1 output).
absl::StatusOr<base::SecretBytes> GenerateTotpSecret();

// RFC 4648 base32 (upper case, no padding), as authenticator apps take
// secrets; Decode accepts lower case, spaces and '=' padding.
std::string Base32Encode(absl::Span<const uint8_t> data);
absl::StatusOr<base::SecretBytes> Base32Decode(std::string_view text);

// "otpauth://totp/ISSUER:USER?secret=...&issuer=ISSUER&algorithm=SHA1&
// digits=6&period=30" with the label and issuer percent-encoded.
std::string OtpauthUri(std::string_view issuer, std::string_view user,
                       const base::SecretBytes& key);

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_TOTP_H_
