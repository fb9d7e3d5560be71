// The gateway's recording shipper (DESIGN.md §9, issue 14): uploads the
// spool files under spool_dir (audit/spool.h) to the CA and deletes a file
// only after the CA confirmed every record of it, the session_end record
// included.
//
//  - Scans spool_dir at Start and every scan_interval (and on Wake). A
//    live session is tailed: its new records are shipped as they are
//    fsync'd (synced_bytes), so the CA never holds records a power loss
//    takes from the file. A closed one (session_end in the file) is shipped to
//    the end and deleted once the CA's last_seq is the end record's seq.
//  - Spools that exist when the shipper starts belong to a gateway process
//    that is gone (one gateway per spool_dir; the recorder opens sessions
//    only after Start). One without a session_end was cut short by a crash
//    or SIGKILL: its torn tail is truncated (RepairSpool, logged), a
//    session_end record with status `interrupted` and the last record's
//    time is appended to the spool (chained, fsync'd), and the whole is
//    shipped like any closed session. Channels still open in it are
//    closed first (channel_close records before the end) with the bytes
//    the recording holds of them, so the session's byte counts are not 0
//    (a lower bound: input that was not recorded, and output past the exec
//    limit that was only hashed, are not in the spool to count). The
//    session's `session.end` event (outcome interrupted), which the
//    stopped process never sent, is the CA's: it writes it when it stores
//    this end (audit/recording_writer.h), so a kill right after the append
//    cannot lose it, and a spool shipped again cannot double it.
//  - A live spool the recorder closed without a session_end (its
//    recording failed: ENOSPC, a hung disk; Closed) is ended the same
//    way, with status `failed` and the reason, once its records are at the
//    CA. When a spool cannot take its closing records (its disk full, an
//    I/O error), interrupted or failed, they are sent from memory; the
//    file is deleted once the CA confirmed them.
//  - Resume: for every session it first asks the CA where it stands (an
//    upload with no records returns last_seq) and sends only what follows;
//    after an error it asks again. Records are idempotent by seq at the CA.
//  - Failures: an upload that fails (CA unreachable, store down, a refusal)
//    is retried with exponential backoff per session, from min_backoff up
//    to max_backoff; while the CA cannot be reached, no session is tried.
//    Nothing is dropped: the spool file stays until the CA has it all, and
//    spool_max_bytes keeps bounding the disk (the recorder refuses new
//    recorded sessions while the spool is over it). A spool file's own
//    failure (it cannot be opened, read, repaired, appended to or deleted)
//    backs off that spool alone, logged; the pass goes on with the others.
//    A spool that cannot be read (damage that is not a torn tail) is
//    logged and left alone; it does not block the others.
//
// Memory: at most one message of records (max_records_per_message,
// max_message_bytes) per upload, one upload at a time; per spool file a
// small state (its open reader).
#ifndef SALLYPORT_AUDIT_SHIPPER_H_
#define SALLYPORT_AUDIT_SHIPPER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/spool.h"
#include "base/event_line.h"
#include "base/steady_mutex.h"
#include "proto/audit.pb.h"

