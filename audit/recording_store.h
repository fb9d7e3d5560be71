// The CA side of session recordings: conversions between the recording
// protos (proto/audit.proto) and the Store's rows. Only the CA links this
// (DESIGN.md §3: audit -> storage for the CA-side writer and reader only).
#ifndef SALLYPORT_AUDIT_RECORDING_STORE_H_
#define SALLYPORT_AUDIT_RECORDING_STORE_H_

#include "absl/status/statusor.h"
#include "audit/recording_record.h"
#include "proto/audit.pb.h"
#include "storage/records.h"

namespace sallyport::audit {

absl::StatusOr<storage::SessionRecord> ToStoreRecord(
    const v1::RecordingRecord& record);
// The same, moving the record's strings (its data) into the row.
absl::StatusOr<storage::SessionRecord> ToStoreRecord(
    v1::RecordingRecord&& record);
// kDataLoss when the row holds fields no record produces.
absl::StatusOr<v1::RecordingRecord> FromStoreRecord(
    const storage::SessionRecord& row);

v1::SessionStatus ToProtoStatus(storage::SessionStatus status);
v1::RecordingSession ToProtoSession(const storage::Session& session);

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_RECORDING_STORE_H_
