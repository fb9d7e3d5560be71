// Private to //audit:recording_record: what recording_record.cc (the flat
// form, validation), recording_canonical.cc (the canonical bytes) and
// recording_chain.cc (the SHA-256 chain) share. Not part of the public API.
#ifndef SALLYPORT_AUDIT_RECORDING_RECORD_INTERNAL_H_
#define SALLYPORT_AUDIT_RECORDING_RECORD_INTERNAL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/audit.pb.h"

namespace sallyport::audit::recording_record_internal {

// The flat fields of a record (RecordFields without its hash) without
// copying its strings (they point into the record, or at constant names).
struct FieldsView {
  std::string_view session_id;
  uint64_t seq = 0;
  uint32_t channel_id = 0;
  int64_t offset_us = 0;
  std::string_view kind;
  std::string_view direction = "none";
  uint32_t stream = 0;
  std::string_view name;
  std::string_view summary;
  int64_t value1 = 0;
  int64_t value2 = 0;
  std::string_view data;
};

FieldsView ViewOf(const v1::RecordingRecord& r);

// Copies the fields FieldsView and RecordFields share (all of RecordFields
// but its hash) from one to the other: into a RecordFields the strings are
// copied, into a FieldsView they are viewed (`from` must outlive it).
template <typename From, typename To>
void CopySharedFields(const From& from, To& to) {
  to.session_id = from.session_id;
  to.seq = from.seq;
  to.channel_id = from.channel_id;
  to.offset_us = from.offset_us;
  to.kind = from.kind;
  to.direction = from.direction;
  to.stream = from.stream;
  to.name = from.name;
  to.summary = from.summary;
  to.value1 = from.value1;
  to.value2 = from.value2;
  to.data = from.data;
}

// Everything of the canonical bytes but the data's own bytes, which come
// last: canonical = head || f.data.
void AppendCanonicalHead(const FieldsView& f, std::string& out);
void AppendCanonical(const FieldsView& f, std::string& out);

}  // namespace sallyport::audit::recording_record_internal

#endif  // SALLYPORT_AUDIT_RECORDING_RECORD_INTERNAL_H_
