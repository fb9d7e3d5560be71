// HashGate: bounds how many password hashes (32 MiB of scrypt each) run at
// once. A caller waits at most `max_wait` for a slot, and at most
// `max_waiters` callers wait at all; the others are refused at once, so a
// flood of failing logins costs bounded memory and CPU and a real login is
// answered (or refused with kResourceExhausted) quickly.
#ifndef SALLYPORT_CA_HASH_GATE_H_
#define SALLYPORT_CA_HASH_GATE_H_

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "base/steady_mutex.h"

namespace sallyport::ca {

class HashGate {
 public:
  struct Limits {
    // Hashes at once (default: the number of cores).
    int slots = 0;
    // Callers waiting for a slot beyond which the next is refused at once.
    int max_waiters = 0;  // 0: 4 * slots
    absl::Duration max_wait = absl::Seconds(2);
  };
  explicit HashGate(Limits limits);

  // A slot, released when the Slot is destroyed; !ok() when none was free
  // within max_wait (of the steady clock) or too many callers are waiting.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();
    bool ok() const { return gate_ != nullptr; }

   private:
    friend class HashGate;
    explicit Slot(HashGate* gate) : gate_(gate) {}
    HashGate* gate_;
  };
  Slot Acquire() ABSL_LOCKS_EXCLUDED(mu_);

  int slots() const { return limits_.slots; }
  int max_waiters() const { return limits_.max_waiters; }
  // Hashes running now, and callers waiting for a slot.
  int busy() ABSL_LOCKS_EXCLUDED(mu_);
  int waiting() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Release() ABSL_LOCKS_EXCLUDED(mu_);
  // The Await condition (called with mu_ held).
  static bool SlotFree(HashGate* gate) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  Limits limits_;
  base::SteadyMutex mu_;
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_HASH_GATE_H_
