// The ephemeral key agreement of each kex method we implement, for both
// roles, producing K already encoded as the exchange hash and key derivation
// use it:
//  - curve25519-sha256(@libssh.org) (RFC 8731) and ecdh-sha2-nistp256
//    (RFC 5656): Q_C / Q_S are the public values, K is an mpint;
//  - mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex): the client's
//    C_INIT is an ML-KEM-768 encapsulation key (1184) ‖ X25519 public value
//    (32), the server's S_REPLY the ML-KEM ciphertext (1088) ‖ X25519 public
//    value (32); K = SHA-256(ML-KEM shared secret ‖ X25519 shared secret),
//    encoded as a string.
// The messages are the ECDH ones (numbers 30 and 31) for every method.
#ifndef SALLYPORT_SSH_TRANSPORT_KEX_AGREEMENT_H_
#define SALLYPORT_SSH_TRANSPORT_KEX_AGREEMENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret_bytes.h"
#include "ssh/crypto/key_agreement.h"
#include "ssh/crypto/mlkem768.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::transport {

inline constexpr char kMlKem768X25519[] = "mlkem768x25519-sha256";

// Upper bounds of the client's and the server's public values over all
// methods (the hybrid's 1216 and 1120 bytes); each method then requires its
// exact length.
inline constexpr size_t kMaxKexClientValue = 1216;
inline constexpr size_t kMaxKexServerValue = 1120;

class KexAgreement {
 public:
  // Client: a fresh ephemeral for `kex`; client_value() is Q_C / C_INIT.
  static absl::StatusOr<std::unique_ptr<KexAgreement>> StartClient(
      std::string_view kex);

  const std::vector<uint8_t>& client_value() const { return client_value_; }

  // Client: the encoded K from the server's Q_S / S_REPLY. Refuses
  // (kInvalidArgument) a value of the wrong length or a failed agreement.
  absl::StatusOr<base::SecretBytes> ClientFinish(
      wire::Bytes server_value) const;

  struct ServerResult {
    std::vector<uint8_t> server_value;  // Q_S / S_REPLY
    base::SecretBytes encoded_k;
  };
  // Server: answers the client's Q_C / C_INIT with fresh ephemerals. Refuses
  // (kInvalidArgument) a value of the wrong length, an ML-KEM key failing
  // the FIPS 203 §7.2 modulus check, or a failed X25519/ECDH agreement.
  static absl::StatusOr<ServerResult> ServerRespond(std::string_view kex,
                                                    wire::Bytes client_value);

 private:
  KexAgreement() = default;
  bool hybrid_ = false;
  std::unique_ptr<crypto::KeyAgreement> ecdh_;
  std::optional<crypto::mlkem768::KeyPair> mlkem_;
  std::vector<uint8_t> client_value_;
};

// K as an mpint (RFC 4253 §8) from unsigned big-endian bytes.
base::SecretBytes EncodeMpintK(const base::SecretBytes& secret);

}  // namespace sallyport::ssh::transport

#endif  // SALLYPORT_SSH_TRANSPORT_KEX_AGREEMENT_H_
