#include "ssh/examples/tcp_forward.h"

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "ssh/examples/common.h"

namespace sallyport::ssh::examples {
namespace {

constexpr size_t kReadBuffer = 128 << 10;

}  // namespace

absl::StatusOr<asio::ip::tcp::endpoint> LoopbackDestination(
    const connection::DirectTcpip& request) {
  if (request.port == 0 || request.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port ", request.port));
  }
  asio::ip::address address;
  if (request.host == "localhost") {
    address = asio::ip::address_v4::loopback();
  } else {
    asio::error_code ec;
    address = asio::ip::make_address(request.host, ec);
    if (ec) {
      return absl::PermissionDeniedError(absl::StrCat(
          "not a loopback address: ", base::SafeText(request.host)));
    }
  }
  const bool loopback =
      address.is_v4() ? (address.to_v4().to_uint() >> 24) == 127
                      : address.to_v6() == asio::ip::address_v6::loopback();
  if (!loopback) {
    return absl::PermissionDeniedError(absl::StrCat(
        "destination is not on loopback: ", base::SafeText(request.host)));
  }
  return asio::ip::tcp::endpoint(address, static_cast<uint16_t>(request.port));
}

TcpForward::TcpForward(asio::any_io_executor executor, ChannelHost* host,
                       uint32_t id)
    : Channel(host, id),
      socket_(executor),
      reader_(&socket_, 0, kReadBuffer),
      writer_(&socket_) {}

void TcpForward::Connect(const asio::ip::tcp::endpoint& destination) {
  socket_.async_connect(destination, [this, self = shared_from_this(),
                                      destination](const asio::error_code& ec) {
    if (host_ == nullptr) return;
    if (ec) {
      Log(absl::StrCat("direct-tcpip ", id_, ": connect to ",
                       destination.address().to_string(), ":",
                       destination.port(), " failed: ", ec.message()));
      (void)host_->connection().RejectChannel(
          id_, connection::OpenFailure::kConnectFailed, ec.message());
      host_->Flush();
      ChannelHost* host = host_;
      host_ = nullptr;
      host->Forget(id_);
      return;
    }
    asio::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    if (!host_->connection().AcceptChannel(id_).ok()) return;
    connected_ = true;
    Flush();
    Pump();
  });
}

void TcpForward::OnData(uint32_t stream, wire::Bytes data) {
  if (stream != 0) {
    if (connection::Connection* c = connection()) c->Consume(id_, data.size());
    return;
  }
  writer_.Write(*this, data);
}

void TcpForward::OnEof() {
  peer_eof_ = true;
  writer_.Finish(*this);
  MaybeClose();
}

void TcpForward::Pump() {
  if (host_ == nullptr || !connected_) return;
  reader_.Pump(*this);
  if (reader_.done() && !eof_sent_) {
    eof_sent_ = true;
    if (connection::Connection* c = connection()) {
      (void)c->SendEof(id_);
      Flush();
    }
  }
  MaybeClose();
}

void TcpForward::MaybeClose() {
  if (close_sent_ || !eof_sent_) return;
  if (!writer_.failed() && !(peer_eof_ && writer_.idle())) return;
  close_sent_ = true;
  if (connection::Connection* c = connection()) {
    (void)c->Close(id_);
    Flush();
  }
}

void TcpForward::Shutdown() {
  Channel::Shutdown();
  reader_.Abandon();
  asio::error_code ignored;
  socket_.close(ignored);
}

}  // namespace sallyport::ssh::examples
