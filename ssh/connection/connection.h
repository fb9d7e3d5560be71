// The SSH connection protocol (RFC 4254) for both roles, I/O-free: channels
// with flow control, channel and global requests. It sits on a
// transport::Transport (Handle() takes the connection-layer messages that
// Transport::Next() returns; replies go out through Transport::Send) and
// reports to a ConnectionHandler synchronously, handing data up as spans
// into the transport's buffer (no copy).
//
// Flow control, inbound: the peer may send at most our window; the handler
// calls Consume(id, n) once it has disposed of n bytes, which reopens the
// window (WINDOW_ADJUST in half-window steps). A handler that stops
// consuming stops the peer: nothing is buffered here.
//
// Outbound, each channel has an ordered queue: QueueData, SendRequest,
// SendEof and Close go on the wire strictly in the order called, data as
// the peer's window opens (EOF after the data queued before it, CLOSE
// after EOF). QueueData takes at most max_queued_bytes beyond what the
// window allows and says how much it took, so a bridge Consume()s on the
// other connection only what was taken. SendData and SendDataInPlace
// bypass the queue (zero-copy, window only) and take nothing while the
// queue holds anything.
//
// Requests from the peer that want a reply are answered at any time, by
// RequestId, and the replies go out in the peer's request order (a reply
// given early waits for the earlier ones), including the ones this layer
// gives itself (keepalive@openssh.com). At most max_pending_requests
// unanswered per channel and for global requests; beyond, the peer is
// disconnected.
#ifndef SALLYPORT_SSH_CONNECTION_CONNECTION_H_
#define SALLYPORT_SSH_CONNECTION_CONNECTION_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ssh/connection/messages.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::connection {

// What the receive windows of a group of connections (a gateway's
// downstream connection, its upstream and the inner connections of its
// jumps) may hold together, in bytes. Each channel of a connection that
// has one starts with a window of kFloor (or initial_window when smaller),
// always granted, outside the budget. It grows only when the peer keeps
// its window in use: at a Consume that finds at least half the window
// sent and not yet re-advertised, the window doubles, up to
// min(initial_window, total / channels) and while the budget has room. So
// a channel that only sees keystrokes keeps its floor, and a bulk channel
// opened beside idle ones still reaches its share. A channel over its
// share gives the excess back as it consumes; a channel that can no
// longer receive data (EOF or CLOSE received, Close() called, its open
// abandoned) keeps only what it has not consumed yet; a channel gives
// everything back when it is forgotten. So the group buffers at most
// total plus kFloor per channel, and a lone channel still gets its whole
// initial_window once the peer has kept it busy.
// Not thread-safe: every connection using it runs on one thread. It must
// outlive them.
class WindowBudget {
 public:
  static constexpr uint32_t kFloor = 32 << 10;

  explicit WindowBudget(uint64_t total) : total_(total) {}
  uint64_t total() const { return total_; }
  // Bytes of window reserved by the channels now (may exceed total() by
  // the floors), and the channels holding a reservation.
  uint64_t reserved() const { return reserved_; }
  size_t channels() const { return channels_; }

 private:
  friend class Connection;
  uint64_t total_;
  uint64_t reserved_ = 0;
  size_t channels_ = 0;
};

struct ConnectionOptions {
  uint32_t initial_window = 2 << 20;  // DESIGN.md §4
  uint32_t max_packet = 32 << 10;     // largest data chunk we accept
  size_t max_channels = 64;           // per connection
  // Per channel: bytes (data and requests) held in the outbound queue while
  // the peer's window is closed. One default window, so a bridge can hand
  // over everything the other side's peer may send.
  size_t max_queued_bytes = 2 << 20;
  // Unanswered want_reply requests from the peer, per channel and for
  // global requests; one more disconnects.
  size_t max_pending_requests = 64;
  // Shared by the connections whose receive windows it bounds (see
  // WindowBudget); null: each channel's window is initial_window.
  WindowBudget* window_budget = nullptr;
};

// Identifies a want_reply request from the peer, for the reply.
using RequestId = uint64_t;
// Passed for requests that want no reply.
inline constexpr RequestId kNoReply = ~RequestId{0};

