// The audit log's hash chain (DESIGN.md §9): each event's hash covers its
// content and the previous event's hash, so deleting, reordering or editing
// any event breaks every later hash. A leaf library (OpenSSL and Abseil
// only): the Store computes the chain with it and `spctl audit verify`
// checks it client-side without depending on //storage.
//
// Canonical encoding, version 1 (all integers big-endian):
//
//   str("sallyport.audit.v1")
//   uint64  seq
//   int64   time as microseconds since the Unix epoch
//   str(type) str(actor) str(payload_json) str(prev_hash)
//
// where str(x) = uint32 byte length of x, then the bytes of x, and prev_hash
// is the 64-character lowercase hex hash of event seq-1 (kAuditGenesisHash
// for seq 1). Length prefixes make the encoding unambiguous: no two
// different events encode to the same bytes. The payload is hashed exactly as
// stored; it is never re-serialised.
//
//   hash = lowercase hex of SHA-256(encoding)   (OpenSSL EVP)
#ifndef SALLYPORT_AUDIT_AUDIT_HASH_H_
#define SALLYPORT_AUDIT_AUDIT_HASH_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sallyport::audit {

// prev_hash of the first event: 64 '0' characters.
inline constexpr std::string_view kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// One event of the chain (the Store's storage::AuditEvent is this type).
struct AuditEvent {
  uint64_t seq = 0;  // 1, 2, 3, ... without gaps
  absl::Time time;   // the store's clock at append
  std::string type;
  std::string actor;
  std::string payload_json;
  std::string prev_hash;  // hash of event seq-1 (kAuditGenesisHash for 1)
  std::string hash;       // lowercase hex SHA-256 of the encoding above

  bool operator==(const AuditEvent&) const = default;
};

// Where the chain stands (storage::AuditHead).
struct AuditHead {
  uint64_t seq = 0;                                   // 0 when the log is empty
  std::string hash = std::string(kAuditGenesisHash);  // hash of event `seq`
};

// The version-1 encoding above. Time is truncated to microseconds.
std::string AuditCanonicalEncoding(uint64_t seq, absl::Time time,
                                   std::string_view type,
                                   std::string_view actor,
                                   std::string_view payload_json,
                                   std::string_view prev_hash);

// The hash of `event` computed from every field but event.hash.
// kInternal only if OpenSSL fails.
absl::StatusOr<std::string> AuditEventHash(const AuditEvent& event);

// Checks that `events` (ascending) continue the chain from `before` without
// gaps and that every hash is right. kDataLoss naming the first bad seq.
absl::Status VerifyAuditChain(const AuditHead& before,
                              const std::vector<AuditEvent>& events);

// Lowercase hex SHA-256 of `data` (join tokens are stored as this).
absl::StatusOr<std::string> Sha256Hex(std::string_view data);

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_AUDIT_HASH_H_
