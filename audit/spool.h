// The recorder's per-session spool file (DESIGN.md §9): append-only,
// under the gateway's spool_dir, holding the session's metadata and its
// records with their chain hashes, so that what the gateway forwarded is on
// disk even if the gateway is killed, and is shipped to the CA later.
//
// File layout (integers big-endian):
//   "SPSPOOL1"                                     8 bytes of magic
//   frame*                                         until the end of file
// frame:
//   uint32 payload_length  uint8 type  payload  check(32 bytes)
//   type 'M' (first frame, once): payload = RecordingSession proto
//            (session id, user, login, host, gateway id, start time);
//            check = SHA-256(payload)
//   type 'R': payload = the record's canonical bytes
//            (audit/recording_record.h); check = the record's chain hash,
//            raw, i.e. SHA-256(prev hash hex || payload)
//
// A gateway killed in the middle of a write leaves a torn last frame: a
// reader finds it (short frame, or a check that does not match) and Repair
// truncates exactly that tail, reporting how many bytes went. A bad frame
// followed by good ones is not a torn tail: it is kDataLoss (naming the
// byte offset of the damage) and nothing is truncated. That includes a
// frame whose length field disagrees with its record's own lengths (the
// canonical bytes carry them): a length damaged in the middle of the file
// that now points past its end, or exactly at it.
#ifndef SALLYPORT_AUDIT_SPOOL_H_
#define SALLYPORT_AUDIT_SPOOL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/recording_record.h"
#include "proto/audit.pb.h"

namespace sallyport::audit {

inline constexpr std::string_view kSpoolMagic = "SPSPOOL1";
inline constexpr std::string_view kSpoolSuffix = ".spool";
// A frame's payload is never longer (a record's canonical bytes are
// bounded by kMaxCanonicalRecordBytes; metadata by this too).
inline constexpr size_t kMaxSpoolPayloadBytes = kMaxCanonicalRecordBytes;

// Session ids become file names: 1..128 of [A-Za-z0-9._-], not starting
// with '.'.
absl::Status ValidateSpoolSessionId(std::string_view id);
// dir/<id>.spool
std::string SpoolPath(std::string_view dir, std::string_view session_id);

// The file ProbeSpoolDir writes: no kSpoolSuffix, so it is never taken for
// a spool.
inline constexpr std::string_view kSpoolProbeName = ".write-probe";
// Whether a spool file could be written in `dir` now: creates
// dir/.write-probe, writes a byte to it, closes and unlinks it. Errors name
// the path and the reason: kPermissionDenied (EACCES, EPERM, EROFS),
// kResourceExhausted (ENOSPC, EDQUOT), kUnavailable otherwise.
absl::Status ProbeSpoolDir(std::string_view dir);

// Appends frames to a new spool file. Not thread-safe: one writer thread.
class SpoolWriter {
 public:
  // Creates dir/<id>.spool (it must not exist) and writes the magic and
  // the metadata frame, fsync'd with the directory entry. Without
  // `durable`, the first Sync() does both fsyncs instead: the recorder
  // creates spools on the gateway I/O thread that opens a recorded channel
  // and leaves the disk waits to its syncer thread (the file is as durable
  // as the records written after it: within the fsync interval).
  // `frames` (record frames, EncodeFrame) are written with the metadata in
  // the same write: the recorder's session_start record.
  static absl::StatusOr<SpoolWriter> Create(std::string_view dir,
                                            const v1::RecordingSession& session,
                                            bool durable = true,
                                            std::string_view frames = {});
  SpoolWriter(SpoolWriter&& other) noexcept;
  SpoolWriter& operator=(SpoolWriter&& other) noexcept;
  SpoolWriter(const SpoolWriter&) = delete;
  SpoolWriter& operator=(const SpoolWriter&) = delete;
  ~SpoolWriter();

  // Appends a chained record's frame to `buffer` (nothing is written yet).
  // `record.hash()` must be its chain hash.
  static absl::Status EncodeFrame(const v1::RecordingRecord& record,
                                  std::string& buffer);
  // Chains `record` (chain.Append) and appends its frame to `buffer`,
  // encoding and hashing its canonical bytes once (the recorder's writer).
  // On error `buffer` is as it was.
  static absl::Status ChainAndEncodeFrame(RecordChainer& chain,
                                          v1::RecordingRecord& record,
                                          std::string& buffer);
  // write(2)s the whole buffer (retrying short writes). On error the file
  // may end in a torn frame; the writer refuses further writes.
  absl::Status Write(std::string_view bytes);
  // fdatasync(2), and the directory's fsync the first time after a Create
  // without `durable`. May run on another thread than Write (the recorder's
  // syncer), never at the same time as Close or a move.
  absl::Status Sync();
  // Sync, then close. Idempotent.
  absl::Status Close();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