// The outcome of our OpenChannel. On refusal, the peer's reason code and
// description, unchanged (a bridge forwards them with RejectChannel).
struct OpenResult {
  absl::Status status;  // OK, or kUnavailable with reason and description
  OpenFailure reason{};
  std::string description;
  bool ok() const { return status.ok(); }
};

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // The peer asks for a channel, given local id `id`. Answer with
  // Connection::AcceptChannel / RejectChannel, now or later.
  virtual void OnChannelOpen(uint32_t id, std::string_view type,
                             Bytes extra) = 0;
  // Our OpenChannel(id) was confirmed (OK) or refused (the channel no
  // longer exists). Not called for a channel Close()d while opening that
  // is then confirmed: it is closed at once and ends with OnClose.
  virtual void OnChannelOpenResult(uint32_t, const OpenResult&) {}
  // Data on stream 0 (CHANNEL_DATA) or on the data type code of a
  // CHANNEL_EXTENDED_DATA: any uint32 the peer chose (RFC 4254 defines
  // only 1, stderr; the handler decides about others). Call Consume(id, n)
  // when done with it; the span is valid only during the call.
  virtual void OnData(uint32_t id, uint32_t stream, Bytes data) = 0;
  virtual void OnEof(uint32_t) {}
  // The channel is closed in both directions and forgotten after this.
  virtual void OnClose(uint32_t) {}
  // A channel request. If want_reply, answer with ReplyRequest(id,
  // request, ok), now or later (`request` is kNoReply otherwise).
  virtual void OnChannelRequest(uint32_t id, std::string_view type,
                                bool want_reply, Bytes data,
                                RequestId request) = 0;
  virtual void OnChannelRequestReply(uint32_t, bool) {}
  // A global request other than keepalive@openssh.com. Return true/false
  // to answer now, or nullopt to answer later with ReplyGlobalRequest(
  // request, ...) (only when want_reply; otherwise the answer is ignored).
  // Refused by default (tcpip-forward included).
  virtual std::optional<bool> OnGlobalRequest(std::string_view /*name*/,
                                              bool /*want_reply*/,
                                              Bytes /*data*/,
                                              RequestId /*request*/) {
    return false;
  }
  virtual void OnGlobalRequestReply(bool, Bytes) {}
  // The peer enlarged its window for `id` (queued output has been flushed
  // as far as it allows): SendData may take more.
  virtual void OnWindowAvailable(uint32_t) {}
  // n bytes of data queued by QueueData went on the wire.
  virtual void OnQueuedDataSent(uint32_t, size_t) {}
};

class Connection {
 public:
  Connection(transport::Transport& transport, ConnectionHandler& handler,
             ConnectionOptions options = {});
  // Gives the channels' reservations back to the window budget.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Handles one connection-layer message (80..127). On a protocol
  // violation (unknown channel id, data beyond the window, window overflow,
  // malformed message, ...) disconnects the transport and returns the error.
  absl::Status Handle(Bytes payload);

  // Opens a channel of `type` with type-specific `extra` data; the result
  // arrives in OnChannelOpenResult. kResourceExhausted over max_channels.
  absl::StatusOr<uint32_t> OpenChannel(std::string_view type, Bytes extra = {});
  // Gives up on our open `id` that the peer has not answered yet (an open
  // timeout): it stops counting against max_channels; a late confirmation
  // is answered with CLOSE (OnClose follows the peer's CLOSE, no
  // OnChannelOpenResult), a late refusal forgets it (OnChannelOpenResult
  // as usual). At most max_channels channels are abandoned at a time:
  // beyond that kResourceExhausted and the channel keeps counting.
  // kFailedPrecondition unless the channel is one of ours still opening.
  absl::Status AbandonOpen(uint32_t id);
  // Channels given up by AbandonOpen and not yet forgotten.
  size_t abandoned_count() const { return abandoned_; }
  absl::Status AcceptChannel(uint32_t id);
  absl::Status RejectChannel(uint32_t id, OpenFailure reason,
                             std::string_view description);

