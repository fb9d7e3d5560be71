// Moving bytes between an SSH channel and an Asio stream (a child's pipe or
// pty, a TCP socket, the client's own stdin/stdout), with backpressure in
// both directions:
//   - ChannelReader reads from the stream only while the peer's window is
//     open and the transport's output backlog is small, so a client that
//     stops reading stops the data source;
//   - ChannelWriter writes channel data to the stream asynchronously and
//     gives the window back (Connection::Consume) only once the bytes were
//     written, so a slow consumer stops the peer.
// Everything runs on the connection's executor (one thread or strand).
#ifndef SALLYPORT_SSH_NET_CHANNEL_IO_H_
#define SALLYPORT_SSH_NET_CHANNEL_IO_H_

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "ssh/connection/connection.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::net {

// Producers pause while the transport holds more output than this.
inline constexpr size_t kMaxOutputBacklog = 4 << 20;

// What a pump needs from the channel it serves.
class PumpOwner {
 public:
  virtual ~PumpOwner() = default;
  // The connection while the channel exists in it, nullptr afterwards.
  virtual connection::Connection* connection() = 0;
  virtual uint32_t channel_id() const = 0;
  // Whether the transport has room for more output.
  virtual bool OutputRoom() const = 0;
  // Output was queued outside the driver's callbacks: wake its writer.
  virtual void Flush() = 0;
  // A pump's read or write finished: pump again, check for completion.
  virtual void OnPumpEvent() = 0;
  // Keeps the owner (and so the pump and its stream) alive while an
  // operation is pending.
  virtual std::shared_ptr<PumpOwner> Self() = 0;
};

// Closes a stream for writing once everything was written: the write end
// of a pipe is closed, a socket is shut down for sending.
inline void CloseForWriting(asio::posix::stream_descriptor& s) {
  asio::error_code ignored;
  s.close(ignored);
}
inline void CloseForWriting(asio::ip::tcp::socket& s) {
  asio::error_code ignored;
  s.shutdown(asio::socket_base::shutdown_send, ignored);
}

// Puts the descriptor in non-blocking mode for our own readv/write calls
// (Asio's operations would set it too). False if that failed.
template <typename Stream>
bool MakeNonBlocking(Stream& s) {
  asio::error_code ec;
  if (!s.native_non_blocking()) s.native_non_blocking(true, ec);
  return !ec;
}

// Stream → channel (data or extended data `data_stream`). Reads go
// straight into the transport's packet buffer (Connection::SendDataInPlace,
// readv(2) into each packet's data space), where the bytes are encrypted:
// the kernel's copy is the only one. A read is never larger than the
// peer's window, so nothing is held back here.
template <typename Stream>
class ChannelReader {
 public:
  ChannelReader(Stream* stream, uint32_t data_stream, size_t max_read)
      : stream_(stream), data_stream_(data_stream), max_read_(max_read) {}

  // Reads once if the window and the output backlog allow; waits for the
  // stream to become readable when it has nothing.
  void Pump(PumpOwner& owner) {
    connection::Connection* conn = owner.connection();
    if (conn == nullptr) {
      Abandon();
      return;
    }
    if (eof_ || waiting_ || !stream_->is_open()) return;
    const uint32_t id = owner.channel_id();
    const size_t room = std::min<size_t>(max_read_, conn->SendWindow(id));
    if (room == 0 || !owner.OutputRoom()) return;
    switch (ReadOnce(*conn, id, room)) {
      case Read::kData:
        // The writer's progress (OnProgress) pumps again.
        owner.Flush();
        return;
      case Read::kEnd:
        eof_ = true;
        return;
      case Read::kWouldBlock:
        break;
    }
    waiting_ = true;
    stream_->async_wait(Stream::wait_read, [this, self = owner.Self()](
                                               const asio::error_code& ec) {
      waiting_ = false;
      // Closed under us (operation_aborted) or unpollable: finished.
      if (ec) eof_ = true;
      self->OnPumpEvent();
    });
  }

  // The stream reached EOF (or failed) and no wait is pending.
  bool done() const { return eof_ && !waiting_; }
  // Treats the stream as finished (the channel is gone, or the stream will
  // not be read any more).
  void Abandon() { eof_ = true; }

 private:
  enum class Read { kData, kEnd, kWouldBlock };
  static constexpr size_t kMaxSlots = 64;

