// One io_context per I/O thread (one per core by default), and a server
// runtime that puts a Listener on each of them bound to the same port with
// SO_REUSEPORT, so the kernel spreads connections over the threads and each
// connection lives on one thread.
#ifndef SALLYPORT_SSH_NET_IO_THREADS_H_
#define SALLYPORT_SSH_NET_IO_THREADS_H_

#include <asio.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "ssh/net/listener.h"

namespace sallyport::ssh::net {

class IoThreads {
 public:
  // `threads` <= 0: one per core.
  explicit IoThreads(int threads = 0);
  // Stops and joins.
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  int size() const { return static_cast<int>(contexts_.size()); }
  asio::io_context& context(int i) { return *contexts_[i]; }

  bool running() const { return !threads_.empty(); }
  // Runs each io_context on its own thread until Stop().
  void Start();
  // Stops every io_context (pending work is abandoned) and joins.
  void Stop();

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards_;
  std::vector<std::thread> threads_;
};

// A Listener on every thread of `threads`, all on one port (the port of
// the first when `endpoint` has port 0), sharing one PreAuthBudget. The
// listeners are started. Destroy the runtime before `threads`.
class ServerRuntime {
 public:
  // Whether the endpoint may already have a listener.
  enum class PortUse {
    // kUnavailable ("cannot listen on ADDR:PORT: Address already in use")
    // when any socket is bound there: with SO_REUSEPORT the kernel would
    // otherwise let another process of the same user share the port and
    // hand it part of the connections.
    kMustBeFree,
    // The caller's own runtime listens there and is being replaced (new
    // limits on the same port).
    kReplacesOwn,
  };
  // `budget`: the PreAuthBudget the listeners share; null: a new one. A
  // runtime replacing another takes the other's, so the unauthenticated
  // connections of both count against one limit.
  static absl::StatusOr<std::unique_ptr<ServerRuntime>> Listen(
      IoThreads& threads, asio::ip::tcp::endpoint endpoint,
      ListenerOptions options, Listener::Handler handler,
      std::shared_ptr<PreAuthBudget> budget = nullptr,
      PortUse port_use = PortUse::kMustBeFree);
  ~ServerRuntime();

  asio::ip::tcp::endpoint local_endpoint() const;
  const std::vector<std::unique_ptr<Listener>>& listeners() const {
    return listeners_;
  }
  // Closes every listener on its own thread and waits for it.
  void Close();

 private:
  explicit ServerRuntime(IoThreads& threads) : threads_(threads) {}
  IoThreads& threads_;
  std::vector<std::unique_ptr<Listener>> listeners_;
};

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_IO_THREADS_H_
