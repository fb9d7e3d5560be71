// The binary packet protocol (RFC 4253 §6), one direction each: framing,
// padding and the checks on what a peer sends, over a crypto::PacketCipher.
// I/O-free and allocation-free per packet: packets are written into and
// decrypted inside caller-owned buffers.
#ifndef SALLYPORT_SSH_TRANSPORT_PACKET_CODEC_H_
#define SALLYPORT_SSH_TRANSPORT_PACKET_CODEC_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ssh/crypto/cipher.h"

namespace sallyport::ssh::transport {

// Largest packet_length we accept (DESIGN.md §4); RFC 4253 §6.1 requires
// at least 35000, which this honours.
inline constexpr uint32_t kMaxPacketLength = 256 * 1024;
// Largest payload we send in one packet.
inline constexpr size_t kMaxOutgoingPayload = 256 * 1024 - 1024;

class PacketEncoder {
 public:
  // Where the payload starts in a packet: after packet_length (4 bytes) and
  // padding_length (1 byte).
  static constexpr size_t kPayloadOffset = 5;

  PacketEncoder() : cipher_(crypto::CreateNoneCipher()) {}

  // Appends one sealed packet carrying `payload` to `out` (a std::vector
  // or a wire::ByteBuffer).
  template <typename Buffer>
  void Encode(absl::Span<const uint8_t> payload, Buffer* out) {
    Encode(payload, {}, out);
  }
  // Appends one sealed packet whose payload is head ‖ tail (a message
  // header and its data, without first copying them into one buffer).
  template <typename Buffer>
  void Encode(absl::Span<const uint8_t> head, absl::Span<const uint8_t> tail,
              Buffer* out) {
    const size_t payload_size = head.size() + tail.size();
    const size_t start = out->size();
    out->resize(start + SealedSize(payload_size));
    uint8_t* p = out->data() + start;
    std::copy(head.begin(), head.end(), p + kPayloadOffset);
    std::copy(tail.begin(), tail.end(), p + kPayloadOffset + head.size());
    SealInPlace(absl::MakeSpan(p, out->size() - start), payload_size);
  }

  // Bytes of the sealed packet for a payload of `payload_size` bytes
  // (length fields, payload, padding, MAC or tag), with the current cipher.
  size_t SealedSize(size_t payload_size) const;
  // Seals a packet whose payload is already in place at
  // packet[kPayloadOffset, kPayloadOffset + payload_size); `packet` is
  // exactly SealedSize(payload_size) bytes. Writes the length fields, the
  // random padding and the MAC or tag; encrypts in place. For callers that
  // read data straight into a packet (no copy).
  void SealInPlace(absl::Span<uint8_t> packet, size_t payload_size);

  // New keys take effect for the next packet (after sending NEWKEYS).
  void SetCipher(std::unique_ptr<crypto::PacketCipher> cipher) {
    cipher_ = std::move(cipher);
  }
  // Strict kex: the sequence number restarts at 0 after NEWKEYS.
  void ResetSequenceNumber() { seq_ = 0; }

  uint32_t sequence_number() const { return seq_; }
  // True once the sequence number has wrapped past 2^32 - 1.
  bool wrapped() const { return wrapped_; }
  const crypto::PacketCipher& cipher() const { return *cipher_; }

 private:
  void FillPadding(uint8_t* dst, size_t n);

  std::unique_ptr<crypto::PacketCipher> cipher_;
  uint32_t seq_ = 0;
  bool wrapped_ = false;
  // Random bytes for padding, refilled from RAND_bytes when used up.
  std::array<uint8_t, 4096> pool_{};
  size_t pool_used_ = 4096;
};

class PacketDecoder {
 public:
  PacketDecoder() : cipher_(crypto::CreateNoneCipher()) {}

  struct Packet {
    absl::Span<const uint8_t> payload;  // points into the caller's buffer
    size_t consumed;                    // bytes of the buffer this packet used
    uint32_t sequence_number;
  };

  // Decodes the packet at the start of `buffer`, decrypting it in place.
  // nullopt: more bytes needed (nothing is modified). Errors are final:
  // kInvalidArgument for a bad length, padding, MAC/tag or message type.
  // The length is checked against the limits and the block alignment before
  // anything else is computed from it.
  absl::StatusOr<std::optional<Packet>> Decode(absl::Span<uint8_t> buffer);

  void SetCipher(std::unique_ptr<crypto::PacketCipher> cipher) {
    cipher_ = std::move(cipher);
    pending_length_.reset();
  }
  void ResetSequenceNumber() { seq_ = 0; }
  uint32_t sequence_number() const { return seq_; }
  bool wrapped() const { return wrapped_; }

 private:
  std::unique_ptr<crypto::PacketCipher> cipher_;
  uint32_t seq_ = 0;
  bool wrapped_ = false;
  // The current packet's length once known (DecryptLength is not repeated
  // while waiting for the rest of the packet).
  std::optional<uint32_t> pending_length_;
};

}  // namespace sallyport::ssh::transport

#endif  // SALLYPORT_SSH_TRANSPORT_PACKET_CODEC_H_
