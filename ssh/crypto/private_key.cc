// Private keys: generation, signing, the OpenSSL key of each type we sign
// with, and its private fields in openssh-key-v1. The file formats
// themselves (openssh-key-v1, PEM) and key files: private_key_format.cc.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/crypto/keys.h"
#include "ssh/crypto/keys_internal.h"
#include "ssh/crypto/private_key_internal.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::crypto {

using keys_internal::ClearOpenSslErrors;
using keys_internal::kEcdsaP256Name;
using keys_internal::kEd25519Name;
using keys_internal::kEd25519PublicSize;
using keys_internal::kEd25519SeedSize;
using keys_internal::kMaxNameLength;
using keys_internal::kNistP256;
using keys_internal::kP256GroupName;
using keys_internal::kP256PointSize;
using keys_internal::kP256ScalarSize;
using private_key_internal::CheckKeyPair;
using private_key_internal::PublicKeyOf;

namespace {

absl::Status MismatchError() {
  return absl::InvalidArgumentError(
      "private key does not match its public key");
}

// The Ed25519 raw public key of a (private or public) EVP_PKEY.
absl::StatusOr<std::vector<uint8_t>> RawEd25519Public(EVP_PKEY* pkey) {
  std::vector<uint8_t> pk(kEd25519PublicSize);
  size_t len = pk.size();
  if (EVP_PKEY_get_raw_public_key(pkey, pk.data(), &len) != 1 ||
      len != pk.size()) {
    return absl::InternalError(absl::StrCat("reading Ed25519 public key: ",
                                            base::OpenSslErrorString()));
  }
  return pk;
}

// The uncompressed P-256 point of an EC key, which must be on P-256.
absl::StatusOr<std::vector<uint8_t>> P256Point(EVP_PKEY* pkey) {
  char group[64] = {0};
  size_t group_len = 0;
  if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &group_len) != 1 ||
      std::string_view(group, group_len) != kP256GroupName) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("only P-256 ECDSA keys are supported");
  }
  // A key read from PEM may have asked for compressed points.
  if (EVP_PKEY_set_utf8_string_param(
          pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
          OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1) {
    return absl::InternalError(
        absl::StrCat("setting EC point format: ", base::OpenSslErrorString()));
  }
  std::vector<uint8_t> q(kP256PointSize);
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, q.data(),
                                      q.size(), &len) != 1 ||
      len != q.size() || q[0] != 0x04) {
    return absl::InternalError(
        absl::StrCat("reading P-256 point: ", base::OpenSslErrorString()));
  }
  return q;
}

absl::StatusOr<base::EvpPkeyPtr> Ed25519FromSeed(Bytes seed) {
  base::EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                     seed.data(), seed.size()));
  if (pkey == nullptr) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("bad Ed25519 private key");
  }
  return pkey;
}

absl::StatusOr<base::EvpPkeyPtr> P256FromParts(Bytes q, Bytes d) {
  base::SecretBignumPtr bn_d(BN_secure_new());
  base::OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (bn_d == nullptr || bld == nullptr ||
      BN_bin2bn(d.data(), static_cast<int>(d.size()), bn_d.get()) == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      kP256GroupName, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                       q.data(), q.size()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, bn_d.get()) !=
          1) {
    return absl::InternalError(
        absl::StrCat("building EC parameters: ", base::OpenSslErrorString()));
  }
  base::OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  base::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr ||
      EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    ClearOpenSslErrors();
    return absl::InvalidArgumentError("bad ECDSA private key");
  }
  base::EvpPkeyPtr pkey(raw);
  RETURN_IF_ERROR(CheckKeyPair(pkey.get()));
  return pkey;
}

absl::StatusOr<base::EvpPkeyPtr> GenerateKey(const char* type,
                                             const char* group) {
  EVP_PKEY* raw = group == nullptr
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, type)
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, type, group);
  if (raw == nullptr) {
    return absl::InternalError(
        absl::StrCat("key generation: ", base::OpenSslErrorString()));
  }
  return base::EvpPkeyPtr(raw);
}

}  // namespace

namespace private_key_internal {

absl::Status RsaPrivateKeyError() {
  return absl::InvalidArgumentError(
      "RSA private keys are not used for signing");
}

absl::StatusOr<PublicKey> PublicKeyOf(EVP_PKEY* pkey) {
  wire::Writer blob;
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_ED25519: {
      ASSIGN_OR_RETURN(std::vector<uint8_t> pk, RawEd25519Public(pkey));
      blob.String(kEd25519Name).String(pk);
      break;
    }
    case EVP_PKEY_EC: {
      ASSIGN_OR_RETURN(std::vector<uint8_t> q, P256Point(pkey));
      blob.String(kEcdsaP256Name).String(kNistP256).String(q);
      break;
    }
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return RsaPrivateKeyError();
    default:
      return absl::InvalidArgumentError(
          "unsupported private key type (Ed25519 and ECDSA P-256 only)");
  }
  return PublicKey::FromBlob(blob.data());
}

