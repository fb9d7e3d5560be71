#include "ca/tls_material.h"

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace sallyport::ca {
namespace {

using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION,
                    base::OpenSslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;

absl::Status OpenSslError(std::string_view what) {
  return absl::InternalError(
      absl::StrCat(std::string(what), ": ", base::OpenSslErrorString()));
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

bool IsEd25519(EVP_PKEY* key) { return EVP_PKEY_is_a(key, "ED25519") == 1; }

bool IsP256(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64];
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof(group), &len) != 1) {
    return false;
  }
  return std::string_view(group, len) == "prime256v1";
}

absl::Status AddNameEntry(X509_NAME* name, int nid, std::string_view value) {
  // V_ASN1_UTF8STRING (not MBSTRING_UTF8) skips OpenSSL's 64-character
  // table limit for CN: user names may be longer. Callers pass validated
  // UTF-8.
  if (X509_NAME_add_entry_by_NID(
          name, nid, V_ASN1_UTF8STRING,
          reinterpret_cast<const unsigned char*>(value.data()),
          static_cast<int>(value.size()), -1, 0) != 1) {
    return OpenSslError("X509_NAME_add_entry");
  }
  return absl::OkStatus();
}

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid,
                          const std::string& value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StrCat("X509 extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> AsnTime(const ASN1_TIME* t) {
  struct tm tm;
  std::memset(&tm, 0, sizeof(tm));
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return absl::InvalidArgumentError("bad certificate time");
  }
  return absl::FromTimeT(timegm(&tm));
}

absl::StatusOr<std::string> UniqueNameEntry(X509_NAME* name, int nid,
                                            bool required) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) {
    if (required) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificate subject has no ", OBJ_nid2sn(nid)));
    }
    return std::string();
  }
  if (X509_NAME_get_index_by_NID(name, nid, index) >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate subject has several ", OBJ_nid2sn(nid)));
  }
  ASN1_STRING* data =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return absl::InvalidArgumentError("bad certificate name");
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  if (out.find('\0') != std::string::npos || out.empty()) {
    return absl::InvalidArgumentError("bad certificate name");
  }
  return out;
}

}  // namespace

absl::StatusOr<base::EvpPkeyPtr> GenerateTlsKey() {
  base::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError("EVP_EC_gen");
  return key;
}

absl::StatusOr<base::SecretBytes> PrivateKeyToPem(EVP_PKEY* key) {
  base::BioPtr bio(BIO_new(BIO_s_secmem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return base::SecretBytes(absl::Span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)));
}

absl::StatusOr<base::EvpPkeyPtr> PrivateKeyFromPem(std::string_view pem) {
  base::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  base::EvpPkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM private key");
  }
  return key;
}

absl::StatusOr<std::string> PublicKeyToDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return OpenSslError("i2d_PUBKEY");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

absl::StatusOr<base::EvpPkeyPtr> PublicKeyFromDer(std::string_view der) {
  if (der.empty() || der.size() > 4096) {
    return absl::InvalidArgumentError("TLS public key: bad length");
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  base::EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("TLS public key: not a DER SPKI");
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("TLS public key: trailing bytes");
  }
  if (!IsEd25519(key.get()) && !IsP256(key.get())) {
    return absl::InvalidArgumentError(
        "TLS public key: only ECDSA P-256 and Ed25519 are accepted");
  }
  // Only the canonical encoding (OpenSSL tolerates e.g. a BIT STRING with
  // unused bits; found by fuzzing): one key, one accepted byte string.
  absl::StatusOr<std::string> canonical = PublicKeyToDer(key.get());
  if (!canonical.ok() || *canonical != der) {
    return absl::InvalidArgumentError("TLS public key: non-canonical DER");
  }
  return key;
}

absl::StatusOr<std::string> CertificateToPem(X509* cert) {
  base::BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError("PEM_write_bio_X509");
  }
  return BioContents(bio.get());
}

absl::StatusOr<base::X509Ptr> CertificateFromPem(std::string_view pem) {
  base::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  base::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  return cert;
}

absl::StatusOr<std::string> CertificateFingerprint(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &len) != 1) {
    return OpenSslError("X509_digest");
  }
  std::string b64 =
      absl::Base64Escape(std::string(reinterpret_cast<char*>(digest), len));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return absl::StrCat("SHA256:", b64);
}

std::string DerFingerprint(std::string_view der) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(),
         digest);
  std::string b64 = absl::Base64Escape(
      std::string(reinterpret_cast<char*>(digest), sizeof(digest)));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return absl::StrCat("SHA256:", b64);
}

