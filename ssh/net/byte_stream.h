// A small asynchronous byte-stream interface, so a TransportDriver can run
// an SSH connection over a TCP socket, an in-memory pipe (tests) or an SSH
// channel (an SSH connection nested in direct-tcpip).
//
// Contract for implementations: every operation is started and completes on
// executor() (one thread or strand); at most one WaitReadable/ReadSome and
// one WriteSome are pending at a time; Close() makes pending operations
// complete soon with an error (asio::error::operation_aborted), without
// waiting for the peer.
#ifndef SALLYPORT_SSH_NET_BYTE_STREAM_H_
#define SALLYPORT_SSH_NET_BYTE_STREAM_H_

#include <asio.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "absl/types/span.h"
#include "ssh/wire/byte_buffer.h"

namespace sallyport::ssh::net {

using IoResult = std::tuple<asio::error_code, size_t>;

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  virtual asio::any_io_executor executor() = 0;
  // Completes once ReadSome would not wait: bytes are readable, or the
  // stream reached EOF or failed (which ReadSome then reports). An error
  // here (closed stream) means the stream is finished. Lets the driver size
  // its input buffer to what arrived, so idle connections hold none.
  virtual asio::awaitable<asio::error_code> WaitReadable() = 0;
  // Bytes readable now without waiting (a hint; 0 when unknown).
  virtual size_t Available() = 0;
  // Reads at least one byte (waits if none is readable). End of stream:
  // asio::error::eof with n == 0.
  virtual asio::awaitable<IoResult> ReadSome(absl::Span<uint8_t> buffer) = 0;
  // Writes at least one byte of `data` (waits while the peer has no room).
  virtual asio::awaitable<IoResult> WriteSome(
      absl::Span<const uint8_t> data) = 0;
  // Closes both directions at once; pending operations fail promptly.
  virtual void Close() = 0;
  // "HOST:PORT" of the peer for logs ("" when there is none).
  virtual std::string PeerName() const { return ""; }
};

// A connected TCP socket (TCP_NODELAY is set).
class TcpStream : public ByteStream {
 public:
  explicit TcpStream(asio::ip::tcp::socket socket);

  asio::any_io_executor executor() override { return socket_.get_executor(); }
  asio::awaitable<asio::error_code> WaitReadable() override;
  size_t Available() override;
  asio::awaitable<IoResult> ReadSome(absl::Span<uint8_t> buffer) override;
  asio::awaitable<IoResult> WriteSome(absl::Span<const uint8_t> data) override;
  void Close() override;
  std::string PeerName() const override;

  asio::ip::tcp::socket& socket() { return socket_; }

 private:
  asio::ip::tcp::socket socket_;
};

// One end of an in-memory pipe pair (MakePipePair), for tests: bytes
// written on one end are read on the other. Each direction holds at most
// `capacity` bytes; a writer waits for room, so a reader that stops
// reading stops the writer as a socket would.
class PipeStream : public ByteStream {
 public:
  struct Direction;  // shared by the two ends

  PipeStream(asio::any_io_executor executor, std::shared_ptr<Direction> in,
             std::shared_ptr<Direction> out);
  ~PipeStream() override;

  asio::any_io_executor executor() override { return executor_; }
  asio::awaitable<asio::error_code> WaitReadable() override;
  size_t Available() override;
  asio::awaitable<IoResult> ReadSome(absl::Span<uint8_t> buffer) override;
  asio::awaitable<IoResult> WriteSome(absl::Span<const uint8_t> data) override;
  void Close() override;
  // Ends the outgoing direction: the other end reads EOF after the data.
  void ShutdownSend();

 private:
  asio::any_io_executor executor_;
  std::shared_ptr<Direction> in_;
  std::shared_ptr<Direction> out_;
};

// Two connected in-memory streams on `executor`.
std::pair<std::unique_ptr<PipeStream>, std::unique_ptr<PipeStream>>
MakePipePair(asio::any_io_executor executor, size_t capacity = 64 << 10);

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_BYTE_STREAM_H_
