#include "ca/login.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/records.h"

namespace sallyport::ca {

LoginAuthenticator::LoginAuthenticator(Options options)
    : options_(std::move(options)),
      addresses_(FailureTracker::Policy{
          .max_failures = options_.max_failures_per_address,
          .lockout = options_.lockout.lockout}),
      unknown_users_(
          FailureTracker::Policy{.max_failures = options_.lockout.max_failures,
                                 .lockout = options_.lockout.lockout}) {}

absl::Status LoginAuthenticator::Refuse(const LoginAttempt& attempt,
                                        absl::Time started,
                                        std::string_view reason,
                                        absl::Status status) {
  // The reason stays in the audit log; the caller sees only `status`.
  (void)options_.audit->Record(kEventLoginFailed, attempt.user,
                               {{"user", attempt.user},
                                {"source", attempt.source},
                                {"reason", std::string(reason)}});
  const absl::Duration left = options_.failure_delay - (absl::Now() - started);
  if (left > absl::ZeroDuration()) options_.sleep(left);
  return status;
}

void LoginAuthenticator::CountFailure(const LoginAttempt& attempt,
                                      bool known_user) {
  const absl::Time now = options_.clock->Now();
  addresses_.RecordFailure(attempt.source, now);
  if (known_user) {
    // Best effort: a store error must not turn a refusal into something
    // the client could tell apart.
    (void)options_.store->RecordLoginFailure(attempt.user, options_.lockout);
  } else if (attempt.user.size() <= storage::kMaxNameBytes) {
    unknown_users_.RecordFailure(attempt.user, now);
  }
}

absl::StatusOr<storage::User> LoginAuthenticator::Authenticate(
    const LoginAttempt& attempt) {
  const absl::Time started = absl::Now();
  const absl::Time now = options_.clock->Now();
  const absl::Status bad =
      absl::UnauthenticatedError(std::string(kBadCredentialsMessage));
  const absl::Status locked =
      absl::ResourceExhaustedError(std::string(kLockedMessage));

  std::optional<storage::User> user;
  std::optional<storage::Credentials> creds;
  absl::StatusOr<storage::User> found = options_.store->GetUser(attempt.user);
  if (found.ok()) {
    absl::StatusOr<storage::Credentials> c =
        options_.store->GetCredentials(attempt.user);
    if (c.ok()) {
      user = std::move(*found);
      creds = std::move(*c);
    } else if (c.status().code() != absl::StatusCode::kNotFound) {
      return absl::UnavailableError("the CA's store is unavailable");
    }
  } else if (found.status().code() != absl::StatusCode::kNotFound &&
             found.status().code() != absl::StatusCode::kInvalidArgument) {
    return absl::UnavailableError("the CA's store is unavailable");
  }
  const bool known = user.has_value();

  bool is_locked = addresses_.LockedUntil(attempt.source, now).has_value();
  if (known) {
    is_locked = is_locked ||
                (creds->locked_until.has_value() && *creds->locked_until > now);
  } else {
    is_locked =
        is_locked || unknown_users_.LockedUntil(attempt.user, now).has_value();
  }

  // Always exactly one scrypt, whatever happens next.
  const bool password_ok = options_.hasher->Verify(
      attempt.password,
      known ? std::optional<std::string_view>(creds->password_hash)
            : std::nullopt);

  if (is_locked) return Refuse(attempt, started, "locked", locked);
  if (!password_ok) {
    CountFailure(attempt, known);
    return Refuse(attempt, started, known ? "bad-password" : "unknown-user",
                  bad);
  }
  if (!creds->totp_secret.empty()) {
    if (attempt.otp.empty()) {
      (void)options_.audit->Record(kEventLoginFailed, attempt.user,
                                   {{"user", attempt.user},
                                    {"source", attempt.source},
                                    {"reason", "otp-required"}});
      return absl::FailedPreconditionError(std::string(kOtpRequiredMessage));
    }
    std::optional<uint64_t> step =
        VerifyTotp(creds->totp_secret, attempt.otp, now, options_.totp);
    if (!step.has_value()) {
      CountFailure(attempt, true);
      return Refuse(attempt, started, "bad-otp", bad);
    }
    // Claimed in the Store, so a restarted CA or another instance on the
    // same database refuses the code too.
    absl::StatusOr<bool> claimed =
        options_.store->ClaimTotpStep(attempt.user, *step);
    if (!claimed.ok() &&
        claimed.status().code() != absl::StatusCode::kNotFound) {
      return absl::UnavailableError("the CA's store is unavailable");
    }
    if (!claimed.ok() || !*claimed) {
      // A replay, or the user was deleted since it was read.
      CountFailure(attempt, true);
      return Refuse(attempt, started,
                    claimed.ok() ? "otp-replayed" : "unknown-user", bad);
    }
  }
  // A success clears the user's count (not the address's: one good account
  // must not reset the count of guesses against others).
  (void)options_.store->RecordLoginSuccess(attempt.user);
  return *user;
}

}  // namespace sallyport::ca