namespace sallyport::audit {

// Records per upload message (the CA refuses more:
// ca/recording_service.h kMaxRecordsPerMessage).
inline constexpr size_t kShipMaxRecordsPerMessage = 256;
// Serialized records per message: below the CA's 1 MiB message limit with
// room for the session metadata and framing. A message always carries at
// least one record.
inline constexpr size_t kShipMaxMessageBytes = size_t{768} << 10;
// Record bytes per upload call; the call then ends, the CA's answer
// confirms them, and the next call continues (bounded call time).
inline constexpr uint64_t kShipMaxBytesPerCall = uint64_t{64} << 20;
// Channels left open in a spool whose bytes the shipper counts for the
// channel_close records it adds (more are closed with no count).
inline constexpr size_t kShipMaxOpenChannels = 4096;
// The message of the session_end the shipper appends to a spool left
// without one.
inline constexpr std::string_view kInterruptedMessage =
    "the gateway stopped before the session ended (recovered from the spool)";

// Where a session's records go: the CA (gateway/recording_uploader.h) or,
// in tests, a RecordingWriter over a Store.
class RecordingUploader {
 public:
  // Fills `records` with the next message's records; false when there are
  // no more (the call ends).
  using NextBatch =
      std::function<absl::StatusOr<bool>(std::vector<v1::RecordingRecord>&)>;
  virtual ~RecordingUploader() = default;
  // One upload of `session`'s records as `next` hands them out (none: a
  // question where to resume). Returns the session as the CA stored it
  // (last_seq: the last record durably stored).
  virtual absl::StatusOr<v1::RecordingSession> Upload(
      const v1::RecordingSession& session, const NextBatch& next) = 0;
  // Makes a running Upload return soon (shutdown). Default: nothing.
  virtual void CancelAll() {}
};

struct ShipperStats {
  int64_t spool_bytes = 0;              // bytes in spool files at the last scan
  int64_t backlog_bytes = 0;            // of them, not yet confirmed by the CA
  uint64_t errors_total = 0;            // failed uploads and unreadable spools
  uint64_t shipped_sessions_total = 0;  // spool files deleted after confirm
  uint64_t interrupted_total = 0;       // spools closed as interrupted
};

struct ShipperOptions {
  std::string spool_dir;
  RecordingUploader* uploader = nullptr;  // required, outlives the shipper
  absl::Duration scan_interval = absl::Seconds(1);
  absl::Duration min_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  size_t max_records_per_message = kShipMaxRecordsPerMessage;
  size_t max_message_bytes = kShipMaxMessageBytes;
  uint64_t max_bytes_per_call = kShipMaxBytesPerCall;
  // Called with a deleted spool file's size (SpoolRecorder::ForgetSpoolBytes),
  // with a torn tail cut from a previous process's spool, and with the
  // size of the closing records appended to a spool, negated: the sum over
  // a spool's life is what its writer counted, so the count comes back to 0.
  std::function<void(int64_t)> on_deleted;
  // One line per event worth an operator's attention (no secrets).
  std::function<void(std::string_view)> log;
  // Those about a failure (a session it cannot ship, a damaged spool);
  // unset: `log`.
  std::function<void(std::string_view)> warn;
  // The shipper's audit events (docs/audit-events.md), besides their log
  // line: recording.complete (fields records, status) once the CA has
  // every record and the spool is deleted; recording.repaired (fields
  // torn_bytes, reason) when a torn tail was cut. `session` is the spool's
  // metadata (session id, user). The gateway sends them to the CA. Called
  // on the shipper's thread.
  std::function<void(std::string_view code, const v1::RecordingSession& session,
                     const std::vector<base::LogField>& fields)>
      on_event;
  // Start a thread that ships every scan_interval; false: the caller calls
  // RunOnce (tests).
  bool thread = true;
  // Called after every pass with the counts (metrics).
  std::function<void(const ShipperStats&)> on_pass;
  // How many bytes of a live session's spool are fsync'd
  // (SpoolRecorder::SyncedBytes); nullopt for a spool the recorder has
  // closed. A live spool is shipped no further: after a power loss the CA
  // must not hold records the file lost (the restarted shipper would find
  // the spool behind the CA and never close it). Null: no limit.
  std::function<std::optional<uint64_t>(const std::string& session_id)>
      synced_bytes;
  // The clock of the backoff (tests); null: the steady clock as a time
  // since the Unix epoch (base::Clock::Monotonic; a backoff is a duration,
  // which a wall-clock step back must not stretch).
  std::function<absl::Time()> now;
};

class Shipper {
 public:
  // Lists spool_dir (a missing one is fine): the spools there now are a
  // previous process's. Starts the thread when options.thread.
  static absl::StatusOr<std::unique_ptr<Shipper>> Start(ShipperOptions options);
  // Stops the thread (cancelling a running upload). Spool files stay.
  ~Shipper();

