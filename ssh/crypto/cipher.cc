#include "ssh/crypto/cipher.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/openssl_handles.h"

namespace sallyport::ssh::crypto {
namespace {

constexpr std::string_view kChaChaPoly = "chacha20-poly1305@openssh.com";
constexpr std::string_view kAes128Gcm = "aes128-gcm@openssh.com";
constexpr std::string_view kAes256Gcm = "aes256-gcm@openssh.com";
constexpr std::string_view kAes128Ctr = "aes128-ctr";
constexpr std::string_view kAes256Ctr = "aes256-ctr";
constexpr std::string_view kNone = "none";
constexpr std::string_view kHmacSha256Etm = "hmac-sha2-256-etm@openssh.com";
constexpr std::string_view kHmacSha512Etm = "hmac-sha2-512-etm@openssh.com";

enum class Mode { kNone, kChaChaPoly, kGcm, kCtrEtm };

struct CipherInfo {
  std::string_view name;
  Mode mode;
  const char* evp_name;  // OpenSSL algorithm name
  size_t key_length;
  size_t iv_length;
  size_t block_size;
  bool aead;
};

constexpr CipherInfo kCiphers[] = {
    {kChaChaPoly, Mode::kChaChaPoly, "ChaCha20", 64, 0, 8, true},
    {kAes256Gcm, Mode::kGcm, "AES-256-GCM", 32, 12, 16, true},
    {kAes128Gcm, Mode::kGcm, "AES-128-GCM", 16, 12, 16, true},
    {kAes256Ctr, Mode::kCtrEtm, "AES-256-CTR", 32, 16, 16, false},
    {kAes128Ctr, Mode::kCtrEtm, "AES-128-CTR", 16, 16, 16, false},
    {kNone, Mode::kNone, nullptr, 0, 0, 8, false},
};

struct MacInfo {
  std::string_view name;
  const char* digest;
  size_t key_length;
  size_t tag_length;
};

constexpr MacInfo kMacs[] = {
    {kHmacSha256Etm, "SHA2-256", 32, 32},
    {kHmacSha512Etm, "SHA2-512", 64, 64},
};

const CipherInfo* FindCipher(std::string_view name) {
  for (const CipherInfo& c : kCiphers) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const MacInfo* FindMac(std::string_view name) {
  for (const MacInfo& m : kMacs) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void StoreBe32(uint32_t v, uint8_t* p) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

absl::Status OpenSslError(std::string_view what) {
  return absl::InternalError(
      absl::StrCat(std::string(what), ": ", base::OpenSslErrorString()));
}

// EVP_CipherUpdate takes an int length. Packets are far below INT_MAX, but
// chunking keeps this correct for any size. All our modes are stream-like
// (CTR, GCM, ChaCha20), so output length equals input length.
bool CryptInPlace(EVP_CIPHER_CTX* ctx, uint8_t* data, size_t len) {
  constexpr size_t kChunk = size_t{1} << 30;  // a multiple of every block
  while (len > 0) {
    const size_t n = std::min(len, kChunk);
    int out_len = 0;
    if (EVP_CipherUpdate(ctx, data, &out_len, data, static_cast<int>(n)) != 1 ||
        static_cast<size_t>(out_len) != n) {
      return false;
    }
    data += n;
    len -= n;
  }
  return true;
}

// Algorithms are fetched once per process and never freed (as in hash.cc):
// a fetch by name costs a provider lookup under a lock, and every SSH
// connection creates four of these. A failed fetch (no provider) stays
// failed.
const EVP_CIPHER* FetchCipher(const char* evp_name) {
  static const EVP_CIPHER* const kChaCha =
      EVP_CIPHER_fetch(nullptr, "ChaCha20", nullptr);
  static const EVP_CIPHER* const kAes128Gcm =
      EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static const EVP_CIPHER* const kAes256Gcm =
      EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static const EVP_CIPHER* const kAes128Ctr =
      EVP_CIPHER_fetch(nullptr, "AES-128-CTR", nullptr);
  static const EVP_CIPHER* const kAes256Ctr =
      EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
  const std::string_view name(evp_name);
  if (name == "ChaCha20") return kChaCha;
  if (name == "AES-128-GCM") return kAes128Gcm;
  if (name == "AES-256-GCM") return kAes256Gcm;
  if (name == "AES-128-CTR") return kAes128Ctr;
  if (name == "AES-256-CTR") return kAes256Ctr;
  return nullptr;
}

const EVP_MAC* FetchMac(const char* mac_name) {
  static const EVP_MAC* const kPoly1305 =
      EVP_MAC_fetch(nullptr, "POLY1305", nullptr);
  static const EVP_MAC* const kHmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  const std::string_view name(mac_name);
  if (name == "POLY1305") return kPoly1305;
  if (name == "HMAC") return kHmac;
  return nullptr;
}

absl::StatusOr<base::EvpCipherCtxPtr> NewCipherCtx(const char* evp_name,
                                                   const uint8_t* key,
                                                   const uint8_t* iv,
                                                   bool encrypt) {
  const EVP_CIPHER* cipher = FetchCipher(evp_name);
  if (cipher == nullptr) return OpenSslError("EVP_CIPHER_fetch");
  base::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return OpenSslError("EVP_CIPHER_CTX_new");
  if (EVP_CipherInit_ex2(ctx.get(), cipher, key, iv, encrypt ? 1 : 0,
                         nullptr) != 1) {
    return OpenSslError("EVP_CipherInit_ex2");
  }
  return ctx;
}

// Seal cannot report errors (an EVP failure here means OOM or a broken
// library). Failing closed: nothing of the plaintext leaves, the peer sees
// a packet whose tag cannot verify, and every later call fails too.
void WipePacket(absl::Span<uint8_t> packet, uint8_t* tag, size_t tag_length) {
  if (!packet.empty()) OPENSSL_cleanse(packet.data(), packet.size());
  if (tag != nullptr && tag_length > 0) OPENSSL_cleanse(tag, tag_length);
}

// Returned by DecryptLength when the cipher is broken: the packet codec
// refuses any length below 5.
constexpr uint32_t kBrokenLength = 0;

// ---------------------------------------------------------------------------

class NoneCipher final : public PacketCipher {
 public:
  std::string_view name() const override { return kNone; }
  size_t block_size() const override { return 8; }
  size_t tag_length() const override { return 0; }
  bool aligns_length_field() const override { return true; }
  void Seal(uint32_t, absl::Span<uint8_t>, uint8_t*) override {}
  uint32_t DecryptLength(uint32_t, const uint8_t* first4) override {
    return LoadBe32(first4);
  }
  bool Open(uint32_t, absl::Span<uint8_t>, const uint8_t*) override {
    return true;
  }
};

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
      const CipherInfo& info, absl::Span<const uint8_t> key,
      absl::Span<const uint8_t> iv, bool encrypt) {
    auto ctx = NewCipherCtx(info.evp_name, key.data(), iv.data(), encrypt);
    if (!ctx.ok()) return ctx.status();
    return std::unique_ptr<PacketCipher>(
        new GcmCipher(info.name, *std::move(ctx), iv));
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

// ---------------------------------------------------------------------------
// aes{128,256}-ctr with hmac-sha2-{256,512}-etm@openssh.com (OpenSSH
// PROTOCOL §1.5): the length stays in clear, the body is AES-CTR encrypted
// with one keystream running across packets (RFC 4344), and
// tag = HMAC(mac_key, uint32 seq || length || encrypted body).
class CtrEtmCipher final : public PacketCipher {
 public:
  static absl::StatusOr<std::unique_ptr<PacketCipher>> Create(
      const CipherInfo& info, const MacInfo& mac_info,
      absl::Span<const uint8_t> key, absl::Span<const uint8_t> iv,
      absl::Span<const uint8_t> mac_key, bool encrypt) {
    auto ctx = NewCipherCtx(info.evp_name, key.data(), iv.data(), encrypt);
    if (!ctx.ok()) return ctx.status();
    EVP_MAC* mac = const_cast<EVP_MAC*>(FetchMac("HMAC"));
    if (mac == nullptr) return OpenSslError("EVP_MAC_fetch(HMAC)");
    base::EvpMacCtxPtr hmac(EVP_MAC_CTX_new(mac));
    if (hmac == nullptr) return OpenSslError("EVP_MAC_CTX_new");
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                         const_cast<char*>(mac_info.digest), 0),
        OSSL_PARAM_construct_end(),
    };
    // Keyed once here; each packet re-initialises with the same key.
    if (EVP_MAC_init(hmac.get(), mac_key.data(), mac_key.size(), params) != 1) {
      return OpenSslError("EVP_MAC_init(HMAC)");
    }
    return std::unique_ptr<PacketCipher>(new CtrEtmCipher(
        info.name, mac_info.tag_length, *std::move(ctx), std::move(hmac)));
  }

  std::string_view name() const override { return name_; }
  size_t block_size() const override { return 16; }
  size_t tag_length() const override { return tag_length_; }

  void Seal(uint32_t seq, absl::Span<uint8_t> packet, uint8_t* tag) override {
    if (broken_ || packet.size() < 4 ||
        !CryptInPlace(ctx_.get(), packet.data() + 4, packet.size() - 4) ||
        !ComputeMac(seq, packet, tag)) {
      broken_ = true;
      WipePacket(packet, tag, tag_length_);
    }
  }

  uint32_t DecryptLength(uint32_t, const uint8_t* first4) override {
    return broken_ ? kBrokenLength : LoadBe32(first4);
  }

  bool Open(uint32_t seq, absl::Span<uint8_t> packet,
            const uint8_t* tag) override {
    if (broken_ || packet.size() < 4) return false;
    uint8_t expected[EVP_MAX_MD_SIZE];
    if (!ComputeMac(seq, packet, expected)) {
      broken_ = true;
      return false;
    }
    const bool match = CRYPTO_memcmp(expected, tag, tag_length_) == 0;
    OPENSSL_cleanse(expected, sizeof(expected));
    // Decrypt only what authenticated; the keystream does not advance
    // otherwise.
    if (!match) return false;
    if (!CryptInPlace(ctx_.get(), packet.data() + 4, packet.size() - 4)) {
      broken_ = true;
      OPENSSL_cleanse(packet.data(), packet.size());
      return false;
    }
    return true;
  }

 private:
  CtrEtmCipher(std::string_view name, size_t tag_length,
               base::EvpCipherCtxPtr ctx, base::EvpMacCtxPtr hmac)
      : name_(name),
        tag_length_(tag_length),
        ctx_(std::move(ctx)),
        hmac_(std::move(hmac)) {}

  // Re-initialising with a NULL key keeps the key schedule. OpenSSL 3.0
  // copies the keyed inner digest context for that, which allocates inside
  // OpenSSL (newer releases copy in place); our code allocates nothing.
  bool ComputeMac(uint32_t seq, absl::Span<const uint8_t> packet,
                  uint8_t* out) {
    uint8_t seq_bytes[4];
    StoreBe32(seq, seq_bytes);
    size_t out_len = 0;
    return EVP_MAC_init(hmac_.get(), nullptr, 0, nullptr) == 1 &&
           EVP_MAC_update(hmac_.get(), seq_bytes, 4) == 1 &&
           EVP_MAC_update(hmac_.get(), packet.data(), packet.size()) == 1 &&
           EVP_MAC_final(hmac_.get(), out, &out_len, tag_length_) == 1 &&
           out_len == tag_length_;
  }

  std::string_view name_;  // points at a constant in kCiphers
  size_t tag_length_;
  base::EvpCipherCtxPtr ctx_;
  base::EvpMacCtxPtr hmac_;
  bool broken_ = false;
};

}  // namespace

absl::StatusOr<CipherSpec> LookupCipher(std::string_view name) {
  const CipherInfo* info = FindCipher(name);
  if (info == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("unsupported cipher: ", std::string(name)));
  }
  CipherSpec spec;
  spec.name = std::string(info->name);
  spec.key_length = info->key_length;
  spec.iv_length = info->iv_length;
  spec.block_size = info->block_size;
  spec.aead = info->aead;
  return spec;
}

