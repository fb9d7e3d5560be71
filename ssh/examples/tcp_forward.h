// A "direct-tcpip" channel of example_server (RFC 4254 §7.2, `ssh -L`):
// a TCP connection to a loopback destination, bytes copied both ways with
// the channel's flow control.
#ifndef SALLYPORT_SSH_EXAMPLES_TCP_FORWARD_H_
#define SALLYPORT_SSH_EXAMPLES_TCP_FORWARD_H_

#include <asio.hpp>

#include "absl/status/statusor.h"
#include "ssh/connection/messages.h"
#include "ssh/examples/channel.h"
#include "ssh/net/channel_io.h"

namespace sallyport::ssh::examples {

// Where a direct-tcpip request may go: a literal loopback address
// (127.0.0.0/8, ::1) or "localhost"; kPermissionDenied for anything else
// (no name resolution), kInvalidArgument for port 0 or above 65535.
absl::StatusOr<asio::ip::tcp::endpoint> LoopbackDestination(
    const connection::DirectTcpip& request);

class TcpForward : public Channel {
 public:
  TcpForward(asio::any_io_executor executor, ChannelHost* host, uint32_t id);

  // Connects, then accepts the pending channel, or refuses it with
  // "connect failed" (and the host forgets it).
  void Connect(const asio::ip::tcp::endpoint& destination);

  void OnData(uint32_t stream, wire::Bytes data) override;
  void OnEof() override;
  void Pump() override;
  void Shutdown() override;
  void OnPumpEvent() override { Pump(); }

 private:
  using Socket = asio::ip::tcp::socket;
  void MaybeClose();

  Socket socket_;
  net::ChannelReader<Socket> reader_;
  net::ChannelWriter<Socket> writer_;
  bool connected_ = false;
  bool peer_eof_ = false;
  bool eof_sent_ = false;
  bool close_sent_ = false;
};

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_TCP_FORWARD_H_
