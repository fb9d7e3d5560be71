#include "ssh/transport/packet_codec.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sallyport::ssh::transport {

void PacketEncoder::Encode(absl::Span<const uint8_t> payload,
                           std::vector<uint8_t>* out) {
  const size_t block = std::max<size_t>(8, cipher_->block_size());
  const size_t aligned_part =
      1 + payload.size() + (cipher_->aligns_length_field() ? 4 : 0);
  size_t padding = block - (aligned_part % block);
  if (padding < 4) padding += block;
  const size_t packet_length = 1 + payload.size() + padding;
  const size_t tag = cipher_->tag_length();
  const size_t start = out->size();
  out->resize(start + 4 + packet_length + tag);
  uint8_t* p = out->data() + start;
  p[0] = static_cast<uint8_t>(packet_length >> 24);
  p[1] = static_cast<uint8_t>(packet_length >> 16);
  p[2] = static_cast<uint8_t>(packet_length >> 8);
  p[3] = static_cast<uint8_t>(packet_length);
  p[4] = static_cast<uint8_t>(padding);
  if (!payload.empty()) std::memcpy(p + 5, payload.data(), payload.size());
  // RFC 4253 §6: random padding. A failing RNG leaves zeros, which is
  // harmless for padding (it is not key material).
  if (RAND_bytes(p + 5 + payload.size(), static_cast<int>(padding)) != 1) {
    std::memset(p + 5 + payload.size(), 0, padding);
  }
  cipher_->Seal(seq_, absl::MakeSpan(p, 4 + packet_length),
                p + 4 + packet_length);
  if (++seq_ == 0) wrapped_ = true;
}

absl::StatusOr<std::optional<PacketDecoder::Packet>> PacketDecoder::Decode(
    absl::Span<uint8_t> buffer) {
  if (!pending_length_.has_value()) {
    if (buffer.size() < 4) return std::nullopt;
    const uint32_t length = cipher_->DecryptLength(seq_, buffer.data());
    if (length < 5 || length > kMaxPacketLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad packet length ", length));
    }
    const size_t block = std::max<size_t>(8, cipher_->block_size());
    const size_t aligned = length + (cipher_->aligns_length_field() ? 4 : 0);
    if (aligned % block != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "packet length ", length, " is not a multiple of the block size"));
    }
    pending_length_ = length;
  }
  const uint32_t length = *pending_length_;
  const size_t tag = cipher_->tag_length();
  const size_t total = 4 + size_t{length} + tag;
  if (buffer.size() < total) return std::nullopt;
  if (!cipher_->Open(seq_, buffer.subspan(0, 4 + length),
                     buffer.data() + 4 + length)) {
    return absl::InvalidArgumentError(
        "message authentication failed (corrupted MAC or tag)");
  }
  pending_length_.reset();
  const uint8_t padding = buffer[4];
  if (padding < 4)
    return absl::InvalidArgumentError("padding shorter than 4 bytes");
  if (size_t{padding} + 1 >= length) {
    return absl::InvalidArgumentError("padding longer than the packet");
  }
  const size_t payload_length = length - 1 - padding;
  Packet packet{buffer.subspan(5, payload_length), total, seq_};
  if (packet.payload[0] == 0)
    return absl::InvalidArgumentError("message type 0");
  if (++seq_ == 0) wrapped_ = true;
  return packet;
}

}  // namespace sallyport::ssh::transport
