// The AEAD packet ciphers: chacha20-poly1305@openssh.com and
// aes{128,256}-gcm@openssh.com. The tables, the shared helpers and the
// other modes are in cipher.cc.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "base/openssl_handles.h"
#include "ssh/crypto/cipher.h"
#include "ssh/crypto/cipher_internal.h"

namespace sallyport::ssh::crypto::cipher_internal {
namespace {

// ---------------------------------------------------------------------------
// chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305).
//
// OpenSSL's "ChaCha20" takes a 16-byte IV that fills state words 12..15:
// bytes 0..7 are the 64-bit block counter (little-endian), bytes 8..15 the
// nonce. That is the original 64-bit-nonce ChaCha20 the OpenSSH construction
// uses, with nonce = uint64 sequence number in big-endian byte order.
class ChaChaPolyCipher final : public PacketCipher {
 public:
  static constexpr size_t kTagLength = 16;

  static absl::StatusOr<std::unique_ptr<PacketCipher>> Create(
      absl::Span<const uint8_t> key) {
    // The nonce is set per packet; a zero IV just completes the init.
    const uint8_t zero_iv[16] = {};
    auto main = NewCipherCtx("ChaCha20", key.data(), zero_iv, true);
    if (!main.ok()) return main.status();
    auto header = NewCipherCtx("ChaCha20", key.data() + 32, zero_iv, true);
    if (!header.ok()) return header.status();
    EVP_MAC* mac = const_cast<EVP_MAC*>(FetchMac("POLY1305"));
    if (mac == nullptr) return OpenSslError("EVP_MAC_fetch(POLY1305)");
    base::EvpMacCtxPtr poly(EVP_MAC_CTX_new(mac));
    if (poly == nullptr) return OpenSslError("EVP_MAC_CTX_new");
    return std::unique_ptr<PacketCipher>(new ChaChaPolyCipher(
        *std::move(main), *std::move(header), std::move(poly)));
  }

  std::string_view name() const override { return kChaChaPoly; }
  size_t block_size() const override { return 8; }
  size_t tag_length() const override { return kTagLength; }

  void Seal(uint32_t seq, absl::Span<uint8_t> packet, uint8_t* tag) override {
    if (broken_ || packet.size() < 4 || !SealImpl(seq, packet, tag)) {
      broken_ = true;
      WipePacket(packet, tag, kTagLength);
    }
  }

  uint32_t DecryptLength(uint32_t seq, const uint8_t* first4) override {
    uint8_t length[4];
    std::copy(first4, first4 + 4, length);
    if (broken_ || !SetNonce(header_.get(), seq) ||
        !CryptInPlace(header_.get(), length, 4)) {
      broken_ = true;
      return kBrokenLength;
    }
    return LoadBe32(length);
  }

  bool Open(uint32_t seq, absl::Span<uint8_t> packet,
            const uint8_t* tag) override {
    if (broken_ || packet.size() < 4) return false;
    uint8_t block0[64];
    uint8_t expected[kTagLength];
    const bool ok =
        DrawPolyKey(seq, block0) && ComputeTag(block0, packet, expected);
    OPENSSL_cleanse(block0, sizeof(block0));
    if (!ok) {
      broken_ = true;
      return false;
    }
    const bool match = CRYPTO_memcmp(expected, tag, kTagLength) == 0;
    if (!match) return false;
    // Authenticated: main_ stands at block 1, where the payload starts.
    if (!CryptInPlace(main_.get(), packet.data() + 4, packet.size() - 4) ||
        !SetNonce(header_.get(), seq) ||
        !CryptInPlace(header_.get(), packet.data(), 4)) {
      broken_ = true;
      OPENSSL_cleanse(packet.data(), packet.size());
      return false;
    }
    return true;
  }

 private:
  ChaChaPolyCipher(base::EvpCipherCtxPtr main, base::EvpCipherCtxPtr header,
                   base::EvpMacCtxPtr poly)
      : main_(std::move(main)),
        header_(std::move(header)),
        poly_(std::move(poly)) {}

  // Re-arms `ctx` (key kept) at block 0 with nonce = BE64(seq).
  static bool SetNonce(EVP_CIPHER_CTX* ctx, uint32_t seq) {
    uint8_t iv[16] = {};  // LE64 counter 0 || BE64(seq)
    StoreBe32(seq, iv + 12);
    return EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, -1, nullptr) == 1;
  }

  // Draws the whole of K_2's keystream block 0 for `seq` into `block0`; its
  // first 32 bytes are the Poly1305 key. Drawing a full block leaves main_
  // exactly at block 1, where the payload starts.
  bool DrawPolyKey(uint32_t seq, uint8_t block0[64]) {
    std::fill(block0, block0 + 64, 0);
    return SetNonce(main_.get(), seq) && CryptInPlace(main_.get(), block0, 64);
  }

  // Poly1305 over the packet as it is (encrypted length || encrypted body).
  bool ComputeTag(const uint8_t* poly_key, absl::Span<const uint8_t> packet,
                  uint8_t* tag) {
    size_t tag_len = 0;
    return EVP_MAC_init(poly_.get(), poly_key, 32, nullptr) == 1 &&
           EVP_MAC_update(poly_.get(), packet.data(), packet.size()) == 1 &&
           EVP_MAC_final(poly_.get(), tag, &tag_len, kTagLength) == 1 &&
           tag_len == kTagLength;
  }

