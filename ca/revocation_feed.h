// RevocationFeed wakes WatchRevocations streams when a revocation is added
// in this process; streams also poll the store, so revocations added by
// other CA instances arrive within one poll interval.
#ifndef SALLYPORT_CA_REVOCATION_FEED_H_
#define SALLYPORT_CA_REVOCATION_FEED_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/steady_mutex.h"

namespace sallyport::ca {

class RevocationFeed {
 public:
  // Wakes every waiter.
  void Notify() ABSL_LOCKS_EXCLUDED(mu_);
  // Wakes every waiter for good: Wait returns false from now on.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until Notify (after `seen`), Shutdown or the timeout (of the
  // steady clock: a wall-clock step does not stretch the poll). Returns
  // false after Shutdown. `seen` is updated to the current generation.
  bool Wait(uint64_t* seen, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t generation() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  base::SteadyMutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_REVOCATION_FEED_H_
