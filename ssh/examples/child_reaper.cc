#include "ssh/examples/child_reaper.h"

#include <signal.h>
#include <sys/wait.h>

#include <utility>
#include <vector>

namespace sallyport::ssh::examples {

ChildReaper::ChildReaper(asio::io_context& io) : signals_(io, SIGCHLD) {
  Wait();
}

void ChildReaper::Wait() {
  signals_.async_wait([this](const asio::error_code& ec, int) {
    if (ec) return;  // cancelled: the loop is shutting down
    ReapExited();
    Wait();
  });
}

void ChildReaper::Watch(pid_t pid, std::function<void(int)> on_exit) {
  children_[pid] = std::move(on_exit);
  // It may have exited before it was registered.
  asio::post(signals_.get_executor(), [this] { ReapExited(); });
}

void ChildReaper::ReapExited() {
  std::vector<std::pair<std::function<void(int)>, int>> exited;
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    pid_t w = waitpid(it->first, &status, WNOHANG);
    if (w == it->first || (w < 0 && errno == ECHILD)) {
      exited.emplace_back(std::move(it->second), status);
      it = children_.erase(it);
    } else {
      ++it;
    }
  }
  // Callbacks run after the map was updated: they may Watch() again.
  for (auto& [callback, status] : exited) {
    if (callback) callback(status);
  }
}

void ChildReaper::SignalAll(int sig) {
  for (const auto& [pid, callback] : children_) {
    kill(-pid, sig);
    kill(pid, sig);
  }
}

}  // namespace sallyport::ssh::examples
