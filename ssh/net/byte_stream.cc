#include "ssh/net/byte_stream.h"

#include <asio/experimental/as_tuple.hpp>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sallyport::ssh::net {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

// ---------------------------------------------------------------- TCP

TcpStream::TcpStream(asio::ip::tcp::socket socket)
    : socket_(std::move(socket)) {
  asio::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

asio::awaitable<asio::error_code> TcpStream::WaitReadable() {
  auto [ec] =
      co_await socket_.async_wait(asio::socket_base::wait_read, kUseTuple);
  co_return ec;
}

size_t TcpStream::Available() {
  asio::error_code ec;
  const size_t n = socket_.available(ec);
  return ec ? 0 : n;
}

asio::awaitable<IoResult> TcpStream::ReadSome(absl::Span<uint8_t> buffer) {
  auto [ec, n] = co_await socket_.async_read_some(
      asio::buffer(buffer.data(), buffer.size()), kUseTuple);
  co_return IoResult{ec, n};
}

asio::awaitable<IoResult> TcpStream::WriteSome(absl::Span<const uint8_t> data) {
  auto [ec, n] = co_await socket_.async_write_some(
      asio::buffer(data.data(), data.size()), kUseTuple);
  co_return IoResult{ec, n};
}

void TcpStream::Close() {
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

std::string TcpStream::PeerName() const {
  asio::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  if (ec) return "";
  return absl::StrCat(remote.address().to_string(), ":", remote.port());
}

// ---------------------------------------------------------------- pipe

struct PipeStream::Direction {
  Direction(asio::any_io_executor executor, size_t capacity)
      : capacity(capacity), changed(executor) {
    changed.expires_at(asio::steady_timer::time_point::max());
  }
  void Notify() {
    changed.cancel();
    changed.expires_at(asio::steady_timer::time_point::max());
  }

  const size_t capacity;
  std::deque<uint8_t> data;
  bool writer_closed = false;  // EOF after `data`
  bool reader_closed = false;  // writes fail
  asio::steady_timer changed;  // cancelled on every change
};

PipeStream::PipeStream(asio::any_io_executor executor,
                       std::shared_ptr<Direction> in,
                       std::shared_ptr<Direction> out)
    : executor_(std::move(executor)),
      in_(std::move(in)),
      out_(std::move(out)) {}

PipeStream::~PipeStream() { Close(); }

asio::awaitable<asio::error_code> PipeStream::WaitReadable() {
  std::shared_ptr<Direction> in = in_;
  while (true) {
    if (in->reader_closed) co_return asio::error::operation_aborted;
    if (!in->data.empty() || in->writer_closed) co_return asio::error_code();
    co_await in->changed.async_wait(kUseTuple);
  }
}

size_t PipeStream::Available() { return in_->data.size(); }

asio::awaitable<IoResult> PipeStream::ReadSome(absl::Span<uint8_t> buffer) {
  std::shared_ptr<Direction> in = in_;
  while (true) {
    if (in->reader_closed)
      co_return IoResult{asio::error::operation_aborted, 0};
    if (!in->data.empty()) {
      const size_t n = std::min(buffer.size(), in->data.size());
      std::copy_n(in->data.begin(), n, buffer.begin());
      in->data.erase(in->data.begin(),
                     in->data.begin() + static_cast<std::ptrdiff_t>(n));
      in->Notify();  // room for the writer
      co_return IoResult{asio::error_code(), n};
    }
    if (in->writer_closed) co_return IoResult{asio::error::eof, 0};
    co_await in->changed.async_wait(kUseTuple);
  }
}

asio::awaitable<IoResult> PipeStream::WriteSome(
    absl::Span<const uint8_t> data) {
  std::shared_ptr<Direction> out = out_;
  while (true) {
    if (out->writer_closed)
      co_return IoResult{asio::error::operation_aborted, 0};
    if (out->reader_closed) co_return IoResult{asio::error::broken_pipe, 0};
    if (out->data.size() < out->capacity) {
      const size_t n = std::min(data.size(), out->capacity - out->data.size());
      out->data.insert(out->data.end(), data.begin(), data.begin() + n);
      out->Notify();
      co_return IoResult{asio::error_code(), n};
    }
    co_await out->changed.async_wait(kUseTuple);
  }
}

void PipeStream::Close() {
  if (!in_->reader_closed) {
    in_->reader_closed = true;
    in_->data.clear();
    in_->Notify();
  }
  ShutdownSend();
}

void PipeStream::ShutdownSend() {
  if (!out_->writer_closed) {
    out_->writer_closed = true;
    out_->Notify();
  }
}

std::pair<std::unique_ptr<PipeStream>, std::unique_ptr<PipeStream>>
MakePipePair(asio::any_io_executor executor, size_t capacity) {
  auto a_to_b = std::make_shared<PipeStream::Direction>(executor, capacity);
  auto b_to_a = std::make_shared<PipeStream::Direction>(executor, capacity);
  return {std::make_unique<PipeStream>(executor, b_to_a, a_to_b),
          std::make_unique<PipeStream>(executor, a_to_b, b_to_a)};
}

}  // namespace sallyport::ssh::net
