// The gateway's recorder (DESIGN.md §9, issue 14): one writer thread that
// chains the records of every recorded session, appends them to each
// session's spool file (audit/spool.h) with write(2) and tells the session
// when its records are in the file, so the gateway forwards a byte only
// after the spool has it (record before forward); and one syncer thread
// that fdatasyncs every `fsync_interval` and at the end and closes ended
// spools, so a slow fsync never holds up the writes. The I/O threads never
// touch the disk: they queue records and are woken when the writer is done
// with them.
//
// Memory: records wait in one queue bounded by `max_queue_bytes`
// (kDefaultMaxQueueBytes). A record that does not fit waits in its
// session's own backlog (parked, in order behind the session's queued
// records) until the writer frees room; each pass moves parked records
// into the queue a record per session in turn, so a disk slower than the
// sessions pauses them all alike (backpressure) instead of failing them.
// What bounds a session's backlog is its caller: the gateway consumes a
// channel's window only after the write, so a session has at most its
// connection's window budget (limits.max_buffered_bytes_per_connection)
// and its queued requests in flight, whatever the queue's state; 200 bulk
// sessions with 2 MiB windows hold 400 MiB, more than the queue's
// default limit, which ended sessions (the load test under CI load)
// before they parked. A session whose backlog would pass
// `max_session_backlog_bytes` (a caller that does not wait for its
// records) fails its recording, which ends the channel (fail closed); its
// end record is let in whatever the backlog, so what it queued is
// written. A record counts its bytes plus 256 (ItemBytes): a peer that
// sends its window in 1-byte packets that cannot be coalesced (stdout and
// stderr by turns) counts 257 times the window and fails its own session.
// Between writes a session keeps at most kMaxIdleWriteBufferBytes of write
// buffer.
//
// Cost per byte (issue 14 benchmark):
//   - Data records that arrive while the session's previous data record
//     still waits in the queue (the writer is busy) are coalesced into it
//     (same channel, direction and stream, up to `coalesce_data_bytes`):
//     one record, one chain hash and one frame per writer pass instead of
//     one per SSH packet.
//   - Paced passes: after a pass, the writer starts the next one no sooner
//     than `min_write_interval` later (unless kPacingFlushBytes are queued
//     or it is stopping). A stream that keeps the writer busy then arrives
//     in a few large records instead of one per SSH packet (a pty printing
//     40 MB/s sent ~5 KiB packets: ~8,000 records, writer wakes and gateway
//     wakes per second, each with its chain hash, frame, write(2), upload
//     row at the CA); the first record after a quiet spell is written at
//     once, so a keystroke's echo waits for nothing.
//   - Streams that are only counted and hashed (exec output past its limit,
//     file transfers, tunnels) are not the writer's: the caller hashes them
//     as they pass (gateway/spool_tap.cc) and queues only the summary.
#ifndef SALLYPORT_AUDIT_RECORDER_H_
#define SALLYPORT_AUDIT_RECORDER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/recording_record.h"
#include "audit/spool.h"
#include "base/clock.h"
#include "base/steady_mutex.h"
#include "proto/audit.pb.h"

