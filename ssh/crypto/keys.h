// SSH public and private keys: Ed25519, ECDSA P-256 and RSA (RSA verify
// only, ≥ 2048 bits), their wire blobs (RFC 4253 §6.6, RFC 5656, RFC 8709),
// signatures (RFC 8332 rsa-sha2-256/512; never ssh-rsa/SHA-1), file formats
// (authorized_keys lines, openssh-key-v1, PKCS#8 PEM) and SHA-256
// fingerprints exactly as `ssh-keygen -l` prints them.
//
// Certificates (*-cert-v01@openssh.com) are not PublicKeys: see //ssh/cert.
#ifndef SALLYPORT_SSH_CRYPTO_KEYS_H_
#define SALLYPORT_SSH_CRYPTO_KEYS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/openssl_handles.h"
#include "base/secret_bytes.h"
#include "ssh/crypto/hash.h"

namespace sallyport::ssh::crypto {

enum class KeyType { kEd25519, kEcdsaP256, kRsa };

// Minimum RSA modulus size we accept anywhere.
inline constexpr int kMinRsaBits = 2048;

class PublicKey {
 public:
  // Parses a public key blob in SSH wire format: string type name, then the
  // type's fields; no trailing bytes. Refuses unknown types, certificate
  // types, Ed25519 keys that are not 32 bytes, ECDSA points that are not
  // uncompressed 65-byte points on P-256 (or whose curve name is not
  // "nistp256"), RSA keys under 2048 bits. kInvalidArgument on any of it.
  static absl::StatusOr<PublicKey> FromBlob(Bytes blob);
  // Parses "type base64 [comment]" (an authorized_keys or .pub line without
  // options). The type name must match the blob's.
  static absl::StatusOr<PublicKey> FromAuthorizedKeysLine(
      std::string_view line);

  KeyType type() const { return type_; }
  // "ssh-ed25519", "ecdsa-sha2-nistp256" or "ssh-rsa".
  std::string_view TypeName() const;
  // The canonical wire blob.
  const std::vector<uint8_t>& Blob() const { return blob_; }
  // "SHA256:" + unpadded base64 of SHA-256(blob), as `ssh-keygen -l`.
  std::string FingerprintSha256() const;
  // "type base64" (+ " comment" when non-empty).
  std::string ToAuthorizedKeysLine(std::string_view comment = "") const;
  // Key size in bits as `ssh-keygen -l` reports it (256 for Ed25519 and
  // P-256, the modulus size for RSA).
  int Bits() const;

  // Verifies an SSH signature blob (string algorithm, string signature) over
  // `data`. `allowed_algorithm` if non-empty must equal the blob's algorithm
  // name. Algorithms per key type: ssh-ed25519; ecdsa-sha2-nistp256;
  // rsa-sha2-256 / rsa-sha2-512 (ssh-rsa is refused). Fails closed: any
  // error is kUnauthenticated (bad signature) or kInvalidArgument
  // (malformed blob), never OK.
  absl::Status Verify(Bytes data, Bytes signature_blob,
                      std::string_view allowed_algorithm = "") const;

  bool operator==(const PublicKey& other) const { return blob_ == other.blob_; }
  bool operator!=(const PublicKey& other) const { return !(*this == other); }

  // The OpenSSL key (for callers that need it, e.g. TLS).
  EVP_PKEY* pkey() const { return pkey_.get(); }

 private:
  friend class PrivateKey;
  PublicKey(KeyType type, std::vector<uint8_t> blob,
            std::shared_ptr<EVP_PKEY> pkey)
      : type_(type), blob_(std::move(blob)), pkey_(std::move(pkey)) {}
  KeyType type_;
  std::vector<uint8_t> blob_;
  std::shared_ptr<EVP_PKEY> pkey_;
};

class PrivateKey {
 public:
  static absl::StatusOr<PrivateKey> GenerateEd25519();
  static absl::StatusOr<PrivateKey> GenerateEcdsaP256();
  // Parses "-----BEGIN OPENSSH PRIVATE KEY-----" (openssh-key-v1,
  // unencrypted: cipher "none", kdf "none", one key, check ints equal) or a
  // PKCS#8 / traditional PEM private key. Ed25519 and ECDSA P-256 only
  // (RSA private keys are refused: we never sign with RSA). Encrypted keys
  // are refused with a clear kInvalidArgument.
  static absl::StatusOr<PrivateKey> Parse(std::string_view text);
  // Reads and parses a file.
  static absl::StatusOr<PrivateKey> LoadFile(const std::string& path);

  KeyType type() const { return public_key_.type(); }
  const PublicKey& public_key() const { return public_key_; }

  // Signs `data`, returning an SSH signature blob (string algorithm, string
  // signature). Ed25519 → "ssh-ed25519"; ECDSA → "ecdsa-sha2-nistp256"
  // (mpint r, mpint s inside).
  absl::StatusOr<std::vector<uint8_t>> Sign(Bytes data) const;
  // The signature algorithm name Sign uses.
  std::string_view SignatureAlgorithm() const;

  // openssh-key-v1 text (unencrypted), which `ssh` and `ssh-keygen` read;
  // wiped when the result goes away.
  absl::StatusOr<base::SecretBytes> ToOpenSshFormat(
      std::string_view comment = "") const;
  // Writes ToOpenSshFormat to `path` with mode 0600 (created or truncated).
  absl::Status WriteFile(const std::string& path,
                         std::string_view comment = "") const;

  EVP_PKEY* pkey() const { return pkey_.get(); }

 private:
  // Ed25519: a signing context set up for pkey_ at the first Sign
  // (EVP_DigestSignInit fetches the algorithm and sets up the key, ~2 us);
  // later Signs copy it (~0.1 us) and never change it, so copies of this
  // key and concurrent Signs share it. Not used for ECDSA (its context
  // holds a digest state).
  struct SignTemplate;

  PrivateKey(PublicKey pub, std::shared_ptr<EVP_PKEY> pkey);
  // A context ready for EVP_DigestSign: a copy of the template, else set up
  // now. Null on an OpenSSL error.
  base::EvpMdCtxPtr NewSignContext() const;

  PublicKey public_key_;
  std::shared_ptr<EVP_PKEY> pkey_;
  std::shared_ptr<SignTemplate> sign_template_;  // null for ECDSA
};

// The fields of a "type base64 [comment]" line (.pub and -cert.pub files,
// authorized_keys lines without options). Surrounding spaces, tabs and a
// trailing CR/LF are trimmed; `data` may be empty (callers refuse that).
// kInvalidArgument for an empty line or one with NUL, CR or LF inside.
struct KeyLine {
  std::string_view type;
  std::string_view data;
  std::string_view comment;
};
absl::StatusOr<KeyLine> SplitKeyLine(std::string_view line);

// Base64 (standard alphabet, with padding) used by key files.
std::string Base64Encode(Bytes data);
// Decodes standard base64 with or without padding; refuses other characters.
absl::StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text);

}  // namespace sallyport::ssh::crypto

#endif  // SALLYPORT_SSH_CRYPTO_KEYS_H_
