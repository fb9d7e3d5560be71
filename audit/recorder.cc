#include "audit/recorder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::audit {
namespace {

absl::StatusOr<int64_t> SpoolDirBytes(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot read ", dir, ": ", std::strerror(errno)));
  }
  int64_t total = 0;
  while (dirent* e = ::readdir(d)) {
    if (!std::string_view(e->d_name).ends_with(kSpoolSuffix)) continue;
    struct stat st;
    if (::stat(absl::StrCat(dir, "/", e->d_name).c_str(), &st) == 0) {
      total += st.st_size;
    }
  }
  ::closedir(d);
  return total;
}

// Now on the steady clock, in microseconds (for the atomics that say when
// a pass or an fsync started).
int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What a stalled spool disk is called in the errors it causes.
std::string StallMessage(absl::Duration stalled) {
  return absl::StrCat(
      "the recording spool's disk has not finished a write for ",
      absl::FormatDuration(absl::Trunc(stalled, absl::Seconds(1))));
}

}  // namespace

// ------------------------------------------------------------ recorder

absl::StatusOr<std::unique_ptr<SpoolRecorder>> SpoolRecorder::Start(
    RecorderOptions options) {
  if (options.spool_dir.empty()) {
    return absl::InvalidArgumentError("spool_dir is empty");
  }
  if (::mkdir(options.spool_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create ", options.spool_dir, ": ", std::strerror(errno)));
  }
  std::unique_ptr<SpoolRecorder> r(new SpoolRecorder(std::move(options)));
  // One gateway per spool_dir: a second one would take the first one's
  // live spools for a dead process's, cut their tails and end them while
  // they are still written. The lock goes with the process (even killed).
  // Read-only (flock needs no write access): a descriptor open for writing
  // would keep the spool's filesystem from being remounted read-only.
  const std::string lock_path = absl::StrCat(r->options_.spool_dir, "/.lock");
  r->lock_fd_ = ::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  if (r->lock_fd_ < 0 && (errno == EROFS || errno == EACCES)) {
    r->lock_fd_ = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (r->lock_fd_ < 0 &&
      (errno == EROFS || errno == EACCES || errno == ENOENT)) {
    // A spool_dir nothing can be written to (strict sessions are refused,
    // see SessionRecording) cannot be damaged by a second gateway either:
    // no lock to take.
  } else if (r->lock_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", lock_path, ": ", std::strerror(errno)));
  } else if (::flock(r->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("spool_dir ", r->options_.spool_dir,
                       " is in use by another sallyport-gateway process"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot lock ", lock_path, ": ", std::strerror(errno)));
  }
  ASSIGN_OR_RETURN(int64_t bytes, SpoolDirBytes(r->options_.spool_dir));
  r->spool_bytes_.store(bytes);
  r->thread_ = std::thread([p = r.get()] { p->Run(); });
  r->sync_thread_ = std::thread([p = r.get()] { p->SyncLoop(); });
  r->watch_thread_ = std::thread([p = r.get()] { p->WatchLoop(); });
  // Known at once, so a gateway that starts on an unwritable spool says so
  // before its first session fails.
  r->Probe();
  r->probe_thread_ = std::thread([p = r.get()] { p->ProbeLoop(); });
  return r;
}

SpoolRecorder::~SpoolRecorder() {
  {
    base::SteadyMutexLock lock(&mu_);
    stopping_ = true;
  }
  if (probe_thread_.joinable()) probe_thread_.join();
  if (thread_.joinable()) thread_.join();
  {
    base::SteadyMutexLock lock(&mu_);
    writer_stopped_ = true;
  }
  if (sync_thread_.joinable()) sync_thread_.join();
  {
    base::SteadyMutexLock lock(&mu_);
    watch_stopped_ = true;
  }
  if (watch_thread_.joinable()) watch_thread_.join();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // the spools are closed: unlocked
}

void SpoolRecorder::SetClosedWithoutEnd(
    std::function<void(const ClosedWithoutEnd&)> fn) {
  absl::MutexLock lock(&closed_mu_);
  closed_without_end_ = std::move(fn);
}

std::optional<uint64_t> SpoolRecorder::SyncedBytes(
    const std::string& session_id) const {
  base::SteadyMutexLock lock(&mu_);
  auto it = open_.find(session_id);
  if (it == open_.end()) return std::nullopt;
  return it->second->synced_bytes_.load();
}

absl::Status SpoolRecorder::AcceptingSessions() const {
  if (const absl::Duration stalled = Stalled();
      stalled > options_.write_stall_limit) {
    return absl::UnavailableError(absl::StrCat(
        StallMessage(stalled), "; new recorded sessions are refused"));
  }
  if (spool_bytes_.load() > options_.spool_max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the recording spool holds more than spool_max_bytes (",
                     options_.spool_max_bytes,
                     " bytes); new recorded sessions are refused"));
  }
  return absl::OkStatus();
}

absl::Status SpoolRecorder::DiskRoom() const {
  struct statvfs fs;
  if (::statvfs(options_.spool_dir.c_str(), &fs) != 0) return absl::OkStatus();
  const int64_t room =
      static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
  if (room >= kMinSpoolFreeBytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the recording spool's disk is full (", room, " bytes free in ",
      options_.spool_dir, "); recorded sessions fail"));
}

absl::Status SpoolRecorder::SpoolWritable() const {
  absl::MutexLock lock(&probe_mu_);
  if (probed_.ok()) return probed_;
  return absl::Status(
      probed_.code(),
      absl::StrCat("the recording spool directory cannot be written (",
                   probed_.message(), "); recorded sessions fail"));
}

void SpoolRecorder::Probe() {
  absl::Status st = ProbeSpoolDir(options_.spool_dir);
  absl::MutexLock lock(&probe_mu_);
  probed_ = std::move(st);
}

void SpoolRecorder::ProbeLoop() {
  for (;;) {
    {
      base::SteadyMutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                               options_.probe_interval)) {
        return;
      }
    }
    Probe();
  }
}