namespace sallyport::audit {

inline constexpr size_t kDefaultMaxQueueBytes = size_t{256} << 20;
// The default RecorderOptions::max_session_backlog_bytes: four times the
// gateway's default window budget per connection (16 MiB).
inline constexpr size_t kDefaultMaxSessionBacklogBytes = size_t{64} << 20;
// Data records are coalesced up to this many bytes, also the most
// RecorderOptions::coalesce_data_bytes may give: a record must fit one
// upload message (gateway/spool_tap.h kMaxTapDataRecordBytes).
inline constexpr size_t kDefaultCoalesceDataBytes = size_t{256} << 10;
// The default RecorderOptions::min_write_interval, and the most it may be:
// what a byte of a busy stream may wait for its pass beyond the write.
inline constexpr absl::Duration kDefaultMinWriteInterval =
    absl::Milliseconds(2);
inline constexpr absl::Duration kMaxMinWriteInterval = absl::Milliseconds(50);
// Queued bytes that start a pass at once, paced or not.
inline constexpr size_t kPacingFlushBytes = size_t{1} << 20;
// A session's write buffer larger than this after a write is freed (the
// next write allocates again), so a burst does not stay allocated for the
// session's life.
inline constexpr size_t kMaxIdleWriteBufferBytes = size_t{64} << 10;
// Below this much room on the spool's filesystem it counts as full
// (SpoolRecorder::DiskRoom).
inline constexpr int64_t kMinSpoolFreeBytes = int64_t{1} << 20;
// The default RecorderOptions::write_stall_limit: a write pass or an fsync
// that has not returned for this long means the spool disk hangs.
inline constexpr absl::Duration kDefaultWriteStallLimit = absl::Seconds(10);

// The default RecorderOptions::probe_interval: how often the spool
// directory is checked for a file that can be written.
inline constexpr absl::Duration kDefaultSpoolProbeInterval = absl::Seconds(5);

struct RecorderOptions {
  std::string spool_dir;   // created (0700) when missing
  std::string gateway_id;  // written into every session's metadata
  absl::Duration fsync_interval = absl::Seconds(1);
  // New sessions are refused while the spool files add up to more.
  int64_t spool_max_bytes = int64_t{10} << 30;
  size_t max_queue_bytes = kDefaultMaxQueueBytes;
  // What one session may have parked while the queue is full (see the
  // comment at the top); one record more fails its recording.
  size_t max_session_backlog_bytes = kDefaultMaxSessionBacklogBytes;
  // 0: every Append is its own record; at most kDefaultCoalesceDataBytes.
  size_t coalesce_data_bytes = kDefaultCoalesceDataBytes;
  // Zero: every pass starts as soon as something is queued. At most
  // kMaxMinWriteInterval.
  absl::Duration min_write_interval = kDefaultMinWriteInterval;
  // A spool disk that hangs (a write(2) or fdatasync that does not return
  // for this long) fails every open session with the reason and wakes it,
  // so a strict session ends with a message instead of hanging, and new
  // sessions are refused until the disk moves again. A watchdog thread
  // checks it; the writer and the syncer may be stuck in the kernel.
  absl::Duration write_stall_limit = kDefaultWriteStallLimit;
  // At Start and then this often, a file is written into spool_dir and
  // removed (ProbeSpoolDir): SpoolWritable says whether that worked.
  absl::Duration probe_interval = kDefaultSpoolProbeInterval;
  // Called with the queue's bytes (the gateway's recorder_backlog_bytes
  // gauge) each time they change, from the I/O threads and the writer;
  // must be thread-safe and quick. Optional.
  std::function<void(int64_t)> backlog_changed;
  // Record offsets are measured on its Monotonic() (a wall-clock step
  // during a session moves no offset); its Now() is not read. Null: the
  // real clock.
  const base::Clock* clock = nullptr;
};

class SpoolRecorder;
class SessionRecording;

// What waits in the recorder's queue: a record of a session.
struct RecorderItem {
  std::shared_ptr<SessionRecording> session;
  uint64_t ticket = 0;
  v1::RecordingRecord record;
  size_t bytes = 0;  // what it counts in the queue
};

// One recorded session. Thread-safe; Append/End come from the session's
// executor, the waker is called on the writer thread. Must not outlive
// its SpoolRecorder.
class SessionRecording : public std::enable_shared_from_this<SessionRecording> {
 public:
  const std::string& session_id() const { return session_id_; }
  // Microseconds since the Unix epoch when the session started (its
  // metadata, started_at_us).
  int64_t start_us() const { return start_us_; }
  // A record's offset_us: microseconds from the session's start to `at`,
  // both on the recorder's clock's Monotonic() (RecorderOptions::clock),
  // so that a wall-clock step moves no offset. 0 for an `at` before the
  // start.
  int64_t OffsetUs(absl::Duration at) const;

