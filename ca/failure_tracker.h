// In-memory failure counting for keys the Store does not track: source
// addresses, and user names that do not exist (so that unknown users lock
// out exactly like real ones and a lockout message does not reveal which
// names exist).
//
// LIMITATION: the state lives in one CA process; several CA instances on one
// PostgreSQL database each count separately, and a restart forgets it. The
// per-user counts of real users are in the Store and shared.
#ifndef SALLYPORT_CA_FAILURE_TRACKER_H_
#define SALLYPORT_CA_FAILURE_TRACKER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sallyport::ca {

class FailureTracker {
 public:
  struct Policy {
    int max_failures = 5;
    // Lock duration, and how long a failure counts: a key whose last failure
    // is older than this starts again at zero.
    absl::Duration lockout = absl::Minutes(15);
    // At most this many keys are remembered; when full, expired entries are
    // dropped, then the oldest-failing ones (bounded memory against floods
    // of made-up names).
    size_t max_entries = 100000;
  };

  explicit FailureTracker(Policy policy) : policy_(policy) {}

  // The end of the lock on `key`, if it is locked at `now`.
  std::optional<absl::Time> LockedUntil(std::string_view key, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Counts a failure; returns true when this failure locked the key. While
  // locked, failures are not counted and the lock is not extended.
  bool RecordFailure(std::string_view key, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Failures counted for `key` (0 once its last failure is older than
  // policy.lockout, and while it is locked).
  int Failures(std::string_view key, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the key (after a success, or an admin unlock).
  void Reset(std::string_view key) ABSL_LOCKS_EXCLUDED(mu_);
  // The keys locked at `now`, each with the end of its lock, in no order
  // (at most policy.max_entries).
  std::vector<std::pair<std::string, absl::Time>> Locked(absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() ABSL_LOCKS_EXCLUDED(mu_);
  const Policy& policy() const { return policy_; }

 private:
  struct Entry {
    int failures = 0;
    absl::Time last_failure;
    absl::Time locked_until = absl::InfinitePast();
  };
  void MakeRoom(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Policy policy_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_FAILURE_TRACKER_H_