  // Sends what the peer's window allows now and queues the rest, up to
  // max_queued_bytes queued on the channel; returns the bytes taken (sent
  // or queued; 0 when the queue is full: wait for OnQueuedDataSent /
  // OnWindowAvailable). Queued data goes out before anything queued after
  // it.
  absl::StatusOr<size_t> QueueData(uint32_t id, Bytes data,
                                   uint32_t stream = 0);
  // Sends as much of `data` as the peer's window allows, in packets of at
  // most its maximum packet size; returns the number of bytes taken (0
  // when the window is closed or the queue is not empty: wait for
  // OnWindowAvailable).
  absl::StatusOr<size_t> SendData(uint32_t id, Bytes data, uint32_t stream = 0);
  // Zero-copy SendData: `fill` writes up to `max` bytes straight into the
  // packets' data space (the spans it gets, in order, from the first byte
  // on, as readv(2) does) and returns how many it wrote. At most the
  // window is offered; nothing while the queue holds anything. Returns the
  // bytes sent.
  absl::StatusOr<size_t> SendDataInPlace(
      uint32_t id, size_t max, uint32_t stream,
      transport::Transport::FillFunction fill);
  // Bytes the peer's window allows right now.
  uint32_t SendWindow(uint32_t id) const;
  // Bytes (data and requests) in the channel's outbound queue, and how many
  // more QueueData would take.
  size_t QueuedBytes(uint32_t id) const;
  size_t QueueRoom(uint32_t id) const;
  // EOF and CLOSE go out after everything queued before them. Close of a
  // channel we are still opening sends CLOSE once the peer confirms it.
  absl::Status SendEof(uint32_t id);
  absl::Status Close(uint32_t id);
  // For each of a bridge's two channels (the user's and the host's): the
  // bridge, not this layer, decides when our CLOSE goes out, so that what
  // the far side still sends after one side closed (the host's
  // exit-status after the user's client closed a channel early, as
  // OpenSSH's ControlMaster does for its mux sessions) gets through.
  //   - The peer's CLOSE is reported by OnClose at once, but our CLOSE
  //     waits for Close(id) (RFC 4254 §5.3 asks for it, not for it at
  //     once). Until then the channel stays: requests and EOF may still be
  //     sent, data no longer (queued data is dropped: the peer reads no
  //     more). Close() sends our CLOSE after them and forgets the channel
  //     without a second OnClose.
  //   - Requests that arrive after our Close() are still reported.
  absl::Status SetBridged(uint32_t id);
  // Queued behind data like the rest (kResourceExhausted when the queue is
  // full).
  absl::Status SendRequest(uint32_t id, std::string_view type, bool want_reply,
                           Bytes data = {});
  // Answers the peer's want_reply request `request` on `id`. The reply goes
  // out once every earlier request on the channel is answered.
  absl::Status ReplyRequest(uint32_t id, RequestId request, bool success);
  // Answers the oldest unanswered want_reply request on `id`.
  absl::Status ReplyRequest(uint32_t id, bool success);
  // Answers a global request (OnGlobalRequest returned nullopt); `data` is
  // the REQUEST_SUCCESS payload (e.g. the port bound for tcpip-forward).
  // In the peer's order, like channel replies.
  absl::Status ReplyGlobalRequest(RequestId request, bool success,
                                  Bytes data = {});
  absl::Status SendGlobalRequest(std::string_view name, bool want_reply,
                                 Bytes data = {});
  // Sends queued output as far as the windows allow. Connection flushes by
  // itself when a window opens; call this after the transport refused
  // output (e.g. its key-exchange queue was full) once it takes more.
  absl::Status Flush();
  // The handler is done with n bytes received on `id`.
  void Consume(uint32_t id, size_t n);

  bool HasChannel(uint32_t id) const { return channels_.count(id) != 0; }
  size_t channel_count() const { return channels_.size(); }
  // Bytes the peer may still send on `id` before we reopen the window.
  uint32_t ReceiveWindow(uint32_t id) const;
  // Bytes received on `id` and not yet consumed by the handler.
  uint64_t Unconsumed(uint32_t id) const;
  // Bytes of window the channels hold together (with a window budget,
  // what they hold of it).
  uint64_t ReservedWindow() const;

