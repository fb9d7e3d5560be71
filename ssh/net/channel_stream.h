// One channel of a session (e.g. a "direct-tcpip" channel) as a ByteStream,
// so a second TransportDriver can run an SSH connection inside it (an inner
// ServerSession terminating `ssh -J`, or an inner ClientSession).
//
// Reads come from the channel's data: bytes the channel delivered are held
// here only until the inner driver reads them, and the channel is
// Consume()d only by what was read, so the outer window is the inner
// connection's backpressure (at most one receive window is held here).
// Writes go into the channel's ordered output queue (Channel::Queue: sent
// as the peer's window allows, the rest queued up to
// ConnectionOptions::max_queued_bytes) and complete once it took at least
// one byte (they wait for room otherwise). A write also hands over at most
// what the outer connection's output has room for (the OutputRoom given
// to Create, e.g. the outer driver's TransportDriver::OutputRoomBytes) and
// waits while it has none: the peer's window alone is no brake (a peer
// advertising 4 GiB and not reading its socket would have the outer
// transport buffer everything the inner connection sends), so the inner
// driver's own backlog grows instead and stops its producers. Channel EOF
// reads as end of stream; ShutdownSend() sends EOF and Close() sends
// CLOSE, both after what was written.
//
// The session's SessionHandler forwards the channel's events to the
// ChannelPort (OnData, OnEof, OnWindowAvailable, OnQueuedDataSent,
// OnClose) and calls Detach() when the session ends; the owner of the
// outer driver calls OnOutputProgress() after its progress (the driver's
// on_progress: a write completed). The stream never touches the channel
// after Detach(). Everything runs on the session's executor.
#ifndef SALLYPORT_SSH_NET_CHANNEL_STREAM_H_
#define SALLYPORT_SSH_NET_CHANNEL_STREAM_H_

#include <asio.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "ssh/net/byte_stream.h"
#include "ssh/session/session.h"

namespace sallyport::ssh::net {

// The state shared by a ChannelStream and the session handler that feeds
// it.
class ChannelPort {
 public:
  // Bytes the outer connection's output may take now (0: none; writes
  // wait for OnOutputProgress).
  using OutputRoom = std::function<size_t()>;

  // A null `output_room` allows what keeps the outer session's buffered
  // output under kMaxOutputBacklog (ssh/net/channel_io.h).
  ChannelPort(asio::any_io_executor executor, session::Channel channel,
              OutputRoom output_room);

  // ---- forwarded from the SessionHandler (for this channel only)
  // Stream 0 data is held until read; stream 1 (stderr) is consumed and
  // dropped (an SSH connection uses stream 0 only).
  void OnData(uint32_t stream, wire::Bytes data);
  void OnEof();
  void OnWindowAvailable();
  // Queued bytes went on the wire: the queue has room again.
  void OnQueuedDataSent();
  // The outer connection wrote output (its driver's progress): a write
  // waiting for output room looks again.
  void OnOutputProgress();
  // The channel is gone (OnClose): reads end after the held data.
  void OnClose() { Detach(); }
  // The session ended or is going away: never touch the channel again.
  void Detach();

  // Bytes received and not yet read (never above the channel's receive
  // window), and the most seen.
  size_t held_bytes() const { return in_.size() - in_read_; }
  size_t peak_held_bytes() const { return peak_held_; }
  // Stream-0 bytes the channel delivered, and bytes written to it (queued
  // for the peer), since the port was made.
  uint64_t bytes_received() const { return bytes_received_; }
  uint64_t bytes_sent() const { return bytes_sent_; }
  const session::Channel& channel() const { return channel_; }

 private:
  friend class ChannelStream;
  void Signal(asio::steady_timer& t);
  void WakeSession();
  size_t OutputRoomNow() const;

  asio::any_io_executor executor_;
  session::Channel channel_;
  OutputRoom output_room_;
  bool attached_ = true;  // the channel may be used
  bool eof_in_ = false;   // the peer sent EOF (or the channel is gone)
  bool closed_ = false;   // Close() was called
  std::vector<uint8_t> in_;
  size_t in_read_ = 0;  // bytes of in_ already read
  size_t peak_held_ = 0;
  uint64_t bytes_received_ = 0;
  uint64_t bytes_sent_ = 0;
  asio::steady_timer readable_;  // cancelled when input or EOF arrives
  // Cancelled when the queue or the outer output may have room.
  asio::steady_timer writable_;
};

class ChannelStream : public ByteStream {
 public:
  // `channel` must be open (accepted or confirmed); the returned port gets
  // its events. `output_room`: see ChannelPort::OutputRoom.
  static std::pair<std::unique_ptr<ChannelStream>, std::shared_ptr<ChannelPort>>
  Create(asio::any_io_executor executor, session::Channel channel,
         ChannelPort::OutputRoom output_room);

  explicit ChannelStream(std::shared_ptr<ChannelPort> port)
      : port_(std::move(port)) {}
  ~ChannelStream() override { Close(); }

  asio::any_io_executor executor() override { return port_->executor_; }
  asio::awaitable<asio::error_code> WaitReadable() override;
  size_t Available() override { return port_->held_bytes(); }
  asio::awaitable<IoResult> ReadSome(absl::Span<uint8_t> buffer) override;
  asio::awaitable<IoResult> WriteSome(absl::Span<const uint8_t> data) override;
  // Sends CLOSE (after what was written); pending operations fail.
  void Close() override;
  // Sends EOF: the peer reads end of stream after what was written.
  void ShutdownSend();

 private:
  std::shared_ptr<ChannelPort> port_;
  bool eof_sent_ = false;
};

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_CHANNEL_STREAM_H_