  Read ReadOnce(connection::Connection& conn, uint32_t id, size_t room) {
    if (!MakeNonBlocking(*stream_)) return Read::kEnd;
    int error = 0;
    bool end = false;
    auto sent = conn.SendDataInPlace(
        id, room, data_stream_,
        [&](absl::Span<const absl::Span<uint8_t>> slots) -> size_t {
          iovec iov[kMaxSlots];
          const size_t count = std::min(slots.size(), kMaxSlots);
          for (size_t i = 0; i < count; ++i) {
            iov[i].iov_base = slots[i].data();
            iov[i].iov_len = slots[i].size();
          }
          ssize_t n;
          do {
            n = ::readv(stream_->native_handle(), iov, static_cast<int>(count));
          } while (n < 0 && errno == EINTR);
          if (n < 0) error = errno;
          if (n == 0) end = true;
          return n > 0 ? static_cast<size_t>(n) : 0;
        });
    if (!sent.ok()) return Read::kEnd;  // the channel takes no more data
    if (*sent > 0) return Read::kData;
    if (!end && (error == EAGAIN || error == EWOULDBLOCK))
      return Read::kWouldBlock;
    // EOF, or EIO from a pty whose other side was closed.
    return Read::kEnd;
  }

  Stream* stream_;
  uint32_t data_stream_;
  size_t max_read_;
  bool waiting_ = false;
  bool eof_ = false;
};

// Channel → stream.
template <typename Stream>
class ChannelWriter {
 public:
  explicit ChannelWriter(Stream* stream) : stream_(stream) {}

  // Queues bytes received on the channel. They are Consume()d (window
  // reopened) once written; if the stream failed they are dropped at once.
  void Write(PumpOwner& owner, wire::Bytes data) {
    if (failed_ || finish_) {
      GiveBack(owner, data.size());
      return;
    }
    if (!writing_ && pending_.empty() && stream_->is_open()) {
      // Nothing queued: write straight from the transport's buffer and keep
      // only what the stream does not take now.
      const size_t n = WriteNow(data);
      if (failed_) {
        GiveBack(owner, data.size());
        return;
      }
      GiveBack(owner, n);
      data = data.subspan(n);
      if (data.empty()) return;
    }
    pending_.insert(pending_.end(), data.begin(), data.end());
    if (!writing_) StartWrite(owner);
  }
  // The peer sent EOF: close the stream for writing once drained.
  void Finish(PumpOwner& owner) {
    finish_ = true;
    if (!writing_) StartWrite(owner);
  }
  bool idle() const { return !writing_ && pending_.empty(); }
  bool failed() const { return failed_; }

 private:
  // One non-blocking write; the bytes taken (0 when the stream is full).
  // A failed stream (EPIPE and friends) sets failed_.
  size_t WriteNow(wire::Bytes data) {
    if (!MakeNonBlocking(*stream_))
      return 0;  // the asynchronous path reports it
    ssize_t n;
    do {
      n = WriteSome(*stream_, data);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EAGAIN && errno != EWOULDBLOCK) failed_ = true;
    return 0;
  }
  static ssize_t WriteSome(asio::posix::stream_descriptor& s, wire::Bytes d) {
    return ::write(s.native_handle(), d.data(), d.size());
  }
  static ssize_t WriteSome(asio::ip::tcp::socket& s, wire::Bytes d) {
    return ::send(s.native_handle(), d.data(), d.size(), MSG_NOSIGNAL);
  }

  void GiveBack(PumpOwner& owner, size_t n) {
    if (n == 0) return;
    if (connection::Connection* c = owner.connection()) {
      c->Consume(owner.channel_id(), n);
      owner.Flush();
    }
  }

  void StartWrite(PumpOwner& owner) {
    if (pending_.empty()) {
      if (finish_ && !closed_) {
        closed_ = true;
        CloseForWriting(*stream_);
      }
      return;
    }
    if (!stream_->is_open()) {
      failed_ = true;
      GiveBack(owner, pending_.size());
      pending_.clear();
      return;
    }
    active_.swap(pending_);
    pending_.clear();
    writing_ = true;
    asio::async_write(
        *stream_, asio::buffer(active_),
        [this, self = owner.Self()](const asio::error_code& ec, size_t) {
          writing_ = false;
          size_t done = active_.size();
          active_.clear();
          if (ec) {
            // EPIPE and friends: the reader is gone; drop the rest, as
            // sshd does, so the peer is not stopped forever.
            failed_ = true;
            done += pending_.size();
            pending_.clear();
          }
          GiveBack(*self, done);
          if (!failed_) StartWrite(*self);
          self->OnPumpEvent();
        });
  }

  Stream* stream_;
  std::vector<uint8_t> pending_;  // received, not yet being written
  std::vector<uint8_t> active_;   // being written
  bool writing_ = false;
  bool finish_ = false;
  bool closed_ = false;
  bool failed_ = false;
};

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_CHANNEL_IO_H_
