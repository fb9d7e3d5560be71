#include "ssh/transport/kex_agreement.h"

#include <openssl/crypto.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/crypto/hash.h"

namespace sallyport::ssh::transport {
namespace {

namespace mlkem = crypto::mlkem768;

constexpr size_t kX25519Size = 32;
static_assert(kMaxKexClientValue == mlkem::kEncapsulationKeySize + kX25519Size);
static_assert(kMaxKexServerValue == mlkem::kCiphertextSize + kX25519Size);

absl::StatusOr<crypto::KeyAgreement::Curve> CurveFor(std::string_view kex) {
  if (kex == "curve25519-sha256" || kex == "curve25519-sha256@libssh.org" ||
      kex == kMlKem768X25519) {
    return crypto::KeyAgreement::Curve::kX25519;
  }
  if (kex == "ecdh-sha2-nistp256") return crypto::KeyAgreement::Curve::kP256;
  return absl::FailedPreconditionError(
      absl::StrCat("unsupported kex ", std::string(kex)));
}

absl::Status WrongLength(const char* what, size_t got, size_t want) {
  return absl::InvalidArgumentError(absl::StrCat(
      "mlkem768x25519-sha256 ", what, " is ", got, " bytes, expected ", want));
}

// K = string(SHA-256(mlkem_ss || x25519_ss)).
base::SecretBytes HybridK(const base::SecretBytes& mlkem_ss,
                          const base::SecretBytes& x25519_ss) {
  crypto::Hasher hasher(crypto::HashAlgorithm::kSha256);
  hasher.Update(mlkem_ss.span()).Update(x25519_ss.span());
  std::vector<uint8_t> digest = hasher.Finish();
  const uint8_t header[4] = {0, 0, 0, static_cast<uint8_t>(digest.size())};
  base::SecretBytes k;
  k.Append(header);
  k.Append(digest);
  OPENSSL_cleanse(digest.data(), digest.size());
  return k;
}

}  // namespace

base::SecretBytes EncodeMpintK(const base::SecretBytes& secret) {
  size_t skip = 0;
  while (skip < secret.size() && secret[skip] == 0) ++skip;
  size_t len = secret.size() - skip;
  bool pad = len > 0 && (secret[skip] & 0x80) != 0;
  uint32_t total = static_cast<uint32_t>(len + (pad ? 1 : 0));
  uint8_t header[5] = {
      static_cast<uint8_t>(total >> 24), static_cast<uint8_t>(total >> 16),
      static_cast<uint8_t>(total >> 8), static_cast<uint8_t>(total), 0};
  base::SecretBytes out;
  out.Append(absl::MakeConstSpan(header, pad ? 5 : 4));
  out.Append(secret.span().subspan(skip));
  return out;
}

absl::StatusOr<std::unique_ptr<KexAgreement>> KexAgreement::StartClient(
    std::string_view kex) {
  ASSIGN_OR_RETURN(crypto::KeyAgreement::Curve curve, CurveFor(kex));
  std::unique_ptr<KexAgreement> a(new KexAgreement());
  ASSIGN_OR_RETURN(a->ecdh_, crypto::KeyAgreement::Generate(curve));
  if (kex == kMlKem768X25519) {
    a->hybrid_ = true;
    ASSIGN_OR_RETURN(a->mlkem_, mlkem::GenerateKeyPair());
    a->client_value_ = a->mlkem_->encapsulation_key;
  }
  const std::vector<uint8_t>& pub = a->ecdh_->public_value();
  a->client_value_.insert(a->client_value_.end(), pub.begin(), pub.end());
  return a;
}

absl::StatusOr<base::SecretBytes> KexAgreement::ClientFinish(
    wire::Bytes server_value) const {
  if (!hybrid_) {
    auto shared = ecdh_->Compute(server_value);
    if (!shared.ok()) return shared.status();
    return EncodeMpintK(*shared);
  }
  if (server_value.size() != kMaxKexServerValue) {
    return WrongLength("server reply", server_value.size(), kMaxKexServerValue);
  }
  auto mlkem_ss =
      mlkem::Decapsulate(mlkem_->decapsulation_key.span(),
                         server_value.subspan(0, mlkem::kCiphertextSize));
  if (!mlkem_ss.ok()) return mlkem_ss.status();
  auto x25519_ss = ecdh_->Compute(server_value.subspan(mlkem::kCiphertextSize));
  if (!x25519_ss.ok()) return x25519_ss.status();
  return HybridK(*mlkem_ss, *x25519_ss);
}

absl::StatusOr<KexAgreement::ServerResult> KexAgreement::ServerRespond(
    std::string_view kex, wire::Bytes client_value) {
  ASSIGN_OR_RETURN(crypto::KeyAgreement::Curve curve, CurveFor(kex));
  const bool hybrid = kex == kMlKem768X25519;
  if (hybrid && client_value.size() != kMaxKexClientValue) {
    return WrongLength("client init", client_value.size(), kMaxKexClientValue);
  }
  ASSIGN_OR_RETURN(auto ecdh, crypto::KeyAgreement::Generate(curve));
  ServerResult result;
  if (!hybrid) {
    auto shared = ecdh->Compute(client_value);
    if (!shared.ok()) return shared.status();
    result.server_value = ecdh->public_value();
    result.encoded_k = EncodeMpintK(*shared);
    return result;
  }
  auto enc =
      mlkem::Encapsulate(client_value.subspan(0, mlkem::kEncapsulationKeySize));
  if (!enc.ok()) return enc.status();
  auto x25519_ss =
      ecdh->Compute(client_value.subspan(mlkem::kEncapsulationKeySize));
  if (!x25519_ss.ok()) return x25519_ss.status();
  result.server_value = std::move(enc->ciphertext);
  const std::vector<uint8_t>& pub = ecdh->public_value();
  result.server_value.insert(result.server_value.end(), pub.begin(), pub.end());
  result.encoded_k = HybridK(enc->shared_secret, *x25519_ss);
  return result;
}

}  // namespace sallyport::ssh::transport