  // One pass over spool_dir: ships what is due (sessions in backoff wait).
  // Returns the first error of the pass (the pass goes on past it).
  absl::Status RunOnce();
  // Asks the thread for a pass now.
  void Wake();
  // The recorder closed `closed.session_id`'s live spool without a
  // session_end (SpoolRecorder::SetClosedWithoutEnd): once its records
  // are at the CA, the session is ended with `closed`'s status and
  // message. Thread-safe; wakes the thread. Kept until a pass finds the
  // spool (or finds it gone): at most one per failed session.
  void Closed(const ClosedWithoutEnd& closed);
  ShipperStats stats() const;
  // When the session's next attempt is due, on the clock of
  // ShipperOptions::now (tests of the backoff); nullopt for a session the
  // shipper does not track.
  std::optional<absl::Time> NextAttempt(const std::string& session_id) const;

 private:
  struct Spool {
    std::string path;
    bool orphan = false;           // present at Start: its process is gone
    bool unreadable = false;       // damage that is not a torn tail
    bool damage_reported = false;  // its recording.damaged event went out
    bool repaired = false;
    std::optional<SpoolReader> reader;
    v1::RecordingSession meta;
    // What the CA confirmed; unknown (nullopt) until asked, and after an
    // error.
    std::optional<uint64_t> ca_last_seq;
    v1::SessionStatus ca_status = v1::SESSION_STATUS_UNSPECIFIED;
    uint64_t confirmed_bytes = 0;  // spool bytes up to ca_last_seq
    uint64_t end_seq = 0;          // seq of session_end once read, else 0
    int64_t last_offset_us = 0;    // of the last record read
    // A record read that did not fit the last message.
    std::optional<v1::RecordingRecord> held;
    // The recorder closed it without an end (Closed).
    std::optional<ClosedWithoutEnd> closed;
    // Channels opened and not closed in what the reader has read, with
    // the data bytes it holds of them (input, output).
    std::map<uint32_t, std::pair<uint64_t, uint64_t>> open_channels;
    // The closing records (channel closes, the end) the spool had no room
    // for: read after the file's last record (once per reader).
    std::vector<v1::RecordingRecord> tail_in_memory;
    size_t tail_in_memory_read = 0;
    bool deleted = false;
    int failures = 0;
    absl::Time next_attempt = absl::InfinitePast();
  };
  explicit Shipper(ShipperOptions options) : options_(std::move(options)) {}
  void Run();
  void Log(std::string_view line);
  void Warn(std::string_view line);
  void Event(std::string_view code, const v1::RecordingSession& session,
             const std::vector<base::LogField>& fields);
  absl::Status Scan(absl::Time now);
  // `ca_side`: the error is the CA's (its answer, or none); else it is
  // the spool file's (open, read, repair, unlink), which holds up no other
  // spool.
  absl::Status Ship(const std::string& id, Spool& spool, bool& ca_side);
  absl::Status OpenReader(Spool& spool, uint64_t skip_to);
  // Limits a live spool's reader to what is fsync'd (synced_bytes).
  void LimitToSynced(Spool& spool);
  absl::StatusOr<std::optional<v1::RecordingRecord>> ReadNext(Spool& spool);
  // Appends a session_end to a spool left without one: `interrupted`
  // for an orphan, the recorder's status for a Closed one.
  absl::Status CloseWithoutEnd(Spool& spool);
  // Backs the spool off; `ca_down` (the CA unreachable) holds up every
  // spool until then.
  absl::Status Failed(const std::string& id, Spool& spool,
                      const absl::Status& status, bool ca_side, bool ca_down);

  ShipperOptions options_;
  std::map<std::string, Spool> spools_;  // RunOnce only (one at a time)
  absl::Mutex run_mu_;                   // serialises RunOnce
  // While the CA is unreachable no session is tried before this.
  absl::Time ca_retry_at_ = absl::InfinitePast();

  // The thread's wait for the next pass is on the steady clock
  // (base/steady_mutex.h).
  mutable base::SteadyMutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  ShipperStats stats_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> next_attempts_ ABSL_GUARDED_BY(mu_);
  // Closed() sessions a pass has not matched to a spool yet.
  std::map<std::string, ClosedWithoutEnd> closed_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_SHIPPER_H_
