#include "ssh/cert/certificate.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "ssh/crypto/hash.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::cert {
namespace {

// Caps on individual fields, far above anything a real CA writes.
constexpr uint32_t kMaxTypeNameLength = 128;
constexpr uint32_t kMaxNonceLength = 1024;
constexpr uint32_t kMaxOptionNameLength = 1024;
constexpr uint32_t kMaxKeyBlobLength = 16 * 1024;

// absl::StrCat does not take std::string_view with this Abseil build.
std::string Str(std::string_view s) { return std::string(s); }

// Peer-controlled text in an error message: C-escaped and bounded.
std::string Esc(std::string_view s) {
  constexpr size_t kMax = 100;
  std::string out = absl::CHexEscape(Str(s.substr(0, kMax)));
  if (s.size() > kMax) out += "...";
  return out;
}

absl::Status Invalid(std::string_view field, const absl::Status& inner) {
  return absl::InvalidArgumentError(
      absl::StrCat("certificate ", Str(field), ": ", inner.message()));
}

absl::Status Invalid(std::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("certificate: ", Str(message)));
}

template <typename T>
absl::StatusOr<T> Field(absl::StatusOr<T> value, std::string_view field) {
  if (!value.ok()) return Invalid(field, value.status());
  return value;
}

bool IsCertificateName(std::string_view name) {
  return name.ends_with("-cert-v01@openssh.com") ||
         name.ends_with("-cert-v00@openssh.com");
}

std::vector<uint8_t> ToVector(Bytes b) {
  return std::vector<uint8_t>(b.begin(), b.end());
}

// Reads the certified key's fields of plain key type `plain` and returns
// the equivalent plain key blob.
absl::StatusOr<std::vector<uint8_t>> ReadKeyFields(wire::Reader& r,
                                                   std::string_view plain) {
  wire::Writer w;
  w.String(plain);
  if (plain == "ssh-ed25519") {
    ASSIGN_OR_RETURN(Bytes pk, Field(r.ReadString(kMaxKeyBlobLength), "pk"));
    w.String(pk);
  } else if (plain == "ecdsa-sha2-nistp256") {
    ASSIGN_OR_RETURN(Bytes curve,
                     Field(r.ReadString(kMaxTypeNameLength), "curve"));
    ASSIGN_OR_RETURN(Bytes q, Field(r.ReadString(kMaxKeyBlobLength), "Q"));
    w.String(curve).String(q);
  } else {
    ASSIGN_OR_RETURN(Bytes e, Field(r.ReadMpint(), "RSA e"));
    ASSIGN_OR_RETURN(Bytes n, Field(r.ReadMpint(), "RSA n"));
    w.Mpint(e).Mpint(n);
  }
  return w.Take();
}

// The packed principals list: strings without NUL, at most kMaxPrincipals.
absl::StatusOr<std::vector<std::string>> ParsePrincipals(Bytes packed) {
  std::vector<std::string> out;
  wire::Reader r(packed);
  while (!r.empty()) {
    if (out.size() == kMaxPrincipals) {
      return Invalid(absl::StrCat("more than ", kMaxPrincipals, " principals"));
    }
    auto p = r.ReadString();
    if (!p.ok()) return Invalid("principal", p.status());
    std::string_view name = wire::AsStringView(*p);
    if (name.find('\0') != std::string_view::npos) {
      return Invalid("principal contains a NUL byte");
    }
    out.emplace_back(name);
  }
  return out;
}

