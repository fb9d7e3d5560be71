// The Shipper's life (see shipper.h): its thread, the passes over
// spool_dir and each spool's backoff. Reading and closing a spool file:
// shipper_spool.cc; shipping one session to the CA: shipper_upload.cc.
#include "audit/shipper.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "audit/shipper_internal.h"
#include "base/clock.h"
#include "base/plural.h"
#include "base/status_macros.h"

namespace sallyport::audit {

using shipper_internal::FileSize;

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

}  // namespace

namespace shipper_internal {

int64_t FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}

}  // namespace shipper_internal

namespace {

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
  if (!options.now) {
    options.now = [] {
      return absl::UnixEpoch() + base::Clock::Real()->Monotonic();
    };
  }
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
    base::SteadyMutexLock lock(&mu_);
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
  base::SteadyMutexLock lock(&mu_);
  wake_ = true;
}

void Shipper::Closed(const ClosedWithoutEnd& closed) {
  base::SteadyMutexLock lock(&mu_);
  closed_[closed.session_id] = closed;
  wake_ = true;
}

ShipperStats Shipper::stats() const {
  base::SteadyMutexLock lock(&mu_);
  return stats_;
}

std::optional<absl::Time> Shipper::NextAttempt(
    const std::string& session_id) const {
  base::SteadyMutexLock lock(&mu_);
  auto it = next_attempts_.find(session_id);
  if (it == next_attempts_.end()) return std::nullopt;
  return it->second;
}

void Shipper::Run() {
  while (true) {
    (void)RunOnce();
    base::SteadyMutexLock lock(&mu_);
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
    base::SteadyMutexLock lock(&mu_);
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
      base::SteadyMutexLock lock(&mu_);
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
    base::SteadyMutexLock lock(&mu_);
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
    base::SteadyMutexLock lock(&mu_);
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

}  // namespace sallyport::audit
