// Session recording records (proto/audit.proto RecordingRecord): their
// canonical bytes, the SHA-256 chain over them, and the flat form the Store
// and the spool keep. Used by the gateway (recorder, spool), the CA (writer)
// and the reader behind `spctl sessions`.
//
// Canonical bytes, version 1 (integers big-endian; str(x) = uint32 length,
// then the bytes):
//
//   str("sallyport.recording.v1")
//   str(session_id) uint64 seq  uint32 channel_id  int64 offset_us
//   str(kind)       str(direction)  uint32 stream
//   str(name)       str(summary)    int64 value1  int64 value2
//   str(data)
//
// with the flat fields per kind (RecordFields below):
//   data            direction, stream=ssh_stream, data=bytes
//   request         direction, name=type, summary, data=raw (empty when
//                   the summary is exact, as in records made before raw)
//   window_change   value1=columns, value2=rows
//   channel_open    name=type, summary=destination
//   channel_close   value1=bytes_input, value2=bytes_output
//   stream_summary  direction, stream=ssh_stream, value1=total_bytes,
//                   value2=recorded_bytes, data=sha256 (32 raw bytes)
//   session_end     name=status ("ended", "failed", "interrupted"),
//                   summary=message
//   session_start   name=user, summary=host, data=login (UTF-8 text),
//                   value1=started_at_us; always seq 1, channel 0, offset 0
// Unused fields are empty/zero; kind and direction are the names
// "data", "request", "window_change", "channel_open", "channel_close",
// "stream_summary", "session_end", "session_start" and "none", "input",
// "output".
//
// The session's metadata (the Store's session row) is covered by the chain
// through its first and last records: the session_start record carries its
// user, login, host and start time, the session_end record its status and
// (start + offset) end time. SessionMetadataCheck compares them. Recordings
// made before session_start records existed start with another kind: their
// status and end are still compared with their session_end, their user,
// login, host and start are not covered.
//
//   hash(seq) = lowercase hex SHA-256(hash(seq-1) || canonical bytes)
//   hash(0)   = kRecordingGenesis (64 '0' characters), hashed as text.
#ifndef SALLYPORT_AUDIT_RECORDING_RECORD_H_
#define SALLYPORT_AUDIT_RECORDING_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/openssl_handles.h"
#include "proto/audit.pb.h"

namespace sallyport::audit {

// The first string of every record's canonical bytes.
inline constexpr std::string_view kRecordingDomain = "sallyport.recording.v1";
inline constexpr std::string_view kRecordingGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";
// Limits every record obeys (the Store refuses more).
inline constexpr size_t kMaxRecordDataBytes = 1 << 20;
inline constexpr size_t kMaxRecordNameBytes = 256;
inline constexpr size_t kMaxRecordSummaryBytes = 8192;
// A canonical encoding is never longer than this.
inline constexpr size_t kMaxCanonicalRecordBytes =
    kMaxRecordDataBytes + kMaxRecordNameBytes + kMaxRecordSummaryBytes + 1024;

// The flat form of a record (see the table above).
struct RecordFields {
  std::string session_id;
  uint64_t seq = 0;
  uint32_t channel_id = 0;
  int64_t offset_us = 0;
  std::string kind;
  std::string direction = "none";
  uint32_t stream = 0;
  std::string name;
  std::string summary;
  int64_t value1 = 0;
  int64_t value2 = 0;
  std::string data;
  std::string hash;