// A packed list of (name, data) tuples: names non-empty, without NUL and
// strictly increasing; data empty or exactly one string.
absl::StatusOr<std::vector<CertOption>> ParseOptions(Bytes packed,
                                                     std::string_view what) {
  std::vector<CertOption> out;
  wire::Reader r(packed);
  while (!r.empty()) {
    auto name = r.ReadCString(kMaxOptionNameLength);
    if (!name.ok()) {
      return Invalid(absl::StrCat(Str(what), " name"), name.status());
    }
    auto data = r.ReadString();
    if (!data.ok()) {
      return Invalid(absl::StrCat(Str(what), " \"", Esc(*name), "\" data"),
                     data.status());
    }
    if (name->empty()) {
      return Invalid(absl::StrCat(Str(what), " with an empty name"));
    }
    if (!out.empty() && !(out.back().name < *name)) {
      return Invalid(
          absl::StrCat(Str(what), " \"", Esc(*name),
                       out.back().name == *name
                           ? "\" appears twice"
                           : "\" is out of order (names must be sorted)"));
    }
    if (!data->empty()) {
      wire::Reader inner(*data);
      auto value = inner.ReadString();
      absl::Status end = value.ok() ? inner.ExpectEnd() : value.status();
      if (!end.ok()) {
        return Invalid(absl::StrCat(
            Str(what), " \"", Esc(*name),
            "\" data is not exactly one string (trailing or missing bytes): ",
            end.message()));
      }
    }
    out.push_back(CertOption{std::string(*name), ToVector(*data)});
  }
  return out;
}

void WriteOptions(wire::Writer& w, const std::vector<CertOption>& options) {
  size_t mark = w.BeginLength();
  for (const CertOption& o : options) w.String(o.name).String(o.data);
  w.FinishLength(mark);
}

// The CA key type a signature algorithm belongs to, or empty if the
// algorithm is not allowed.
std::string_view CaKeyTypeForAlgorithm(std::string_view alg) {
  if (alg == "ssh-ed25519") return "ssh-ed25519";
  if (alg == "ecdsa-sha2-nistp256" || alg == "ecdsa-sha2-nistp384" ||
      alg == "ecdsa-sha2-nistp521") {
    return alg;
  }
  if (alg == "rsa-sha2-256" || alg == "rsa-sha2-512") return "ssh-rsa";
  return "";
}

// Checks the CA key blob against the signature algorithm and parses it when
// crypto::PublicKey supports its type.
absl::StatusOr<std::optional<crypto::PublicKey>> ParseSignatureKey(
    Bytes blob, std::string_view sig_alg) {
  wire::Reader r(blob);
  auto name = r.ReadCString(kMaxTypeNameLength);
  if (!name.ok()) return Invalid("signature key type", name.status());
  if (IsCertificateName(*name)) {
    return Invalid(absl::StrCat("signature key is itself a certificate (",
                                Esc(*name),
                                "); chained certificates are refused"));
  }
  if (!IsAllowedCaSignatureAlgorithm(sig_alg)) {
    return Invalid(absl::StrCat("CA signature algorithm \"", Esc(sig_alg),
                                "\" is not allowed"));
  }
  if (*name != CaKeyTypeForAlgorithm(sig_alg)) {
    return Invalid(absl::StrCat("CA signature algorithm ", Esc(sig_alg),
                                " does not fit CA key type ", Esc(*name)));
  }
  if (*name == "ecdsa-sha2-nistp384" || *name == "ecdsa-sha2-nistp521") {
    // Structure only: we cannot verify with these curves.
    auto curve = r.ReadCString(kMaxTypeNameLength);
    if (!curve.ok()) return Invalid("signature key curve", curve.status());
    if (*curve != name->substr(name->size() - 8)) {
      return Invalid("signature key curve does not match its type");
    }
    auto q = r.ReadString(kMaxKeyBlobLength);
    if (!q.ok()) return Invalid("signature key point", q.status());
    absl::Status end = r.ExpectEnd();
    if (!end.ok()) return Invalid("signature key", end);
    return std::optional<crypto::PublicKey>();
  }
  auto key = crypto::PublicKey::FromBlob(blob);
  if (!key.ok()) return Invalid("signature key", key.status());
  return std::optional<crypto::PublicKey>(*std::move(key));
}

}  // namespace

std::string_view CertTypeName(CertType type) {
  switch (type) {
    case CertType::kUser:
      return "user";
    case CertType::kHost:
      return "host";
  }
  return "unknown";
}

CertOption CertOption::Flag(std::string_view name) {
  return CertOption{std::string(name), {}};
}

