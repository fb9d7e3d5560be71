// Packet ciphers: the algorithm tables and lookups, what every mode shares,
// "none", and aes-ctr with hmac-sha2-etm. The AEAD modes
// (chacha20-poly1305, aes-gcm) are in cipher_aead.cc.
#include "ssh/crypto/cipher.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/openssl_handles.h"
#include "ssh/crypto/cipher_internal.h"

namespace sallyport::ssh::crypto {

using cipher_internal::CreateChaChaPolyCipher;
using cipher_internal::CreateGcmCipher;
using cipher_internal::CryptInPlace;
using cipher_internal::FetchMac;
using cipher_internal::kAes128Ctr;
using cipher_internal::kAes128Gcm;
using cipher_internal::kAes256Ctr;
using cipher_internal::kAes256Gcm;
using cipher_internal::kBrokenLength;
using cipher_internal::kChaChaPoly;
using cipher_internal::kHmacSha256Etm;
using cipher_internal::kHmacSha512Etm;
using cipher_internal::kNone;
using cipher_internal::LoadBe32;
using cipher_internal::NewCipherCtx;
using cipher_internal::OpenSslError;
using cipher_internal::StoreBe32;
using cipher_internal::WipePacket;

namespace {

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

// Algorithms are fetched once per process and never freed (as in hash.cc;
// FetchMac below too): a fetch by name costs a provider lookup under a lock,
// and every SSH connection creates four of these. A failed fetch (no
// provider) stays failed.
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

}  // namespace

namespace cipher_internal {

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

void WipePacket(absl::Span<uint8_t> packet, uint8_t* tag, size_t tag_length) {
  if (!packet.empty()) OPENSSL_cleanse(packet.data(), packet.size());
  if (tag != nullptr && tag_length > 0) OPENSSL_cleanse(tag, tag_length);
}

}  // namespace cipher_internal

namespace {

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
      return CreateChaChaPolyCipher(key);
    case Mode::kGcm:
      return CreateGcmCipher(info->name, info->evp_name, key, iv, encrypt);
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