#include "audit/recording_reader.h"

#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/recording_store.h"
#include "base/status_macros.h"

namespace sallyport::audit {
namespace {

absl::Status Broken(uint64_t seq, std::string_view what) {
  return absl::DataLossError(absl::StrCat("recording broken at record ", seq,
                                          ": ", std::string(what)));
}

}  // namespace

RecordingReader::RecordingReader(storage::Store& store, std::string session_id)
    : store_(store), session_id_(std::move(session_id)) {}

absl::StatusOr<v1::RecordingSession> RecordingReader::Session() {
  ASSIGN_OR_RETURN(storage::Session s, store_.GetSession(session_id_));
  return ToProtoSession(s);
}

absl::StatusOr<std::optional<v1::RecordingRecord>> RecordingReader::Next() {
  if (page_pos_ == page_.size()) {
    if (exhausted_) return std::optional<v1::RecordingRecord>();
    ASSIGN_OR_RETURN(
        page_, store_.ListSessionRecords(session_id_, seq_, kPageRecords));
    page_pos_ = 0;
    if (page_.empty()) {
      exhausted_ = true;
      // Every record checked: the stored head must be where the walk ended
      // (records dropped at the end leave the head pointing past them).
      ASSIGN_OR_RETURN(storage::Session s, store_.GetSession(session_id_));
      at_end_ = ToProtoSession(s);
      if (s.last_seq != seq_ || s.chain_head != head_) {
        return Broken(
            seq_ + 1,
            absl::StrCat("the session's head is record ", s.last_seq,
                         " but the records end at ", seq_,
                         s.last_seq == seq_ ? " with another hash" : ""));
      }
      return std::optional<v1::RecordingRecord>();
    }
  }
  const storage::SessionRecord& row = page_[page_pos_];
  if (row.seq != seq_ + 1) {
    return Broken(seq_ + 1,
                  absl::StrCat("missing (the next stored is ", row.seq, ")"));
  }
  absl::StatusOr<v1::RecordingRecord> record = FromStoreRecord(row);
  if (!record.ok()) {
    return Broken(row.seq, std::string(record.status().message()));
  }
  if (record->session_id() != session_id_) {
    return Broken(row.seq, "belongs to another session");
  }
  ASSIGN_OR_RETURN(std::string hash, RecordHash(head_, *record));
  if (hash != row.hash) {
    return Broken(row.seq,
                  "its hash does not match its content and the "
                  "previous record (edited or reordered)");
  }
  ++page_pos_;
  seq_ = row.seq;
  head_ = std::move(hash);
  return std::optional<v1::RecordingRecord>(*std::move(record));
}

absl::StatusOr<RecordingCheck> VerifyRecording(storage::Store& store,
                                               const std::string& session_id) {
  RecordingReader reader(store, session_id);
  RETURN_IF_ERROR(reader.Session().status());
  RecordingCheck check;
  SessionMetadataCheck metadata;
  while (true) {
    absl::StatusOr<std::optional<v1::RecordingRecord>> next = reader.Next();
    if (!next.ok()) {
      if (next.status().code() != absl::StatusCode::kDataLoss) {
        return next.status();
      }
      check.first_broken_seq = reader.seq() + 1;
      check.problem = std::string(next.status().message());
      break;
    }
    if (!next->has_value()) {
      check.intact = true;
      break;
    }
    metadata.Add(**next);
    ++check.records;
  }
  check.computed_head = reader.head();
  check.metadata_covered = metadata.covered();
  if (check.intact) {
    // The session as read where the walk ended, at its head.
    if (auto differs = metadata.Finish(reader.session_at_end())) {
      check.intact = false;
      check.first_broken_seq = differs->first;
      check.problem = std::move(differs->second);
    }
  }
  return check;
}

absl::StatusOr<SessionStreams> ReadSessionStreams(storage::Store& store,
                                                  const std::string& session_id,
                                                  size_t max_bytes) {
  RecordingReader reader(store, session_id);
  SessionStreams out;
  ASSIGN_OR_RETURN(out.session, reader.Session());
  size_t bytes = 0;
  // Data and request text (a command line is kept twice at most: its
  // summary and its raw text) count against max_bytes.
  auto charge = [&](size_t n) {
    bytes += n;
    if (bytes <= max_bytes) return absl::OkStatus();
    return absl::ResourceExhaustedError(
        absl::StrCat("the recording holds more than ", max_bytes,
                     " bytes of data and commands"));
  };
  // Index into out.channels of the open channel with each id.
  std::map<uint32_t, size_t> open;
  auto channel_of = [&](const v1::RecordingRecord& r) -> ChannelStreams& {
    auto it = open.find(r.channel_id());
    if (it == open.end()) {
      // Records for a channel without an open record (a recording made
      // before channel_open records existed): give it one.
      ChannelStreams c;
      c.channel_id = r.channel_id();
      c.opened_at_us = r.offset_us();
      out.channels.push_back(std::move(c));
      it = open.emplace(r.channel_id(), out.channels.size() - 1).first;
    }
    return out.channels[it->second];
  };
  while (true) {
    ASSIGN_OR_RETURN(std::optional<v1::RecordingRecord> next, reader.Next());
    if (!next) break;
    const v1::RecordingRecord& r = *next;
    switch (r.kind_case()) {
      case v1::RecordingRecord::kChannelOpen: {
        ChannelStreams c;
        c.channel_id = r.channel_id();
        c.type = r.channel_open().type();
        c.destination = r.channel_open().destination();
        c.opened_at_us = r.offset_us();
        out.channels.push_back(std::move(c));
        open[r.channel_id()] = out.channels.size() - 1;
        break;
      }
      case v1::RecordingRecord::kData: {
        RETURN_IF_ERROR(charge(r.data().bytes().size()));
        ChannelStreams& c = channel_of(r);
        std::string& dst = r.data().direction() == v1::RECORD_DIRECTION_INPUT
                               ? c.input
                           : r.data().ssh_stream() == 1 ? c.error
                                                        : c.output;
        dst += r.data().bytes();
        break;
      }
      case v1::RecordingRecord::kRequest: {
        const v1::RequestRecord& q = r.request();
        RETURN_IF_ERROR(charge(q.summary().size() + q.raw().size()));
        ChannelStreams& c = channel_of(r);
        if (q.type() == "exec") c.command = RequestText(q);
        if (q.type() == "subsystem") c.subsystem = q.summary();
        if (q.type() == "pty-req") c.pty = true;
        int code = 0;
        if (q.type() == "exit-status" && absl::SimpleAtoi(q.summary(), &code)) {
          c.exit_status = code;
        }
        c.requests.push_back(q);
        break;
      }
      case v1::RecordingRecord::kWindowChange:
        channel_of(r).window_changes.push_back(r);
        break;
      case v1::RecordingRecord::kStreamSummary:
        channel_of(r).summaries.push_back(r.stream_summary());
        break;
      case v1::RecordingRecord::kChannelClose: {
        ChannelStreams& c = channel_of(r);
        c.closed_at_us = r.offset_us();
        c.bytes_input = r.channel_close().bytes_input();
        c.bytes_output = r.channel_close().bytes_output();
        open.erase(r.channel_id());
        break;
      }
      case v1::RecordingRecord::kSessionEnd:
        out.end = r.session_end();
        break;
      case v1::RecordingRecord::kSessionStart:  // the session's metadata
        break;
      case v1::RecordingRecord::KIND_NOT_SET:
        break;
    }
  }
  return out;
}

}  // namespace sallyport::audit
