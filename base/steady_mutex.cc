#include "base/steady_mutex.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace sallyport::base {

void SteadyMutex::Lock() { mu_.lock(); }

void SteadyMutex::Unlock() {
  WakeReady();
  mu_.unlock();
}

void SteadyMutex::WakeReady() {
  for (Waiter* w : waiters_) {
    if (!w->woken && w->cond->Eval()) {
      w->woken = true;
      w->cv.notify_one();
    }
  }
}

void SteadyMutex::Await(const absl::Condition& cond) {
  Wait(cond, std::nullopt);
}

bool SteadyMutex::AwaitWithTimeout(const absl::Condition& cond,
                                   absl::Duration timeout) {
  const auto now = std::chrono::steady_clock::now();
  if (timeout <= absl::ZeroDuration()) return cond.Eval();
  // Beyond ~100 years a steady time_point would overflow: no timeout.
  if (timeout > absl::Hours(24 * 365 * 100)) return Wait(cond, std::nullopt);
  return Wait(cond, now + absl::ToChronoNanoseconds(timeout));
}

bool SteadyMutex::AwaitWithDeadline(const absl::Condition& cond,
                                    absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return Wait(cond, std::nullopt);
  return AwaitWithTimeout(cond, deadline - absl::Now());
}

bool SteadyMutex::Wait(
    const absl::Condition& cond,
    std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (cond.Eval()) return true;
  Waiter self;
  self.cond = &cond;
  waiters_.push_back(&self);
  // The caller may have changed what others wait for before waiting
  // itself: as Unlock would, wake them before letting go of the mutex.
  WakeReady();
  std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
  bool held = false;
  for (;;) {
    if (deadline.has_value()) {
      if (self.cv.wait_until(lock, *deadline) == std::cv_status::timeout) {
        held = cond.Eval();
        break;
      }
    } else {
      self.cv.wait(lock);
    }
    self.woken = false;
    if (cond.Eval()) {
      held = true;
      break;
    }
  }
  waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &self));
  lock.release();  // held again, as the caller expects
  return held;
}

}  // namespace sallyport::base