CertOption CertOption::WithValue(std::string_view name,
                                 std::string_view value) {
  wire::Writer w;
  w.String(value);
  return CertOption{std::string(name), w.Take()};
}

absl::StatusOr<std::string> CertOption::Value() const {
  wire::Reader r(data);
  auto value = r.ReadCString();
  if (!value.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "option \"", name, "\" value: ", value.status().message()));
  }
  absl::Status end = r.ExpectEnd();
  if (!end.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("option \"", name, "\" has bytes after its value"));
  }
  return std::string(*value);
}

std::string_view PlainKeyTypeForCertType(std::string_view cert_type_name) {
  if (cert_type_name == kEd25519CertName) return "ssh-ed25519";
  if (cert_type_name == kEcdsaP256CertName) return "ecdsa-sha2-nistp256";
  if (cert_type_name == kRsaCertName) return "ssh-rsa";
  return "";
}

std::string_view CertTypeForPlainKeyType(std::string_view plain_type_name) {
  if (plain_type_name == "ssh-ed25519") return kEd25519CertName;
  if (plain_type_name == "ecdsa-sha2-nistp256") return kEcdsaP256CertName;
  if (plain_type_name == "ssh-rsa") return kRsaCertName;
  return "";
}

bool IsAllowedCaSignatureAlgorithm(std::string_view algorithm) {
  return !CaKeyTypeForAlgorithm(algorithm).empty();
}

std::string FingerprintOfBlob(Bytes blob) {
  std::string out = "SHA256:";
  out += crypto::Base64Encode(crypto::Sha256(blob));
  while (out.back() == '=') out.pop_back();
  return out;
}

absl::StatusOr<Certificate> Certificate::Parse(Bytes blob) {
  wire::Reader r(blob);
  ASSIGN_OR_RETURN(std::string_view type_name,
                   Field(r.ReadCString(kMaxTypeNameLength), "type name"));
  const std::string_view plain = PlainKeyTypeForCertType(type_name);
  if (plain.empty()) {
    return Invalid(
        absl::StrCat("unsupported certificate type \"", Esc(type_name), "\""));
  }
  ASSIGN_OR_RETURN(Bytes nonce, Field(r.ReadString(kMaxNonceLength), "nonce"));
  ASSIGN_OR_RETURN(std::vector<uint8_t> plain_blob, ReadKeyFields(r, plain));
  auto key = crypto::PublicKey::FromBlob(plain_blob);
  if (!key.ok()) return Invalid("certified key", key.status());
  if (key->TypeName() != plain) return Invalid("certified key type mismatch");

  Certificate cert(*std::move(key));
  cert.type_name = std::string(type_name);
  cert.nonce = ToVector(nonce);
  ASSIGN_OR_RETURN(cert.serial, Field(r.ReadUint64(), "serial"));
  ASSIGN_OR_RETURN(uint32_t type, Field(r.ReadUint32(), "type"));
  if (type != static_cast<uint32_t>(CertType::kUser) &&
      type != static_cast<uint32_t>(CertType::kHost)) {
    return Invalid(
        absl::StrCat("type ", type, " is neither user (1) nor host (2)"));
  }
  cert.type = static_cast<CertType>(type);
  ASSIGN_OR_RETURN(std::string_view key_id, Field(r.ReadCString(), "key id"));
  cert.key_id = std::string(key_id);
  ASSIGN_OR_RETURN(Bytes principals, Field(r.ReadString(), "principals"));
  ASSIGN_OR_RETURN(cert.principals, ParsePrincipals(principals));
  ASSIGN_OR_RETURN(cert.valid_after, Field(r.ReadUint64(), "valid after"));
  ASSIGN_OR_RETURN(cert.valid_before, Field(r.ReadUint64(), "valid before"));
  ASSIGN_OR_RETURN(Bytes critical, Field(r.ReadString(), "critical options"));
  ASSIGN_OR_RETURN(cert.critical_options,
                   ParseOptions(critical, "critical option"));
  ASSIGN_OR_RETURN(Bytes extensions, Field(r.ReadString(), "extensions"));
  ASSIGN_OR_RETURN(cert.extensions, ParseOptions(extensions, "extension"));
  ASSIGN_OR_RETURN(Bytes reserved, Field(r.ReadString(), "reserved"));
  cert.reserved = ToVector(reserved);
  ASSIGN_OR_RETURN(Bytes sig_key,
                   Field(r.ReadString(kMaxKeyBlobLength), "signature key"));
  cert.signature_key_blob = ToVector(sig_key);
  cert.signed_length = r.position();
  ASSIGN_OR_RETURN(Bytes signature, Field(r.ReadString(), "signature"));
  absl::Status end = r.ExpectEnd();
  if (!end.ok()) return Invalid("after the signature", end);

  wire::Reader sr(signature);
  ASSIGN_OR_RETURN(
      std::string_view sig_alg,
      Field(sr.ReadCString(kMaxTypeNameLength), "signature algorithm"));
  RETURN_IF_ERROR(Field(sr.ReadString(), "signature").status());
  absl::Status sig_end = sr.ExpectEnd();
  if (!sig_end.ok()) return Invalid("signature", sig_end);
  ASSIGN_OR_RETURN(cert.signature_key, ParseSignatureKey(sig_key, sig_alg));
  cert.signature_algorithm = std::string(sig_alg);
  cert.signature = ToVector(signature);
  cert.blob = ToVector(blob);
  return cert;
}

