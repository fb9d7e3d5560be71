// Packet protection for the SSH binary packet protocol (RFC 4253 §6), one
// object per direction:
//   chacha20-poly1305@openssh.com  (PROTOCOL.chacha20poly1305)
//   aes128-gcm@openssh.com, aes256-gcm@openssh.com  (RFC 5647 as OpenSSH
//     does it: MAC negotiation ignored, 16-byte tag)
//   aes128-ctr, aes256-ctr  with hmac-sha2-256-etm@openssh.com or
//     hmac-sha2-512-etm@openssh.com (encrypt-then-MAC; RFC 4344, OpenSSH
//     PROTOCOL §1.5)
//   none  (before the first NEWKEYS)
// In every mode we support, the 4-byte packet length is not part of the
// block-encrypted data: it is in clear (GCM as AAD, EtM covered by the
// MAC) or encrypted on its own (ChaCha20 with K_1). So all modes share one
// shape:
//   send:    [uint32 length][padding_length][payload][padding] is sealed in
//            place and tag_length() bytes of tag are written after it;
//   receive: DecryptLength(first 4 bytes) → length; once 4 + length +
//            tag_length() bytes are there, Open verifies the tag (constant
//            time) and only then decrypts in place.
// Encryption happens in place with no heap allocation per packet.
#ifndef SALLYPORT_SSH_CRYPTO_CIPHER_H_
#define SALLYPORT_SSH_CRYPTO_CIPHER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace sallyport::ssh::crypto {

// Sizes a cipher (+ MAC) needs from key derivation (RFC 4253 §7.2).
struct CipherSpec {
  std::string name;
  size_t key_length = 0;  // encryption key bytes (64 for chacha20-poly1305)
  size_t iv_length = 0;   // IV bytes (0 for chacha20-poly1305)
  size_t block_size = 8;  // alignment unit for padding
  bool aead = false;      // true: the MAC algorithm is ignored
};

// Specs for the names above; kNotFound for anything else (CBC, 3DES, ...).
absl::StatusOr<CipherSpec> LookupCipher(std::string_view name);
// MAC key length for an EtM MAC name; kNotFound for others (no SHA-1, no
// non-EtM MACs).
absl::StatusOr<size_t> LookupMacKeyLength(std::string_view mac_name);

// Our preference order (DESIGN.md §4).
const std::vector<std::string>& SupportedCiphers();
const std::vector<std::string>& SupportedMacs();

class PacketCipher {
 public:
  virtual ~PacketCipher() = default;

  virtual std::string_view name() const = 0;
  // Padding alignment: (1 + payload + padding) % block_size() == 0.
  virtual size_t block_size() const = 0;
  // Bytes of MAC/tag after each packet (0 for none).
  virtual size_t tag_length() const = 0;
  // True only for "none": there the 4 length bytes count towards the
  // alignment (RFC 4253 §6: total length a multiple of 8), whereas AEAD and
  // EtM modes align (1 + payload + padding) only.
  virtual bool aligns_length_field() const { return false; }

  // Seals `packet` (4-byte length + body, body length a multiple of
  // block_size()) in place with sequence number `seq`, and writes
  // tag_length() bytes to `tag` (which may directly follow the packet).
  virtual void Seal(uint32_t seq, absl::Span<uint8_t> packet, uint8_t* tag) = 0;

  // Returns the packet length field from the first 4 bytes of a packet as
  // received (decrypting it when the mode encrypts it). Does not modify
  // `first4`.
  virtual uint32_t DecryptLength(uint32_t seq, const uint8_t* first4) = 0;

  // Verifies the tag over the received `packet` (4-byte length as received
  // + encrypted body) and decrypts the body in place (the length bytes are
  // replaced by the clear length). Returns false, leaving nothing usable,
  // when the tag does not match.
  virtual bool Open(uint32_t seq, absl::Span<uint8_t> packet,
                    const uint8_t* tag) = 0;
};

// Creates a cipher for one direction. For AEAD ciphers `mac_name` and
// `mac_key` are ignored. Key and IV lengths must match the spec
// (kInvalidArgument otherwise).
absl::StatusOr<std::unique_ptr<PacketCipher>> CreatePacketCipher(
    std::string_view cipher_name, std::string_view mac_name,
    absl::Span<const uint8_t> key, absl::Span<const uint8_t> iv,
    absl::Span<const uint8_t> mac_key, bool encrypt);

// The "none" cipher used before the first NEWKEYS: block size 8, no tag.
std::unique_ptr<PacketCipher> CreateNoneCipher();

}  // namespace sallyport::ssh::crypto

#endif  // SALLYPORT_SSH_CRYPTO_CIPHER_H_
