// A bounded pool of database connections, each lent to one thread at a
// time. Thread-safe. Internal to //storage.
#ifndef SALLYPORT_STORAGE_SQL_CONNECTION_POOL_H_
#define SALLYPORT_STORAGE_SQL_CONNECTION_POOL_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/steady_mutex.h"

namespace sallyport::storage::sql {

template <typename Conn>
class ConnectionPool {
 public:
  using Connect = std::function<absl::StatusOr<std::unique_ptr<Conn>>()>;
  // Optional: false when an idle connection is known to be dead (checked,
  // without blocking, when it is taken from the pool).
  using Healthy = std::function<bool(Conn&)>;

  ConnectionPool(int size, absl::Duration acquire_timeout, Connect connect,
                 Healthy healthy = nullptr)
      : size_(size),
        acquire_timeout_(acquire_timeout),
        connect_(std::move(connect)),
        healthy_(std::move(healthy)) {}

  // Adds an already open connection (counts towards the size).
  void AddIdle(std::unique_ptr<Conn> conn) {
    base::SteadyMutexLock lock(&mu_);
    ++open_;
    idle_.push_back(std::move(conn));
  }

  // An idle connection, or a new one while fewer than `size` are open.
  // Waits up to acquire_timeout (of the steady clock) for one to be
  // returned (kResourceExhausted after that); a failed connect returns its
  // error.
  absl::StatusOr<std::unique_ptr<Conn>> Acquire() {
    while (true) {
      std::unique_ptr<Conn> conn;
      {
        base::SteadyMutexLock lock(&mu_);
        if (!mu_.AwaitWithTimeout(
                absl::Condition(this, &ConnectionPool::CanAcquire),
                acquire_timeout_)) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "all ", size_, " database connections stayed busy for ",
              absl::FormatDuration(acquire_timeout_)));
        }
        if (idle_.empty()) {
          ++open_;  // reserve the slot; connect outside the lock
        } else {
          conn = std::move(idle_.back());
          idle_.pop_back();
        }
      }
      if (conn == nullptr) {
        absl::StatusOr<std::unique_ptr<Conn>> fresh = connect_();
        if (!fresh.ok()) Forget();
        return fresh;
      }
      if (!healthy_ || healthy_(*conn)) return conn;
      conn.reset();  // dead (e.g. the server restarted): drop it, try again
      Forget();
    }
  }

  // Returns a connection; a broken one is closed instead of kept.
  void Release(std::unique_ptr<Conn> conn, bool reusable) {
    if (!reusable) {
      conn.reset();
      Forget();
      return;
    }
    base::SteadyMutexLock lock(&mu_);
    idle_.push_back(std::move(conn));
  }

  // Closes every idle connection (after one turned out to be dead, the
  // others to the same server probably are too).
  void DiscardIdle() {
    std::vector<std::unique_ptr<Conn>> dropped;
    {
      base::SteadyMutexLock lock(&mu_);
      open_ -= static_cast<int>(idle_.size());
      dropped.swap(idle_);
    }
  }

 private:
  bool CanAcquire() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || open_ < size_;
  }
  void Forget() {
    base::SteadyMutexLock lock(&mu_);
    --open_;
  }

  const int size_;
  const absl::Duration acquire_timeout_;
  const Connect connect_;
  const Healthy healthy_;
  base::SteadyMutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sallyport::storage::sql

#endif  // SALLYPORT_STORAGE_SQL_CONNECTION_POOL_H_
