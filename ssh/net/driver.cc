#include "ssh/net/driver.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace sallyport::ssh::net {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 256 * 1024;

}  // namespace

TransportDriver::TransportDriver(
    asio::ip::tcp::socket socket,
    std::unique_ptr<transport::Transport> transport)
    : socket_(std::move(socket)),
      transport_(std::move(transport)),
      wake_(socket_.get_executor()),
      timer_(socket_.get_executor()) {
  asio::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  wake_.expires_at(asio::steady_timer::time_point::max());
}

void TransportDriver::Wake() { wake_.cancel(); }

size_t TransportDriver::OutputBacklog() const {
  return in_flight_ + transport_->BufferedOutputBytes();
}

void TransportDriver::Process(MessageHandler& handler) {
  transport::Transport& t = *transport_;
  while (!t.closed()) {
    auto msg = t.Next();
    if (!handshake_reported_ && t.handshake_done()) {
      handshake_reported_ = true;
      absl::Status s = handler.OnHandshakeDone(t);
      if (!s.ok()) {
        t.Disconnect(transport::DisconnectReason::kByApplication,
                     s.message().data());
        break;
      }
    }
    if (!msg.has_value()) break;
    absl::Status s = handler.OnMessage(t, *msg);
    if (!s.ok()) {
      t.Disconnect(transport::DisconnectReason::kProtocolError,
                   std::string(s.message().substr(0, 200)));
      break;
    }
  }
  if (!t.closed()) handler.OnProgress(t);
  Wake();
}

asio::awaitable<void> TransportDriver::ReadLoop(MessageHandler& handler) {
  transport::Transport& t = *transport_;
  while (!t.closed() && !socket_failed_) {
    auto buf = t.PrepareInput(kReadChunk);
    auto [ec, n] = co_await socket_.async_read_some(
        asio::buffer(buf.data(), buf.size()), kUseTuple);
    t.CommitInput(n);
    if (n > 0) Process(handler);
    if (ec) {
      if (!t.closed()) {
        socket_failed_ = true;
        socket_status_ = absl::UnavailableError(
            ec == asio::error::eof
                ? "connection closed by peer"
                : absl::StrCat("read failed: ", ec.message()));
      }
      break;
    }
  }
  Wake();
  timer_.cancel();
}

asio::awaitable<void> TransportDriver::WriteLoop(MessageHandler& handler) {
  transport::Transport& t = *transport_;
  while (!socket_failed_) {
    if (t.PendingOutput().empty()) {
      if (t.closed()) break;
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(kUseTuple);
      continue;
    }
    t.TakeOutput(&write_buffer_);
    // One send per loop for the whole batch: asio::async_write would split
    // it into 64 KiB sends, each a trip through the event loop.
    size_t written = 0;
    asio::error_code ec;
    while (written < write_buffer_.size() && !ec) {
      in_flight_ = write_buffer_.size() - written;
      size_t n = 0;
      std::tie(ec, n) = co_await socket_.async_write_some(
          asio::buffer(write_buffer_.data() + written,
                       write_buffer_.size() - written),
          kUseTuple);
      written += n;
    }
    in_flight_ = 0;
    if (ec) {
      socket_failed_ = true;
      if (!t.closed())
        socket_status_ = absl::UnavailableError(
            absl::StrCat("write failed: ", ec.message()));
      break;
    }
    if (!t.closed()) handler.OnProgress(t);
  }
  // Done writing: stop the reader too.
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  timer_.cancel();
}

asio::awaitable<void> TransportDriver::TimerLoop() {
  transport::Transport& t = *transport_;
  while (!t.closed() && !socket_failed_) {
    absl::Duration wait = t.NextDeadline() - absl::Now();
    wait = std::clamp(wait, absl::Milliseconds(1), absl::Seconds(1));
    timer_.expires_after(absl::ToChronoMilliseconds(wait));
    co_await timer_.async_wait(kUseTuple);
    if (t.closed() || socket_failed_) break;
    t.OnTimer();
    Wake();
  }
}

asio::awaitable<absl::Status> TransportDriver::Run(MessageHandler& handler) {
  using namespace asio::experimental::awaitable_operators;
  Wake();  // the version line and KEXINIT are already queued
  co_await (ReadLoop(handler) && WriteLoop(handler) && TimerLoop());
  if (transport_->closed()) co_return transport_->close_status();
  if (!socket_status_.ok()) co_return socket_status_;
  co_return absl::UnavailableError("connection closed");
}

absl::StatusOr<asio::ip::tcp::endpoint> ParseEndpoint(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected HOST:PORT, got ", std::string(text)));
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  if (!absl::SimpleAtoi(std::string(text.substr(colon + 1)), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in ", std::string(text)));
  }
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec)
    return absl::InvalidArgumentError(absl::StrCat("bad IP address: ", host));
  return asio::ip::tcp::endpoint(addr, static_cast<uint16_t>(port));
}

}  // namespace sallyport::ssh::net
