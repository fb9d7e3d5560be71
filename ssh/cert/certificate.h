// OpenSSH certificates (*-cert-v01@openssh.com, OpenSSH PROTOCOL.certkeys):
// the parsed form, the strict parser and the encoder.
//
// Parsing only checks structure. Whether a certificate may be used (trusted
// CA, signature, validity, principal, options) is decided by
// VerifyCertificate in ssh/cert/verify.h.
#ifndef SALLYPORT_SSH_CERT_CERTIFICATE_H_
#define SALLYPORT_SSH_CERT_CERTIFICATE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::cert {

using wire::Bytes;

// Certificate type names we parse.
inline constexpr std::string_view kEd25519CertName =
    "ssh-ed25519-cert-v01@openssh.com";
inline constexpr std::string_view kEcdsaP256CertName =
    "ecdsa-sha2-nistp256-cert-v01@openssh.com";
inline constexpr std::string_view kRsaCertName = "ssh-rsa-cert-v01@openssh.com";

// The "valid before" value meaning "no end".
inline constexpr uint64_t kForever = 0xffffffffffffffffULL;
// More principals than this are refused (OpenSSH SSHKEY_CERT_MAX_PRINCIPALS).
inline constexpr size_t kMaxPrincipals = 256;

// The certificate's uint32 type field.
enum class CertType : uint32_t { kUser = 1, kHost = 2 };

// "user", "host", or "unknown" (as `ssh-keygen -L` prints it).
std::string_view CertTypeName(CertType type);

// Known critical options and extensions.
inline constexpr std::string_view kForceCommand = "force-command";
inline constexpr std::string_view kSourceAddress = "source-address";
inline constexpr std::string_view kVerifyRequired = "verify-required";
inline constexpr std::string_view kPermitX11Forwarding =
    "permit-X11-forwarding";
inline constexpr std::string_view kPermitAgentForwarding =
    "permit-agent-forwarding";
inline constexpr std::string_view kPermitPortForwarding =
    "permit-port-forwarding";
inline constexpr std::string_view kPermitPty = "permit-pty";
inline constexpr std::string_view kPermitUserRc = "permit-user-rc";

// One critical option or extension. `data` is the content of the tuple's
// data string: empty for a flag, otherwise an SSH string holding the value
// (so the value "a" is stored as 00000001 61; on the wire the tuple's data
// is then 00000005 00000001 61).
struct CertOption {
  std::string name;
  std::vector<uint8_t> data;

  // A flag option (empty data).
  static CertOption Flag(std::string_view name);
  // An option carrying `value`, wrapped as one SSH string.
  static CertOption WithValue(std::string_view name, std::string_view value);

  // The wrapped value. kInvalidArgument unless `data` is exactly one string
  // without NUL bytes.
  absl::StatusOr<std::string> Value() const;

  bool operator==(const CertOption& other) const = default;
};

// A parsed certificate. Certificate::Parse fills every field; the public
// members may be changed afterwards (tests do, to build bad certificates),
// but VerifyCertificate refuses a certificate whose fields no longer encode
// to `blob`.
struct Certificate {
  // Certificates come from Parse or SignCertificate; this constructor exists
  // because PublicKey has no empty state.
  explicit Certificate(crypto::PublicKey certified_key)
      : key(std::move(certified_key)) {}

  // Parses a certificate blob (wire format, as in a -cert.pub file or an
  // SSH_MSG_USERAUTH_REQUEST) for the types kEd25519CertName,
  // kEcdsaP256CertName and kRsaCertName. The certified key goes through
  // crypto::PublicKey::FromBlob, so every key check applies (Ed25519 key of
  // 32 bytes; P-256 point uncompressed and on the curve, curve "nistp256";
  // RSA ≥ 2048 bits). kInvalidArgument on: a missing field or a trailing
  // byte (in the blob and inside every packed field); an unknown type name;
  // a type value other than 1 or 2; more than kMaxPrincipals principals; a
  // principal or key id containing NUL; options or extensions whose names
  // are empty, contain NUL, or are not strictly increasing (unsorted or
  // duplicated); option data that is neither empty nor exactly one string
  // (e.g. trailing bytes after the value); a signature key that is itself a
  // certificate or is malformed; a signature blob that is malformed or
  // whose algorithm is not one of ssh-ed25519, ecdsa-sha2-nistp256/384/521,
  // rsa-sha2-256/512 (never ssh-rsa) or does not fit the CA key type.
  static absl::StatusOr<Certificate> Parse(Bytes blob);

