#include "ssh/crypto/key_agreement.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::ssh::crypto {
namespace {

constexpr size_t kX25519Size = 32;
constexpr size_t kP256PointSize = 65;  // 0x04 || X || Y
constexpr size_t kP256SecretSize = 32;
constexpr char kP256GroupName[] = "prime256v1";

absl::Status Refused(std::string_view why) {
  ERR_clear_error();
  return absl::InvalidArgumentError(std::string(why));
}

absl::StatusOr<base::EvpPkeyPtr> PeerX25519(absl::Span<const uint8_t> peer) {
  if (peer.size() != kX25519Size) {
    return Refused(absl::StrCat("X25519 public value is ", peer.size(),
                                " bytes, expected 32"));
  }
  base::EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr,
                                                    peer.data(), peer.size()));
  if (pkey == nullptr) return Refused("bad X25519 public value");
  return pkey;
}

// RFC 5656 §4: the peer's point must be a valid uncompressed point on the
// curve (checked here explicitly, not left to the derive step).
absl::StatusOr<base::EvpPkeyPtr> PeerP256(absl::Span<const uint8_t> peer) {
  if (peer.size() != kP256PointSize || peer[0] != 0x04) {
    return Refused("P-256 public value must be a 65-byte uncompressed point");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                       const_cast<char*>(kP256GroupName), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<uint8_t*>(peer.data()),
                                        peer.size()),
      OSSL_PARAM_construct_end()};
  base::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return Refused("P-256 public value is not a point on the curve");
  }
  base::EvpPkeyPtr pkey(raw);
  base::EvpPkeyCtxPtr check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) {
    return Refused("P-256 public value is not a valid public key");
  }
  return pkey;
}

absl::StatusOr<std::vector<uint8_t>> OurPublicValue(KeyAgreement::Curve curve,
                                                    EVP_PKEY* key) {
  if (curve == KeyAgreement::Curve::kX25519) {
    std::vector<uint8_t> pub(kX25519Size);
    size_t len = pub.size();
    if (EVP_PKEY_get_raw_public_key(key, pub.data(), &len) != 1 ||
        len != pub.size()) {
      return absl::InternalError(absl::StrCat("reading X25519 public value: ",
                                              base::OpenSslErrorString()));
    }
    return pub;
  }
  std::vector<uint8_t> pub(kP256PointSize);
  size_t len = 0;
  if (EVP_PKEY_set_utf8_string_param(
          key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
          OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1 ||
      EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                      pub.size(), &len) != 1 ||
      len != pub.size() || pub[0] != 0x04) {
    return absl::InternalError(absl::StrCat("reading P-256 public value: ",
                                            base::OpenSslErrorString()));
  }
  return pub;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KeyAgreement>> KeyAgreement::Generate(
    Curve curve) {
  EVP_PKEY* raw = curve == Curve::kX25519
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519")
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (raw == nullptr) {
    return absl::InternalError(
        absl::StrCat("ephemeral key generation: ", base::OpenSslErrorString()));
  }
  base::EvpPkeyPtr key(raw);
  ASSIGN_OR_RETURN(std::vector<uint8_t> pub, OurPublicValue(curve, key.get()));
  return std::unique_ptr<KeyAgreement>(
      new KeyAgreement(curve, std::move(key), std::move(pub)));
}

absl::StatusOr<base::SecretBytes> KeyAgreement::Compute(
    absl::Span<const uint8_t> peer_public) const {
  base::EvpPkeyPtr peer;
  if (curve_ == Curve::kX25519) {
    ASSIGN_OR_RETURN(peer, PeerX25519(peer_public));
  } else {
    ASSIGN_OR_RETURN(peer, PeerP256(peer_public));
  }
  base::EvpPkeyCtxPtr ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) {
    return Refused("peer public value refused for key agreement");
  }
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1 || len == 0 || len > 64) {
    return Refused("key agreement failed");
  }
  base::SecretBytes secret(len);
  // OpenSSL's X25519 itself fails on an all-zero result (a small-order peer
  // point); that failure lands here too.
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &len) != 1) {
    return Refused(curve_ == Curve::kX25519
                       ? "X25519 shared secret is all zero (small-order peer "
                         "value) or derivation failed"
                       : "ECDH derivation failed");
  }
  secret.Resize(len);
  if (curve_ == Curve::kX25519) {
    if (secret.size() != kX25519Size) {
      return absl::InternalError("X25519 secret has the wrong size");
    }
    // RFC 8731 §3: abort on an all-zero shared secret. Checked here too so
    // the rule does not rest on one OpenSSL behaviour.
    uint8_t any = 0;
    for (size_t i = 0; i < secret.size(); ++i) any |= secret[i];
    if (any == 0) return Refused("X25519 shared secret is all zero");
    return secret;
  }
  // The x coordinate as a fixed 32-byte big-endian number.
  if (secret.size() > kP256SecretSize) {
    return absl::InternalError("ECDH secret longer than the field size");
  }
  if (secret.size() < kP256SecretSize) {
    base::SecretBytes padded(kP256SecretSize);
    const size_t offset = kP256SecretSize - secret.size();
    for (size_t i = 0; i < secret.size(); ++i) padded[offset + i] = secret[i];
    return padded;
  }
  return secret;
}

}  // namespace sallyport::ssh::crypto
