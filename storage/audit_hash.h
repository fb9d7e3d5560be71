// The audit hash chain now lives in //audit:audit_hash (audit/audit_hash.h);
// this header keeps the storage:: names for the Store and its tests.
#ifndef SALLYPORT_STORAGE_AUDIT_HASH_H_
#define SALLYPORT_STORAGE_AUDIT_HASH_H_

#include "audit/audit_hash.h"
#include "storage/records.h"

namespace sallyport::storage {

using audit::AuditCanonicalEncoding;
using audit::AuditEventHash;
using audit::Sha256Hex;
using audit::VerifyAuditChain;

}  // namespace sallyport::storage

#endif  // SALLYPORT_STORAGE_AUDIT_HASH_H_
