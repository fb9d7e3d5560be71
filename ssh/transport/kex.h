// Algorithm negotiation (RFC 4253 §7.1), the exchange hash for ECDH,
// curve25519 and mlkem768x25519 (RFC 5656 §4, RFC 8731 §3,
// draft-ietf-sshm-mlkem-hybrid-kex) and key derivation (RFC 4253 §7.2).
#ifndef SALLYPORT_SSH_TRANSPORT_KEX_H_
#define SALLYPORT_SSH_TRANSPORT_KEX_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/secret_bytes.h"
#include "ssh/crypto/hash.h"
#include "ssh/transport/messages.h"

namespace sallyport::ssh::transport {

// Pseudo-algorithms that only signal features (never chosen as kex).
inline constexpr char kExtInfoClient[] = "ext-info-c";
inline constexpr char kExtInfoServer[] = "ext-info-s";
inline constexpr char kStrictKexClient[] = "kex-strict-c-v00@openssh.com";
inline constexpr char kStrictKexServer[] = "kex-strict-s-v00@openssh.com";

// Kex methods we implement, in preference order.
const std::vector<std::string>& SupportedKexAlgorithms();
bool IsPseudoKexAlgorithm(std::string_view name);

struct Algorithms {
  std::string kex;
  std::string host_key;
  std::string cipher_c2s;
  std::string cipher_s2c;
  std::string mac_c2s;  // empty for AEAD ciphers
  std::string mac_s2c;
};

// RFC 4253 §7.1: for each list the first client algorithm the server also
// lists. kFailedPrecondition naming the list when nothing matches.
// `supported_ciphers` restricts ciphers to what our side can build.
absl::StatusOr<Algorithms> Negotiate(const KexInitMsg& client,
                                     const KexInitMsg& server);

// The signature algorithm that goes with a negotiated host key algorithm
// ("ssh-ed25519-cert-v01@openssh.com" → "ssh-ed25519",
// "rsa-sha2-512-cert-v01@openssh.com" → "rsa-sha2-512"); empty if unknown.
std::string SignatureAlgorithmForHostKey(std::string_view host_key_algorithm);

// Hash used by a kex method (SHA-256 for all we implement).
crypto::HashAlgorithm KexHash(std::string_view kex);

// H = HASH(string V_C, string V_S, string I_C, string I_S, string K_S,
//          string Q_C, string Q_S, K); `encoded_k` is K as the kex method
// encodes it (an mpint for ECDH and curve25519, a string for
// mlkem768x25519-sha256; see KexAgreement).
std::vector<uint8_t> ExchangeHash(crypto::HashAlgorithm hash,
                                  std::string_view v_c, std::string_view v_s,
                                  wire::Bytes i_c, wire::Bytes i_s,
                                  wire::Bytes k_s, wire::Bytes q_c,
                                  wire::Bytes q_s,
                                  const base::SecretBytes& encoded_k);

// RFC 4253 §7.2: HASH(K || H || letter || session_id), extended with
// HASH(K || H || K1 || ...) to `length` bytes, K encoded as in
// ExchangeHash.
base::SecretBytes DeriveKey(crypto::HashAlgorithm hash,
                            const base::SecretBytes& encoded_k, wire::Bytes h,
                            char letter, wire::Bytes session_id, size_t length);

}  // namespace sallyport::ssh::transport

#endif  // SALLYPORT_SSH_TRANSPORT_KEX_H_
