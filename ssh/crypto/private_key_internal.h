// What private_key.cc (the keys: generation, signing) and
// private_key_format.cc (the openssh-key-v1 and PEM files) share. Not part
// of the public API.
#ifndef SALLYPORT_SSH_CRYPTO_PRIVATE_KEY_INTERNAL_H_
#define SALLYPORT_SSH_CRYPTO_PRIVATE_KEY_INTERNAL_H_

#include <openssl/evp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/openssl_handles.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::crypto::private_key_internal {

// The kInvalidArgument for an RSA private key: we never sign with RSA.
absl::Status RsaPrivateKeyError();

// The SSH public key of an OpenSSL private key of a type we sign with
// (Ed25519, ECDSA P-256). kInvalidArgument for RSA, any other type and
// other curves.
absl::StatusOr<PublicKey> PublicKeyOf(EVP_PKEY* pkey);

// Full validation of an OpenSSL key pair: for EC this includes the range of
// d and the pairwise check Q == d*G. kInvalidArgument ("does not match its
// public key") when it fails.
absl::Status CheckKeyPair(EVP_PKEY* pkey);

// Reads the private half of an openssh-key-v1 key for `pub` from `r`: the
// per-type fields of OpenSSH's private key serialisation (PROTOCOL.key),
// which must match `pub` and each other. kInvalidArgument otherwise, for
// malformed fields and for RSA.
absl::StatusOr<base::EvpPkeyPtr> ParsePrivateFields(wire::Reader& r,
                                                    const PublicKey& pub);

// Writes those fields of `pkey` (Ed25519 or ECDSA P-256, whose public key
// is `pub`) to `w`. kInternal when OpenSSL does not give them out.
absl::Status WritePrivateFields(EVP_PKEY* pkey, const PublicKey& pub,
                                wire::Writer& w);

}  // namespace sallyport::ssh::crypto::private_key_internal

#endif  // SALLYPORT_SSH_CRYPTO_PRIVATE_KEY_INTERNAL_H_
