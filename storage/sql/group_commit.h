// Group commit: concurrent callers' writes share one transaction, so one
// durable commit (one fsync with SQLite synchronous=FULL, one round trip of
// COMMIT with PostgreSQL) serves many of them. Internal to //storage.
//
// Leader/follower, no thread of its own: a caller that finds no batch in
// progress becomes the leader, takes up to max_batch queued items (its own
// among them), optionally waits up to max_wait for the batch to fill, runs
// them in one transaction and hands every item of the batch the same
// status. Callers arriving meanwhile queue up and form the next batch, so an
// idle system adds no wait and a busy one batches by itself.
#ifndef SALLYPORT_STORAGE_SQL_GROUP_COMMIT_H_
#define SALLYPORT_STORAGE_SQL_GROUP_COMMIT_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
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
  using Run = absl::FunctionRef<absl::Status(absl::Span<Item* const>)>;

  // `max_batch` items at most per batch (clamped to
  // 1..kMaxGroupCommitBatch); a leader waits up to `max_wait` for a batch to
  // fill, from the arrival of its oldest item.
  GroupCommit(int max_batch, absl::Duration max_wait)
      : max_batch_(std::clamp(max_batch, 1, kMaxGroupCommitBatch)),
        max_wait_(std::max(max_wait, absl::ZeroDuration())) {}

  // Queues `item` and returns once a transaction that included it ended:
  // the status `run` returned for that whole batch (every item of a failed
  // batch gets the error). `run` is called by whichever caller leads the
  // batch, with the batch's items in arrival order; every caller must pass
  // an equivalent `run`.
  absl::Status Submit(Item& item, Run run) {
    Waiter me{this, &item, absl::Now(), false, absl::OkStatus()};
    absl::MutexLock lock(&mu_);
    queue_.push_back(&me);
    while (!me.done) {
      if (leading_) {
        mu_.Await(absl::Condition(&me, &Waiter::MayProceed));
      } else {
        Lead(run);
      }
    }
    return me.status;
  }

  GroupCommitStats stats() const {
    absl::MutexLock lock(&mu_);
    return stats_;
  }

 private:
  struct Waiter {
    const GroupCommit* owner;
    Item* item;
    absl::Time arrived;
    bool done = false;
    absl::Status status;

    // Called with owner->mu_ held: this item's batch ended, or no batch is
    // in progress (so this caller may lead the next).
    bool MayProceed() const { return done || !owner->leading_; }
  };

  bool BatchFull() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(queue_.size()) >= max_batch_;
  }

  void Lead(Run run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    leading_ = true;
    if (max_wait_ > absl::ZeroDuration() && !BatchFull()) {
      mu_.AwaitWithDeadline(absl::Condition(this, &GroupCommit::BatchFull),
                            queue_.front()->arrived + max_wait_);
    }
    std::vector<Waiter*> batch;
    const size_t n = std::min(queue_.size(), static_cast<size_t>(max_batch_));
    batch.assign(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
    std::vector<Item*> items;
    items.reserve(batch.size());
    for (Waiter* w : batch) items.push_back(w->item);
    mu_.Unlock();
    const absl::Status status = run(items);
    mu_.Lock();
    for (Waiter* w : batch) {
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
  mutable absl::Mutex mu_;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  GroupCommitStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::storage::sql

#endif  // SALLYPORT_STORAGE_SQL_GROUP_COMMIT_H_
