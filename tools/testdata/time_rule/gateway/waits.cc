#include "gateway/waits.h"

#include <chrono>
#include <condition_variable>

namespace fixture {

void Steady::Wait() {
  base::SteadyMutexLock lock(&mu_);
  this->mu_.AwaitWithDeadline(absl::Condition(&done_),
                              absl::Now() + absl::Seconds(1));
  // mu_.AwaitWithTimeout(...) in a comment is no call,
  const char* s = "nor mu_.AwaitWithTimeout( in a string";
  (void)s;
}

void Wall::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(1));
  mu_.Unlock();
  mu_.LockWhenWithTimeout(absl::Condition(&done_), absl::Seconds(1));
  cv_.WaitWithTimeout(&mu_, absl::Seconds(1));
  note_.WaitForNotificationWithDeadline(absl::Now() + absl::Seconds(1));
}

void Locals() {
  base::SteadyMutex steady;
  bool done = false;
  base::SteadyMutexLock l(&steady);
  steady.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(1));
}

void LocalsWall() {
  absl::Mutex steady;  // named to mislead
  bool done = false;
  absl::MutexLock l(&steady);
  steady.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(1));
}

bool Param(base::SteadyMutex* mu, bool* done) {
  return mu->AwaitWithTimeout(absl::Condition(done), absl::Seconds(1));
}

bool Unresolved(Holder& h, bool* done) {
  return h.get().AwaitWithTimeout(absl::Condition(done), absl::Seconds(1));
}

bool Undeclared(bool* done) {
  return nowhere_.AwaitWithTimeout(absl::Condition(done), absl::Seconds(1));
}

void Chrono() {
  std::mutex m;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(m);
  cv.wait_until(lock,
                std::chrono::system_clock::now() + std::chrono::seconds(1));
  const auto deadline = absl::ToChronoTime(absl::Now() + absl::Seconds(1));
  cv.wait_until(lock, deadline);
  std::this_thread::sleep_until(deadline);
  cv.wait_until(lock,
                std::chrono::steady_clock::now() + std::chrono::seconds(1));
  cv.wait_for(lock, std::chrono::seconds(1));
  const auto wait_until = [](absl::Duration) {};
  wait_until(absl::Seconds(1));
}

}  // namespace fixture