absl::StatusOr<std::shared_ptr<SessionRecording>> SpoolRecorder::OpenSession(
    v1::RecordingSession meta, absl::Time started_at,
    std::optional<absl::Duration> started_monotonic) {
  RETURN_IF_ERROR(AcceptingSessions());
  meta.set_gateway_id(options_.gateway_id);
  meta.set_started_at_us(absl::ToUnixMicros(started_at));
  meta.set_status(v1::SESSION_STATUS_ACTIVE);
  // Record 1: the session's metadata, so that the chain covers it (the
  // metadata frame is not chained). Written with the file's header.
  RecordChainer chain(meta.session_id());
  v1::RecordingRecord start;
  v1::SessionStartRecord* m = start.mutable_session_start();
  m->set_user(meta.user());
  m->set_login(meta.login());
  m->set_host(meta.host());
  m->set_started_at_us(meta.started_at_us());
  std::string frames;
  RETURN_IF_ERROR(SpoolWriter::ChainAndEncodeFrame(chain, start, frames));
  // Called on a gateway I/O thread: the file's and the directory's fsync
  // are the syncer's (its next pass, the writer marked dirty).
  ASSIGN_OR_RETURN(SpoolWriter writer,
                   SpoolWriter::Create(options_.spool_dir, meta,
                                       /*durable=*/false, frames));
  spool_bytes_.fetch_add(static_cast<int64_t>(writer.size()));
  std::shared_ptr<SessionRecording> s(
      new SessionRecording(*this, meta.session_id(), meta.started_at_us(),
                           started_monotonic.value_or(clock_->Monotonic()),
                           std::move(writer), std::move(chain)));
  s->written_bytes_.store(s->writer_.size());
  s->dirty_.store(true);
  base::SteadyMutexLock lock(&mu_);
  open_[s->session_id()] = s;
  return s;
}

void SpoolRecorder::AwaitPacing(absl::Duration wait) {
  auto flush = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || queue_bytes_ >= kPacingFlushBytes;
  };
  mu_.AwaitWithTimeout(absl::Condition(&flush), wait);
}

