#include "ca/hash_gate.h"

#include <algorithm>
#include <thread>

namespace sallyport::ca {

HashGate::HashGate(Limits limits) : limits_(limits) {
  if (limits_.slots <= 0) {
    limits_.slots =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
  if (limits_.max_waiters <= 0) limits_.max_waiters = 4 * limits_.slots;
}

HashGate::Slot::~Slot() {
  if (gate_ != nullptr) gate_->Release();
}

HashGate::Slot HashGate::Acquire() {
  base::SteadyMutexLock lock(&mu_);
  if (busy_ < limits_.slots) {
    ++busy_;
    return Slot(this);
  }
  if (waiting_ >= limits_.max_waiters) return Slot(nullptr);
  ++waiting_;
  const bool got =
      mu_.AwaitWithTimeout(absl::Condition(&SlotFree, this), limits_.max_wait);
  --waiting_;
  if (!got) return Slot(nullptr);
  ++busy_;
  return Slot(this);
}

bool HashGate::SlotFree(HashGate* gate) {
  return gate->busy_ < gate->limits_.slots;
}

void HashGate::Release() {
  base::SteadyMutexLock lock(&mu_);
  --busy_;
}

int HashGate::busy() {
  base::SteadyMutexLock lock(&mu_);
  return busy_;
}

int HashGate::waiting() {
  base::SteadyMutexLock lock(&mu_);
  return waiting_;
}

}  // namespace sallyport::ca
