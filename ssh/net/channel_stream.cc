#include "ssh/net/channel_stream.h"

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <cstring>
#include <utility>

#include "ssh/net/channel_io.h"

namespace sallyport::ssh::net {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);

void Arm(asio::steady_timer& t) {
  t.expires_at(asio::steady_timer::time_point::max());
}

}  // namespace

ChannelPort::ChannelPort(asio::any_io_executor executor,
                         session::Channel channel, OutputRoom output_room)
    : executor_(executor),
      channel_(channel),
      output_room_(std::move(output_room)),
      readable_(executor),
      writable_(executor) {
  Arm(readable_);
  Arm(writable_);
}

void ChannelPort::Signal(asio::steady_timer& t) {
  t.cancel();
  Arm(t);
}

void ChannelPort::WakeSession() {
  if (attached_ && channel_.session() != nullptr) channel_.session()->Wake();
}

void ChannelPort::OnData(uint32_t stream, wire::Bytes data) {
  if (!attached_) return;
  if (stream != 0 || closed_) {
    channel_.Consume(data.size());  // nobody reads it
    return;
  }
  if (in_read_ == in_.size()) {
    in_.clear();
    in_read_ = 0;
  } else if (in_read_ >= in_.size() / 2) {
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_read_));
    in_read_ = 0;
  }
  in_.insert(in_.end(), data.begin(), data.end());
  bytes_received_ += data.size();
  peak_held_ = std::max(peak_held_, held_bytes());
  Signal(readable_);
}

void ChannelPort::OnEof() {
  eof_in_ = true;
  Signal(readable_);
}

void ChannelPort::OnWindowAvailable() { Signal(writable_); }

void ChannelPort::OnQueuedDataSent() { Signal(writable_); }

void ChannelPort::OnOutputProgress() { Signal(writable_); }

size_t ChannelPort::OutputRoomNow() const {
  if (output_room_) return output_room_();
  const session::Session* s = channel_.session();
  if (s == nullptr) return 0;
  const size_t buffered = s->BufferedOutputBytes();
  return buffered < kMaxOutputBacklog ? kMaxOutputBacklog - buffered : 0;
}

void ChannelPort::Detach() {
  attached_ = false;
  eof_in_ = true;
  Signal(readable_);
  Signal(writable_);
}

std::pair<std::unique_ptr<ChannelStream>, std::shared_ptr<ChannelPort>>
ChannelStream::Create(asio::any_io_executor executor, session::Channel channel,
                      ChannelPort::OutputRoom output_room) {
  auto port = std::make_shared<ChannelPort>(std::move(executor), channel,
                                            std::move(output_room));
  return {std::make_unique<ChannelStream>(port), port};
}

asio::awaitable<asio::error_code> ChannelStream::WaitReadable() {
  std::shared_ptr<ChannelPort> p = port_;
  while (true) {
    if (p->closed_) co_return asio::error::operation_aborted;
    if (p->held_bytes() > 0 || p->eof_in_) co_return asio::error_code();
    co_await p->readable_.async_wait(kUseTuple);
  }
}

asio::awaitable<IoResult> ChannelStream::ReadSome(absl::Span<uint8_t> buffer) {
  std::shared_ptr<ChannelPort> p = port_;
  while (true) {
    if (p->closed_) co_return IoResult{asio::error::operation_aborted, 0};
    if (p->held_bytes() > 0) {
      const size_t n = std::min(buffer.size(), p->held_bytes());
      std::memcpy(buffer.data(), p->in_.data() + p->in_read_, n);
      p->in_read_ += n;
      if (p->in_read_ == p->in_.size()) {
        p->in_read_ = 0;
        p->in_.clear();
        // An idle channel holds no buffer.
        if (p->in_.capacity() > 64 << 10) p->in_.shrink_to_fit();
      }
      if (p->attached_) {
        p->channel_.Consume(n);  // reopens the outer window
        p->WakeSession();
      }
      co_return IoResult{asio::error_code(), n};
    }
    if (p->eof_in_) co_return IoResult{asio::error::eof, 0};
    co_await p->readable_.async_wait(kUseTuple);
  }
}

asio::awaitable<IoResult> ChannelStream::WriteSome(
    absl::Span<const uint8_t> data) {
  std::shared_ptr<ChannelPort> p = port_;
  while (true) {
    if (p->closed_) co_return IoResult{asio::error::operation_aborted, 0};
    if (!p->attached_ || eof_sent_)
      co_return IoResult{asio::error::broken_pipe, 0};
    // At most what the outer connection's output has room for: the
    // peer's window may be huge and its reading stopped.
    const size_t room = p->OutputRoomNow();
    if (room > 0) {
      // Through the channel's ordered queue: after anything queued before,
      // ahead of a later EOF/CLOSE; up to the queue's room beyond the
      // window.
      absl::StatusOr<size_t> n =
          p->channel_.Queue(data.first(std::min(room, data.size())));
      if (!n.ok()) co_return IoResult{asio::error::broken_pipe, 0};
      if (*n > 0) {
        p->bytes_sent_ += *n;
        p->WakeSession();
        co_return IoResult{asio::error_code(), *n};
      }
    }
    co_await p->writable_.async_wait(kUseTuple);
  }
}

void ChannelStream::ShutdownSend() {
  if (eof_sent_ || port_->closed_) return;
  eof_sent_ = true;
  if (port_->attached_) {
    (void)port_->channel_.SendEof();
    port_->WakeSession();
  }
  port_->Signal(port_->writable_);
}

void ChannelStream::Close() {
  ChannelPort& p = *port_;
  if (p.closed_) return;
  p.closed_ = true;
  p.in_.clear();
  p.in_.shrink_to_fit();
  p.in_read_ = 0;
  if (p.attached_) {
    (void)p.channel_.Close();
    p.WakeSession();
  }
  p.Signal(p.readable_);
  p.Signal(p.writable_);
}

}  // namespace sallyport::ssh::net