absl::StatusOr<Certificate> Certificate::FromLine(std::string_view line) {
  auto fields = crypto::SplitKeyLine(line);
  if (!fields.ok()) return Invalid("certificate line", fields.status());
  const std::string_view type = fields->type;
  const std::string_view data = fields->data;
  if (PlainKeyTypeForCertType(type).empty()) {
    return Invalid(absl::StrCat(
        "line does not start with a supported certificate type: \"", Esc(type),
        "\""));
  }
  if (data.empty()) return Invalid("line has no certificate data");
  auto blob = crypto::Base64Decode(data);
  if (!blob.ok()) return Invalid("base64", blob.status());
  ASSIGN_OR_RETURN(Certificate cert, Parse(*blob));
  if (cert.type_name != type) {
    return Invalid(absl::StrCat("line says ", Str(type),
                                " but the certificate is ", cert.type_name));
  }
  return cert;
}

std::string Certificate::ToLine(std::string_view comment) const {
  std::string out = type_name;
  out.push_back(' ');
  out += crypto::Base64Encode(blob);
  if (!comment.empty()) {
    out.push_back(' ');
    out.append(comment);
  }
  return out;
}

Bytes Certificate::SignedData() const {
  return Bytes(blob).subspan(0, std::min(signed_length, blob.size()));
}

std::string Certificate::CaFingerprint() const {
  return FingerprintOfBlob(signature_key_blob);
}

std::vector<uint8_t> Certificate::EncodeToBeSigned() const {
  wire::Writer w;
  w.String(type_name).String(nonce);
  // The certified key's fields are its plain blob without the type name.
  wire::Reader kr(key.Blob());
  (void)kr.ReadString();
  w.Raw(kr.Rest());
  w.Uint64(serial).Uint32(static_cast<uint32_t>(type)).String(key_id);
  size_t mark = w.BeginLength();
  for (const std::string& p : principals) w.String(p);
  w.FinishLength(mark);
  w.Uint64(valid_after).Uint64(valid_before);
  WriteOptions(w, critical_options);
  WriteOptions(w, extensions);
  w.String(reserved).String(signature_key_blob);
  return w.Take();
}

std::vector<uint8_t> Certificate::Encode() const {
  std::vector<uint8_t> out = EncodeToBeSigned();
  wire::Writer w(&out);
  w.String(signature);
  return out;
}

const CertOption* Certificate::FindCriticalOption(std::string_view name) const {
  for (const CertOption& o : critical_options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

const CertOption* Certificate::FindExtension(std::string_view name) const {
  for (const CertOption& o : extensions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

}  // namespace sallyport::ssh::cert