absl::Status CheckKeyPair(EVP_PKEY* pkey) {
  base::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (ctx == nullptr || EVP_PKEY_check(ctx.get()) != 1) {
    ClearOpenSslErrors();
    return MismatchError();
  }
  return absl::OkStatus();
}

absl::StatusOr<base::EvpPkeyPtr> ParsePrivateFields(wire::Reader& r,
                                                    const PublicKey& pub) {
  ASSIGN_OR_RETURN(Bytes pub_field, keys_internal::PublicKeyField(pub));
  if (pub.type() == KeyType::kEd25519) {
    ASSIGN_OR_RETURN(Bytes pk, r.ReadString(64));
    ASSIGN_OR_RETURN(Bytes sk, r.ReadString(128));
    if (pk.size() != kEd25519PublicSize ||
        sk.size() != kEd25519SeedSize + kEd25519PublicSize) {
      return absl::InvalidArgumentError("bad Ed25519 private key lengths");
    }
    if (!std::equal(pk.begin(), pk.end(), pub_field.begin(), pub_field.end()) ||
        !std::equal(pk.begin(), pk.end(), sk.begin() + kEd25519SeedSize,
                    sk.end())) {
      return MismatchError();
    }
    ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey,
                     Ed25519FromSeed(sk.subspan(0, kEd25519SeedSize)));
    ASSIGN_OR_RETURN(std::vector<uint8_t> derived,
                     RawEd25519Public(pkey.get()));
    if (!std::equal(derived.begin(), derived.end(), pk.begin(), pk.end())) {
      return MismatchError();
    }
    return pkey;
  }
  if (pub.type() == KeyType::kEcdsaP256) {
    ASSIGN_OR_RETURN(std::string_view curve, r.ReadCString(kMaxNameLength));
    ASSIGN_OR_RETURN(Bytes q, r.ReadString(kP256PointSize));
    ASSIGN_OR_RETURN(Bytes d, r.ReadMpint(kP256ScalarSize));
    if (curve != kNistP256 ||
        !std::equal(q.begin(), q.end(), pub_field.begin(), pub_field.end())) {
      return MismatchError();
    }
    if (d.empty())
      return absl::InvalidArgumentError("ECDSA private key is zero");
    return P256FromParts(q, d);
  }
  return RsaPrivateKeyError();
}

absl::Status WritePrivateFields(EVP_PKEY* pkey, const PublicKey& pub,
                                wire::Writer& w) {
  ASSIGN_OR_RETURN(Bytes pub_field, keys_internal::PublicKeyField(pub));
  if (pub.type() == KeyType::kEd25519) {
    uint8_t sk[kEd25519SeedSize + kEd25519PublicSize];
    size_t len = kEd25519SeedSize;
    if (EVP_PKEY_get_raw_private_key(pkey, sk, &len) != 1 ||
        len != kEd25519SeedSize) {
      OPENSSL_cleanse(sk, sizeof(sk));
      return absl::InternalError(absl::StrCat("reading Ed25519 private key: ",
                                              base::OpenSslErrorString()));
    }
    std::memcpy(sk + kEd25519SeedSize, pub_field.data(), kEd25519PublicSize);
    w.String(pub_field).String(Bytes(sk, sizeof(sk)));
    OPENSSL_cleanse(sk, sizeof(sk));
    return absl::OkStatus();
  }
  // ECDSA P-256.
  BIGNUM* raw_d = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &raw_d) != 1) {
    return absl::InternalError(absl::StrCat("reading ECDSA private key: ",
                                            base::OpenSslErrorString()));
  }
  base::SecretBignumPtr d(raw_d);
  uint8_t d_bytes[kP256ScalarSize];
  if (BN_bn2binpad(d.get(), d_bytes, sizeof(d_bytes)) !=
      static_cast<int>(sizeof(d_bytes))) {
    OPENSSL_cleanse(d_bytes, sizeof(d_bytes));
    return absl::InternalError("ECDSA private key out of range");
  }
  w.String(kNistP256).String(pub_field).Mpint(Bytes(d_bytes, sizeof(d_bytes)));
  OPENSSL_cleanse(d_bytes, sizeof(d_bytes));
  return absl::OkStatus();
}

}  // namespace private_key_internal

