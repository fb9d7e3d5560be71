#include "ssh/net/bulk_lane.h"

#include <utility>

namespace sallyport::ssh::net {

BulkLane& BulkLane::Of(const asio::any_io_executor& ex) {
  return asio::use_service<BulkLane>(asio::query(ex, asio::execution::context));
}

void BulkLane::Queue(asio::any_io_executor ex, std::function<bool()> step) {
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    steps_.push_back(std::move(step));
    if (!marker_posted_) {
      marker_posted_ = true;
      ex_ = ex;
      post = true;
    }
  }
  if (post) asio::post(ex, [this] { Turn(); });
}

size_t BulkLane::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steps_.size();
}

void BulkLane::shutdown() {
  std::deque<std::function<bool()>> steps;
  std::lock_guard<std::mutex> lock(mu_);
  steps.swap(steps_);
  ex_ = asio::any_io_executor();
}

// The marker: one step that did something, then behind the queue again.
void BulkLane::Turn() {
  while (true) {
    std::function<bool()> step;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (steps_.empty()) {
        marker_posted_ = false;
        return;
      }
      step = std::move(steps_.front());
      steps_.pop_front();
    }
    if (step()) break;
  }
  asio::any_io_executor ex;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (steps_.empty()) {
      marker_posted_ = false;
      return;
    }
    ex = ex_;
  }
  asio::post(ex, [this] { Turn(); });
}

}  // namespace sallyport::ssh::net
