#include "absl/synchronization/mutex.h"
#include "base/steady_mutex.h"

namespace fixture {

class Steady {
 public:
  void Wait();
  // A member declared further down, in this class.
  void WaitInline() {
    base::SteadyMutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(1));
  }

 private:
  mutable base::SteadyMutex mu_;
  bool done_ = false;
};

// The same member name, an absl::Mutex.
class ABSL_LOCKABLE Wall {
 public:
  void Wait();
  void WaitInline() {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(1));
  }

 private:
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  absl::Notification note_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fixture