  // Queues a record (its session id and seq are set here, its hash by the
  // writer) and returns its ticket: Written(ticket) once it is in the file.
  // A data record may be coalesced into the session's previous one still
  // queued (then both have the same ticket). A record that does not fit
  // the queue is parked (see the top of this file): Written(ticket) comes
  // later, nothing else changes. kResourceExhausted when the session's
  // backlog would pass max_session_backlog_bytes, kFailedPrecondition
  // after End, the write error after one happened.
  absl::StatusOr<uint64_t> Append(v1::RecordingRecord record);
  // Whether every record up to `ticket` is in the spool file (write(2)
  // returned).
  bool Written(uint64_t ticket) const {
    return written_.load(std::memory_order_acquire) >= ticket;
  }
  // The last ticket handed out.
  uint64_t last_queued() const;
  // The first write error (the session must end), OK otherwise.
  absl::Status status() const;
  // Called (without locks held, on the writer thread) after Written()
  // advanced or the recording failed.
  void SetWaker(std::function<void()> waker);
  // Appends the session_end record, at the offset of now on the
  // recorder's monotonic clock (the session's stored end is its start plus
  // that offset), and closes the spool once it is written and fsync'd.
  // Later Appends fail. Idempotent.
  void End(v1::SessionStatus status, const std::string& message);
  // Whether the spool file was closed after End (tests). A session whose
  // recording failed is closed without a session_end record; the recorder
  // then reports it (SpoolRecorder::SetClosedWithoutEnd) for the shipper
  // to end it.
  bool closed() const;
  // How many times the spool file was fdatasync'd (returned OK): every
  // RecorderOptions::fsync_interval while records keep coming, and once
  // more for the last ones at the end.
  uint64_t syncs() const { return syncs_.load(); }
  // How many bytes of the spool file the last fdatasync covered (0 before
  // the first).
  uint64_t synced_bytes() const { return synced_bytes_.load(); }
  // The capacity of the session's write buffer kept after its last write
  // (at most kMaxIdleWriteBufferBytes; tests). Current once Written() says
  // that write's records are in the file.
  size_t buffer_capacity() const {
    return buffer_capacity_.load(std::memory_order_relaxed);
  }

 private:
  friend class SpoolRecorder;
  // `chain` holds the records the spool file was created with (its
  // session_start).
  SessionRecording(SpoolRecorder& recorder, std::string session_id,
                   int64_t start_us, absl::Duration start_monotonic,
                   SpoolWriter writer, RecordChainer chain)
      : recorder_(recorder),
        session_id_(std::move(session_id)),
        start_us_(start_us),
        start_monotonic_(start_monotonic),
        queued_seq_(chain.last_seq()),
        writer_(std::move(writer)),
        chain_(std::move(chain)) {}

  // Under mu_: queues `record`.
  absl::StatusOr<uint64_t> Queue(v1::RecordingRecord record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  SpoolRecorder& recorder_;
  const std::string session_id_;
  const int64_t start_us_;
  // The start on the recorder's clock's Monotonic(): offsets are from it.
  const absl::Duration start_monotonic_;
  std::atomic<uint64_t> written_{0};  // the last ticket done

  mutable absl::Mutex mu_;
  uint64_t queued_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t queued_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  // Guarded by the recorder's mu_: the last item this session queued,
  // still in the recorder's queue while tail_generation_ is the queue's
  // generation (references into a deque stay valid across push_back).
  RecorderItem* tail_ = nullptr;
  uint64_t tail_generation_ = 0;
  // Guarded by the recorder's mu_: records that did not fit the queue, in
  // order (they follow everything of this session in the queue), and
  // their bytes. Not empty exactly while the session is in the recorder's
  // parked_ list.
  std::deque<RecorderItem> parked_;
  size_t parked_bytes_ = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  int64_t end_offset_us_ ABSL_GUARDED_BY(mu_) = 0;  // when End was called
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::function<void()> waker_ ABSL_GUARDED_BY(mu_);

  // Written by the writer thread; Sync and Close by the syncer (Close
  // only once the writer is done with the session: end_written_).
  SpoolWriter writer_;
  // Held around Write and Close, so a session that failed (and ended) is
  // never closed under a write in progress.
  absl::Mutex io_mu_;
  // Writer thread only.
  RecordChainer chain_;
  std::string buffer_;
  std::atomic<size_t> buffer_capacity_{0};  // buffer_'s, after a write
  bool end_encoded_ = false;
  bool in_batch_ = false;
  uint64_t batch_ticket_ = 0;  // the last ticket of this batch
  // Set by the writer, taken by the syncer.
  std::atomic<bool> dirty_{false};          // written since the last fsync
  std::atomic<uint64_t> written_bytes_{0};  // the file's size after a write
  std::atomic<uint64_t> synced_bytes_{0};   // of them, fdatasync'd
  std::atomic<bool> end_written_{false};    // session_end is in the file
  // ... and its write succeeded (else the spool is closed without it).
  std::atomic<bool> end_in_file_{false};
  // Syncer thread only. On the steady clock: a wall-clock step back must
  // not hold the next fsync for the size of the step. Unset: never synced.
  std::optional<std::chrono::steady_clock::time_point> last_sync_;
  std::atomic<uint64_t> syncs_{0};
  std::atomic<bool> closed_{false};
};

class SpoolRecorder {
 public:
  // Creates the spool directory when missing, locks it for this process
  // (flock of spool_dir/.lock, held until the recorder is destroyed) and
  // starts the writer. kFailedPrecondition ("spool_dir X is in use by
  // another sallyport-gateway process") when another recorder holds the
  // lock: its live spools must not be taken for a dead process's.
  // kUnavailable when the directory cannot be created, locked or listed.
  static absl::StatusOr<std::unique_ptr<SpoolRecorder>> Start(
      RecorderOptions options);
  // Writes what is queued, fsyncs and closes every spool, stops the writer.
  ~SpoolRecorder();

