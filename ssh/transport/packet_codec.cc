#include "ssh/transport/packet_codec.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace sallyport::ssh::transport {

namespace {

// RFC 4253 §6: at least 4 bytes of padding, and packet_length ‖
// padding_length ‖ payload ‖ padding a multiple of the block size (8 at
// least); AEAD ciphers that leave the length in the clear align without it.
size_t PaddingFor(const crypto::PacketCipher& cipher, size_t payload_size) {
  const size_t block = std::max<size_t>(8, cipher.block_size());
  const size_t aligned_part =
      1 + payload_size + (cipher.aligns_length_field() ? 4 : 0);
  size_t padding = block - (aligned_part % block);
  if (padding < 4) padding += block;
  return padding;
}

}  // namespace

size_t PacketEncoder::SealedSize(size_t payload_size) const {
  return 4 + 1 + payload_size + PaddingFor(*cipher_, payload_size) +
         cipher_->tag_length();
}

void PacketEncoder::SealInPlace(absl::Span<uint8_t> packet,
                                size_t payload_size) {
  const size_t padding = PaddingFor(*cipher_, payload_size);
  const size_t packet_length = 1 + payload_size + padding;
  uint8_t* p = packet.data();
  p[0] = static_cast<uint8_t>(packet_length >> 24);
  p[1] = static_cast<uint8_t>(packet_length >> 16);
  p[2] = static_cast<uint8_t>(packet_length >> 8);
  p[3] = static_cast<uint8_t>(packet_length);
  p[4] = static_cast<uint8_t>(padding);
  // Random padding (RFC 4253 §6); the tag space after it is written by
  // Seal.
  FillPadding(p + kPayloadOffset + payload_size, padding);
  cipher_->Seal(seq_, packet.subspan(0, 4 + packet_length),
                p + 4 + packet_length);
  if (++seq_ == 0) wrapped_ = true;
}

void PacketEncoder::FillPadding(uint8_t* dst, size_t n) {
  // Random bytes are fetched in bulk: one RAND_bytes call (with its locks
  // and fork check) per packet is measurable. A failing RNG leaves zeros,
  // which is harmless for padding (it is not key material).
  if (pool_used_ + n > pool_.size()) {
    if (RAND_bytes(pool_.data(), static_cast<int>(pool_.size())) != 1) {
      pool_.fill(0);
    }
    pool_used_ = 0;
  }
  std::memcpy(dst, pool_.data() + pool_used_, n);
  pool_used_ += n;
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
