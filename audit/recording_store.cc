#include "audit/recording_store.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::audit {

namespace {

// ToStoreRecord of a record already validated.
absl::StatusOr<storage::SessionRecord> ConvertValid(
    const v1::RecordingRecord& record) {
  const RecordFields f = ToFields(record);
  storage::SessionRecord row;
  row.session_id = f.session_id;
  row.seq = f.seq;
  row.channel = f.channel_id;
  row.offset = absl::Microseconds(f.offset_us);
  std::optional<storage::SessionRecordKind> kind =
      storage::ParseSessionRecordKind(f.kind);
  std::optional<storage::RecordDirection> direction =
      storage::ParseRecordDirection(f.direction);
  if (!kind || !direction) {
    return absl::InvalidArgumentError("record kind or direction unknown");
  }
  row.kind = *kind;
  row.direction = *direction;
  row.stream = f.stream;
  row.name = f.name;
  row.summary = f.summary;
  row.value1 = f.value1;
  row.value2 = f.value2;
  row.data = f.data;
  row.hash = f.hash;
  return row;
}

}  // namespace

absl::StatusOr<storage::SessionRecord> ToStoreRecord(
    const v1::RecordingRecord& record) {
  RETURN_IF_ERROR(ValidateRecord(record));
  return ConvertValid(record);
}

absl::StatusOr<storage::SessionRecord> ToStoreRecord(
    v1::RecordingRecord&& record) {
  RETURN_IF_ERROR(ValidateRecord(record));
  if (!record.has_data()) return ConvertValid(record);
  // The data's bytes go straight into the row; the rest is converted from
  // the record without them.
  std::string data = std::move(*record.mutable_data()->mutable_bytes());
  record.mutable_data()->clear_bytes();
  ASSIGN_OR_RETURN(storage::SessionRecord row, ConvertValid(record));
  row.data = std::move(data);
  return row;
}

absl::StatusOr<v1::RecordingRecord> FromStoreRecord(
    const storage::SessionRecord& row) {
  RecordFields f;
  f.session_id = row.session_id;
  f.seq = row.seq;
  f.channel_id = row.channel;
  f.offset_us = absl::ToInt64Microseconds(row.offset);
  f.kind = std::string(storage::SessionRecordKindName(row.kind));
  f.direction = std::string(storage::RecordDirectionName(row.direction));
  f.stream = row.stream;
  f.name = row.name;
  f.summary = row.summary;
  f.value1 = row.value1;
  f.value2 = row.value2;
  f.data = row.data;
  f.hash = row.hash;
  absl::StatusOr<v1::RecordingRecord> record = FromFields(f);
  if (!record.ok()) {
    return absl::DataLossError(absl::StrCat("stored record ", row.seq, ": ",
                                            record.status().message()));
  }
  return record;
}

v1::SessionStatus ToProtoStatus(storage::SessionStatus status) {
  switch (status) {
    case storage::SessionStatus::kActive:
      return v1::SESSION_STATUS_ACTIVE;
    case storage::SessionStatus::kEnded:
      return v1::SESSION_STATUS_ENDED;
    case storage::SessionStatus::kFailed:
      return v1::SESSION_STATUS_FAILED;
    case storage::SessionStatus::kInterrupted:
      return v1::SESSION_STATUS_INTERRUPTED;
  }
  return v1::SESSION_STATUS_UNSPECIFIED;
}

v1::RecordingSession ToProtoSession(const storage::Session& s) {
  v1::RecordingSession out;
  out.set_session_id(s.id);
  out.set_user(s.user);
  out.set_login(s.login);
  out.set_host(s.host);
  out.set_gateway_id(s.gateway_id);
  out.set_started_at_us(absl::ToUnixMicros(s.started_at));
  out.set_ended_at_us(s.ended_at ? absl::ToUnixMicros(*s.ended_at) : 0);
  out.set_status(ToProtoStatus(s.status));
  out.set_bytes_input(s.BytesInSoFar());
  out.set_bytes_output(s.BytesOutSoFar());
  out.set_last_seq(s.last_seq);
  out.set_chain_head(s.chain_head);
  return out;
}

}  // namespace sallyport::audit