  // Creates the session's spool file (on the caller's thread: a failure
  // refuses the session; its fsyncs are left to the syncer thread). `meta`
  // needs session_id, user, login, host; gateway_id and started_at_us
  // (`started_at`) are filled in. The file starts with the session's first
  // record, its session_start (user, login, host, started_at_us), so that
  // the chain covers them. `started_monotonic` is the same instant on
  // clock().Monotonic(), from which the records' offsets are measured
  // (unset: now). kResourceExhausted while the spool is over
  // spool_max_bytes; the spool's own errors otherwise (kPermissionDenied,
  // kUnavailable, kResourceExhausted for ENOSPC).
  absl::StatusOr<std::shared_ptr<SessionRecording>> OpenSession(
      v1::RecordingSession meta, absl::Time started_at,
      std::optional<absl::Duration> started_monotonic = std::nullopt);
  // OK when OpenSession would try a new session; else why it refuses them
  // (the writer stalled on the disk, or the spool over spool_max_bytes).
  absl::Status AcceptingSessions() const;
  // OK unless the spool's filesystem has less than kMinSpoolFreeBytes
  // available (statvfs): recorded sessions would fail with ENOSPC (the
  // gateway's /healthz says so; OpenSession still tries, and fails with
  // the kernel's reason). OK when statvfs fails.
  absl::Status DiskRoom() const;
  // OK when the last probe (at Start, then every probe_interval) could
  // create, write and remove a file in spool_dir; else why not (new
  // recorded sessions fail: the gateway's /healthz says so).
  absl::Status SpoolWritable() const;

  // Bytes in spool files (counted at Start and as the writer appends;
  // ForgetSpoolBytes when the shipper deletes one).
  int64_t spool_bytes() const { return spool_bytes_.load(); }
  void ForgetSpoolBytes(int64_t n) { spool_bytes_.fetch_sub(n); }
  // Bytes of records waiting for the writer: queued and parked (the
  // backlog gauge), and of them the parked ones.
  size_t queued_bytes() const;
  size_t parked_bytes() const;
  // Raises RecorderOptions::max_session_backlog_bytes to `bytes` (the
  // gateway's reload of a larger limits.max_buffered_bytes_per_connection);
  // a smaller value changes nothing: the connections open before a reload
  // keep the window budget they started with, and their sessions the
  // backlog it needs.
  void RaiseMaxSessionBacklogBytes(size_t bytes);
  // How many bytes of an open session's spool file are fdatasync'd (the
  // shipper uploads no further: ShipperOptions::synced_bytes); nullopt
  // once the spool is closed (synced at Close, or failed) or for a
  // session this recorder does not have open.
  std::optional<uint64_t> SyncedBytes(const std::string& session_id) const;
  const RecorderOptions& options() const { return options_; }
  // RecorderOptions::clock, or the real clock.
  const base::Clock& clock() const { return *clock_; }
  // Called (on the syncer thread, for each session) once a spool is
  // closed without its session_end record: the shipper ends the session
  // at the CA with what the spool holds. Null: nobody is told (the spool
  // is closed as interrupted at the next start). Setting it waits for a
  // call in progress, so the callee may go away after setting null.
  void SetClosedWithoutEnd(std::function<void(const ClosedWithoutEnd&)> fn);

