// Reads a session recording back from the Store for `spctl sessions`
// (show, play, export, verify): the records in seq order, each checked
// against the SHA-256 chain (audit/recording_record.h), and the session's
// channels with their streams.
//
// Channel ids are reused within a session (a client opens a new channel
// with a freed id), so channels are numbered by their channel_open record:
// a record belongs to the latest open channel with its id.
#ifndef SALLYPORT_AUDIT_RECORDING_READER_H_
#define SALLYPORT_AUDIT_RECORDING_READER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/recording_record.h"
#include "proto/audit.pb.h"
#include "storage/store.h"

namespace sallyport::audit {

// Walks one session's records in seq order, a page at a time (bounded
// memory whatever the recording's size), checking the chain as it goes.
class RecordingReader {
 public:
  static constexpr int kPageRecords = 500;

  RecordingReader(storage::Store& store, std::string session_id);

  // The session's metadata (kNotFound for an unknown id).
  absl::StatusOr<v1::RecordingSession> Session();

  // The next record, or nullopt after the last one. kDataLoss, naming the
  // seq, at the first broken link: a missing seq, a hash that does not
  // follow from the previous record, a row no record produces, or (at the
  // end) a stored chain head that is not the last record's hash.
  absl::StatusOr<std::optional<v1::RecordingRecord>> Next();

  // The last seq returned and its hash.
  uint64_t seq() const { return seq_; }
  const std::string& head() const { return head_; }
  // Once Next returned nullopt: the session as read to check its head
  // (its metadata as it was when the walk ended there).
  const v1::RecordingSession& session_at_end() const { return at_end_; }

 private:
  storage::Store& store_;
  const std::string session_id_;
  std::vector<storage::SessionRecord> page_;
  size_t page_pos_ = 0;
  bool exhausted_ = false;
  uint64_t seq_ = 0;
  std::string head_ = std::string(kRecordingGenesis);
  v1::RecordingSession at_end_;
};

// `spctl sessions verify`.
struct RecordingCheck {
  bool intact = false;
  uint64_t records = 0;  // records that checked out
  // The first seq that does not check (a gap, an edit, a bad row) or, when
  // every record checks but the session's stored head or count differs,
  // last_seq + 1.
  std::optional<uint64_t> first_broken_seq;
  std::string problem;  // what is wrong there; empty when intact
  std::string computed_head;
  // Whether the chain holds a session_start record: when it does, the
  // session's user, login, host and start must be the ones it says (else
  // not intact, naming the field); when not (a recording made before
  // them), only its status and end are compared with the chain.
  bool metadata_covered = false;
};
// Store errors other than the chain's (kNotFound, kUnavailable) are
// returned as errors; a broken chain, or session metadata that differs from
// what the chain says (SessionMetadataCheck), is a RecordingCheck with
// intact=false.
absl::StatusOr<RecordingCheck> VerifyRecording(storage::Store& store,
                                               const std::string& session_id);

// One channel of a session, in the order channels were opened.
struct ChannelStreams {
  uint32_t channel_id = 0;
  std::string type;          // "session", "direct-tcpip", ...
  std::string destination;   // tunnels: HOST:PORT
  int64_t opened_at_us = 0;  // offsets since the session started
  std::optional<int64_t> closed_at_us;
  std::vector<v1::RequestRecord> requests;  // pty-req, exec, exit-status, ...
  std::vector<v1::RecordingRecord> window_changes;
  std::string output;  // host -> user, data
  std::string error;   // host -> user, stderr
  std::string input;   // user -> host (when recorded)
  std::vector<v1::StreamSummaryRecord> summaries;
  // From the channel_close record.
  uint64_t bytes_input = 0, bytes_output = 0;
  std::optional<int> exit_status;
  // The command line of "exec", the subsystem of "subsystem"; empty else.
  std::string command;
  std::string subsystem;
  bool pty = false;
};

struct SessionStreams {
  v1::RecordingSession session;
  std::vector<ChannelStreams> channels;
  std::optional<v1::SessionEndRecord> end;
};

inline constexpr size_t kDefaultMaxStreamBytes = size_t{256} << 20;
// Every channel's streams, with the chain checked (kDataLoss naming the
// first broken seq). kResourceExhausted when the data and the requests'
// text (command lines) are over `max_bytes`.
absl::StatusOr<SessionStreams> ReadSessionStreams(
    storage::Store& store, const std::string& session_id,
    size_t max_bytes = kDefaultMaxStreamBytes);

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_RECORDING_READER_H_
