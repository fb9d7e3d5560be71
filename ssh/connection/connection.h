// The SSH connection protocol (RFC 4254) for both roles, I/O-free: channels
// with flow control, channel and global requests. It sits on a
// transport::Transport (Handle() takes the connection-layer messages that
// Transport::Next() returns; replies go out through Transport::Send) and
// reports to a ConnectionHandler synchronously, handing data up as spans
// into the transport's buffer (no copy).
//
// Flow control: the peer may send at most our window; the handler calls
// Consume(id, n) once it has disposed of n bytes, which reopens the window
// (WINDOW_ADJUST in half-window steps). A handler that stops consuming
// stops the peer: nothing is buffered here. SendData takes only what the
// peer's window allows and says how much it took.
#ifndef SALLYPORT_SSH_CONNECTION_CONNECTION_H_
#define SALLYPORT_SSH_CONNECTION_CONNECTION_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ssh/connection/messages.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::connection {

struct ConnectionOptions {
  uint32_t initial_window = 2 << 20;  // DESIGN.md §4
  uint32_t max_packet = 32 << 10;     // largest data chunk we accept
  size_t max_channels = 64;           // per connection
};

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // The peer asks for a channel, given local id `id`. Answer with
  // Connection::AcceptChannel / RejectChannel, now or later.
  virtual void OnChannelOpen(uint32_t id, std::string_view type,
                             Bytes extra) = 0;
  // Our OpenChannel(id) was confirmed (OK) or refused (the error says why;
  // the channel no longer exists).
  virtual void OnChannelOpenResult(uint32_t, const absl::Status&) {}
  // Data on stream 0 (data) or 1 (stderr). Call Consume(id, n) when done
  // with it; the span is valid only during the call.
  virtual void OnData(uint32_t id, uint32_t stream, Bytes data) = 0;
  virtual void OnEof(uint32_t) {}
  // The channel is closed in both directions and forgotten after this.
  virtual void OnClose(uint32_t) {}
  // A channel request; if want_reply, answer with ReplyRequest (in order).
  virtual void OnChannelRequest(uint32_t id, std::string_view type,
                                bool want_reply, Bytes data) = 0;
  virtual void OnChannelRequestReply(uint32_t, bool) {}
  // A global request other than keepalive@openssh.com; return true to
  // grant it (only consulted when the peer wants a reply; tcpip-forward is
  // refused unless this grants it).
  virtual bool OnGlobalRequest(std::string_view, Bytes) { return false; }
  virtual void OnGlobalRequestReply(bool, Bytes) {}
  // The peer enlarged its window for `id`: SendData may take more.
  virtual void OnWindowAvailable(uint32_t) {}
};

class Connection {
 public:
  Connection(transport::Transport& transport, ConnectionHandler& handler,
             ConnectionOptions options = {});

  // Handles one connection-layer message (80..127). On a protocol
  // violation (unknown channel id, data beyond the window, window overflow,
  // malformed message, ...) disconnects the transport and returns the error.
  absl::Status Handle(Bytes payload);

  // Opens a channel of `type` with type-specific `extra` data; the result
  // arrives in OnChannelOpenResult. kResourceExhausted over max_channels.
  absl::StatusOr<uint32_t> OpenChannel(std::string_view type, Bytes extra = {});
  absl::Status AcceptChannel(uint32_t id);
  absl::Status RejectChannel(uint32_t id, OpenFailure reason,
                             std::string_view description);

  // Sends as much of `data` as the peer's window allows, in packets of at
  // most its maximum packet size; returns the number of bytes taken (0
  // when the window is closed: wait for OnWindowAvailable).
  absl::StatusOr<size_t> SendData(uint32_t id, Bytes data, uint32_t stream = 0);
  // Zero-copy SendData: `fill` writes up to `max` bytes straight into the
  // packets' data space (the spans it gets, in order, from the first byte
  // on, as readv(2) does) and returns how many it wrote. At most the
  // window is offered. Returns the bytes sent.
  absl::StatusOr<size_t> SendDataInPlace(
      uint32_t id, size_t max, uint32_t stream,
      transport::Transport::FillFunction fill);
  // Bytes the peer's window allows right now.
  uint32_t SendWindow(uint32_t id) const;
  absl::Status SendEof(uint32_t id);
  absl::Status Close(uint32_t id);
  absl::Status SendRequest(uint32_t id, std::string_view type, bool want_reply,
                           Bytes data = {});
  // Answers the oldest unanswered want_reply request on `id`.
  absl::Status ReplyRequest(uint32_t id, bool success);
  absl::Status SendGlobalRequest(std::string_view name, bool want_reply,
                                 Bytes data = {});
  // The handler is done with n bytes received on `id`.
  void Consume(uint32_t id, size_t n);

  bool HasChannel(uint32_t id) const { return channels_.count(id) != 0; }
  size_t channel_count() const { return channels_.size(); }
  // Bytes the peer may still send on `id` before we reopen the window.
  uint32_t ReceiveWindow(uint32_t id) const;
  // Bytes received on `id` and not yet consumed by the handler.
  uint64_t Unconsumed(uint32_t id) const;

 private:
  enum class State { kOpening, kPendingAccept, kOpen };
  struct Channel {
    State state;
    std::string type;
    uint32_t remote_id = 0;
    uint64_t remote_window = 0;
    uint32_t remote_max_packet = 0;
    uint32_t local_window = 0;  // what the peer may still send
    uint64_t unconsumed = 0;    // received, not yet consumed
    uint64_t to_adjust = 0;     // consumed, not yet re-advertised
    bool eof_sent = false, eof_received = false;
    bool close_sent = false;
    uint32_t peer_requests_pending = 0;  // want_reply requests we owe answers
    uint32_t our_requests_pending = 0;   // our want_reply requests
  };

  absl::Status Fail(absl::Status status);
  absl::Status Send(const std::vector<uint8_t>& msg);
  absl::StatusOr<Channel*> Find(uint32_t id);
  // A channel that may still carry data from us.
  absl::StatusOr<Channel*> FindForData(uint32_t id);
  // Largest data length of one CHANNEL_DATA to this channel.
  size_t MaxDataPerPacket(const Channel& c) const;
  absl::Status HandleOpen(wire::Reader& r);
  absl::Status HandleGlobalRequest(wire::Reader& r);

  transport::Transport& transport_;
  ConnectionHandler& handler_;
  ConnectionOptions options_;
  std::map<uint32_t, Channel> channels_;
  uint32_t next_id_ = 0;
  uint32_t global_requests_pending_ = 0;
};

}  // namespace sallyport::ssh::connection

#endif  // SALLYPORT_SSH_CONNECTION_CONNECTION_H_
