// Password hashing for the CA's login (SECURITY.md "Authentication"): scrypt
// through OpenSSL 3's EVP_KDF "SCRYPT", a fresh 16-byte salt per hash, and an
// encoded string that carries its own parameters (PHC string format):
//
//   $scrypt$ln=15,r=8,p=1$<salt, base64 without padding>$<32-byte hash, same>
//
// Verification compares in constant time. Whenever there is nothing real to
// verify against (unknown user, no password set, malformed stored hash, empty
// password) the hasher verifies against a fixed dummy hash with the current
// parameters instead, so every failure path costs one full scrypt.
#ifndef SALLYPORT_CA_PASSWORD_HASH_H_
#define SALLYPORT_CA_PASSWORD_HASH_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/secret_bytes.h"

namespace sallyport::ca {

// The longest password the CA takes (Login, CreateUser, SetPassword):
// longer ones are refused before any hashing.
inline constexpr size_t kMaxPasswordBytes = 1024;
// The shortest password an admin may set (CreateUser, SetPassword, init):
// NIST SP 800-63B's minimum for a chosen secret.
inline constexpr size_t kMinPasswordBytes = 8;

// The policy for a password being set (not for a login, which only
// compares): kMinPasswordBytes..kMaxPasswordBytes of UTF-8 without control
// characters, not only spaces. kInvalidArgument saying which rule failed
// (never the password).
absl::Status CheckNewPassword(std::string_view password);

struct ScryptParams {
  int log_n = 15;  // N = 2^log_n; 10..20
  int r = 8;       // 1..32
  int p = 1;       // 1..16

  // kInvalidArgument outside the ranges above.
  absl::Status Validate() const;
  bool operator==(const ScryptParams&) const = default;
};

// Parts of an encoded hash.
struct ParsedPasswordHash {
  ScryptParams params;
  std::string salt;  // raw bytes
  std::string hash;  // raw bytes
};

// Parses "$scrypt$ln=..,r=..,p=..$salt$hash". kInvalidArgument for anything
// else, including parameters outside ScryptParams' ranges (a stored hash
// must not make us allocate gigabytes), a salt under 8 bytes or a hash
// under 16 bytes.
absl::StatusOr<ParsedPasswordHash> ParsePasswordHash(std::string_view encoded);

class PasswordHasher {
 public:
  // Validates the parameters and computes the dummy hash (one scrypt).
  static absl::StatusOr<std::unique_ptr<PasswordHasher>> Create(
      ScryptParams params);

  // A new encoded hash of `password` with a fresh salt. kInvalidArgument
  // for an empty password; kInternal when OpenSSL fails.
  absl::StatusOr<std::string> Hash(const base::SecretBytes& password) const;

  // True only when `password` is non-empty and matches `encoded`. When
  // `encoded` is unset (unknown user), empty or malformed, or the password
  // is empty, the dummy hash is verified instead and the answer is false.
  bool Verify(const base::SecretBytes& password,
              std::optional<std::string_view> encoded) const;

  const ScryptParams& params() const { return params_; }
  // Number of scrypt derivations done by Verify (for tests that prove each
  // failure path does the same work).
  int64_t verify_derivations() const { return verify_derivations_.load(); }

 private:
  PasswordHasher(ScryptParams params, std::string dummy)
      : params_(params), dummy_(std::move(dummy)) {}
  bool VerifyParsed(const base::SecretBytes& password,
                    const ParsedPasswordHash& parsed) const;

  ScryptParams params_;
  std::string dummy_;  // encoded hash of a random password nobody knows
  mutable std::atomic<int64_t> verify_derivations_{0};
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_PASSWORD_HASH_H_
