// The Shipper's spool files (see shipper.h): reading one from where the
// CA stands, limited to what is fsync'd, and closing one left without its
// end.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "audit/recording_record.h"
#include "audit/shipper.h"
#include "base/plural.h"
#include "base/status_macros.h"

namespace sallyport::audit {
namespace {

absl::Status AppendFrame(const std::string& path, std::string_view frame) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  absl::Status s;
  while (!frame.empty() && s.ok()) {
    const ssize_t n = ::write(fd, frame.data(), frame.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = absl::UnavailableError(
          absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
      break;
    }
    frame.remove_prefix(static_cast<size_t>(n));
  }
  if (s.ok() && ::fsync(fd) != 0) {
    s = absl::UnavailableError(
        absl::StrCat("cannot fsync ", path, ": ", std::strerror(errno)));
  }
  ::close(fd);
  return s;
}

}  // namespace

absl::StatusOr<std::optional<v1::RecordingRecord>> Shipper::ReadNext(
    Spool& spool) {
  absl::StatusOr<std::optional<v1::RecordingRecord>> next =
      spool.reader->Next();
  if (!next.ok()) {
    // Damage that is not a torn tail: a live file may still be in the
    // middle of a write (retried); a dead process's file stays as it is.
    if (absl::IsDataLoss(next.status()) && spool.orphan) {
      spool.unreadable = true;
    }
    return next.status();
  }
  std::optional<v1::RecordingRecord> r = *std::move(next);
  if (!r && spool.tail_in_memory_read < spool.tail_in_memory.size() &&
      spool.reader->last_seq() + 1 == spool.tail_in_memory.front().seq()) {
    // The records its disk had no room for follow the file's records.
    r = spool.tail_in_memory[spool.tail_in_memory_read++];
  }
  if (!r) return r;
  spool.last_offset_us = r->offset_us();
  if (r->has_channel_open() &&
      spool.open_channels.size() < kShipMaxOpenChannels) {
    spool.open_channels[r->channel_id()] = {0, 0};
  } else if (r->has_channel_close()) {
    spool.open_channels.erase(r->channel_id());
  } else if (r->has_data()) {
    auto it = spool.open_channels.find(r->channel_id());
    if (it != spool.open_channels.end()) {
      (r->data().direction() == v1::RECORD_DIRECTION_INPUT
           ? it->second.first
           : it->second.second) += r->data().bytes().size();
    }
  }
  if (r->has_session_end()) spool.end_seq = r->seq();
  return r;
}

absl::Status Shipper::OpenReader(Spool& spool, uint64_t skip_to) {
  spool.reader.reset();
  spool.held.reset();
  spool.end_seq = 0;
  spool.last_offset_us = 0;
  spool.tail_in_memory_read = 0;
  spool.open_channels.clear();
  absl::StatusOr<SpoolReader> r = SpoolReader::Open(spool.path);
  if (!r.ok()) {
    if (absl::IsDataLoss(r.status()) && spool.orphan) spool.unreadable = true;
    return r.status();
  }
  spool.reader.emplace(*std::move(r));
  // This process's recorder wrote and hashed a spool that was not there
  // at Start (one gateway per spool_dir): the CA checks its chain.
  spool.reader->set_verify_chain(spool.orphan);
  spool.meta = spool.reader->session();
  LimitToSynced(spool);
  while (spool.reader->last_seq() < skip_to) {
    ASSIGN_OR_RETURN(std::optional<v1::RecordingRecord> next, ReadNext(spool));
    if (!next) {
      if (spool.orphan || spool.end_seq != 0) {
        return absl::DataLossError(
            absl::StrCat(spool.path, " holds ", spool.reader->last_seq(),
                         " records but the CA already stored ", skip_to));
      }
      // A live session: the records may not be visible yet.
      LimitToSynced(spool);
      RETURN_IF_ERROR(spool.reader->Refresh());
      ASSIGN_OR_RETURN(next, ReadNext(spool));
      if (!next) {
        return absl::UnavailableError("the spool is behind the CA; later");
      }
    }
  }
  spool.confirmed_bytes = spool.reader->good_bytes();
  return absl::OkStatus();
}

void Shipper::LimitToSynced(Spool& spool) {
  // A dead process's spool holds what survived it; only this process's
  // live ones have bytes a power loss could still take.
  if (spool.orphan || !options_.synced_bytes || !spool.reader) return;
  const std::optional<uint64_t> synced =
      options_.synced_bytes(spool.reader->session().session_id());
  spool.reader->set_limit(synced.value_or(UINT64_MAX));
}

absl::Status Shipper::CloseWithoutEnd(Spool& spool) {
  const uint64_t last = spool.reader->last_seq();
  const std::string head = spool.reader->head();
  const bool interrupted = !spool.closed.has_value();
  const int64_t offset =
      interrupted ? spool.last_offset_us
                  : std::max(spool.last_offset_us, spool.closed->offset_us);
  spool.reader.reset();
  ASSIGN_OR_RETURN(uint64_t torn, RepairSpool(spool.path));
  if (torn > 0) {
    const std::string why =
        interrupted ? "a torn last record after a crash was cut"
                    : "a torn last record of a failed write was cut";
    Log(absl::StrCat("event=", std::string(kEventRecordingRepaired),
                     " session=", spool.meta.session_id(), " torn_bytes=", torn,
                     " reason=", why));
    Event(kEventRecordingRepaired, spool.meta,
          {{"torn_bytes", static_cast<int64_t>(torn)}, {"reason", why}});
    // An orphan's whole file was counted at Start; a live spool's torn
    // write never was (the recorder counts written bytes).
    if (interrupted && options_.on_deleted) {
      options_.on_deleted(static_cast<int64_t>(torn));
    }
  }
  // The channels it left open are closed (with the bytes the recording
  // holds of them), then the session.
  std::vector<v1::RecordingRecord> tail;
  std::string chain = head;
  std::string frames;
  for (const auto& [channel, bytes] : spool.open_channels) {
    v1::RecordingRecord close;
    close.set_session_id(spool.meta.session_id());
    close.set_seq(last + 1 + tail.size());
    close.set_channel_id(channel);
    close.set_offset_us(offset);
    close.mutable_channel_close()->set_bytes_input(bytes.first);
    close.mutable_channel_close()->set_bytes_output(bytes.second);
    RETURN_IF_ERROR(ValidateRecord(close));
    ASSIGN_OR_RETURN(chain, RecordHash(chain, close));
    close.set_hash(chain);
    RETURN_IF_ERROR(SpoolWriter::EncodeFrame(close, frames));
    tail.push_back(std::move(close));
  }
  v1::RecordingRecord end;
  end.set_session_id(spool.meta.session_id());
  end.set_seq(last + 1 + tail.size());
  end.set_channel_id(0);
  end.set_offset_us(offset);
  end.mutable_session_end()->set_status(
      interrupted ? v1::SESSION_STATUS_INTERRUPTED : spool.closed->status);
  const std::string message =
      interrupted ? std::string(kInterruptedMessage) : spool.closed->message;
  end.mutable_session_end()->set_message(
      message.substr(0, kMaxRecordSummaryBytes));
  RETURN_IF_ERROR(ValidateRecord(end));
  ASSIGN_OR_RETURN(std::string hash, RecordHash(chain, end));
  end.set_hash(hash);
  RETURN_IF_ERROR(SpoolWriter::EncodeFrame(end, frames));
  tail.push_back(std::move(end));
  // When the file cannot take them (its disk full: the very case in
  // which shipping must free space; EIO), the closing records go to the
  // CA from memory, for a dead process's spool as for a failed one.
  absl::Status appended = AppendFrame(spool.path, frames);
  // The closing records are in the file: counted as spool bytes (the
  // file's size is forgotten when it is deleted).
  if (appended.ok() && options_.on_deleted) {
    options_.on_deleted(-static_cast<int64_t>(frames.size()));
  }
  if (interrupted) {
    {
      base::SteadyMutexLock lock(&mu_);
      ++stats_.interrupted_total;
    }
    // The gateway that ran it stopped before its session.end: the CA
    // writes one when it stores this end, in the same transaction (not
    // here: a kill after the append above would lose it for good, as the
    // next start finds the spool ended).
  }
  Log(absl::StrCat(
      "session ", spool.meta.session_id(),
      interrupted ? " had no end in its spool (the gateway stopped): closed as "
                    "interrupted after record "
                  : " ended with its recording failed: closed as failed after "
                    "record ",
      last,
      tail.size() > 1
          ? absl::StrCat(" (", base::Plural(tail.size() - 1, "open channel"),
                         " closed)")
          : std::string()));
  if (!appended.ok()) (void)RepairSpool(spool.path);  // a torn frame
  RETURN_IF_ERROR(OpenReader(spool, spool.ca_last_seq.value_or(0)));
  if (!appended.ok()) {
    // The end goes to the CA from memory, and the file once the CA has
    // it.
    Warn(absl::StrCat("the end of session ", spool.meta.session_id(),
                      " could not be written to its spool (",
                      appended.message(), "): it is sent from memory"));
    spool.tail_in_memory = std::move(tail);
  }
  return absl::OkStatus();
}

}  // namespace sallyport::audit
