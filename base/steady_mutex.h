// A mutex whose timed waits are measured on the steady clock.
//
// absl::Mutex (Debian's Abseil 20220623) turns every timeout into an
// absolute wall-clock deadline (absl::Now() + timeout) and sleeps in the
// kernel until CLOCK_REALTIME reaches it. So when the wall clock steps back
// (NTP correcting a VM resumed from a snapshot, an operator's `date -s`),
// every wait in progress lasts longer by the size of the step: an hour's
// step holds a 1 s fsync interval, a 250 ms event batch or a reconnect
// backoff for an hour. Slicing the wait does not help (each slice is
// stretched the same way).
//
// SteadyMutex keeps absl::Mutex's way of waiting, Await(absl::Condition):
// no condition variable to notify; whoever releases the mutex evaluates
// the conditions of the threads waiting on it and wakes those whose
// condition holds. Its timed waits sleep on std::chrono::steady_clock
// (CLOCK_MONOTONIC), which no clock step moves. Use it, not absl::Mutex,
// wherever a thread waits with a timeout or deadline.
//
// Conditions read only state guarded by the mutex (as with absl::Mutex);
// they are evaluated with the mutex held, by the releasing thread too.
// Not reentrant. Thread-safety annotations as absl::Mutex's.
#ifndef SALLYPORT_BASE_STEADY_MUTEX_H_
#define SALLYPORT_BASE_STEADY_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sallyport::base {

class ABSL_LOCKABLE SteadyMutex {
 public:
  SteadyMutex() = default;
  SteadyMutex(const SteadyMutex&) = delete;
  SteadyMutex& operator=(const SteadyMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION();
  // Wakes the waiters whose condition now holds, then releases.
  void Unlock() ABSL_UNLOCK_FUNCTION();

  // Releases the mutex until `cond` holds, then returns with it held.
  void Await(const absl::Condition& cond) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this);
  // The same, giving up after `timeout` of the steady clock; returns
  // whether `cond` holds (evaluated once more at the timeout). A zero or
  // negative timeout only evaluates it.
  bool AwaitWithTimeout(const absl::Condition& cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this);
  // The same with a wall-clock deadline, converted to a timeout once, at
  // the call (deadline - absl::Now()): a clock step during the wait does
  // not move its end.
  bool AwaitWithDeadline(const absl::Condition& cond, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this);

  // Threads waiting in Await* (tests).
  size_t WaitersForTest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return waiters_.size();
  }

 private:
  struct Waiter {
    const absl::Condition* cond;
    std::condition_variable cv;
    bool woken = false;
  };
  // `deadline` unset: no timeout.
  bool Wait(const absl::Condition& cond,
            std::optional<std::chrono::steady_clock::time_point> deadline);
  // Wakes every waiter whose condition holds (mu_ held).
  void WakeReady();

  std::mutex mu_;
  std::vector<Waiter*> waiters_;  // guarded by mu_
};

class ABSL_SCOPED_LOCKABLE SteadyMutexLock {
 public:
  explicit SteadyMutexLock(SteadyMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu)
      : mu_(mu) {
    mu_->Lock();
  }
  SteadyMutexLock(const SteadyMutexLock&) = delete;
  SteadyMutexLock& operator=(const SteadyMutexLock&) = delete;
  ~SteadyMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }

 private:
  SteadyMutex* const mu_;
};

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_STEADY_MUTEX_H_