void SpoolRecorder::Run() {
  using Steady = std::chrono::steady_clock;
  const absl::Duration interval = std::clamp(
      options_.min_write_interval, absl::ZeroDuration(), kMaxMinWriteInterval);
  // On the steady clock: a wall-clock step back must not hold the next
  // pass for the size of the step.
  std::optional<Steady::time_point> last_pass;
  while (true) {
    std::deque<Item> batch;
    bool stop = false;
    {
      base::SteadyMutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      // Paced: what arrives until the pass is due joins the queued
      // records (Enqueue coalesces data into them).
      if (interval > absl::ZeroDuration() && last_pass.has_value()) {
        const absl::Duration since =
            absl::FromChrono(Steady::now() - *last_pass);
        if (since < interval) AwaitPacing(interval - since);
      }
      last_pass = Steady::now();
      batch.swap(queue_);
      ++queue_generation_;
      stop = stopping_ && batch.empty();
    }
    if (!batch.empty()) {
      pass_started_us_.store(SteadyMicros());
      WriteBatch(batch);
      pass_started_us_.store(0);
    }
    if (stop) break;
  }
}

void SpoolRecorder::SyncLoop() {
  while (true) {
    bool force = false;
    {
      base::SteadyMutexLock lock(&mu_);
      auto wanted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return sync_wanted_ || writer_stopped_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&wanted),
                           options_.fsync_interval / 4);
      sync_wanted_ = false;
      force = writer_stopped_;
    }
    SyncDue(force);
    if (force) break;
  }
}

absl::Duration SpoolRecorder::Stalled() const {
  const int64_t now = SteadyMicros();
  int64_t longest = 0;
  for (const std::atomic<int64_t>* started :
       {&pass_started_us_, &sync_started_us_}) {
    const int64_t at = started->load();
    if (at != 0) longest = std::max(longest, now - at);
  }
  return absl::Microseconds(longest);
}

void SpoolRecorder::WatchLoop() {
  const absl::Duration period =
      std::clamp(options_.write_stall_limit / 4, absl::Milliseconds(10),
                 absl::Milliseconds(250));
  while (true) {
    std::vector<std::shared_ptr<SessionRecording>> sessions;
    absl::Duration stalled;
    {
      base::SteadyMutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return watch_stopped_;
      };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), period)) return;
      stalled = Stalled();
      if (stalled <= options_.write_stall_limit) continue;
      for (auto& [id, s] : open_) sessions.push_back(s);
    }
    const std::string why = absl::StrCat(
        StallMessage(stalled), " (is it hung?); the recording stopped");
    for (auto& s : sessions) {
      std::function<void()> waker;
      {
        absl::MutexLock lock(&s->mu_);
        if (!s->status_.ok()) continue;  // told once
        s->status_ = absl::UnavailableError(why);
        waker = s->waker_;
      }
      if (waker) waker();
    }
  }
}

