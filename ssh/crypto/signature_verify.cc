// Signature verification (PublicKey::Verify): ssh-ed25519 (RFC 8709),
// ecdsa-sha2-nistp256 (RFC 5656 §3.1.2) and rsa-sha2-256/512 (RFC 8332);
// never ssh-rsa (SHA-1). Signing is in private_key.cc.
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/crypto/keys.h"
#include "ssh/crypto/keys_internal.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::crypto {

using keys_internal::Annotate;
using keys_internal::kEcdsaP256Name;
using keys_internal::kEd25519Name;
using keys_internal::kEd25519SignatureSize;
using keys_internal::kMaxNameLength;
using keys_internal::kMaxRsaBits;
using keys_internal::kP256ScalarSize;
using keys_internal::kRsaName;
using keys_internal::Str;

namespace {

// An RSA signature is at most the modulus length (2048 bytes).
inline constexpr uint32_t kMaxSignatureLength = kMaxRsaBits / 8 + 64;

inline constexpr std::string_view kRsaSha256 = "rsa-sha2-256";
inline constexpr std::string_view kRsaSha512 = "rsa-sha2-512";

// One signature check through EVP_DigestVerify. `md` is null for Ed25519.
// Every failure, internal or not, is kUnauthenticated: fail closed.
absl::Status VerifyWithPkey(EVP_PKEY* pkey, const char* md, bool rsa_pkcs1,
                            Bytes signature, Bytes data) {
  static const uint8_t kEmpty = 0;
  base::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (ctx == nullptr ||
      EVP_DigestVerifyInit_ex(ctx.get(), &pctx, md, nullptr, nullptr, pkey,
                              nullptr) != 1 ||
      (rsa_pkcs1 &&
       EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)) {
    keys_internal::ClearOpenSslErrors();
    return absl::UnauthenticatedError(
        "signature could not be checked (refused)");
  }
  int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                            data.empty() ? &kEmpty : data.data(), data.size());
  if (rc != 1) {
    keys_internal::ClearOpenSslErrors();
    return absl::UnauthenticatedError("signature does not verify");
  }
  return absl::OkStatus();
}

// The inner ECDSA signature (mpint r, mpint s; RFC 5656 §3.1.2) as DER for
// OpenSSL.
absl::StatusOr<std::vector<uint8_t>> EcdsaSignatureToDer(Bytes inner) {
  wire::Reader r(inner);
  auto rb = r.ReadMpint(kP256ScalarSize);
  if (!rb.ok()) return Annotate(rb.status(), "ECDSA signature r");
  auto sb = r.ReadMpint(kP256ScalarSize);
  if (!sb.ok()) return Annotate(sb.status(), "ECDSA signature s");
  absl::Status end = r.ExpectEnd();
  if (!end.ok()) return Annotate(end, "ECDSA signature");
  if (rb->empty() || sb->empty()) {
    return absl::InvalidArgumentError("ECDSA signature r or s is zero");
  }
  base::EcdsaSigPtr sig(ECDSA_SIG_new());
  base::BignumPtr bn_r(
      BN_bin2bn(rb->data(), static_cast<int>(rb->size()), nullptr));
  base::BignumPtr bn_s(
      BN_bin2bn(sb->data(), static_cast<int>(sb->size()), nullptr));
  if (sig == nullptr || bn_r == nullptr || bn_s == nullptr ||
      ECDSA_SIG_set0(sig.get(), bn_r.get(), bn_s.get()) != 1) {
    keys_internal::ClearOpenSslErrors();
    return absl::UnauthenticatedError("ECDSA signature could not be checked");
  }
  // ECDSA_SIG_set0 took ownership.
  bn_r.release();
  bn_s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) {
    keys_internal::ClearOpenSslErrors();
    return absl::UnauthenticatedError("ECDSA signature could not be checked");
  }
  std::vector<uint8_t> der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) {
    keys_internal::ClearOpenSslErrors();
    return absl::UnauthenticatedError("ECDSA signature could not be checked");
  }
  return der;
}

}  // namespace

absl::Status PublicKey::Verify(Bytes data, Bytes signature_blob,
                               std::string_view allowed_algorithm) const {
  wire::Reader r(signature_blob);
  auto alg_or = r.ReadCString(kMaxNameLength);
  if (!alg_or.ok()) return Annotate(alg_or.status(), "signature algorithm");
  auto sig_or = r.ReadString(kMaxSignatureLength);
  if (!sig_or.ok()) return Annotate(sig_or.status(), "signature");
  absl::Status end = r.ExpectEnd();
  if (!end.ok()) return Annotate(end, "signature blob");
  const std::string_view alg = *alg_or;
  const Bytes sig = *sig_or;

  if (!allowed_algorithm.empty() && alg != allowed_algorithm) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature algorithm ", Str(alg), " where ",
                     Str(allowed_algorithm), " was required"));
  }
  if (alg == kRsaName) {
    return absl::InvalidArgumentError(
        "ssh-rsa (SHA-1) signatures are not accepted");
  }
  auto wrong_alg = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("signature algorithm ", Str(alg), " is not valid for a ",
                     Str(TypeName()), " key"));
  };

  switch (type_) {
    case KeyType::kEd25519: {
      if (alg != kEd25519Name) return wrong_alg();
      if (sig.size() != kEd25519SignatureSize) {
        return absl::InvalidArgumentError(absl::StrCat(
            "ssh-ed25519 signature is ", sig.size(), " bytes, expected 64"));
      }
      return VerifyWithPkey(pkey_.get(), nullptr, false, sig, data);
    }
    case KeyType::kEcdsaP256: {
      if (alg != kEcdsaP256Name) return wrong_alg();
      ASSIGN_OR_RETURN(std::vector<uint8_t> der, EcdsaSignatureToDer(sig));
      return VerifyWithPkey(pkey_.get(), "SHA256", false, der, data);
    }
    case KeyType::kRsa: {
      const char* md = nullptr;
      if (alg == kRsaSha256) {
        md = "SHA256";
      } else if (alg == kRsaSha512) {
        md = "SHA512";
      } else {
        return wrong_alg();
      }
      const int modulus_bytes = EVP_PKEY_get_size(pkey_.get());
      if (modulus_bytes <= 0) {
        return absl::UnauthenticatedError("RSA signature could not be checked");
      }
      const size_t k = static_cast<size_t>(modulus_bytes);
      if (sig.empty() || sig.size() > k) {
        return absl::InvalidArgumentError(
            absl::StrCat("RSA signature of ", sig.size(), " bytes for a ", k,
                         "-byte modulus"));
      }
      // OpenSSH may send a signature shorter than the modulus (leading zero
      // bytes dropped); PKCS#1 verification wants exactly k bytes.
      std::vector<uint8_t> padded(k - sig.size(), 0);
      padded.insert(padded.end(), sig.begin(), sig.end());
      return VerifyWithPkey(pkey_.get(), md, true, padded, data);
    }
  }
  return absl::UnauthenticatedError("unknown key type (refused)");
}

}  // namespace sallyport::ssh::crypto
