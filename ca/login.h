// LoginAuthenticator: password (+ TOTP) authentication for the CA's Login
// RPC (SECURITY.md "Authentication"):
// - unknown users, users without a password, wrong passwords and wrong or
//   replayed one-time codes all get kUnauthenticated with the same message,
//   after the same work (one scrypt) and no earlier than failure_delay after
//   the request started;
// - failures are counted per user (in the Store for real users, in memory
//   for unknown names, so both lock out the same way) and per source
//   address (in memory); a locked user or address gets kResourceExhausted
//   even with the right password, after the same work and delay;
// - a TOTP user who sent no code but the right password gets
//   kFailedPrecondition "one-time code required" (not counted as a failure);
// - a TOTP code is accepted once: a step at or before the last accepted one
//   is refused. The last accepted step is claimed atomically in the Store,
//   so this holds across restarts and across CA instances sharing it.
//
// LIMITATION: the per-address and unknown-name counters are in memory (the
// Store has no fields for them): several CA instances do not share them and
// a restart forgets them.
#ifndef SALLYPORT_CA_LOGIN_H_
#define SALLYPORT_CA_LOGIN_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/secret_bytes.h"
#include "ca/audit_log.h"
#include "ca/failure_tracker.h"
#include "ca/password_hash.h"
#include "ca/totp.h"
#include "storage/store.h"

namespace sallyport::ca {

inline constexpr std::string_view kBadCredentialsMessage =
    "invalid user name, password or one-time code";
inline constexpr std::string_view kLockedMessage =
    "too many failed logins; try again later";
inline constexpr std::string_view kOtpRequiredMessage =
    "one-time code required";

struct LoginAttempt {
  std::string user;
  base::SecretBytes password;
  std::string otp;     // empty when the client sent none
  std::string source;  // peer address without port, e.g. "127.0.0.1"
};

class LoginAuthenticator {
 public:
  struct Options {
    storage::Store* store = nullptr;
    const PasswordHasher* hasher = nullptr;
    AuditLog* audit = nullptr;
    base::Clock* clock = base::Clock::Real();  // lockouts and TOTP
    storage::LockoutPolicy lockout;
    // Failures from one source address before it is locked (it is shared
    // by every user behind a NAT, so higher than the per-user limit).
    int max_failures_per_address = 20;
    // Failed logins are answered no earlier than this after they started.
    absl::Duration failure_delay = absl::Milliseconds(250);
    TotpParams totp;
    // How to wait for the failure delay (tests replace it).
    std::function<void(absl::Duration)> sleep = [](absl::Duration d) {
      absl::SleepFor(d);
    };
  };

  explicit LoginAuthenticator(Options options);

  // The authenticated user (which may be disabled: the certificate policy
  // refuses those). Errors: kUnauthenticated (kBadCredentialsMessage),
  // kResourceExhausted (kLockedMessage), kFailedPrecondition
  // (kOtpRequiredMessage), kUnavailable when the store cannot be reached.
  // Every refusal is an audit event "login.failed" with the reason.
  absl::StatusOr<storage::User> Authenticate(const LoginAttempt& attempt);

 private:
  absl::Status Refuse(const LoginAttempt& attempt, absl::Time started,
                      std::string_view reason, absl::Status status);
  void CountFailure(const LoginAttempt& attempt, bool known_user);

  Options options_;
  FailureTracker addresses_;
  FailureTracker unknown_users_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_LOGIN_H_
