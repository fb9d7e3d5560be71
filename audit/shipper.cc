#include "audit/shipper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/events.h"
#include "audit/recording_record.h"
#include "base/plural.h"
#include "base/status_macros.h"

namespace sallyport::audit {
namespace {

// The session ids of dir's spool files (a missing dir has none).
absl::StatusOr<std::vector<std::string>> ListSpools(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return absl::UnavailableError(
        absl::StrCat("cannot list ", dir, ": ", std::strerror(errno)));
  }
  while (dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.size() <= kSpoolSuffix.size() ||
        name.substr(name.size() - kSpoolSuffix.size()) != kSpoolSuffix) {
      continue;
    }
    std::string id(name.substr(0, name.size() - kSpoolSuffix.size()));
    if (ValidateSpoolSessionId(id).ok()) out.push_back(std::move(id));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}

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

// Errors that mean the CA (or its store) cannot be reached now, rather
// than a refusal of this session (which waits alone: e.g. a record over
// the CA's message limit, RESOURCE_EXHAUSTED, must not hold up the rest).
bool Unreachable(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
         absl::IsCancelled(s) || absl::IsUnknown(s) || absl::IsInternal(s) ||
         absl::IsAborted(s);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Shipper>> Shipper::Start(
    ShipperOptions options) {
  if (options.uploader == nullptr || options.spool_dir.empty()) {
    return absl::InvalidArgumentError("the shipper needs an uploader and dir");
  }
  if (options.max_records_per_message == 0 || options.max_message_bytes == 0) {
    return absl::InvalidArgumentError("the shipper's limits must be > 0");
  }
  if (!options.now) options.now = [] { return absl::Now(); };
  std::unique_ptr<Shipper> s(new Shipper(std::move(options)));
  ASSIGN_OR_RETURN(std::vector<std::string> ids,
                   ListSpools(s->options_.spool_dir));
  for (const std::string& id : ids) {
    Spool& spool = s->spools_[id];
    spool.path = SpoolPath(s->options_.spool_dir, id);
    spool.orphan = true;
  }
  if (!ids.empty()) {
    s->Log(absl::StrCat(base::Plural(ids.size(), "spool file"),
                        " from before this start to ship"));
  }
  if (s->options_.thread) s->thread_ = std::thread([p = s.get()] { p->Run(); });
  return s;
}

Shipper::~Shipper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  options_.uploader->CancelAll();
  if (thread_.joinable()) thread_.join();
}

void Shipper::Log(std::string_view line) {
  if (options_.log) options_.log(line);
}

void Shipper::Warn(std::string_view line) {
  if (options_.warn) {
    options_.warn(line);
  } else {
    Log(line);
  }
}

void Shipper::Event(std::string_view code, const v1::RecordingSession& session,
                    const std::vector<base::LogField>& fields) {
  if (options_.on_event) options_.on_event(code, session, fields);
}

void Shipper::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

void Shipper::Closed(const ClosedWithoutEnd& closed) {
  absl::MutexLock lock(&mu_);
  closed_[closed.session_id] = closed;
  wake_ = true;
}

ShipperStats Shipper::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

std::optional<absl::Time> Shipper::NextAttempt(
    const std::string& session_id) const {
  absl::MutexLock lock(&mu_);
  auto it = next_attempts_.find(session_id);
  if (it == next_attempts_.end()) return std::nullopt;
  return it->second;
}

void Shipper::Run() {
  while (true) {
    (void)RunOnce();
    absl::MutexLock lock(&mu_);
    auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return stopping_ || wake_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), options_.scan_interval);
    if (stopping_) return;
    wake_ = false;
  }
}

absl::Status Shipper::RunOnce() {
  absl::MutexLock run(&run_mu_);
  return Scan(options_.now());
}

