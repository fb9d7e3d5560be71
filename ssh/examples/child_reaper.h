// Reaping child processes from the event loop: SIGCHLD arrives through an
// asio::signal_set (no work in a signal handler), then each watched pid is
// checked with waitpid(pid, WNOHANG), so only our own children are reaped.
#ifndef SALLYPORT_SSH_EXAMPLES_CHILD_REAPER_H_
#define SALLYPORT_SSH_EXAMPLES_CHILD_REAPER_H_

#include <sys/types.h>

#include <asio.hpp>
#include <functional>
#include <map>

namespace sallyport::ssh::examples {

class ChildReaper {
 public:
  // Installs the SIGCHLD handling; create it before forking any child.
  explicit ChildReaper(asio::io_context& io);
  ChildReaper(const ChildReaper&) = delete;
  ChildReaper& operator=(const ChildReaper&) = delete;

  // Calls on_exit(wait status) on the event loop once `pid` has exited.
  void Watch(pid_t pid, std::function<void(int)> on_exit);
  // Sends `sig` to each watched child's process group and to the child
  // (they run in sessions of their own).
  void SignalAll(int sig);
  size_t size() const { return children_.size(); }

 private:
  void Wait();
  void ReapExited();

  asio::signal_set signals_;
  std::map<pid_t, std::function<void(int)>> children_;
};

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_CHILD_REAPER_H_