 private:
  friend class SessionRecording;
  using Item = RecorderItem;
  explicit SpoolRecorder(RecorderOptions options)
      : options_(std::move(options)),
        clock_(options_.clock != nullptr ? options_.clock
                                         : base::Clock::Real()) {}
  // Queues `item`, or (`coalesce` and the session's previous item is a
  // data record of the same channel, direction and stream still queued,
  // with room) appends its data to that record: then returns false.
  absl::StatusOr<bool> Enqueue(Item item, bool coalesce);
  // Under mu_: parks `item` in its session's backlog, or coalesces it into
  // the last parked record (then returns false).
  absl::StatusOr<bool> Park(Item item, bool coalesce, size_t data_bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writer, under mu_, after a pass freed room: moves parked records into
  // the queue, one per session in turn, while they fit (and at least one
  // when the queue is empty, so a record larger than the limit still
  // goes).
  void Unpark() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SessionBacklogFull() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Under mu_: tells backlog_changed what is queued and parked.
  void BacklogChanged() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run();
  // Writer, under mu_: waits for `wait` (of the steady clock) unless the
  // queue holds kPacingFlushBytes or the recorder is stopping.
  void AwaitPacing(absl::Duration wait) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writer: encode, write and wake.
  void WriteBatch(std::deque<Item>& batch);
  // Syncer: fsync what is due; close ended ones (all once `force`).
  void SyncLoop();
  void SyncDue(bool force);
  // Watchdog: fails every open session while the disk hangs.
  void WatchLoop();
  // Prober: ProbeSpoolDir now, then every probe_interval until stopping.
  void Probe();
  void ProbeLoop();
  // How long the write pass or fsync in progress has been waiting for the
  // disk (zero when none is).
  absl::Duration Stalled() const;

  const RecorderOptions options_;
  const base::Clock* const clock_;
  // spool_dir/.lock, flock'ed for the recorder's life.
  int lock_fd_ = -1;
  std::atomic<int64_t> spool_bytes_{0};
  // Its timed waits (pacing, the fsync interval, the watchdog, the probe)
  // are on the steady clock (base/steady_mutex.h).
  mutable base::SteadyMutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  // Bumped when the writer takes the queue (see SessionRecording::tail_).
  uint64_t queue_generation_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queue_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Sessions with parked records, in the order they get their next turn,
  // and the parked bytes of them all.
  std::deque<std::shared_ptr<SessionRecording>> parked_ ABSL_GUARDED_BY(mu_);
  size_t parked_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t max_session_backlog_bytes_ ABSL_GUARDED_BY(mu_) =
      options_.max_session_backlog_bytes;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The writer has stopped (the syncer's last pass closes everything).
  bool writer_stopped_ ABSL_GUARDED_BY(mu_) = false;
  // A session's end reached the file: the syncer closes it now.
  bool sync_wanted_ ABSL_GUARDED_BY(mu_) = false;
  // Sessions with a spool open (writer thread only after creation).
  std::map<std::string, std::shared_ptr<SessionRecording>> open_
      ABSL_GUARDED_BY(mu_);
  // When the writer's pass and the syncer's fsync in progress started
  // (microseconds of the steady clock, SteadyMicros; 0: none in
  // progress): a wall-clock step is no stall, nor does it hide one. The
  // writer moves pass_started_us_ on after each session's write in a
  // pass: a pass of many sessions on a slow disk that keeps writing (256
  // MiB at 20 MB/s is 13 s) is no hung disk; one write(2) that does not
  // return is.
  std::atomic<int64_t> pass_started_us_{0};
  std::atomic<int64_t> sync_started_us_{0};
  // The watchdog stops (after the syncer).
  bool watch_stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex closed_mu_;
  std::function<void(const ClosedWithoutEnd&)> closed_without_end_
      ABSL_GUARDED_BY(closed_mu_);
  // The last ProbeSpoolDir's result.
  mutable absl::Mutex probe_mu_;
  absl::Status probed_ ABSL_GUARDED_BY(probe_mu_);
  std::thread thread_;
  std::thread sync_thread_;
  std::thread watch_thread_;
  std::thread probe_thread_;
};

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_RECORDER_H_
