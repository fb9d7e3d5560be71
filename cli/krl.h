// OpenSSH key revocation lists (OpenSSH PROTOCOL.krl, format version 1),
// written for `spctl krl export`: hosts reached directly load the file with
// `RevokedKeys` in sshd_config; `ssh-keygen -Q -f FILE` checks keys
// against it.
#ifndef SALLYPORT_CLI_KRL_H_
#define SALLYPORT_CLI_KRL_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/ca.pb.h"

namespace sallyport::cli {

// Most revoked entries (serials + keys) one KRL holds; more is an error,
// never a silently shorter list.
inline constexpr size_t kMaxKrlEntries = 1'000'000;

struct KrlContents {
  // SSH wire blobs of the CA keys whose certificates the serials name (our
  // serials are unique across the CA's keys, so each key gets the list).
  std::vector<std::vector<uint8_t>> ca_keys;
  std::vector<uint64_t> serials;
  // SHA-256 of revoked public key blobs.
  std::vector<std::array<uint8_t, 32>> key_sha256;
  uint64_t version = 0;
  absl::Time generated = absl::UnixEpoch();
  std::string comment;
};

// The KRL bytes: header, then one certificates section per CA key with
// the serials sorted and deduplicated, then one SHA-256 fingerprint section
// with the hashes sorted. kInvalidArgument when there are more than
// `max_entries` entries or serials but no CA key.
absl::StatusOr<std::string> BuildKrl(const KrlContents& contents,
                                     size_t max_entries = kMaxKrlEntries);

// Adds what the CA listed (ListRevocations) to `contents`: each serial to
// `serials`, each revoked key's SHA-256 to `key_sha256`, and the highest
// revocation id as `version` (ids only grow, so a newer list has a higher
// version). `sp config` and `spctl krl export` both make their KRL with it.
// kInvalidArgument "the CA sent revocation N with a key fingerprint that is
// not SHA256:<base64>", and `contents` is then partly filled.
absl::Status AddRevocations(
    const std::vector<::sallyport::ca::v1::Revocation>& revocations,
    KrlContents* contents);

// "SHA256:<unpadded base64>" → the 32 digest bytes. kInvalidArgument.
absl::StatusOr<std::array<uint8_t, 32>> ParseSha256Fingerprint(
    std::string_view text);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_KRL_H_
