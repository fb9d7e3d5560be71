// GatewayServer's SSH listeners (split from serve.cc): one ssh::net
// ServerRuntime (a Listener per I/O thread, all on the `listen` address),
// the runtimes a reload replaced (closed, kept until the I/O threads stop:
// their accept loops may still be unwinding), and the one PreAuthBudget
// they all share, so max_startups counts the unauthenticated connections
// of old and new listeners together.
#ifndef SALLYPORT_GATEWAY_SERVE_LISTENERS_H_
#define SALLYPORT_GATEWAY_SERVE_LISTENERS_H_

#include <asio.hpp>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gateway/config.h"
#include "gateway/ops.h"
#include "ssh/net/io_threads.h"
#include "ssh/net/listener.h"

namespace sallyport::gateway {

// Whether `a` and `b` give listeners the same max_startups and login_grace
// (the limits a listener applies; the others reach new connections through
// the Proxy).
bool SameListenerLimits(const GatewayLimitSettings& a,
                        const GatewayLimitSettings& b);

// Whether a socket bound to `a` keeps one from being bound to `b` (Linux,
// IPv6 sockets dual-stack as by default): the same port, and the same
// address (an IPv4-mapped IPv6 address being its IPv4 one) or a wildcard
// address of a family that takes the other address (0.0.0.0 takes IPv4,
// [::] both).
bool ListenersOverlap(const asio::ip::tcp::endpoint& a,
                      const asio::ip::tcp::endpoint& b);

class ServeListeners {
 public:
  // `threads` (started) and `ops` must outlive this; `handler` serves each
  // admitted connection.
  ServeListeners(ssh::net::IoThreads& threads, GatewayOps* ops,
                 ssh::net::Listener::Handler handler);
  // Closes and drops every listener. With the I/O threads stopped (the
  // replaced runtimes' accept loops have finished).
  ~ServeListeners();
  ServeListeners(const ServeListeners&) = delete;
  ServeListeners& operator=(const ServeListeners&) = delete;

  // At start: listeners on `endpoint` with `limits`' max_startups and
  // login_grace. kInvalidArgument ("limits.max_startups: ...") for a bad
  // max_startups; kUnavailable ("cannot listen on ADDR: Address already in
  // use") when any socket is bound there (ServerRuntime::kMustBeFree).
  absl::Status Start(const asio::ip::tcp::endpoint& endpoint,
                     const GatewayLimitSettings& limits);

  // SIGHUP, with the settings now applied (`old`), the freshly loaded ones
  // and `applied` (`old` with fresh.limits): a new listen address gets
  // listeners there (with the new limits), then the old ones close; new
  // listener limits on the same address replace the listeners on the same
  // port (SO_REUSEPORT, so no connection is refused in between). Sets
  // applied->listen to what is listened on, and puts the old max_startups
  // and login_grace back into `applied` when they could not be applied
  // (logged). A new address that the current listeners overlap
  // (ListenersOverlap: 127.0.0.1:2222 to 0.0.0.0:2222 or [::]:2222) cannot
  // be bound while they are open: they close first (connections to the
  // port are refused for that moment), and when the new address cannot be
  // bound then either, listeners on the old address and with the old
  // limits open again. While no listeners are open (even that failed), a
  // reload tries `fresh`'s listen again. Returns kUnavailable ("reload: listen
  // NEW not applied, still listening on OLD: why", also logged as a failure)
  // when the new address was not applied.
  absl::Status Reload(const GatewaySettings& old, const GatewaySettings& fresh,
                      GatewaySettings* applied);

  // Drain: stops accepting; later reloads are refused ("draining").
  void Close();
  // Closes the current listeners and destroys them while the I/O threads
  // still run (the destructor drops the replaced ones later).
  void Stop();

  asio::ip::tcp::endpoint local_endpoint() const;
  // Whether listeners are open or were closed by Close() (draining); false
  // after Stop(), and after a reload that could open none (see Reload).
  bool listening() const;

 private:
  absl::StatusOr<std::unique_ptr<ssh::net::ServerRuntime>> Listen(
      const asio::ip::tcp::endpoint& endpoint,
      const GatewayLimitSettings& limits,
      ssh::net::ServerRuntime::PortUse port_use);
  // Listeners on `endpoint` with `limits` replace the current ones, which
  // are closed; on error the current ones stay.
  absl::Status Replace(const asio::ip::tcp::endpoint& endpoint,
                       const GatewayLimitSettings& limits,
                       ssh::net::ServerRuntime::PortUse port_use);
  // Replace for an `endpoint` that the current listeners overlap: they
  // close first; when `endpoint` cannot be bound then either, listeners on
  // their address and with their limits open again. Returns why
  // `endpoint` could not be bound.
  absl::Status ReplaceOverlapping(const asio::ip::tcp::endpoint& endpoint,
                                  const GatewayLimitSettings& limits);
  // Makes `runtime` (opened with `limits`) the current one; the previous
  // one (if any) is closed and retired. After Close(), `runtime` is
  // closed too.
  void Install(std::unique_ptr<ssh::net::ServerRuntime> runtime,
               const GatewayLimitSettings& limits);

  ssh::net::IoThreads& threads_;
  GatewayOps* const ops_;
  const ssh::net::Listener::Handler handler_;
  // The unauthenticated connections of every listener, those replaced by
  // Reload included (max_startups counts them all).
  const std::shared_ptr<ssh::net::PreAuthBudget> pre_auth_ =
      std::make_shared<ssh::net::PreAuthBudget>();

  mutable absl::Mutex mu_;
  std::unique_ptr<ssh::net::ServerRuntime> runtime_ ABSL_GUARDED_BY(mu_);
  // The limits runtime_ was opened with.
  GatewayLimitSettings limits_ ABSL_GUARDED_BY(mu_);
  asio::ip::tcp::endpoint endpoint_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Closed runtimes, kept until the I/O threads stop.
  std::vector<std::unique_ptr<ssh::net::ServerRuntime>> retired_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_SERVE_LISTENERS_H_
