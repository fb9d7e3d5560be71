#include "gateway/forward_relay.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace sallyport::gateway {

TcpRelay::TcpRelay(Options options) : options_(std::move(options)) {}

TcpRelay::~TcpRelay() {
  if (options_.tap != nullptr && options_.clock != nullptr)
    options_.tap->Close(options_.clock->Monotonic());
}

void TcpRelay::Start(asio::ip::tcp::socket socket) {
  socket_.emplace(std::move(socket));
  asio::error_code ignored;
  socket_->set_option(asio::ip::tcp::no_delay(true), ignored);
  socket_->non_blocking(true, ignored);
  (void)options_.down.Accept();
  if (options_.wake) options_.wake();
  Pump();
}

void TcpRelay::Pump() {
  if (stopped_ || !socket_.has_value() || reading_ || socket_eof_) return;
  ssh::session::Channel& down = options_.down;
  if (!down.valid() || down.QueuedBytes() > 0) return;
  const size_t room = std::min<size_t>(options_.max_read, down.SendWindow());
  if (room == 0) return;
  if (down.session()->BufferedOutputBytes() > options_.max_output_backlog)
    return;
  read_buffer_.resize(room);
  reading_ = true;
  socket_->async_read_some(
      asio::buffer(read_buffer_.data(), room),
      [this, self = shared_from_this()](const asio::error_code& ec, size_t n) {
        reading_ = false;
        if (stopped_) return;
        if (down_closed_) {
          // The user closed the channel: what the destination sends has
          // nowhere to go. Only a reset ends the writes still due.
          if (ec && ec != asio::error::eof) {
            Fail("the destination reset the connection");
          } else if (ec) {
            socket_eof_ = true;
          }
          return;
        }
        if (n > 0) {
          ssh::wire::Bytes data(read_buffer_.data(), n);
          if (options_.record_data && !options_.tap
                                           ->Data(options_.clock->Monotonic(),
                                                  Direction::kOutput, 0, data)
                                           .ok()) {
            Fail("recording failed");
            return;
          }
          absl::StatusOr<size_t> taken = options_.down.Queue(data);
          if (!taken.ok() || *taken < n) {
            Fail("the user's channel is gone");
            return;
          }
          bytes_out_ += n;
          if (options_.on_bytes) options_.on_bytes(false, n);
          if (options_.wake) options_.wake();
        }
        if (ec) {
          // EOF, or the destination reset the connection: nothing more
          // comes from it.
          socket_eof_ = true;
          if (!eof_sent_) {
            eof_sent_ = true;
            (void)options_.down.SendEof();
            if (options_.wake) options_.wake();
          }
          if (ec != asio::error::eof) {
            Fail("the destination reset the connection");
            return;
          }
          MaybeClose();
          return;
        }
        Pump();
      });
}

void TcpRelay::OnData(ssh::wire::Bytes data) {
  ssh::session::Channel& down = options_.down;
  if (stopped_ || !socket_.has_value() || peer_eof_ || close_sent_) {
    down.Consume(data.size());
    return;
  }
  if (options_.record_data &&
      !options_.tap
           ->Data(options_.clock->Monotonic(), Direction::kInput, 0, data)
           .ok()) {
    down.Consume(data.size());
    Fail("recording failed");
    return;
  }
  bytes_in_ += data.size();
  if (options_.on_bytes) options_.on_bytes(true, data.size());
  if (!writing_ && pending_.empty()) {
    // Nothing queued: write straight from the transport's buffer and keep
    // only what the socket does not take now.
    ssize_t n;
    do {
      n = ::send(socket_->native_handle(), data.data(), data.size(),
                 MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      down.Consume(data.size());
      Fail("the destination closed the connection");
      return;
    }
    const size_t written = n > 0 ? static_cast<size_t>(n) : 0;
    WrittenOut(written);
    data = data.subspan(written);
    if (data.empty()) return;
  }
  // Bounded by the user's window: nothing is consumed until written.
  pending_.insert(pending_.end(), data.begin(), data.end());
  StartWrite();
}

void TcpRelay::DropExtendedData(size_t n) {
  options_.down.Consume(n);
  ext_dropped_in_ += n;
}

void TcpRelay::OnEof() {
  peer_eof_ = true;
  StartWrite();
  MaybeClose();
}

void TcpRelay::OnClose(const std::string& why) {
  if (stopped_ || !socket_.has_value() || down_closed_) {
    Shutdown(why);
    return;
  }
  down_closed_ = true;
  close_why_ = why;
  peer_eof_ = true;
  close_sent_ = true;  // the session answered the user's CLOSE
  options_.down = ssh::session::Channel(nullptr, options_.down.id());
  StartWrite();
  MaybeFinish();
}

void TcpRelay::MaybeFinish() {
  if (!down_closed_ || stopped_ || writing_ || !write_shut_) return;
  // Unread bytes at close() make the kernel reset the connection and drop
  // what it has not sent yet: read what the destination sent first.
  if (!socket_eof_) {
    uint8_t discard[16 << 10];
    for (int i = 0; i < 64; ++i) {
      const ssize_t n = ::recv(socket_->native_handle(), discard,
                               sizeof(discard), MSG_DONTWAIT);
      if (n <= 0) break;
    }
  }
  Shutdown(close_why_);
}

void TcpRelay::StartWrite() {
  if (stopped_ || writing_ || !socket_.has_value()) return;
  if (pending_.empty()) {
    if (peer_eof_ && !write_shut_) {
      write_shut_ = true;
      asio::error_code ignored;
      socket_->shutdown(asio::socket_base::shutdown_send, ignored);
    }
    return;
  }
  active_.swap(pending_);
  pending_.clear();
  writing_ = true;
  asio::async_write(
      *socket_, asio::buffer(active_),
      [this, self = shared_from_this()](const asio::error_code& ec, size_t) {
        writing_ = false;
        if (stopped_) return;
        const size_t done = active_.size();
        active_.clear();
        if (ec) {
          Fail("the destination closed the connection");
          return;
        }
        WrittenOut(done);
        StartWrite();
        MaybeClose();
        MaybeFinish();
      });
}

void TcpRelay::WrittenOut(size_t n) {
  if (n == 0) return;
  options_.down.Consume(n);
  if (options_.wake) options_.wake();
}

void TcpRelay::MaybeClose() {
  if (close_sent_ || !eof_sent_ || !peer_eof_ || !write_shut_) return;
  close_sent_ = true;
  (void)options_.down.Close();
  if (options_.wake) options_.wake();
}

void TcpRelay::Fail(const std::string& why) {
  if (!close_sent_) {
    close_sent_ = true;
    (void)options_.down.Close();
    if (options_.wake) options_.wake();
  }
  Shutdown(why);
}

void TcpRelay::Shutdown(const std::string& why) {
  if (!stopped_) {
    stopped_ = true;
    if (socket_.has_value()) {
      asio::error_code ignored;
      socket_->close(ignored);
    }
  }
  End(why);
}

void TcpRelay::End(const std::string& why) {
  if (ended_) return;
  ended_ = true;
  if (options_.on_end) options_.on_end(*this, why);
  options_.on_end = nullptr;
  if (options_.tap != nullptr) {
    options_.tap->Close(options_.clock->Monotonic());
    options_.tap.reset();
  }
}

}  // namespace sallyport::gateway
