// Clock is how every component reads the time, so tests can inject a
// FakeClock (certificate validity, rekey by time, lockouts, timeouts).
#ifndef SALLYPORT_BASE_CLOCK_H_
#define SALLYPORT_BASE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sallyport::base {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time (certificate validity, audit timestamps).
  virtual absl::Time Now() const = 0;
  // Time since an arbitrary fixed point that only moves forward, whatever
  // happens to the wall clock (an NTP step, an operator's `date`): for how
  // long something has lasted (grace periods, timeouts). Only differences
  // between two readings mean anything.
  virtual absl::Duration Monotonic() const = 0;

  // The process-wide real clock. Never null, never destroyed.
  static Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start) {}
  absl::Time Now() const override;
  absl::Duration Monotonic() const override;
  // Time passes: both clocks move by `d` (>= 0).
  void Advance(absl::Duration d);
  // The wall clock is set to `t` (a jump either way); Monotonic() stays.
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  absl::Duration monotonic_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_CLOCK_H_
