// A TCP connection the gateway makes itself, relayed to a downstream
// channel (issue 12 "Addressing", DESIGN.md §7 path 2): `ssh -J gw HOST`
// passthrough (the inner SSH connection's bytes, end-to-end encrypted,
// only counted) and, on a jump-only connection, a port forward to an
// inventory host's other port (the bytes go through the recorder's tap).
//
// Flow control both ways, with the windows as the only buffers:
//   - socket → channel: a read is never larger than the user's window (and
//     happens only while the downstream transport's backlog is small), so
//     a user who stops reading stops the socket;
//   - channel → socket: the channel data is Consume()d only once written,
//     so a slow destination shuts the user's window.
// Everything runs on the connection's executor.
#ifndef SALLYPORT_GATEWAY_FORWARD_RELAY_H_
#define SALLYPORT_GATEWAY_FORWARD_RELAY_H_

#include <asio.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/clock.h"
#include "gateway/recorder.h"
#include "ssh/session/session.h"
#include "ssh/wire/reader.h"

namespace sallyport::gateway {

class TcpRelay : public std::enable_shared_from_this<TcpRelay> {
 public:
  struct Options {
    ssh::session::Channel down;  // the user's channel (accepted by Start)
    // Where it goes, HOST:PORT as the user asked (for the gateway's log
    // and events).
    std::string destination;
    // The channel's tap: Data is called only with record_data; Close at
    // the end, always.
    std::unique_ptr<ChannelTap> tap;
    bool record_data = false;
    // Largest read from the socket.
    size_t max_read = 64 << 10;
    // Reads stop while the downstream transport holds more than this.
    size_t max_output_backlog = 4 << 20;
    const base::Clock* clock = nullptr;  // required
    // Output was produced outside the driver's callbacks: wake it.
    std::function<void()> wake;
    // Payload moved (client_to_target: user → destination): the
    // connection's byte counters, metrics and idle clock.
    std::function<void(bool client_to_target, size_t n)> on_bytes;
    // The relay finished (Shutdown, or a failure): once, before the tap
    // is closed (bytes_in() went user → destination, bytes_out()
    // destination → user).
    std::function<void(TcpRelay& relay, const std::string& why)> on_end;
  };

  explicit TcpRelay(Options options);
  ~TcpRelay();

  // Accepts the downstream channel and starts relaying `socket`.
  void Start(asio::ip::tcp::socket socket);

  // Downstream channel events.
  void OnData(ssh::wire::Bytes data);
  // `n` bytes of extended data from the user, which a TCP connection has
  // no place for: dropped, their window given back, counted in
  // ext_dropped_in().
  void DropExtendedData(size_t n);
  void OnEof();
  // The user's window or the transport's backlog may have room again.
  void Pump();
  // The user closed the channel: nothing more comes from the user and
  // nothing goes back (the channel is not touched again; its id may be
  // reused). What the user sent is still written to the destination, then
  // the socket's send side is shut down and the relay ends with `why`
  // (on_end). A destination that never reads keeps the relay until
  // Shutdown (the connection's end).
  void OnClose(const std::string& why);
  // The channel is gone or the connection ends: stop all I/O (pending
  // operations complete later and find the relay stopped).
  void Shutdown(const std::string& why);

  bool started() const { return socket_.has_value(); }
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }
  uint64_t ext_dropped_in() const { return ext_dropped_in_; }
  // Whether the connection logged a drop of extended data on the channel.
  bool& dropped_ext_logged() { return dropped_ext_logged_; }
  ChannelTap* tap() { return options_.tap.get(); }
  ssh::session::Channel down() const { return options_.down; }
  const std::string& destination() const { return options_.destination; }

 private:
  void StartWrite();
  void WrittenOut(size_t n);
  void MaybeClose();
  // After OnClose: ends the relay once everything is written.
  void MaybeFinish();
  void Fail(const std::string& why);
  void End(const std::string& why);

  Options options_;
  std::optional<asio::ip::tcp::socket> socket_;
  std::vector<uint8_t> read_buffer_;
  std::vector<uint8_t> pending_;  // channel data not yet written
  std::vector<uint8_t> active_;   // being written
  bool reading_ = false, writing_ = false;
  bool socket_eof_ = false;  // the destination finished sending
  bool eof_sent_ = false;
  bool peer_eof_ = false;  // the user sent EOF
  bool write_shut_ = false;
  bool close_sent_ = false;
  bool down_closed_ = false;  // OnClose: the user's channel is gone
  std::string close_why_;
  bool stopped_ = false;
  bool ended_ = false;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  uint64_t ext_dropped_in_ = 0;
  bool dropped_ext_logged_ = false;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_FORWARD_RELAY_H_
