// LoginAuthenticator: password (+ TOTP) authentication for the CA's Login
// RPC (SECURITY.md "Authentication"):
// - unknown users, users without a password, wrong passwords and wrong or
//   replayed one-time codes all get kUnauthenticated with the same message,
//   after the same work (one scrypt) and no earlier than failure_delay after
//   the request started;
// - a source can only lock a user out at that source: failures are counted
//   per (user, source address), and lockout.max_failures of them lock that
//   pair (kResourceExhausted naming when the lock ends, without hashing).
//   Across all sources a user, and a source across all users, only ever get
//   an increasing delay (throttle), never a lock a stranger could trigger.
//   Unknown names are counted exactly like real ones. An unlock (admin
//   UnlockUser or `sallyport-ca unlock` on the CA host) ends the pair locks
//   that began before it, through credentials.unlocked_at in the Store;
// - password hashing goes through a HashGate: when it is full the answer is
//   kResourceExhausted (kBusyMessage) at once; so is an attempt beyond
//   max_in_flight attempts in progress (max_in_flight_per_source from its
//   source), which would otherwise hold handler threads the gateways need;
// - a TOTP user who sent no code but the right password gets
//   kFailedPrecondition "one-time code required" (not counted as a failure);
// - a TOTP code is accepted once: a step at or before the last accepted one
//   is refused. The last accepted step is claimed atomically in the Store,
//   so this holds across restarts and across CA instances sharing it.
//
// LIMITATION: the pair, source and per-name counters are in memory: several
// CA instances do not share them and a restart forgets them.
#ifndef SALLYPORT_CA_LOGIN_H_
#define SALLYPORT_CA_LOGIN_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/secret_bytes.h"
#include "ca/audit_log.h"
#include "ca/failure_tracker.h"
#include "ca/hash_gate.h"
#include "ca/in_flight_limiter.h"
#include "ca/password_hash.h"
#include "ca/totp.h"
#include "storage/store.h"

namespace sallyport::ca {

inline constexpr std::string_view kBadCredentialsMessage =
    "invalid user name, password or one-time code";
// Followed by the end of the lock, e.g. "2026-11-30T05:45:00Z".
inline constexpr std::string_view kLockedMessage =
    "too many failed logins for this user from this address; try again "
    "after ";
inline constexpr std::string_view kBusyMessage =
    "the CA is busy checking other logins; try again in a few seconds";
// Login attempts in progress at once (LoginAuthenticator::Options): in all,
// as many of the CA's handler threads (CaServer::kMaxThreads counts a
// thread for each), and a source (a NAT of many users included) far more
// than its users start at once.
inline constexpr int kMaxLoginsInFlight = 32;
inline constexpr int kMaxLoginsInFlightPerSource = 8;
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
    // Lockouts and TOTP; its Monotonic() times the failure delay.
    base::Clock* clock = base::Clock::Real();
    // Failures of one user from one source that lock that pair, and for how
    // long; also the user's failures (all sources) before its throttle.
    storage::LockoutPolicy lockout;
    // Failures from one source (all users) before its attempts are
    // throttled (it is shared by every user behind a NAT).
    int max_failures_per_address = 20;
    // Failed logins are answered no earlier than this after they started.
    absl::Duration failure_delay = absl::Milliseconds(250);
    // The throttle: an attempt for a user, or from a source, that is over
    // its limit by n failures first waits throttle_base * 2^n, at most
    // max_throttle.
    absl::Duration throttle_base = absl::Milliseconds(250);
    absl::Duration max_throttle = absl::Seconds(8);
    // Bounds concurrent hashing; not owned; nullptr: unbounded.
    HashGate* hash_gate = nullptr;
    // Attempts in progress at once, in all and from one source: each holds
    // one of the CA's handler threads while it hashes and waits out its
    // throttle and failure delay (seconds), so failing logins alone could
    // take every thread (ca/server.h kMaxThreads) and keep the gateways'
    // calls waiting. One more is refused at once (kBusyMessage, audited as
    // reason "busy"), whoever it is for: no limit is per user, which a
    // stranger could fill to keep that user out.
    int max_in_flight = kMaxLoginsInFlight;
    int max_in_flight_per_source = kMaxLoginsInFlightPerSource;
    TotpParams totp;
    // How to wait for the failure delay and the throttle (tests replace it).
    std::function<void(absl::Duration)> sleep = [](absl::Duration d) {
      absl::SleepFor(d);
    };
  };

  explicit LoginAuthenticator(Options options);

  // The authenticated user (which may be disabled: the certificate policy
  // refuses those). Errors: kUnauthenticated (kBadCredentialsMessage),
  // kResourceExhausted (kLockedMessage + time, or kBusyMessage),
  // kFailedPrecondition (kOtpRequiredMessage), kUnavailable when the store
  // cannot be reached. Every refusal is an audit event "login.failed" with
  // the reason; a new pair lock is also "login.locked".
  absl::StatusOr<storage::User> Authenticate(const LoginAttempt& attempt);

  // Attempts in progress now (max_in_flight bounds them).
  int in_flight() { return in_flight_.in_flight(); }

  // The throttle an attempt for `user` from `source` would wait now.
  absl::Duration Throttle(std::string_view user, std::string_view source);

  // A (user, source) pair locked out after failed logins.
  struct SourceLock {
    std::string source;
    absl::Time until;
    bool operator==(const SourceLock&) const = default;
  };
  // The pair locks in force now (in this process: see LIMITATION), by user
  // name, each user's sorted by source; names that do not exist lock too.
  // Locks an unlock ended are still listed until the next attempt: see
  // EndedByUnlock.
  std::map<std::string, std::vector<SourceLock>> PairLocks();
  // Whether the last unlock of the user (`creds->unlocked_at`; admin
  // UnlockUser or `sallyport-ca unlock`, possibly on another instance)
  // ended a lock that ends at `until`: it came after the lock began.
  bool EndedByUnlock(absl::Time until, const storage::Credentials* creds) const;

 private:
  // `started`: the attempt's start on options_.clock->Monotonic().
  absl::Status Refuse(const LoginAttempt& attempt, absl::Duration started,
                      std::string_view reason, absl::Status status);
  void CountFailure(const LoginAttempt& attempt, bool known_user);
  // The end of the lock of the attempt's (user, source), unless an unlock
  // recorded in `creds` ended it.
  std::optional<absl::Time> PairLockedUntil(const LoginAttempt& attempt,
                                            const storage::Credentials* creds,
                                            absl::Time now);

  Options options_;
  FailureTracker pairs_;    // "source\nuser": locks
  FailureTracker sources_;  // throttles only
  FailureTracker users_;    // throttles only
  InFlightLimiter in_flight_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_LOGIN_H_