  bool SealImpl(uint32_t seq, absl::Span<uint8_t> packet, uint8_t* tag) {
    uint8_t block0[64];
    const bool ok =
        SetNonce(header_.get(), seq) &&
        CryptInPlace(header_.get(), packet.data(), 4) &&
        DrawPolyKey(seq, block0) &&
        CryptInPlace(main_.get(), packet.data() + 4, packet.size() - 4) &&
        ComputeTag(block0, packet, tag);
    OPENSSL_cleanse(block0, sizeof(block0));
    return ok;
  }

  base::EvpCipherCtxPtr main_;    // K_2: Poly1305 key (block 0), payload
  base::EvpCipherCtxPtr header_;  // K_1: the 4 length bytes only
  base::EvpMacCtxPtr poly_;
  bool broken_ = false;
};

// ---------------------------------------------------------------------------
// aes{128,256}-gcm@openssh.com (RFC 5647 §7.1 as OpenSSH does it): the
// 12-byte nonce is a 4-byte fixed field and an 8-byte big-endian invocation
// counter, incremented (mod 2^64) after each packet. The sequence number is
// not used: the counter is the per-packet state.
class GcmCipher final : public PacketCipher {
 public:
  static constexpr size_t kTagLength = 16;

  static absl::StatusOr<std::unique_ptr<PacketCipher>> Create(
      std::string_view name, const char* evp_name,
      absl::Span<const uint8_t> key, absl::Span<const uint8_t> iv,
      bool encrypt) {
    auto ctx = NewCipherCtx(evp_name, key.data(), iv.data(), encrypt);
    if (!ctx.ok()) return ctx.status();
    return std::unique_ptr<PacketCipher>(
        new GcmCipher(name, *std::move(ctx), iv));
  }

  ~GcmCipher() override { OPENSSL_cleanse(iv_.data(), iv_.size()); }

  std::string_view name() const override { return name_; }
  size_t block_size() const override { return 16; }
  size_t tag_length() const override { return kTagLength; }

  void Seal(uint32_t, absl::Span<uint8_t> packet, uint8_t* tag) override {
    if (broken_ || packet.size() < 4 || !SealImpl(packet, tag)) {
      broken_ = true;
      WipePacket(packet, tag, kTagLength);
      return;
    }
    IncrementCounter();
  }

  uint32_t DecryptLength(uint32_t, const uint8_t* first4) override {
    return broken_ ? kBrokenLength : LoadBe32(first4);
  }

  // GCM decrypts while it authenticates; OpenSSL reports the tag check only
  // at the end. The body is decrypted in place and wiped if the tag fails,
  // so nothing unauthenticated is left. A failed Open does not advance the
  // counter.
  bool Open(uint32_t, absl::Span<uint8_t> packet, const uint8_t* tag) override {
    if (broken_ || packet.size() < 4) return false;
    uint8_t tag_copy[kTagLength];
    std::copy(tag, tag + kTagLength, tag_copy);
    int out_len = 0;
    uint8_t final_out[16];
    const bool ok =
        SetupPacket(packet) &&
        EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_SET_TAG, kTagLength,
                            tag_copy) == 1 &&
        CryptInPlace(ctx_.get(), packet.data() + 4, packet.size() - 4) &&
        EVP_CipherFinal_ex(ctx_.get(), final_out, &out_len) == 1 &&
        out_len == 0;
    if (!ok) {
      OPENSSL_cleanse(packet.data() + 4, packet.size() - 4);
      return false;
    }
    IncrementCounter();
    return true;
  }

 private:
  GcmCipher(std::string_view name, base::EvpCipherCtxPtr ctx,
            absl::Span<const uint8_t> iv)
      : name_(name), ctx_(std::move(ctx)) {
    std::copy(iv.begin(), iv.end(), iv_.begin());
  }

  // Sets this packet's nonce (key kept) and feeds the length as AAD.
  bool SetupPacket(absl::Span<const uint8_t> packet) {
    int out_len = 0;
    return EVP_CipherInit_ex2(ctx_.get(), nullptr, nullptr, iv_.data(), -1,
                              nullptr) == 1 &&
           EVP_CipherUpdate(ctx_.get(), nullptr, &out_len, packet.data(), 4) ==
               1;
  }

  bool SealImpl(absl::Span<uint8_t> packet, uint8_t* tag) {
    int out_len = 0;
    uint8_t final_out[16];
    return SetupPacket(packet) &&
           CryptInPlace(ctx_.get(), packet.data() + 4, packet.size() - 4) &&
           EVP_CipherFinal_ex(ctx_.get(), final_out, &out_len) == 1 &&
           out_len == 0 &&
           EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_GET_TAG, kTagLength,
                               tag) == 1;
  }

  // invocation_counter (iv_[4..11], big-endian) += 1 mod 2^64.
  void IncrementCounter() {
    for (size_t i = iv_.size(); i > 4; --i) {
      if (++iv_[i - 1] != 0) break;
    }
  }

  std::string_view name_;  // points at a constant in kCiphers
  base::EvpCipherCtxPtr ctx_;
  std::array<uint8_t, 12> iv_{};
  bool broken_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PacketCipher>> CreateChaChaPolyCipher(
    absl::Span<const uint8_t> key) {
  return ChaChaPolyCipher::Create(key);
}

absl::StatusOr<std::unique_ptr<PacketCipher>> CreateGcmCipher(
    std::string_view name, const char* evp_name, absl::Span<const uint8_t> key,
    absl::Span<const uint8_t> iv, bool encrypt) {
  return GcmCipher::Create(name, evp_name, key, iv, encrypt);
}

}  // namespace sallyport::ssh::crypto::cipher_internal
