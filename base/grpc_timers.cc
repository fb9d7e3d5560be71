#include "base/grpc_timers.h"

#include <grpc/grpc.h>

#include <atomic>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "base/steady_mutex.h"

// gRPC's own entry point (src/core/lib/iomgr/timer_manager.h, exported by
// libgrpc.so.29 but not in its public headers): wakes the timer thread,
// which fires the timers due and computes its next sleep afresh.
void grpc_kick_poller();

namespace sallyport::base {
namespace {

std::atomic<uint64_t> kicks{0};

class Kicker {
 public:
  Kicker() {
    grpc_init();
    thread_ = std::thread([this] { Run(); });
  }
  ~Kicker() {
    {
      SteadyMutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
    grpc_shutdown();
  }
  Kicker(const Kicker&) = delete;
  Kicker& operator=(const Kicker&) = delete;

 private:
  void Run() {
    SteadyMutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                 kGrpcTimerKickInterval)) {
      grpc_kick_poller();
      kicks.fetch_add(1, std::memory_order_relaxed);
    }
  }

  SteadyMutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace

std::shared_ptr<const void> KeepGrpcTimersOnTime() {
  static absl::Mutex mu(absl::kConstInit);
  static std::weak_ptr<Kicker>* current = new std::weak_ptr<Kicker>();
  absl::MutexLock lock(&mu);
  std::shared_ptr<Kicker> kicker = current->lock();
  if (kicker == nullptr) {
    kicker = std::make_shared<Kicker>();
    *current = kicker;
  }
  return kicker;
}

uint64_t GrpcTimerKicksForTest() {
  return kicks.load(std::memory_order_relaxed);
}

}  // namespace sallyport::base
