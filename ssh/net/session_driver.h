// SessionDriver: a session::Session (ServerSession or ClientSession) run
// directly over a byte stream (a TCP socket, a pipe, an SSH channel).
//
// It owns the session and the TransportDriver that owns the session's
// transport, destroyed in the right order, and runs every timer of the
// session on a real connection: channel open timeouts, keepalive liveness
// (SessionOptions::alive_interval), Session::EndAt (a certificate's
// valid_before, called at any time, even from outside the callbacks), the
// transport's login grace, rekey interval and kex timeout; with a
// Listener's PreAuthSlot, also the listener's login grace deadline, lifted
// (and the slot freed) as soon as the session authenticates. However the
// connection ends, the session's handler gets OnEnd exactly once.
//
// Everything runs on the stream's executor (one strand per session).
#ifndef SALLYPORT_SSH_NET_SESSION_DRIVER_H_
#define SALLYPORT_SSH_NET_SESSION_DRIVER_H_

#include <asio.hpp>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ssh/net/byte_stream.h"
#include "ssh/net/driver.h"
#include "ssh/net/listener.h"
#include "ssh/session/session.h"

namespace sallyport::ssh::net {

class SessionDriver {
 public:
  // Takes `session` and its transport (Session::ReleaseTransport).
  // kInvalidArgument when the session is null or its transport was
  // released already.
  static absl::StatusOr<std::unique_ptr<SessionDriver>> Create(
      std::unique_ptr<ByteStream> stream,
      std::unique_ptr<session::Session> session, DriverOptions options = {});
  // Over a connected TCP socket (TCP_NODELAY is set).
  static absl::StatusOr<std::unique_ptr<SessionDriver>> Create(
      asio::ip::tcp::socket socket, std::unique_ptr<session::Session> session,
      DriverOptions options = {});
  ~SessionDriver();
  SessionDriver(const SessionDriver&) = delete;
  SessionDriver& operator=(const SessionDriver&) = delete;

  // The Listener's slot for this connection: the connection ends at the
  // slot's deadline ("login grace time exceeded", even when its last
  // write is stuck) unless the session authenticates first; then the slot
  // is told (PreAuthSlot::Authenticated) and the deadline lifted. Call
  // before Run.
  void AttachPreAuthSlot(std::shared_ptr<PreAuthSlot> slot);
  // Runs after each batch of input, each write completion and each
  // resumption (the session's queued channel output is flushed first):
  // resume paused data sources here. Call before Run.
  void set_on_progress(std::function<void()> on_progress) {
    on_progress_ = std::move(on_progress);
  }

  // Runs until the connection ended (see TransportDriver::Run for the
  // status); the handler's OnEnd has been called by then. Call once.
  asio::awaitable<absl::Status> Run();

  session::Session& session() { return *session_; }
  TransportDriver& driver() { return *driver_; }
  asio::any_io_executor executor() { return driver_->executor(); }

 private:
  class Handler;
  SessionDriver(std::unique_ptr<ByteStream> stream,
                std::unique_ptr<transport::Transport> transport,
                std::unique_ptr<session::Session> session,
                DriverOptions options);
  // After input or a resumption: hand the slot back once authenticated.
  void NoteProgress();

  // Destroyed in reverse order: the handler (it unhooks the session's
  // wake callback), then the session, then the driver owning the
  // transport the session uses.
  std::unique_ptr<TransportDriver> driver_;
  std::unique_ptr<session::Session> session_;
  std::unique_ptr<Handler> handler_;
  std::shared_ptr<PreAuthSlot> slot_;
  std::function<void()> on_progress_;
};

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_SESSION_DRIVER_H_