  bool operator==(const RecordFields&) const = default;
};

// Text for a record's text field (a protobuf string): valid UTF-8 without
// NUL, at most `max` bytes, cut before a character that does not fit.
// Characters stay as they are (a command in Cyrillic is stored in
// Cyrillic, so `sessions ls --grep` finds it); NUL and bytes that are not
// UTF-8 become the four characters "\xNN" (which a typed backslash can
// also spell: a request keeps its text as sent in `raw` when this is not
// it). Readers escape what a terminal must not get (base::EscapeControls)
// when they show it. Frozen: ValidateRecord checks a stored request's
// summary against RecordText of its raw text, so a change here would make
// stored records invalid and gateways and CAs of two versions refuse each
// other's (RecordingRecordTest.ARequestsRawTextMustMatchItsSummary pins
// it).
std::string RecordText(std::string_view text,
                       size_t max = kMaxRecordSummaryBytes);

// A request's text as sent: `raw` when the record has it (the summary is
// not exact), else the summary.
inline std::string_view RequestText(const v1::RequestRecord& q) {
  return q.raw().empty() ? std::string_view(q.summary())
                         : std::string_view(q.raw());
}

// kInvalidArgument for a record without a kind, with a seq of 0, a negative
// offset, fields over the limits, text that is not UTF-8 or holds a NUL,
// a stream summary whose sha256 is not 32 bytes, or a direction or session
// status that is not a known enum number.
absl::Status ValidateRecord(const v1::RecordingRecord& record);

// The length of the canonical bytes that `prefix` starts, read from their
// own string lengths (up to the data's): nullopt when the prefix ends
// before the data's length, kDataLoss when it cannot start canonical bytes
// (wrong domain, a length over its limit). The spool reader uses it to
// tell a torn frame from a frame whose length field was damaged.
absl::StatusOr<std::optional<uint64_t>> CanonicalLengthOfPrefix(
    std::string_view prefix);

RecordFields ToFields(const v1::RecordingRecord& record);
// kInvalidArgument (naming the field) for fields no record produces.
absl::StatusOr<v1::RecordingRecord> FromFields(const RecordFields& fields);

// Appends the canonical bytes of `fields` to `out`.
void AppendCanonicalBytes(const RecordFields& fields, std::string& out);
// The same for a record, without copying its fields first.
void AppendCanonicalBytes(const v1::RecordingRecord& record, std::string& out);
// Parses canonical bytes (e.g. from a spool) back into fields (hash left
// empty). kDataLoss for anything malformed, truncated or over the limits.
absl::StatusOr<RecordFields> ParseCanonicalBytes(std::string_view bytes);

// hex SHA-256(prev_hash || canonical). kInternal if OpenSSL fails.
absl::StatusOr<std::string> ChainHash(std::string_view prev_hash,
                                      std::string_view canonical);
// ChainHash of the record's canonical bytes (its hash field is not part of
// them), without copying its data.
absl::StatusOr<std::string> RecordHash(std::string_view prev_hash,
                                       const v1::RecordingRecord& record);

// Numbers and chains the records of one session as they are made.
class RecordChainer {
 public:
  explicit RecordChainer(std::string session_id, uint64_t last_seq = 0,
                         std::string head = std::string(kRecordingGenesis))
      : session_id_(std::move(session_id)),
        last_seq_(last_seq),
        head_(std::move(head)) {}
  // Sets the record's session id, next seq and hash, after ValidateRecord.
  absl::Status Append(v1::RecordingRecord& record);
  // Append, and also appends the record's canonical bytes to `out` (the
  // bytes it hashed: encoded and hashed once) and, when not null, sets
  // `raw_hash` to the 32-byte hash. On error `out` is as it was.
  absl::Status AppendTo(v1::RecordingRecord& record, std::string& out,
                        std::string* raw_hash);
  uint64_t last_seq() const { return last_seq_; }
  const std::string& head() const { return head_; }

 private:
  std::string session_id_;
  uint64_t last_seq_;
  std::string head_;
};

// SHA-256 over a stream fed in pieces (exec output summaries).
class StreamHasher {
 public:
  StreamHasher();
  void Update(std::string_view bytes);
  // The raw 32-byte digest; the hasher starts over afterwards.
  absl::StatusOr<std::string> Finish();

 private:
  void Start();
  base::EvpMdCtxPtr ctx_;
  bool failed_ = false;
};

// The first of `session`'s user, login, host and start that differs from
// its session_start record, said as SessionMetadataCheck says it; nullopt
// when none does.
std::optional<std::string> SessionStartDiffers(
    const v1::RecordingSession& session, const v1::SessionStartRecord& start);

// Compares a session's stored metadata with what its recording's chain
// says (see the top of this file). Fed each record in seq order once the
// chain checked it.
class SessionMetadataCheck {
 public:
  void Add(const v1::RecordingRecord& record);
  // The first field of `session` that differs from the chain: the seq of
  // the record it differs from (for a session that ended without its end
  // record, the seq after the last) and what differs, naming the field
  // (`the session's user is "mallory" but its recording says "alice"`).
  // nullopt when they agree.
  std::optional<std::pair<uint64_t, std::string>> Finish(
      const v1::RecordingSession& session) const;
  // Whether the chain holds a session_start record: false for recordings
  // made before them, whose user, login, host and start are not covered.
  bool covered() const { return start_.has_value(); }

 private:
  std::optional<v1::SessionStartRecord> start_;
  uint64_t start_seq_ = 0;
  std::optional<v1::RecordingRecord> end_;  // without its message
  uint64_t last_seq_ = 0;
};

// What `spctl sessions verify` and `show` add to an intact recording
// whose chain has no session_start record.
inline constexpr std::string_view kMetadataNotCovered =
    "its user, login, host and start time are not covered by the hash "
    "chain (recorded before session_start records)";

std::string_view SessionStatusText(v1::SessionStatus status);
std::string_view DirectionText(v1::RecordDirection direction);

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_RECORDING_RECORD_H_
