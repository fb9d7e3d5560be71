#include "ca/issuance_workers.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace sallyport::ca {

IssuanceWorkers::IssuanceWorkers(Options options)
    : max_queued_(options.max_queued), max_inline_(options.max_inline) {
  for (int i = 0; i < options.threads; ++i) {
    threads_.emplace_back([this] { Work(); });
  }
}

IssuanceWorkers::~IssuanceWorkers() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  work_.SignalAll();
  for (std::thread& t : threads_) t.join();
}

absl::Status IssuanceWorkers::Submit(std::function<void()> task) {
  if (threads_.empty()) {
    task();
    return absl::OkStatus();
  }
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty() && running_inline_ < max_inline_) {
      ++running_inline_;
      ++ran_inline_;
    } else {
      return Queue(std::move(task));
    }
  }
  task();
  absl::MutexLock lock(&mu_);
  --running_inline_;
  return absl::OkStatus();
}

absl::Status IssuanceWorkers::Queue(std::function<void()> task) {
  if (queue_.size() >= max_queued_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the CA is busy: ", max_queued_,
                     " issuances are already waiting; try again"));
  }
  queue_.push_back(std::move(task));
  work_.Signal();
  return absl::OkStatus();
}

int64_t IssuanceWorkers::ran_inline() {
  absl::MutexLock lock(&mu_);
  return ran_inline_;
}

size_t IssuanceWorkers::queued() {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void IssuanceWorkers::Work() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) work_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace sallyport::ca