void SpoolRecorder::WriteBatch(std::deque<Item>& batch) {
  std::vector<SessionRecording*> touched;
  size_t freed = 0;
  for (Item& item : batch) {
    SessionRecording& s = *item.session;
    freed += item.bytes;
    if (!s.in_batch_) {
      s.in_batch_ = true;
      touched.push_back(&s);
    }
    s.batch_ticket_ = item.ticket;
    v1::RecordingRecord& r = item.record;
    // The chainer re-derives seq from its own count: equal to the queue's.
    // Encoded and hashed once, straight into the session's write buffer.
    absl::Status st = SpoolWriter::ChainAndEncodeFrame(s.chain_, r, s.buffer_);
    if (!st.ok()) {
      absl::MutexLock lock(&s.mu_);
      if (s.status_.ok()) s.status_ = st;
    }
    if (r.has_session_end()) s.end_encoded_ = true;
    // Its bytes are in the write buffer now: the queue's copy goes, so a
    // pass does not hold its batch twice while the queue fills again.
    if (r.has_data()) std::string().swap(*r.mutable_data()->mutable_bytes());
  }
  {
    base::SteadyMutexLock lock(&mu_);
    queue_bytes_ -= freed;
    Unpark();
    BacklogChanged();
  }
  for (SessionRecording* s : touched) {
    s->in_batch_ = false;
    absl::Status st = s->status();
    if (st.ok() && !s->buffer_.empty()) {
      {
        absl::MutexLock io(&s->io_mu_);
        st = s->writer_.Write(s->buffer_);
      }
      if (st.ok()) {
        spool_bytes_.fetch_add(static_cast<int64_t>(s->buffer_.size()));
        s->written_bytes_.store(s->writer_.size());
        s->dirty_.store(true);
      } else {
        absl::MutexLock lock(&s->mu_);
        if (s->status_.ok()) {
          s->status_ = absl::Status(
              st.code(), absl::StrCat("the recording could not be written: ",
                                      st.message()));
        }
      }
    }
    // A burst (a channel window, up to MiBs) must not stay allocated for
    // the session's whole life, outside max_queue_bytes: a buffer grown
    // past kMaxIdleWriteBufferBytes is let go.
    s->buffer_.clear();
    if (s->buffer_.capacity() > kMaxIdleWriteBufferBytes) {
      std::string().swap(s->buffer_);
    }
    s->buffer_capacity_.store(s->buffer_.capacity(), std::memory_order_relaxed);
    if (st.ok()) {
      s->written_.store(s->batch_ticket_, std::memory_order_release);
    }
    if (s->end_encoded_ && !s->end_written_.load()) {
      // The writer is done with this session: the syncer closes it.
      if (st.ok()) s->end_in_file_.store(true);
      s->end_written_.store(true);
      base::SteadyMutexLock lock(&mu_);
      sync_wanted_ = true;
    }
    std::function<void()> waker;
    {
      absl::MutexLock lock(&s->mu_);
      waker = s->waker_;
    }
    if (waker) waker();
    // Progress: the stall watchdog times the next session's write.
    pass_started_us_.store(SteadyMicros());
  }
}

void SpoolRecorder::SyncDue(bool force) {
  std::vector<std::shared_ptr<SessionRecording>> sessions;
  {
    base::SteadyMutexLock lock(&mu_);
    for (auto& [id, s] : open_) sessions.push_back(s);
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto& s : sessions) {
    const bool finish = s->end_written_.load() || force || !s->status().ok();
    const bool due =
        !s->last_sync_.has_value() ||
        absl::FromChrono(now - *s->last_sync_) >= options_.fsync_interval;
    if ((finish || due) && s->dirty_.exchange(false)) {
      // What was written before the fdatasync starts is covered by it.
      const uint64_t written = s->written_bytes_.load();
      sync_started_us_.store(SteadyMicros());
      absl::Status st = s->writer_.Sync();
      sync_started_us_.store(0);
      s->last_sync_ = now;
      if (st.ok()) {
        s->synced_bytes_.store(written);
        s->syncs_.fetch_add(1);
      } else {
        absl::MutexLock lock(&s->mu_);
        if (s->status_.ok()) s->status_ = st;
      }
    }
    if (finish) {
      bool ended = false;
      ClosedWithoutEnd gone;
      {
        absl::MutexLock lock(&s->mu_);
        ended = s->ended_;
        gone.session_id = s->session_id_;
        gone.offset_us = s->end_offset_us_;
        gone.message = std::string(s->status_.message());
      }
      if (ended || force) {
        {
          absl::MutexLock io(&s->io_mu_);
          (void)s->writer_.Close();
        }
        s->closed_.store(true);
        {
          base::SteadyMutexLock lock(&mu_);
          open_.erase(s->session_id());
        }
        // An ended session whose end record is not in the file (its
        // recording failed): the shipper ends it. At a stop (force) the
        // others are the next start's orphans.
        if (ended && !s->end_in_file_.load()) {
          if (gone.message.empty()) {
            gone.message = "the recording stopped before the session ended";
          }
          absl::MutexLock lock(&closed_mu_);
          if (closed_without_end_) closed_without_end_(gone);
        }
      }
    }
  }
}

}  // namespace sallyport::audit
