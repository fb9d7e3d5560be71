#include "ca/revocation_feed.h"

namespace sallyport::ca {

void RevocationFeed::Notify() {
  base::SteadyMutexLock lock(&mu_);
  ++generation_;
}

void RevocationFeed::Shutdown() {
  base::SteadyMutexLock lock(&mu_);
  shutdown_ = true;
}

uint64_t RevocationFeed::generation() {
  base::SteadyMutexLock lock(&mu_);
  return generation_;
}

bool RevocationFeed::Wait(uint64_t* seen, absl::Duration timeout) {
  base::SteadyMutexLock lock(&mu_);
  const uint64_t start = *seen;
  auto changed = [this, start]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shutdown_ || generation_ != start;
  };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  *seen = generation_;
  return !shutdown_;
}

}  // namespace sallyport::ca
