// IssuanceWorkers: a bounded pool of threads for the part of an issuance
// RPC that reads the store (authentication, the presented certificate's
// revocation, user, roles, host) and signs. The issuance RPCs use gRPC's
// callback API, whose few threads must not wait on the network: with a
// PostgreSQL store every read is a round trip, so those reads run here,
// several at once, while gRPC's threads go on serving calls. With SQLite
// the reads are local and cheap and the pool has no threads (tasks run on
// the caller's thread).
//
// The queue is bounded (DESIGN.md: every queue a peer can grow has a named
// limit): past max_queued tasks, Submit refuses and the RPC answers
// RESOURCE_EXHAUSTED at once instead of holding the call.
#ifndef SALLYPORT_CA_ISSUANCE_WORKERS_H_
#define SALLYPORT_CA_ISSUANCE_WORKERS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace sallyport::ca {

class IssuanceWorkers {
 public:
  // Threads for a store whose reads are network round trips (PostgreSQL):
  // twice the store's default connection pool, so that every connection
  // stays busy while some workers sign or wait for gRPC.
  static constexpr int kDefaultRemoteStoreThreads = 16;
  // Tasks waiting for a thread at most (beyond: RESOURCE_EXHAUSTED).
  static constexpr size_t kDefaultMaxQueued = 4096;
  // Tasks run on their callers' threads at once at most, when nothing is
  // queued (issue 11: with few clients the hand-off to a worker cost more
  // CPU than it saved; a caller's gRPC thread then waits for one store round
  // trip). Past it, or while tasks are queued, they go to the workers.
  static constexpr int kDefaultMaxInline = 1;

  struct Options {
    // 0: no threads, Submit runs the task on the caller's thread.
    int threads = 0;
    size_t max_queued = kDefaultMaxQueued;
    // With threads: tasks run inline at once at most (0: never inline).
    int max_inline = kDefaultMaxInline;
  };
  explicit IssuanceWorkers(Options options);
  // Runs every queued task, then ends the threads.
  ~IssuanceWorkers();
  IssuanceWorkers(const IssuanceWorkers&) = delete;
  IssuanceWorkers& operator=(const IssuanceWorkers&) = delete;

  // Queues `task` for a worker, or runs it now: without threads, or when
  // nothing waits and fewer than max_inline tasks run inline. When
  // max_queued tasks already wait: kResourceExhausted and `task` is not
  // run (the caller answers the RPC).
  absl::Status Submit(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

  int threads() const { return static_cast<int>(threads_.size()); }
  size_t queued() ABSL_LOCKS_EXCLUDED(mu_);
  // Tasks that ran on their callers' threads so far.
  int64_t ran_inline() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Work() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Queue(std::function<void()> task)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_;
  const int max_inline_;
  absl::Mutex mu_;
  int running_inline_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t ran_inline_ ABSL_GUARDED_BY(mu_) = 0;
  // Signalled once per queued task (one worker wakes, not all of them).
  absl::CondVar work_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_ISSUANCE_WORKERS_H_
