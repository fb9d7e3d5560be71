#include "ca/revocation_feed.h"

namespace sallyport::ca {

void RevocationFeed::Notify() {
  absl::MutexLock lock(&mu_);
  ++generation_;
}

void RevocationFeed::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
}

uint64_t RevocationFeed::generation() {
  absl::MutexLock lock(&mu_);
  return generation_;
}

bool RevocationFeed::Wait(uint64_t* seen, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const uint64_t start = *seen;
  auto changed = [this, start]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shutdown_ || generation_ != start;
  };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  *seen = generation_;
  return !shutdown_;
}

}  // namespace sallyport::ca
