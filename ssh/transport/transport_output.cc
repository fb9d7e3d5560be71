// The transport's output: sending packets (whole, two-part, in place), the
// queue of upper-layer messages held while a key exchange runs, rekeying for
// volume, and the output buffer the driver writes from. The rest of the
// transport is in transport.cc, key exchange in transport_kex.cc.
#include <algorithm>
#include <cstring>

#include "absl/container/inlined_vector.h"
#include "base/status_macros.h"
#include "ssh/transport/transport.h"
#include "ssh/transport/transport_internal.h"

namespace sallyport::ssh::transport {
void Transport::CompactOutput() {
  if (out_start_ == out_.size()) {
    out_.clear();
    out_start_ = 0;
  } else if (out_start_ > (64u << 10) && out_start_ > out_.size() / 2) {
    out_.erase(out_.begin(),
               out_.begin() + static_cast<std::ptrdiff_t>(out_start_));
    out_start_ = 0;
  }
}

void Transport::CountSent(size_t bytes, size_t packets) {
  bytes_out_since_kex_ += bytes;
  total_bytes_out_ += bytes;
  packets_out_since_kex_ += packets;
}

void Transport::SendPacket(wire::Bytes head, wire::Bytes tail) {
  CompactOutput();
  const size_t before = out_.size();
  encoder_.Encode(head, tail, &out_);
  CountSent(out_.size() - before, 1);
}

absl::Status Transport::Send(wire::Bytes payload) { return Send(payload, {}); }

absl::Status Transport::Send(wire::Bytes head, wire::Bytes tail) {
  if (closed_) return absl::FailedPreconditionError("transport is closed");
  const size_t size = head.size() + tail.size();
  if (size == 0) return absl::InvalidArgumentError("empty message");
  if (size > kMaxOutgoingPayload)
    return absl::InvalidArgumentError("message too large");
  NoteSent(head.empty() ? tail : head);
  if ((kex_ != nullptr) && !kex_->newkeys_sent) {
    if (queued_bytes_ + size > options_.max_queued_bytes) {
      return absl::ResourceExhaustedError(
          "too much data queued during key exchange");
    }
    std::vector<uint8_t>& message = queued_.emplace_back();
    message.reserve(size);
    message.insert(message.end(), head.begin(), head.end());
    message.insert(message.end(), tail.begin(), tail.end());
    queued_bytes_ += size;
    return absl::OkStatus();
  }
  SendPacket(head, tail);
  absl::Status s = MaybeRekeyForVolume();
  if (!s.ok()) {
    // The message went out, but the connection is over: say so, so the
    // caller stops producing.
    Fail(DisconnectReason::kProtocolError, s);
    return s;
  }
  return absl::OkStatus();
}

namespace {

// The data spans of `total` bytes cut into messages of at most
// `per_message`: span i starts at first + i * stride.
absl::InlinedVector<absl::Span<uint8_t>, 16> DataSlots(uint8_t* first,
                                                       size_t stride,
                                                       size_t per_message,
                                                       size_t total) {
  absl::InlinedVector<absl::Span<uint8_t>, 16> slots;
  for (size_t at = 0, i = 0; at < total; at += per_message, ++i) {
    slots.push_back(
        absl::MakeSpan(first + i * stride, std::min(per_message, total - at)));
  }
  return slots;
}

}  // namespace

absl::StatusOr<size_t> Transport::SendInPlace(size_t head_size,
                                              size_t per_message, size_t total,
                                              FillFunction fill,
                                              HeadFunction write_head) {
  if (closed_) return absl::FailedPreconditionError("transport is closed");
  if (head_size == 0 || per_message == 0)
    return absl::InvalidArgumentError("empty message");
  if (head_size + per_message > kMaxOutgoingPayload)
    return absl::InvalidArgumentError("message too large");
  if (total == 0) return 0;
  if ((kex_ != nullptr) && !kex_->newkeys_sent) {
    return SendQueued(head_size, per_message, total, fill, write_head);
  }
  // Every message but the last is full, so each packet's place is known
  // before the data is: packet i starts at i * stride.
  CompactOutput();
  const size_t stride = encoder_.SealedSize(head_size + per_message);
  const size_t base = out_.size();
  const size_t messages = (total + per_message - 1) / per_message;
  out_.resize(base + messages * stride);
  const size_t filled =
      std::min(fill(DataSlots(out_.data() + base +
                                  PacketEncoder::kPayloadOffset + head_size,
                              stride, per_message, total)),
               total);
  size_t end = base;
  for (size_t at = 0, i = 0; at < filled; at += per_message, ++i) {
    const size_t data = std::min(per_message, filled - at);
    uint8_t* packet = out_.data() + base + i * stride;
    const auto head =
        absl::MakeSpan(packet + PacketEncoder::kPayloadOffset, head_size);
    write_head(head, data);
    if (i == 0) NoteSent(head);
    const size_t size = encoder_.SealedSize(head_size + data);
    encoder_.SealInPlace(absl::MakeSpan(packet, size), head_size + data);
    end = base + i * stride + size;
  }
  out_.resize(end);  // drops the slots `fill` did not reach
  if (filled == 0) return 0;
  CountSent(end - base, (filled + per_message - 1) / per_message);
  absl::Status s = MaybeRekeyForVolume();
  if (!s.ok()) {
    Fail(DisconnectReason::kProtocolError, s);
    return s;
  }
  return filled;
}

// SendInPlace during a key exchange: the data goes through one temporary
// buffer, and each message into the kex queue through Send. The room is
// checked before anything is read: what `fill` read cannot be put back.
absl::StatusOr<size_t> Transport::SendQueued(size_t head_size,
                                             size_t per_message, size_t total,
                                             FillFunction fill,
                                             HeadFunction write_head) {
  const size_t room = options_.max_queued_bytes -
                      std::min(options_.max_queued_bytes, queued_bytes_);
  const size_t messages = (total + per_message - 1) / per_message;
  if (room < total + messages * head_size) {
    return absl::ResourceExhaustedError(
        "too much data queued during key exchange");
  }
  std::vector<uint8_t> data(total);
  const size_t filled = std::min(
      fill(DataSlots(data.data(), per_message, per_message, total)), total);
  std::vector<uint8_t> head(head_size);
  for (size_t at = 0; at < filled; at += per_message) {
    const size_t n = std::min(per_message, filled - at);
    write_head(absl::MakeSpan(head), n);
    RETURN_IF_ERROR(Send(head, absl::MakeConstSpan(data).subspan(at, n)));
  }
  return filled;
}

void Transport::NoteSent(wire::Bytes payload) {
  if (options_.role != Role::kServer) return;
  if (payload[0] == kMsgServiceAccept && phase_ == Phase::kService)
    phase_ = Phase::kUserauth;
  if (payload[0] == kMsgUserauthSuccess && phase_ == Phase::kUserauth) {
    phase_ = Phase::kAuthenticated;
  }
}

void Transport::FlushQueue() {
  while (!queued_.empty() && !closed_) {
    SendPacket(queued_.front());
    queued_bytes_ -= queued_.front().size();
    queued_.pop_front();
  }
}

absl::Status Transport::MaybeRekeyForVolume() {
  if ((kex_ != nullptr) || phase_ == Phase::kInitialKex)
    return absl::OkStatus();
  const bool over = bytes_out_since_kex_ >= options_.rekey_bytes ||
                    bytes_in_since_kex_ >= options_.rekey_bytes ||
                    packets_out_since_kex_ >= options_.rekey_packets ||
                    packets_in_since_kex_ >= options_.rekey_packets;
  if (!over) return absl::OkStatus();
  if (phase_ != Phase::kAuthenticated) {
    return absl::ResourceExhaustedError(
        "rekey limit reached before authentication");
  }
  ++our_rekeys_;
  return SendKexInit();
}

wire::Bytes Transport::PendingOutput() const {
  return absl::MakeConstSpan(out_.data() + out_start_,
                             out_.size() - out_start_);
}

void Transport::Consume(size_t n) {
  out_start_ += std::min(n, out_.size() - out_start_);
  if (out_start_ == out_.size()) {
    out_.clear();
    out_start_ = 0;
  }
}

void Transport::TakeOutput(wire::ByteBuffer* buffer) {
  buffer->clear();
  if (out_start_ == 0) {
    std::swap(*buffer, out_);
  } else {
    buffer->assign(out_.begin() + static_cast<std::ptrdiff_t>(out_start_),
                   out_.end());
    out_.clear();
    out_start_ = 0;
  }
}

void Transport::ShrinkBuffers() {
  if (in_start_ == in_end_ && prepared_ == 0) {
    std::vector<uint8_t>().swap(in_);
    in_start_ = in_end_ = 0;
  }
  if (out_start_ == out_.size()) {
    wire::ByteBuffer().swap(out_);
    out_start_ = 0;
  }
}

size_t Transport::BufferedOutputBytes() const {
  return (out_.size() - out_start_) + queued_bytes_;
}

}  // namespace sallyport::ssh::transport
