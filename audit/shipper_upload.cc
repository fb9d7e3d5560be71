// Shipping one session's spool to the CA (see shipper.h): asking where
// the CA stands, the upload calls, and deleting the spool once the CA has
// it all.
#include <errno.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "audit/recording_record.h"
#include "audit/shipper.h"
#include "audit/shipper_internal.h"
#include "base/status_macros.h"

namespace sallyport::audit {

using shipper_internal::FileSize;

absl::Status Shipper::Ship(const std::string& id, Spool& spool, bool& ca_side) {
  ca_side = false;
  if (!spool.reader) RETURN_IF_ERROR(OpenReader(spool, 0));
  if (spool.meta.session_id() != id) {
    spool.unreadable = true;
    return absl::DataLossError(
        absl::StrCat(spool.path, " holds another session's metadata"));
  }
  if (!spool.ca_last_seq) {
    // Where does the CA stand? (A first upload, or after an error.)
    absl::StatusOr<v1::RecordingSession> asked = options_.uploader->Upload(
        spool.meta,
        [](std::vector<v1::RecordingRecord>&) -> absl::StatusOr<bool> {
          return false;
        });
    if (!asked.ok()) {
      ca_side = true;
      return asked.status();
    }
    const v1::RecordingSession& at = *asked;
    spool.ca_last_seq = at.last_seq();
    spool.ca_status = at.status();
    // The last stored record is sent again (accepted when identical): if
    // it is the end and the CA stopped before it ended the session, the
    // CA ends it now.
    RETURN_IF_ERROR(
        OpenReader(spool, at.last_seq() > 0 ? at.last_seq() - 1 : 0));
  }
  while (true) {
    // The first message's records, read before a call is made: nothing to
    // send means no call.
    std::vector<v1::RecordingRecord> batch;
    uint64_t call_bytes = 0;
    bool refreshed = false;
    auto fill =
        [&](std::vector<v1::RecordingRecord>& out) -> absl::StatusOr<bool> {
      size_t bytes = 0;
      while (out.size() < options_.max_records_per_message &&
             call_bytes < options_.max_bytes_per_call) {
        std::optional<v1::RecordingRecord> r;
        if (spool.held) {
          r = std::move(spool.held);
          spool.held.reset();
        } else {
          ASSIGN_OR_RETURN(r, ReadNext(spool));
          if (!r && !refreshed) {
            refreshed = true;
            LimitToSynced(spool);
            RETURN_IF_ERROR(spool.reader->Refresh());
            ASSIGN_OR_RETURN(r, ReadNext(spool));
          }
        }
        if (!r) break;
        const size_t n = r->ByteSizeLong();
        if (!out.empty() && bytes + n > options_.max_message_bytes) {
          spool.held = std::move(r);
          break;
        }
        bytes += n;
        call_bytes += n;
        out.push_back(*std::move(r));
      }
      return !out.empty();
    };
    ASSIGN_OR_RETURN(bool any, fill(batch));
    if (any) {
      uint64_t sent = batch.back().seq();
      bool first = true;
      // An upload that fails because the spool could not be read is the
      // spool's failure, not the CA's.
      absl::Status read_error;
      absl::StatusOr<v1::RecordingSession> uploaded = options_.uploader->Upload(
          spool.meta,
          [&](std::vector<v1::RecordingRecord>& out) -> absl::StatusOr<bool> {
            if (first) {
              first = false;
              out = std::move(batch);
              return true;
            }
            absl::StatusOr<bool> more = fill(out);
            if (!more.ok()) {
              read_error = more.status();
              return more;
            }
            if (*more) sent = out.back().seq();
            return more;
          });
      if (!uploaded.ok()) {
        if (!read_error.ok()) return read_error;
        ca_side = true;
        return uploaded.status();
      }
      const v1::RecordingSession& stored = *uploaded;
      if (stored.last_seq() != sent) {
        ca_side = true;
        return absl::UnavailableError(absl::StrCat(
            "the CA confirmed record ", stored.last_seq(), " of ", sent));
      }
      spool.ca_last_seq = sent;
      spool.ca_status = stored.status();
      spool.confirmed_bytes = spool.reader->good_bytes();
      if (call_bytes >= options_.max_bytes_per_call) continue;
    }
    if (spool.end_seq != 0 && spool.ca_last_seq == spool.end_seq) break;
    if (spool.end_seq == 0 && (spool.orphan || spool.closed) && !spool.held &&
        spool.tail_in_memory.empty()) {
      if (spool.ca_last_seq > spool.reader->last_seq() &&
          spool.ca_status != v1::SESSION_STATUS_ACTIVE &&
          spool.ca_status != v1::SESSION_STATUS_UNSPECIFIED) {
        // The CA already ended it with closing records the file lacks
        // (sent from memory before a restart): nothing is left to ship.
        spool.end_seq = *spool.ca_last_seq;
        break;
      }
      // Everything the dead process (or the failed recording) spooled is
      // at the CA: close it.
      RETURN_IF_ERROR(CloseWithoutEnd(spool));
      continue;
    }
    return absl::OkStatus();  // live: more records later
  }
  // The CA has every record, the end included: the spool may go once the
  // CA says the session has ended.
  if (spool.ca_status == v1::SESSION_STATUS_ACTIVE ||
      spool.ca_status == v1::SESSION_STATUS_UNSPECIFIED) {
    ca_side = true;
    return absl::UnavailableError(
        "the CA has the session's end record but has not ended it yet");
  }
  const int64_t size = FileSize(spool.path);
  spool.reader.reset();
  if (::unlink(spool.path.c_str()) != 0 && errno != ENOENT) {
    return absl::UnavailableError(
        absl::StrCat("cannot delete ", spool.path, ": ", std::strerror(errno)));
  }
  spool.deleted = true;
  if (size > 0 && options_.on_deleted) options_.on_deleted(size);
  {
    base::SteadyMutexLock lock(&mu_);
    ++stats_.shipped_sessions_total;
  }
  Log(absl::StrCat("event=", std::string(kEventRecordingComplete), " session=",
                   id, " records=", spool.end_seq, " spool deleted"));
  Event(kEventRecordingComplete, spool.meta,
        {{"records", static_cast<int64_t>(spool.end_seq)},
         {"status", std::string(SessionStatusText(spool.ca_status))}});
  return absl::OkStatus();
}

}  // namespace sallyport::audit