struct PrivateKey::SignTemplate {
  std::once_flag once;
  base::EvpMdCtxPtr ctx;  // null until set up, or if that failed
};

PrivateKey::PrivateKey(PublicKey pub, std::shared_ptr<EVP_PKEY> pkey)
    : public_key_(std::move(pub)), pkey_(std::move(pkey)) {
  if (type() == KeyType::kEd25519) {
    sign_template_ = std::make_shared<SignTemplate>();
  }
}

base::EvpMdCtxPtr PrivateKey::NewSignContext() const {
  const bool ed25519 = type() == KeyType::kEd25519;
  base::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return nullptr;
  if (sign_template_ != nullptr) {
    SignTemplate& t = *sign_template_;
    std::call_once(t.once, [&] {
      base::EvpMdCtxPtr fresh(EVP_MD_CTX_new());
      if (fresh != nullptr &&
          EVP_DigestSignInit_ex(fresh.get(), nullptr, nullptr, nullptr, nullptr,
                                pkey_.get(), nullptr) == 1) {
        t.ctx = std::move(fresh);
      }
    });
    // Read only: concurrent copies are safe.
    if (t.ctx != nullptr) {
      return EVP_MD_CTX_copy_ex(ctx.get(), t.ctx.get()) == 1 ? std::move(ctx)
                                                             : nullptr;
    }
  }
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, ed25519 ? nullptr : "SHA256",
                            nullptr, nullptr, pkey_.get(), nullptr) != 1) {
    return nullptr;
  }
  return ctx;
}

absl::StatusOr<PrivateKey> PrivateKey::GenerateEd25519() {
  ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey, GenerateKey("ED25519", nullptr));
  ASSIGN_OR_RETURN(PublicKey pub, PublicKeyOf(pkey.get()));
  return PrivateKey(std::move(pub), keys_internal::Share(std::move(pkey)));
}

absl::StatusOr<PrivateKey> PrivateKey::GenerateEcdsaP256() {
  ASSIGN_OR_RETURN(base::EvpPkeyPtr pkey, GenerateKey("EC", "P-256"));
  ASSIGN_OR_RETURN(PublicKey pub, PublicKeyOf(pkey.get()));
  return PrivateKey(std::move(pub), keys_internal::Share(std::move(pkey)));
}

absl::StatusOr<std::vector<uint8_t>> PrivateKey::Sign(Bytes data) const {
  static const uint8_t kEmpty = 0;
  const bool ed25519 = type() == KeyType::kEd25519;
  base::EvpMdCtxPtr ctx = NewSignContext();
  const int max_size = EVP_PKEY_get_size(pkey_.get());
  if (ctx == nullptr || max_size <= 0) {
    return absl::InternalError(
        absl::StrCat("signing: ", base::OpenSslErrorString()));
  }
  std::vector<uint8_t> sig(static_cast<size_t>(max_size));
  size_t sig_len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len,
                     data.empty() ? &kEmpty : data.data(), data.size()) != 1) {
    return absl::InternalError(
        absl::StrCat("signing: ", base::OpenSslErrorString()));
  }
  sig.resize(sig_len);

  wire::Writer blob;
  blob.String(SignatureAlgorithm());
  if (ed25519) {
    blob.String(sig);
    return blob.Take();
  }
  // ECDSA: DER SEQUENCE { r, s } → string(mpint r, mpint s), RFC 5656 §3.1.2.
  const uint8_t* p = sig.data();
  base::EcdsaSigPtr ecdsa(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (ecdsa == nullptr) {
    return absl::InternalError(
        absl::StrCat("decoding ECDSA signature: ", base::OpenSslErrorString()));
  }
  const BIGNUM* r = ECDSA_SIG_get0_r(ecdsa.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(ecdsa.get());
  std::vector<uint8_t> rb(static_cast<size_t>(BN_num_bytes(r)));
  std::vector<uint8_t> sb(static_cast<size_t>(BN_num_bytes(s)));
  BN_bn2bin(r, rb.data());
  BN_bn2bin(s, sb.data());
  wire::Writer inner;
  inner.Mpint(rb).Mpint(sb);
  blob.String(inner.data());
  return blob.Take();
}

std::string_view PrivateKey::SignatureAlgorithm() const {
  return type() == KeyType::kEd25519 ? kEd25519Name : kEcdsaP256Name;
}

}  // namespace sallyport::ssh::crypto
