// Drives a transport::Transport over a TCP socket with standalone Asio and
// C++20 coroutines: a reader, a writer and a timer coroutine on one strand.
// The only part of //ssh that includes Asio.
#ifndef SALLYPORT_SSH_NET_DRIVER_H_
#define SALLYPORT_SSH_NET_DRIVER_H_

#include <asio.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "ssh/transport/transport.h"
#include "ssh/wire/byte_buffer.h"

namespace sallyport::ssh::net {

// What runs on top of the transport (service/auth/connection layers, or an
// example's minimal logic).
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // Once, when the first key exchange has completed in both directions.
  virtual absl::Status OnHandshakeDone(transport::Transport&) {
    return absl::OkStatus();
  }
  // Each message for the layers above. An error disconnects.
  virtual absl::Status OnMessage(transport::Transport& t,
                                 wire::Bytes payload) = 0;
  // After each batch of input and each write completion: a chance to
  // produce more output (e.g. resume a paused data source).
  virtual void OnProgress(transport::Transport&) {}
};

class TransportDriver {
 public:
  // Takes the connected socket. TCP_NODELAY is set.
  TransportDriver(asio::ip::tcp::socket socket,
                  std::unique_ptr<transport::Transport> transport);
  TransportDriver(const TransportDriver&) = delete;
  TransportDriver& operator=(const TransportDriver&) = delete;

  // Runs until the transport closes and its last output (a DISCONNECT) is
  // flushed, or the socket fails. Returns why the connection ended (the
  // transport's close status; kUnavailable for a lost connection).
  asio::awaitable<absl::Status> Run(MessageHandler& handler);

  transport::Transport& transport() { return *transport_; }
  asio::ip::tcp::socket& socket() { return socket_; }
  // Call after Send() from outside the handler callbacks (on the same
  // strand) so the writer picks the output up.
  void Wake();
  // Bytes handed to the socket and not yet written + the transport's buffer.
  size_t OutputBacklog() const;

 private:
  asio::awaitable<void> ReadLoop(MessageHandler& handler);
  asio::awaitable<void> WriteLoop(MessageHandler& handler);
  asio::awaitable<void> TimerLoop();
  void Process(MessageHandler& handler);

  asio::ip::tcp::socket socket_;
  std::unique_ptr<transport::Transport> transport_;
  asio::steady_timer wake_;
  asio::steady_timer timer_;
  wire::ByteBuffer write_buffer_;
  size_t in_flight_ = 0;
  bool handshake_reported_ = false;
  bool socket_failed_ = false;
  absl::Status socket_status_;
};

// Parses "HOST:PORT" ("127.0.0.1:2222", "[::1]:2222").
absl::StatusOr<asio::ip::tcp::endpoint> ParseEndpoint(std::string_view text);

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_DRIVER_H_