absl::StatusOr<base::X509Ptr> IssueCertificate(const CertificateSpec& spec,
                                               EVP_PKEY* subject_key,
                                               X509* issuer_cert,
                                               EVP_PKEY* issuer_key) {
  if (spec.common_name.empty() || spec.serial == 0 ||
      spec.not_after <= spec.not_before || subject_key == nullptr ||
      issuer_key == nullptr) {
    return absl::InvalidArgumentError("bad certificate spec");
  }
  base::X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), spec.serial) !=
          1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    absl::ToTimeT(spec.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    absl::ToTimeT(spec.not_after)) == nullptr ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError("X509 fields");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  RETURN_IF_ERROR(AddNameEntry(name, NID_organizationName, kOrganization));
  if (!spec.organizational_unit.empty()) {
    RETURN_IF_ERROR(AddNameEntry(name, NID_organizationalUnitName,
                                 spec.organizational_unit));
  }
  RETURN_IF_ERROR(AddNameEntry(name, NID_commonName, spec.common_name));
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1) {
    return OpenSslError("X509_set_issuer_name");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert.get(), nullptr, nullptr, 0);
  if (spec.is_ca) {
    RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints,
                                 "critical,CA:TRUE,pathlen:0"));
    RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage,
                                 "critical,keyCertSign,cRLSign"));
  } else {
    RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints,
                                 "critical,CA:FALSE"));
    // A self-signed leaf is its own trust anchor (clients pin it): a
    // keyUsage without keyCertSign would make it fail to verify itself.
    if (issuer_cert != nullptr) {
      RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage,
                                   "critical,digitalSignature"));
    }
  }
  std::vector<std::string> eku;
  if (spec.server) eku.push_back("serverAuth");
  if (spec.client) eku.push_back("clientAuth");
  if (!eku.empty()) {
    RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage,
                                 absl::StrJoin(eku, ",")));
  }
  std::vector<std::string> sans;
  for (const std::string& dns : spec.dns_names) sans.push_back("DNS:" + dns);
  for (const std::string& ip : spec.ip_addresses) sans.push_back("IP:" + ip);
  if (!sans.empty()) {
    absl::Status st = AddExtension(cert.get(), &ctx, NID_subject_alt_name,
                                   absl::StrJoin(sans, ","));
    if (!st.ok()) return absl::InvalidArgumentError(st.message());
  }
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  if (issuer_cert != nullptr) {
    RETURN_IF_ERROR(
        AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid"));
  }
  const EVP_MD* md = IsEd25519(issuer_key) ? nullptr : EVP_sha256();
  if (X509_sign(cert.get(), issuer_key, md) <= 0) {
    return OpenSslError("X509_sign");
  }
  return cert;
}

absl::StatusOr<CertificateInfo> InspectCertificate(X509* cert) {
  if (cert == nullptr) return absl::InvalidArgumentError("no certificate");
  CertificateInfo info;
  X509_NAME* name = X509_get_subject_name(cert);
  ASSIGN_OR_RETURN(info.common_name,
                   UniqueNameEntry(name, NID_commonName, true));
  ASSIGN_OR_RETURN(info.organizational_unit,
                   UniqueNameEntry(name, NID_organizationalUnitName, false));
  uint64_t serial = 0;
  if (ASN1_INTEGER_get_uint64(&serial, X509_get0_serialNumber(cert)) != 1 ||
      serial == 0 || serial > 0x7fffffffffffffffULL) {
    ERR_clear_error();
    return absl::InvalidArgumentError("bad certificate serial");
  }
  info.serial = serial;
  ASSIGN_OR_RETURN(info.not_before, AsnTime(X509_get0_notBefore(cert)));
  ASSIGN_OR_RETURN(info.not_after, AsnTime(X509_get0_notAfter(cert)));
  return info;
}

absl::Status VerifyIssuedBy(X509* cert, X509* ca_cert, absl::Time now) {
  if (cert == nullptr || ca_cert == nullptr) {
    return absl::UnauthenticatedError("no certificate");
  }
  if (X509_check_issued(ca_cert, cert) != X509_V_OK ||
      X509_verify(cert, X509_get0_pubkey(ca_cert)) != 1) {
    ERR_clear_error();
    return absl::UnauthenticatedError("certificate not issued by our TLS CA");
  }
  absl::StatusOr<CertificateInfo> info = InspectCertificate(cert);
  if (!info.ok()) return absl::UnauthenticatedError(info.status().message());
  if (now < info->not_before || now >= info->not_after) {
    return absl::UnauthenticatedError("client certificate expired");
  }
  return absl::OkStatus();
}

}  // namespace sallyport::ca