 private:
  SpoolWriter(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  int fd_ = -1;
  std::string path_;
  // Created without `durable`: the directory the next Sync() fsyncs.
  std::string dir_to_sync_;
  uint64_t size_ = 0;
  std::atomic<bool> failed_{false};
};

// What a spool holds.
struct SpoolContents {
  v1::RecordingSession session;
  std::vector<v1::RecordingRecord> records;  // chained, in order
  uint64_t good_bytes = 0;  // the file up to the end of the last good frame
  uint64_t torn_bytes = 0;  // bytes after it (a torn tail), 0 when clean
  std::string head = std::string(kRecordingGenesis);
};

// Reads a spool in pieces (the shipper), checking the chain.
class SpoolReader {
 public:
  static absl::StatusOr<SpoolReader> Open(const std::string& path);
  SpoolReader(SpoolReader&& other) noexcept;
  SpoolReader& operator=(SpoolReader&& other) noexcept;
  SpoolReader(const SpoolReader&) = delete;
  SpoolReader& operator=(const SpoolReader&) = delete;
  ~SpoolReader();

  const v1::RecordingSession& session() const { return session_; }
  // The next record, or nullopt at the end of the good frames (see
  // torn_bytes()). kDataLoss for a bad frame that is not the file's tail.
  absl::StatusOr<std::optional<v1::RecordingRecord>> Next();
  uint64_t good_bytes() const { return good_; }
  // After Next returned nullopt: bytes of a torn tail, 0 when clean.
  uint64_t torn_bytes() const { return file_size_ - good_; }
  uint64_t last_seq() const { return seq_; }
  const std::string& head() const { return head_; }
  // ship (#14, additive): re-reads the file's size, so that Next sees the
  // frames a live session appended since Open (the shipper's tail).
  absl::Status Refresh();
  // Reads no further than `bytes` into the file (Next ends there, as at
  // the end of the file), from now and after every Refresh: a live spool
  // is shipped only as far as it is fsync'd. `bytes` must be at a frame
  // boundary. Default: no limit.
  void set_limit(uint64_t bytes);
  // Off: a frame's check is taken as its record's chain hash without
  // recomputing it (the frames' framing, lengths, canonical bytes and seqs
  // are still checked). For spools this process's recorder wrote, whose
  // hashes it computed: the shipper does not hash every byte a second time
  // (SHA-256 was a fifth of the gateway's recording CPU), and the CA
  // recomputes every record's hash against its stored chain anyway. On by
  // default; always on for spools of a process that is gone.
  void set_verify_chain(bool verify) { verify_chain_ = verify; }

 private:
  SpoolReader(int fd, std::string path, uint64_t file_size)
      : fd_(fd), path_(std::move(path)), file_size_(file_size) {}
  absl::StatusOr<bool> ReadFrame(uint8_t& type, std::string& payload,
                                 std::string& check);
  absl::StatusOr<bool> OnlyZerosFrom(uint64_t offset);
  // The length of the record whose frame starts at good_, from the
  // record's own string lengths (CanonicalLengthOfPrefix over what the
  // file holds after the frame header).
  absl::StatusOr<std::optional<uint64_t>> RecordLengthAtGood();
  int fd_ = -1;
  bool insane_length_ = false;
  uint32_t frame_length_ = 0;  // of the frame ReadFrame last looked at
  std::string path_;
  uint64_t file_size_ = 0;
  uint64_t limit_ = UINT64_MAX;  // set_limit
  uint64_t good_ = 0;            // offset after the last good frame
  uint64_t seq_ = 0;
  std::string head_ = std::string(kRecordingGenesis);
  bool verify_chain_ = true;
  v1::RecordingSession session_;
};

// A live session's spool the recorder closed without its session_end
// record (audit/recorder.h SetClosedWithoutEnd): its recording failed (a write
// error such as ENOSPC, a hung disk) and the session ended. `message` says why;
// `offset_us` is when it ended.
struct ClosedWithoutEnd {
  std::string session_id;
  v1::SessionStatus status = v1::SESSION_STATUS_FAILED;
  std::string message;
  int64_t offset_us = 0;
};

// Reads the whole spool (tests, small spools).
absl::StatusOr<SpoolContents> ReadSpool(const std::string& path);
// Truncates a torn tail (only bytes after the last good frame) and fsyncs.
// Returns the bytes removed (0 when the spool was clean). kDataLoss when
// the damage is not at the tail (nothing is changed then).
absl::StatusOr<uint64_t> RepairSpool(const std::string& path);

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_SPOOL_H_
