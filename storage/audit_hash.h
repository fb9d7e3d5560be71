// The audit log's hash chain (DESIGN.md §9): each event's hash covers its
// content and the previous event's hash, so deleting, reordering or editing
// any event breaks every later hash.
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
#ifndef SALLYPORT_STORAGE_AUDIT_HASH_H_
#define SALLYPORT_STORAGE_AUDIT_HASH_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/records.h"

namespace sallyport::storage {

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

}  // namespace sallyport::storage

#endif  // SALLYPORT_STORAGE_AUDIT_HASH_H_