 private:
  enum class State { kOpening, kPendingAccept, kOpen };
  // One entry of a channel's outbound queue.
  struct Output {
    enum class Kind { kData, kRequest, kEof, kClose } kind;
    uint32_t stream = 0;         // kData
    std::vector<uint8_t> bytes;  // kData: the data; kRequest: the message
    size_t sent = 0;             // kData: bytes of it already sent
  };
  // The peer's want_reply requests, oldest first, with our answers so far.
  struct Replies {
    struct Entry {
      RequestId id;
      std::optional<bool> answer;
      std::vector<uint8_t> data;  // global REQUEST_SUCCESS payload
    };
    std::deque<Entry> entries;
    RequestId next_id = 0;
  };
  struct Channel {
    State state;
    std::string type;
    uint32_t remote_id = 0;
    uint64_t remote_window = 0;
    uint32_t remote_max_packet = 0;
    uint32_t local_window = 0;  // what the peer may still send
    uint64_t unconsumed = 0;    // received, not yet consumed
    uint64_t to_adjust = 0;     // consumed, not yet re-advertised
    // local_window + unconsumed + to_adjust: initial_window, or with a
    // window budget what the channel holds of it. Once the channel no
    // longer receives (see Receiving), unconsumed alone: what the peer
    // still sends is dropped and to_adjust stays 0.
    uint64_t reservation = 0;
    bool eof_sent = false;  // asked for (queued or on the wire)
    bool eof_received = false;
    bool close_requested = false;  // Close() called (queued or on the wire)
    bool close_sent = false;       // CLOSE on the wire
    bool abandoned = false;        // AbandonOpen: not counted
    bool bridged = false;          // SetBridged
    bool close_received = false;   // bridged: the peer's CLOSE, ours waits
    std::deque<Output> out;
    size_t queued_bytes = 0;
    Replies replies;
    uint32_t our_requests_pending = 0;  // our want_reply requests
  };

  absl::Status Fail(absl::Status status);
  // A new channel's window: initial_window, or with a window budget
  // WindowBudget::kFloor (when smaller).
  uint32_t FirstWindow() const;
  // Gives a new channel its first window (its reservation).
  void Reserve(Channel& c);
  // Moves c's reservation toward its share of the window budget (growing
  // into to_adjust when the peer keeps the window in use, shrinking out of
  // it when over the share).
  void Rebalance(Channel& c);
  // Whether data from the peer on c is still handed to the handler (no
  // EOF or CLOSE from it, no Close() of ours).
  static bool Receiving(const Channel& c) {
    return !c.eof_received && !c.close_requested && !c.close_received;
  }
  // Once c no longer receives: cuts its reservation down to what is
  // unconsumed and gives the rest back. Does nothing while it receives.
  void StopReceiving(Channel& c);
  absl::Status Send(const std::vector<uint8_t>& msg);
  absl::StatusOr<Channel*> Find(uint32_t id);
  void Erase(uint32_t id);
  // Channels counted against max_channels.
  size_t CountedChannels() const { return channels_.size() - abandoned_; }
  // A channel that may still carry data from us.
  absl::StatusOr<Channel*> FindForData(uint32_t id);
  // Largest data length of one CHANNEL_DATA to this channel.
  size_t MaxDataPerPacket(const Channel& c) const;
  absl::Status HandleOpen(wire::Reader& r);
  absl::Status HandleChannelMessage(uint8_t type, wire::Reader& r);
  absl::Status HandleGlobalRequest(wire::Reader& r);
  absl::Status HandleChannelRequest(uint32_t id, Channel& c, wire::Reader& r);
  // Sends data now, as far as the window allows; `sent` says how much
  // went out, also on error.
  absl::Status SendNow(Channel& c, Bytes data, uint32_t stream, size_t* sent);
  bool TransportFull(const absl::Status& status) const;
  absl::Status SendClose(Channel& c);
  // A bridged channel whose CLOSE went out both ways is forgotten.
  void EraseIfClosedBothWays(uint32_t id, const Channel& c);
  // The peer's CLOSE on a bridged channel (see SetBridged).
  absl::Status HandleBridgedClose(uint32_t id, Channel& c);
  // Sends the channel's queued output as far as its window allows.
  absl::Status FlushChannel(uint32_t id, Channel& c);
  // A new entry for a want_reply request (kResourceExhausted at the cap).
  absl::StatusOr<RequestId> AddPending(Replies& replies);
  absl::Status Answer(Replies& replies, RequestId request, bool success,
                      Bytes data);
  // Sends the answered replies at the front, in order (channel: `c`;
  // global: null).
  absl::Status SendReplies(Replies& replies, Channel* c);

  transport::Transport& transport_;
  ConnectionHandler& handler_;
  ConnectionOptions options_;
  std::map<uint32_t, Channel> channels_;
  size_t abandoned_ = 0;  // channels_ entries with abandoned set
  uint32_t next_id_ = 0;
  uint32_t global_requests_pending_ = 0;  // our want_reply global requests
  Replies global_replies_;
};

}  // namespace sallyport::ssh::connection

#endif  // SALLYPORT_SSH_CONNECTION_CONNECTION_H_
