#include "ca/login.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "storage/records.h"

namespace sallyport::ca {
namespace {

constexpr int kNeverLocks = std::numeric_limits<int>::max();

std::string PairKey(const LoginAttempt& attempt) {
  return absl::StrCat(attempt.source, "\n", attempt.user);
}

absl::Duration ThrottleFor(int failures, int limit, absl::Duration base,
                           absl::Duration max) {
  if (failures < limit) return absl::ZeroDuration();
  const int doublings = std::min(failures - limit, 30);
  return std::min(max, base * (int64_t{1} << doublings));
}

}  // namespace

LoginAuthenticator::LoginAuthenticator(Options options)
    : options_(std::move(options)),
      pairs_(
          FailureTracker::Policy{.max_failures = options_.lockout.max_failures,
                                 .lockout = options_.lockout.lockout}),
      sources_(FailureTracker::Policy{.max_failures = kNeverLocks,
                                      .lockout = options_.lockout.lockout}),
      users_(FailureTracker::Policy{.max_failures = kNeverLocks,
                                    .lockout = options_.lockout.lockout}),
      in_flight_(options_.max_in_flight, options_.max_in_flight_per_source) {}

absl::Status LoginAuthenticator::Refuse(const LoginAttempt& attempt,
                                        absl::Duration started,
                                        std::string_view reason,
                                        absl::Status status) {
  // The reason stays in the audit log; the caller sees only `status`.
  (void)options_.audit->Record(kEventLoginFailed, attempt.user,
                               {{"user", attempt.user},
                                {"source", attempt.source},
                                {"reason", std::string(reason)}});
  // On the monotonic clock: a wall clock set back during the attempt (NTP
  // after a VM resume, `date -s`) held the handler thread for the step on
  // top of the delay, and one set forward answered at once.
  const absl::Duration left =
      options_.failure_delay - (options_.clock->Monotonic() - started);
  if (left > absl::ZeroDuration()) options_.sleep(left);
  return status;
}

absl::Duration LoginAuthenticator::Throttle(std::string_view user,
                                            std::string_view source) {
  const absl::Time now = options_.clock->Now();
  return std::max(
      ThrottleFor(users_.Failures(user, now), options_.lockout.max_failures,
                  options_.throttle_base, options_.max_throttle),
      ThrottleFor(sources_.Failures(source, now),
                  options_.max_failures_per_address, options_.throttle_base,
                  options_.max_throttle));
}

void LoginAuthenticator::CountFailure(const LoginAttempt& attempt,
                                      bool known_user) {
  const absl::Time now = options_.clock->Now();
  sources_.RecordFailure(attempt.source, now);
  users_.RecordFailure(attempt.user, now);
  if (pairs_.RecordFailure(PairKey(attempt), now)) {
    (void)options_.audit->Record(
        kEventLoginLocked, attempt.user,
        {{"user", attempt.user},
         {"source", attempt.source},
         {"until",
          absl::FormatTime(absl::RFC3339_sec, now + options_.lockout.lockout,
                           absl::UTCTimeZone())}});
  }
  if (known_user) {
    // Counted for the admin's view only (the Store never locks here). Best
    // effort: a store error must not turn a refusal into something the
    // client could tell apart.
    (void)options_.store->RecordLoginFailure(
        attempt.user,
        {.max_failures = kNeverLocks, .lockout = options_.lockout.lockout});
  }
}

std::optional<absl::Time> LoginAuthenticator::PairLockedUntil(
    const LoginAttempt& attempt, const storage::Credentials* creds,
    absl::Time now) {
  const std::string key = PairKey(attempt);
  std::optional<absl::Time> until = pairs_.LockedUntil(key, now);
  if (until.has_value() && EndedByUnlock(*until, creds)) {
    pairs_.Reset(key);
    return std::nullopt;
  }
  return until;
}

bool LoginAuthenticator::EndedByUnlock(
    absl::Time until, const storage::Credentials* creds) const {
  return creds != nullptr && creds->unlocked_at.has_value() &&
         *creds->unlocked_at >= until - pairs_.policy().lockout;
}

std::map<std::string, std::vector<LoginAuthenticator::SourceLock>>
LoginAuthenticator::PairLocks() {
  std::map<std::string, std::vector<SourceLock>> out;
  for (auto& [key, until] : pairs_.Locked(options_.clock->Now())) {
    // PairKey: "source\nuser" (a source address has no newline).
    const size_t nl = key.find('\n');
    if (nl == std::string::npos) continue;
    out[key.substr(nl + 1)].push_back({key.substr(0, nl), until});
  }
  for (auto& [user, locks] : out) {
    std::sort(locks.begin(), locks.end(),
              [](const SourceLock& a, const SourceLock& b) {
                return a.source < b.source;
              });
  }
  return out;
}

absl::StatusOr<storage::User> LoginAuthenticator::Authenticate(
    const LoginAttempt& attempt) {
  const absl::Duration started = options_.clock->Monotonic();
  InFlightLimiter::Ticket in_flight = in_flight_.TryEnter(attempt.source);
  if (!in_flight.ok()) {
    (void)options_.audit->Record(kEventLoginFailed, attempt.user,
                                 {{"user", attempt.user},
                                  {"source", attempt.source},
                                  {"reason", "busy"}});
    return absl::ResourceExhaustedError(std::string(kBusyMessage));
  }
  const absl::Time now = options_.clock->Now();
  const absl::Status bad =
      absl::UnauthenticatedError(std::string(kBadCredentialsMessage));

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

  // A locked pair costs no hash: unknown names lock the same way, so this
  // says nothing about which names exist.
  if (std::optional<absl::Time> until =
          PairLockedUntil(attempt, known ? &*creds : nullptr, now)) {
    return Refuse(
        attempt, started, "locked",
        absl::ResourceExhaustedError(absl::StrCat(
            std::string(kLockedMessage),
            absl::FormatTime(absl::RFC3339_sec, *until, absl::UTCTimeZone()))));
  }
  const absl::Duration throttle = Throttle(attempt.user, attempt.source);
  if (throttle > absl::ZeroDuration()) options_.sleep(throttle);

  bool password_ok = false;
  {
    std::optional<HashGate::Slot> slot;
    if (options_.hash_gate != nullptr) {
      slot.emplace(options_.hash_gate->Acquire());
      if (!slot->ok()) {
        (void)options_.audit->Record(kEventLoginFailed, attempt.user,
                                     {{"user", attempt.user},
                                      {"source", attempt.source},
                                      {"reason", "busy"}});
        return absl::ResourceExhaustedError(std::string(kBusyMessage));
      }
    }
    // Exactly one scrypt, whatever happens next.
    password_ok = options_.hasher->Verify(
        attempt.password,
        known ? std::optional<std::string_view>(creds->password_hash)
              : std::nullopt);
  }
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
  // A success clears this pair's count only: not the source's (one good
  // account must not reset the count of guesses against others) nor the
  // user's at other sources.
  pairs_.Reset(PairKey(attempt));
  (void)options_.store->RecordLoginSuccess(attempt.user);
  return *user;
}

}  // namespace sallyport::ca
