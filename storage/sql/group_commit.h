// Group commit: concurrent callers' writes share one transaction, so one
// durable commit (one fsync with SQLite synchronous=FULL, one round trip of
// COMMIT with PostgreSQL) serves many of them. Internal to //storage.
//
// Leader/follower: a Submit caller that finds no batch in progress becomes
// the leader, takes up to max_batch queued items (its own among them),
// optionally waits up to max_wait for the batch to fill, runs them in one
// transaction and hands every item of the batch the same status. Callers
// arriving meanwhile queue up and form the next batch, so an idle system
// adds no wait and a busy one batches by itself.
//
// SubmitAsync queues an item without parking the caller: a commit thread
// (started at the first SubmitAsync) leads batches while async items wait,
// and each item's `done` runs on whichever thread led its batch. The
// destructor commits what is queued, then ends the thread.
#ifndef SALLYPORT_STORAGE_SQL_GROUP_COMMIT_H_
#define SALLYPORT_STORAGE_SQL_GROUP_COMMIT_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/steady_mutex.h"
#include "storage/issuance_options.h"

namespace sallyport::storage::sql {

struct GroupCommitStats {
  int64_t batches = 0;    // transactions run
  int64_t items = 0;      // items committed or failed in them
  int64_t max_items = 0;  // the largest batch
};

template <typename Item>
class GroupCommit {
 public:
  // Runs one batch in one transaction, items in arrival order.
  using Run = std::function<absl::Status(absl::Span<Item* const>)>;
  using Done = std::function<void(absl::Status)>;

  // `max_batch` items at most per batch (clamped to
  // 1..kMaxGroupCommitBatch); a leader waits up to `max_wait` for a batch to
  // fill, from the arrival of its oldest item (on the steady clock: a
  // wall-clock step does not stretch it).
  GroupCommit(int max_batch, absl::Duration max_wait, Run run)
      : max_batch_(std::clamp(max_batch, 1, kMaxGroupCommitBatch)),
        max_wait_(std::max(max_wait, absl::ZeroDuration())),
        run_(std::move(run)) {}

  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  ~GroupCommit() {
    {
      base::SteadyMutexLock lock(&mu_);
      stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  // Queues `item` and returns once a transaction that included it ended:
  // the status of that whole batch (every item of a failed batch gets the
  // error).
  absl::Status Submit(Item& item) {
    Waiter me{this, &item, Clock::now(), false, absl::OkStatus(), nullptr};
    base::SteadyMutexLock lock(&mu_);
    queue_.push_back(&me);
    while (!me.done) {
      if (leading_) {
        mu_.Await(absl::Condition(&me, &Waiter::MayProceed));
      } else {
        Lead();
      }
    }
    return me.status;
  }

  // Queues `item` and returns at once; `done(status)` runs once the
  // transaction that included it ended, on the thread that led the batch
  // (the commit thread or a Submit caller), never under a lock of this.
  // `item` must stay valid until `done` runs.
  void SubmitAsync(Item& item, Done done) {
    auto* w = new Waiter{
        this, &item, Clock::now(), false, absl::OkStatus(), std::move(done)};
    base::SteadyMutexLock lock(&mu_);
    if (!thread_.joinable()) thread_ = std::thread([this] { CommitLoop(); });
    queue_.push_back(w);
    ++async_queued_;
  }

  GroupCommitStats stats() const {
    base::SteadyMutexLock lock(&mu_);
    return stats_;
  }

 private:
  using Clock = std::chrono::steady_clock;

  struct Waiter {
    const GroupCommit* owner;
    Item* item;
    Clock::time_point arrived;
    bool done = false;
    absl::Status status;
    Done done_fn;  // set for SubmitAsync: the waiter is owned by the queue

    // Called with owner->mu_ held: this item's batch ended, or no batch is
    // in progress (so this caller may lead the next).
    bool MayProceed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(owner->mu_) {
      return done || !owner->leading_;
    }
  };

  bool BatchFull() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(queue_.size()) >= max_batch_;
  }
  // A closing store does not wait for batches to fill.
  bool BatchFullOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return BatchFull() || stopping_;
  }

  // The commit thread may lead: async items wait and no batch is running,
  // or it is told to stop.
  bool ThreadMayLead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return (async_queued_ > 0 && !leading_) || stopping_;
  }

  void CommitLoop() {
    base::SteadyMutexLock lock(&mu_);
    while (true) {
      mu_.Await(absl::Condition(this, &GroupCommit::ThreadMayLead));
      if (async_queued_ > 0 && !leading_) {
        Lead();
      } else if (async_queued_ == 0) {
        return;  // stopping, and every async item is committed
      } else {
        mu_.Await(absl::Condition(this, &GroupCommit::NotLeading));
      }
    }
  }
  bool NotLeading() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !leading_;
  }

  // Takes a batch off the queue, runs it with mu_ released and hands out
  // its status (async items' `done` also with mu_ released).
  void Lead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    leading_ = true;
    if (max_wait_ > absl::ZeroDuration() && !BatchFull()) {
      const absl::Duration waited =
          absl::FromChrono(Clock::now() - queue_.front()->arrived);
      mu_.AwaitWithTimeout(
          absl::Condition(this, &GroupCommit::BatchFullOrStopping),
          max_wait_ - waited);
    }
    std::vector<Waiter*> batch;
    const size_t n = std::min(queue_.size(), static_cast<size_t>(max_batch_));
    batch.assign(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    std::vector<Item*> items;
    items.reserve(batch.size());
    std::vector<std::unique_ptr<Waiter>> async;
    std::vector<Waiter*> sync;
    for (Waiter* w : batch) {
      items.push_back(w->item);
      if (w->done_fn) {
        async.emplace_back(w);
        --async_queued_;
      } else {
        sync.push_back(w);
      }
    }
    mu_.Unlock();
    const absl::Status status = run_(items);
    for (auto& w : async) w->done_fn(status);
    async.clear();
    mu_.Lock();
    for (Waiter* w : sync) {
      w->status = status;
      w->done = true;
    }
    ++stats_.batches;
    stats_.items += static_cast<int64_t>(batch.size());
    stats_.max_items = std::max<int64_t>(stats_.max_items, batch.size());
    leading_ = false;
  }

  const int max_batch_;
  const absl::Duration max_wait_;
  const Run run_;
  mutable base::SteadyMutex mu_;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  int64_t async_queued_ ABSL_GUARDED_BY(mu_) = 0;  // async items in queue_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // started under mu_, joined by the destructor
  GroupCommitStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::storage::sql

#endif  // SALLYPORT_STORAGE_SQL_GROUP_COMMIT_H_