absl::StatusOr<size_t> LookupMacKeyLength(std::string_view mac_name) {
  const MacInfo* info = FindMac(mac_name);
  if (info == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("unsupported MAC: ", std::string(mac_name)));
  }
  return info->key_length;
}

const std::vector<std::string>& SupportedCiphers() {
  static const auto* const kList = new std::vector<std::string>{
      std::string(kChaChaPoly), std::string(kAes256Gcm),
      std::string(kAes128Gcm),  std::string(kAes256Ctr),
      std::string(kAes128Ctr),
  };
  return *kList;
}

const std::vector<std::string>& SupportedMacs() {
  static const auto* const kList = new std::vector<std::string>{
      std::string(kHmacSha256Etm),
      std::string(kHmacSha512Etm),
  };
  return *kList;
}

absl::StatusOr<std::unique_ptr<PacketCipher>> CreatePacketCipher(
    std::string_view cipher_name, std::string_view mac_name,
    absl::Span<const uint8_t> key, absl::Span<const uint8_t> iv,
    absl::Span<const uint8_t> mac_key, bool encrypt) {
  const CipherInfo* info = FindCipher(cipher_name);
  if (info == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("unsupported cipher: ", std::string(cipher_name)));
  }
  if (info->mode == Mode::kNone) {
    // "none" is only the state before the first NEWKEYS, never negotiated.
    return absl::InvalidArgumentError(
        "cipher \"none\" cannot be created with keys");
  }
  if (key.size() != info->key_length) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(cipher_name), ": key is ", key.size(),
                     " bytes, expected ", info->key_length));
  }
  if (iv.size() != info->iv_length) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(cipher_name), ": IV is ", iv.size(),
                     " bytes, expected ", info->iv_length));
  }
  switch (info->mode) {
    case Mode::kChaChaPoly:
      return ChaChaPolyCipher::Create(key);
    case Mode::kGcm:
      return GcmCipher::Create(*info, key, iv, encrypt);
    case Mode::kCtrEtm: {
      const MacInfo* mac = FindMac(mac_name);
      if (mac == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(cipher_name), " needs an EtM MAC, got ",
                         std::string(mac_name)));
      }
      if (mac_key.size() != mac->key_length) {
        return absl::InvalidArgumentError(
            absl::StrCat(std::string(mac_name), ": key is ", mac_key.size(),
                         " bytes, expected ", mac->key_length));
      }
      return CtrEtmCipher::Create(*info, *mac, key, iv, mac_key, encrypt);
    }
    case Mode::kNone:
      break;
  }
  return absl::InternalError("unreachable cipher mode");
}

std::unique_ptr<PacketCipher> CreateNoneCipher() {
  return std::make_unique<NoneCipher>();
}

}  // namespace sallyport::ssh::crypto
