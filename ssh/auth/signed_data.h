// The data a publickey user authentication signature covers (RFC 4252 §7):
// written by a client, checked by a server, and read back by whoever checks
// such a signature later (the CA, for a gateway's proof that a user logged
// in to it: proto/gateway.proto IssueSessionCertificateRequest).
#ifndef SALLYPORT_SSH_AUTH_SIGNED_DATA_H_
#define SALLYPORT_SSH_AUTH_SIGNED_DATA_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::auth {

using wire::Bytes;

// The longest user name a userauth request may carry: room for the
// gateway's LOGIN+HOST (a login of up to 256 bytes, '+', a host name of
// up to 253). Longer, or with a NUL: disconnect with ILLEGAL_USER_NAME.
inline constexpr uint32_t kMaxUserNameBytes = 1024;
// The other fields of a userauth request, at most (the server refuses
// longer ones, and so does ParseSignedData).
inline constexpr uint32_t kMaxServiceNameBytes = 256;
inline constexpr uint32_t kMaxKeyAlgorithmBytes = 128;
inline constexpr uint32_t kMaxKeyBlobBytes = 16 * 1024;
inline constexpr uint32_t kMaxSignatureBytes = 4096;
// The session identifier is an exchange hash: at most SHA-512's 64 bytes.
inline constexpr uint32_t kMaxSessionIdBytes = 64;
// The longest signed data: every field at its limit, with its length.
inline constexpr size_t kMaxSignedDataBytes =
    4 + kMaxSessionIdBytes + 1 + 4 + kMaxUserNameBytes + 4 +
    kMaxServiceNameBytes + 4 + 9 /* "publickey" */ + 1 + 4 +
    kMaxKeyAlgorithmBytes + 4 + kMaxKeyBlobBytes;

// The data a publickey signature covers: string session_identifier, byte
// SSH_MSG_USERAUTH_REQUEST, string user, string service, string
// "publickey", boolean TRUE, string algorithm, string key blob.
std::vector<uint8_t> SignedData(Bytes session_id, std::string_view user,
                                std::string_view service,
                                std::string_view algorithm, Bytes blob);

// SignedData's fields, read back; views into the parsed bytes.
struct SignedUserauthRequest {
  Bytes session_id;
  std::string_view user;
  std::string_view service;
  std::string_view algorithm;
  Bytes key_blob;
};

// Reads what SignedData writes, strictly: at most kMaxSignedDataBytes; a
// session identifier of 1..kMaxSessionIdBytes bytes; message number
// SSH_MSG_USERAUTH_REQUEST; user, service and algorithm without NUL and
// within their limits; method exactly "publickey"; the boolean exactly 1;
// a non-empty key blob of at most kMaxKeyBlobBytes; no trailing byte.
// kInvalidArgument saying which field is wrong. Nothing is checked about
// the key or a signature.
absl::StatusOr<SignedUserauthRequest> ParseSignedData(Bytes data);

// The key blob type a userauth algorithm name requires ("rsa-sha2-256" →
// "ssh-rsa", "rsa-sha2-512-cert-v01@openssh.com" →
// "ssh-rsa-cert-v01@openssh.com", any other name itself).
std::string KeyBlobTypeFor(std::string_view algorithm);

// Verifies `signature` (an SSH signature blob) over `data` with `key`, the
// key of a userauth request naming `algorithm`: the signature's algorithm
// must be the one `algorithm` implies ("ssh-ed25519-cert-v01@openssh.com"
// → "ssh-ed25519", "rsa-sha2-256" → "rsa-sha2-256"). kUnauthenticated for
// an unknown algorithm or a signature that does not verify,
// kInvalidArgument for a malformed one; never OK on an error.
absl::Status VerifyUserauthSignature(Bytes data, Bytes signature,
                                     std::string_view algorithm,
                                     const crypto::PublicKey& key);

}  // namespace sallyport::ssh::auth

#endif  // SALLYPORT_SSH_AUTH_SIGNED_DATA_H_