  // Parses a "-cert.pub" line: "type base64 [comment]". The type must equal
  // the blob's type name. kInvalidArgument on any error.
  static absl::StatusOr<Certificate> FromLine(std::string_view line);

  // "type base64" (+ " comment" when non-empty), from `blob`.
  std::string ToLine(std::string_view comment = "") const;

  // The certificate type name, e.g. kEd25519CertName.
  std::string type_name;
  std::vector<uint8_t> nonce;
  // The certified (plain) public key.
  crypto::PublicKey key;
  uint64_t serial = 0;
  CertType type = CertType::kUser;
  // Free-form text naming the holder; shows up in logs.
  std::string key_id;
  std::vector<std::string> principals;
  // Seconds since the epoch: valid while valid_after <= now < valid_before.
  uint64_t valid_after = 0;
  uint64_t valid_before = kForever;
  // In wire order (strictly increasing names when parsed).
  std::vector<CertOption> critical_options;
  std::vector<CertOption> extensions;
  std::vector<uint8_t> reserved;
  // The CA public key blob exactly as in the certificate.
  std::vector<uint8_t> signature_key_blob;
  // The CA key, when it is a type crypto::PublicKey supports (Ed25519,
  // P-256, RSA); empty for P-384/P-521 CAs, which we cannot use.
  std::optional<crypto::PublicKey> signature_key;
  // The algorithm named in the signature blob, e.g. "ssh-ed25519".
  std::string signature_algorithm;
  // The signature blob: string algorithm, string signature.
  std::vector<uint8_t> signature;
  // Number of leading bytes of `blob` that the signature covers (everything
  // up to and including the signature key).
  size_t signed_length = 0;
  // The whole certificate blob.
  std::vector<uint8_t> blob;

  // The bytes the CA signed: the first signed_length bytes of `blob`.
  Bytes SignedData() const;
  // "SHA256:..." of signature_key_blob, as `ssh-keygen -l` prints it.
  std::string CaFingerprint() const;
  // "SHA256:..." of the certified key.
  std::string KeyFingerprint() const { return key.FingerprintSha256(); }

  // Encodes the fields (not `blob`) up to and including the signature key:
  // what a CA signs.
  std::vector<uint8_t> EncodeToBeSigned() const;
  // EncodeToBeSigned() followed by the signature string. Equal to `blob` for
  // an unmodified parsed certificate.
  std::vector<uint8_t> Encode() const;

  // The option or extension of that name, or nullptr.
  const CertOption* FindCriticalOption(std::string_view name) const;
  const CertOption* FindExtension(std::string_view name) const;
};

// The plain key type a certificate type certifies ("ssh-ed25519" for
// kEd25519CertName, ...), or empty for other names.
std::string_view PlainKeyTypeForCertType(std::string_view cert_type_name);
// The certificate type for a plain key type (inverse of the above).
std::string_view CertTypeForPlainKeyType(std::string_view plain_type_name);

// True for CA signature algorithms we accept: ssh-ed25519,
// ecdsa-sha2-nistp256/384/521, rsa-sha2-256, rsa-sha2-512.
bool IsAllowedCaSignatureAlgorithm(std::string_view algorithm);

// "SHA256:" + unpadded base64 of SHA-256(blob).
std::string FingerprintOfBlob(Bytes blob);

}  // namespace sallyport::ssh::cert

#endif  // SALLYPORT_SSH_CERT_CERTIFICATE_H_