absl::Status Shipper::Scan(absl::Time now) {
  absl::Status first;
  absl::StatusOr<std::vector<std::string>> ids = ListSpools(options_.spool_dir);
  if (!ids.ok()) return ids.status();
  std::map<std::string, Spool> kept;
  for (const std::string& id : *ids) {
    auto it = spools_.find(id);
    if (it != spools_.end()) {
      kept.emplace(id, std::move(it->second));
    } else {
      Spool& spool = kept[id];
      spool.path = SpoolPath(options_.spool_dir, id);
    }
  }
  spools_ = std::move(kept);
  {
    // Spools the recorder closed without an end. One listed before its
    // file was: kept while the file exists.
    absl::MutexLock lock(&mu_);
    for (auto it = closed_.begin(); it != closed_.end();) {
      auto spool = spools_.find(it->first);
      if (spool != spools_.end()) {
        spool->second.closed = std::move(it->second);
        it = closed_.erase(it);
      } else if (FileSize(SpoolPath(options_.spool_dir, it->first)) < 0) {
        it = closed_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [id, spool] : spools_) {
    if (spool.unreadable || now < spool.next_attempt || now < ca_retry_at_) {
      continue;
    }
    bool ca_side = false;
    absl::Status s = Ship(id, spool, ca_side);
    if (!s.ok()) {
      // Only the CA's own failure holds up the others (they would wait
      // for it too); a problem of this spool's file (EIO, a full disk, a
      // file it cannot open) is this spool's alone: it backs off, the
      // others ship and free their space.
      const bool ca_down = ca_side && Unreachable(s);
      s = Failed(id, spool, s, ca_side, ca_down);
      if (first.ok()) first = s;
      if (ca_down) break;
    } else {
      spool.failures = 0;
      spool.next_attempt = absl::InfinitePast();
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
  }
  // Deleted spools are gone from the map; the rest count.
  ShipperStats counts;
  std::map<std::string, absl::Time> attempts;
  for (auto& [id, spool] : spools_) {
    if (spool.deleted) continue;
    attempts[id] = spool.next_attempt;
    const int64_t size = FileSize(spool.path);
    if (size < 0) continue;
    counts.spool_bytes += size;
    counts.backlog_bytes += std::max<int64_t>(
        0, size - static_cast<int64_t>(spool.confirmed_bytes));
  }
  std::erase_if(spools_, [](const auto& e) { return e.second.deleted; });
  ShipperStats now_stats;
  {
    absl::MutexLock lock(&mu_);
    stats_.spool_bytes = counts.spool_bytes;
    stats_.backlog_bytes = counts.backlog_bytes;
    next_attempts_ = std::move(attempts);
    now_stats = stats_;
  }
  if (options_.on_pass) options_.on_pass(now_stats);
  return first;
}

absl::Status Shipper::Failed(const std::string& id, Spool& spool,
                             const absl::Status& status, bool ca_side,
                             bool ca_down) {
  // Start over from what the CA says next time.
  spool.reader.reset();
  spool.held.reset();
  spool.ca_last_seq.reset();
  ++spool.failures;
  const absl::Duration wait = std::min(
      options_.max_backoff,
      options_.min_backoff *
          static_cast<double>(uint64_t{1} << std::min(spool.failures - 1, 30)));
  spool.next_attempt = options_.now() + wait;
  if (ca_down) ca_retry_at_ = spool.next_attempt;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.errors_total;
  }
  Warn(absl::StrCat("cannot ship session ", id, " (attempt ", spool.failures,
                    ", next in ", absl::FormatDuration(wait),
                    "): ", status.message(),
                    ca_side ? "" : " (its spool file; the others go on)"));
  if (spool.unreadable && !spool.damage_reported) {
    // hyg: damage that is not a torn tail is never cut automatically; it
    // is loud once: a log line and an audit event naming where it is.
    spool.damage_reported = true;
    v1::RecordingSession meta = spool.meta;
    if (meta.session_id().empty()) meta.set_session_id(id);
    Warn(absl::StrCat("event=", std::string(kEventRecordingDamaged),
                      " session=", id, " reason=\"", status.message(),
                      "\" (the spool is kept, not repaired)"));
    Event(kEventRecordingDamaged, meta,
          {{"reason", std::string(status.message())}});
  }
  return status;
}

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
      absl::MutexLock lock(&mu_);
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
    absl::MutexLock lock(&mu_);
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
