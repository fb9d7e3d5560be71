// The binary packet protocol (RFC 4253 §6), one direction each: framing,
// padding and the checks on what a peer sends, over a crypto::PacketCipher.
// I/O-free and allocation-free per packet: packets are written into and
// decrypted inside caller-owned buffers.
#ifndef SALLYPORT_SSH_TRANSPORT_PACKET_CODEC_H_
#define SALLYPORT_SSH_TRANSPORT_PACKET_CODEC_H_

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
  PacketEncoder() : cipher_(crypto::CreateNoneCipher()) {}

  // Appends one sealed packet carrying `payload` to `out`.
  void Encode(absl::Span<const uint8_t> payload, std::vector<uint8_t>* out) {
    Encode(payload, {}, out);
  }
  // Appends one sealed packet whose payload is head ‖ tail (a message
  // header and its data, without first copying them into one buffer).
  void Encode(absl::Span<const uint8_t> head, absl::Span<const uint8_t> tail,
              std::vector<uint8_t>* out);
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
  // Padding is at most 255 bytes; no MAC or tag is longer than 64 bytes.
  static constexpr size_t kMaxPadding = 255;
  static constexpr size_t kMaxTag = 64;
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
