// The server side of one SSH channel in example_server: what the
// connection hands it (data, EOF, requests) and what it may use of the
// connection (ChannelHost).
#ifndef SALLYPORT_SSH_EXAMPLES_CHANNEL_H_
#define SALLYPORT_SSH_EXAMPLES_CHANNEL_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "ssh/connection/connection.h"
#include "ssh/net/channel_io.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::examples {

// The connection, as its channels see it.
class ChannelHost {
 public:
  virtual ~ChannelHost() = default;
  virtual connection::Connection& connection() = 0;
  // Whether the transport's output backlog leaves room for more data.
  virtual bool OutputRoom() const = 0;
  // Wakes the driver's writer after output was queued.
  virtual void Flush() = 0;
  // The channel no longer exists in the Connection (its open was refused):
  // drop it.
  virtual void Forget(uint32_t id) = 0;
};

class Channel : public net::PumpOwner,
                public std::enable_shared_from_this<Channel> {
 public:
  Channel(ChannelHost* host, uint32_t id) : host_(host), id_(id) {}

  // Data on stream 0 (data) or 1 (extended data) from the peer; the span is
  // valid only during the call. Must Consume it (now or once written).
  virtual void OnData(uint32_t stream, wire::Bytes data) = 0;
  virtual void OnEof() {}
  // A channel request. The default refuses it.
  virtual void OnRequest(std::string_view type, bool want_reply,
                         wire::Bytes data);
  // The peer's window or the transport's backlog may have room again.
  virtual void Pump() = 0;
  // The channel is gone (closed by the peer, or the connection ended):
  // stop all I/O. Pending operations complete later and must find
  // host_ == nullptr.
  virtual void Shutdown() { host_ = nullptr; }

  // net::PumpOwner
  connection::Connection* connection() override {
    if (host_ == nullptr || !host_->connection().HasChannel(id_))
      return nullptr;
    return &host_->connection();
  }
  uint32_t channel_id() const override { return id_; }
  bool OutputRoom() const override {
    return host_ != nullptr && host_->OutputRoom();
  }
  void Flush() override {
    if (host_ != nullptr) host_->Flush();
  }
  std::shared_ptr<net::PumpOwner> Self() override { return shared_from_this(); }

 protected:
  // Replies to a want_reply request (no-op without a connection).
  void Reply(bool want_reply, bool ok);

  ChannelHost* host_;
  const uint32_t id_;
};

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_CHANNEL_H_
