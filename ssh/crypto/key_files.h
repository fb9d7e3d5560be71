// Public key files: authorized_keys without options, .pub files, and
// known_hosts-style lines ("pattern type base64 [comment]"). Private keys are
// loaded by PrivateKey::LoadFile.
#ifndef SALLYPORT_SSH_CRYPTO_KEY_FILES_H_
#define SALLYPORT_SSH_CRYPTO_KEY_FILES_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ssh::crypto {

enum class KeyFileFormat {
  // "type base64 [comment]" lines (authorized_keys without options, .pub).
  // A line with key options ("from=...") is refused, never read as a key
  // without its restrictions.
  kAuthorizedKeys,
  // The same, or with one leading host pattern (known_hosts, CA lists).
  kKnownHosts,
};

// Parses public key lines; blank lines and "#" comments are skipped.
// kInvalidArgument, naming `source` and the line number, for a line that
// does not parse.
absl::StatusOr<std::vector<PublicKey>> ParsePublicKeys(
    std::string_view text, std::string_view source,
    KeyFileFormat format = KeyFileFormat::kKnownHosts);

// ParsePublicKeys over the file at `path`. Read errors as
// base::ReadTextFile; with `require_one`, kInvalidArgument when the file
// holds no key.
absl::StatusOr<std::vector<PublicKey>> LoadPublicKeys(
    const std::string& path, KeyFileFormat format = KeyFileFormat::kKnownHosts,
    bool require_one = true);

}  // namespace sallyport::ssh::crypto

#endif  // SALLYPORT_SSH_CRYPTO_KEY_FILES_H_
