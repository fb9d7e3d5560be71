#include "audit/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::audit {
namespace {

constexpr size_t kCheckBytes = 32;
constexpr size_t kFrameHeaderBytes = 5;

absl::Status Errno(std::string_view what, std::string_view path, int err) {
  const std::string message = absl::StrCat(
      std::string(what), " ", std::string(path), ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(message);
  }
  if (err == EACCES || err == EPERM || err == EROFS) {
    return absl::PermissionDeniedError(message);
  }
  return absl::UnavailableError(message);
}

void PutFrameHeader(std::string& out, size_t payload, char type) {
  const uint32_t n = static_cast<uint32_t>(payload);
  const char b[5] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n), type};
  out.append(b, 5);
}

absl::Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path, errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDir(std::string_view dir) {
  const std::string d(dir);
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", d, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Errno("cannot fsync", d, err);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Sha256Raw(std::string_view data) {
  StreamHasher h;
  h.Update(data);
  return h.Finish();
}

}  // namespace

absl::Status ValidateSpoolSessionId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') {
    return absl::InvalidArgumentError(
        "a spooled session id must be 1..128 characters, not starting with "
        "'.'");
  }
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
      return absl::InvalidArgumentError(
          "a spooled session id may hold only [A-Za-z0-9._-]");
    }
  }
  return absl::OkStatus();
}

std::string SpoolPath(std::string_view dir, std::string_view session_id) {
  return absl::StrCat(std::string(dir), "/", std::string(session_id),
                      std::string(kSpoolSuffix));
}

// ------------------------------------------------------------ writer

absl::Status ProbeSpoolDir(std::string_view dir) {
  const std::string path =
      absl::StrCat(std::string(dir), "/", std::string(kSpoolProbeName));
  const int fd =
      ::open(path.c_str(),
             O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", path, errno);
  absl::Status st = WriteAll(fd, "x", path);
  if (::close(fd) != 0 && st.ok()) st = Errno("cannot write", path, errno);
  if (::unlink(path.c_str()) != 0 && st.ok()) {
    st = Errno("cannot remove", path, errno);
  }
  return st;
}

absl::StatusOr<SpoolWriter> SpoolWriter::Create(
    std::string_view dir, const v1::RecordingSession& session, bool durable,
    std::string_view frames) {
  RETURN_IF_ERROR(ValidateSpoolSessionId(session.session_id()));
  std::string path = SpoolPath(dir, session.session_id());
  const int fd = ::open(
      path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(path, " already exists"));
    }
    return Errno("cannot create", path, errno);
  }
  SpoolWriter w(fd, std::move(path), 0);
  std::string head(kSpoolMagic);
  const std::string meta = session.SerializeAsString();
  PutFrameHeader(head, meta.size(), 'M');
  head += meta;
  ASSIGN_OR_RETURN(std::string check, Sha256Raw(meta));
  head += check;
  head += frames;
  absl::Status s = w.Write(head);
  if (durable) {
    if (s.ok()) s = w.Sync();
    if (s.ok()) s = SyncDir(dir);
  } else {
    w.dir_to_sync_ = std::string(dir);
  }
  if (!s.ok()) {
    (void)w.Close();
    ::unlink(w.path_.c_str());
    return s;
  }
  return w;
}

SpoolWriter::SpoolWriter(SpoolWriter&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      dir_to_sync_(std::move(o.dir_to_sync_)),
      size_(o.size_),
      failed_(o.failed_.load()) {}

SpoolWriter& SpoolWriter::operator=(SpoolWriter&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    dir_to_sync_ = std::move(o.dir_to_sync_);
    size_ = o.size_;
    failed_ = o.failed_.load();
  }
  return *this;
}

SpoolWriter::~SpoolWriter() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status SpoolWriter::EncodeFrame(const v1::RecordingRecord& record,
                                      std::string& buffer) {
  if (record.hash().size() != 64) {
    return absl::InvalidArgumentError("the record has no chain hash");
  }
  for (char c : record.hash()) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return absl::InvalidArgumentError("the record's hash is not hex");
    }
  }
  const std::string raw_hash = absl::HexStringToBytes(record.hash());
  if (raw_hash.size() != kCheckBytes) {
    return absl::InvalidArgumentError("the record's hash is not hex");
  }
  const size_t start = buffer.size();
  PutFrameHeader(buffer, 0, 'R');
  AppendCanonicalBytes(record, buffer);
  const size_t payload = buffer.size() - start - kFrameHeaderBytes;
  if (payload > kMaxSpoolPayloadBytes) {
    buffer.resize(start);
    return absl::InvalidArgumentError("the record is too long to spool");
  }
  std::string header;
  PutFrameHeader(header, payload, 'R');
  buffer.replace(start, kFrameHeaderBytes, header);
  buffer += raw_hash;
  return absl::OkStatus();
}

absl::Status SpoolWriter::ChainAndEncodeFrame(RecordChainer& chain,
                                              v1::RecordingRecord& record,
                                              std::string& buffer) {
  const size_t start = buffer.size();
  PutFrameHeader(buffer, 0, 'R');
  std::string raw_hash;
  absl::Status st = chain.AppendTo(record, buffer, &raw_hash);
  const size_t payload = buffer.size() - start - kFrameHeaderBytes;
  // A valid record's canonical bytes are within the limit; kept as a check.
  if (st.ok() && payload > kMaxSpoolPayloadBytes) {
    st = absl::InternalError("the record is too long to spool");
  }
  if (!st.ok()) {
    buffer.resize(start);
    return st;
  }
  std::string header;
  PutFrameHeader(header, payload, 'R');
  buffer.replace(start, kFrameHeaderBytes, header);
  buffer += raw_hash;
  return absl::OkStatus();
}

absl::Status SpoolWriter::Write(std::string_view bytes) {
  if (fd_ < 0 || failed_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, " is closed or failed earlier"));
  }
  absl::Status s = WriteAll(fd_, bytes, path_);
  if (!s.ok()) {
    failed_ = true;
    return s;
  }
  size_ += bytes.size();
  return absl::OkStatus();
}

absl::Status SpoolWriter::Sync() {
  if (fd_ < 0) return absl::FailedPreconditionError("spool closed");
  if (::fdatasync(fd_) != 0) {
    failed_ = true;
    return Errno("cannot fsync", path_, errno);
  }
  if (!dir_to_sync_.empty()) {
    if (absl::Status s = SyncDir(dir_to_sync_); !s.ok()) {
      failed_ = true;
      return s;
    }
    dir_to_sync_.clear();
  }
  return absl::OkStatus();
}

absl::Status SpoolWriter::Close() {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status s = failed_ ? absl::OkStatus() : Sync();
  if (::close(fd_) != 0 && s.ok()) s = Errno("cannot close", path_, errno);
  fd_ = -1;
  return s;
}

// ------------------------------------------------------------ reader

absl::StatusOr<SpoolReader> SpoolReader::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(path + " not found");
    return Errno("cannot open", path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Errno("cannot stat", path, err);
  }
  SpoolReader r(fd, path, static_cast<uint64_t>(st.st_size));
  char magic[8];
  ssize_t n;
  do {
    n = ::pread(fd, magic, sizeof magic, 0);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof magic) ||
      std::string_view(magic, sizeof magic) != kSpoolMagic) {
    return absl::DataLossError(absl::StrCat(path, " is not a spool file"));
  }
  r.good_ = kSpoolMagic.size();
  uint8_t type = 0;
  std::string payload, check;
  ASSIGN_OR_RETURN(bool got, r.ReadFrame(type, payload, check));
  if (!got || type != 'M' || !r.session_.ParseFromString(payload)) {
    return absl::DataLossError(
        absl::StrCat(path, ": the session metadata is missing or torn"));
  }
  ASSIGN_OR_RETURN(std::string want, Sha256Raw(payload));
  if (want != check) {
    return absl::DataLossError(
        absl::StrCat(path, ": the session metadata is damaged"));
  }
  r.good_ += kFrameHeaderBytes + payload.size() + kCheckBytes;
  return r;
}

SpoolReader::SpoolReader(SpoolReader&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      file_size_(o.file_size_),
      limit_(o.limit_),
      good_(o.good_),
      seq_(o.seq_),
      head_(std::move(o.head_)),
      session_(std::move(o.session_)) {}

SpoolReader& SpoolReader::operator=(SpoolReader&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    file_size_ = o.file_size_;
    limit_ = o.limit_;
    good_ = o.good_;
    seq_ = o.seq_;
    head_ = std::move(o.head_);
    session_ = std::move(o.session_);
  }
  return *this;
}

SpoolReader::~SpoolReader() {
  if (fd_ >= 0) ::close(fd_);
}

// Reads the frame at good_. false: no complete, sane frame there (a tail
// to look at); the caller decides whether it is torn.
absl::StatusOr<bool> SpoolReader::ReadFrame(uint8_t& type, std::string& payload,
                                            std::string& check) {
  auto read_at = [&](uint64_t off, char* buf, size_t len) -> absl::Status {
    size_t done = 0;
    while (done < len) {
      const ssize_t n =
          ::pread(fd_, buf + done, len - done, static_cast<off_t>(off + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("cannot read", path_, errno);
      }
      if (n == 0) return absl::OutOfRangeError("short");
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  };
  insane_length_ = false;
  if (file_size_ - good_ < kFrameHeaderBytes + kCheckBytes) return false;
  char header[kFrameHeaderBytes];
  RETURN_IF_ERROR(read_at(good_, header, kFrameHeaderBytes));
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i)
    len = (len << 8) | static_cast<uint8_t>(header[i]);
  type = static_cast<uint8_t>(header[4]);
  frame_length_ = len;
  insane_length_ = len > kMaxSpoolPayloadBytes;
  if (insane_length_ ||
      file_size_ - good_ < kFrameHeaderBytes + len + kCheckBytes) {
    return false;
  }
  payload.resize(len);
  check.resize(kCheckBytes);
  absl::Status s = read_at(good_ + kFrameHeaderBytes, payload.data(), len);
  if (s.ok()) {
    s = read_at(good_ + kFrameHeaderBytes + len, check.data(), kCheckBytes);
  }
  if (absl::IsOutOfRange(s)) return false;  // the file shrank under us
  RETURN_IF_ERROR(s);
  return true;
}

absl::StatusOr<std::optional<v1::RecordingRecord>> SpoolReader::Next() {
  uint8_t type = 0;
  std::string payload, check;
  ASSIGN_OR_RETURN(bool got, ReadFrame(type, payload, check));
  absl::StatusOr<v1::RecordingRecord> record = absl::DataLossError("bad frame");
  bool good = false;
  if (got && type == 'R') {
    absl::StatusOr<RecordFields> fields = ParseCanonicalBytes(payload);
    if (fields.ok() && fields->seq == seq_ + 1 &&
        fields->session_id == session_.session_id()) {
      const std::string written = absl::BytesToHexString(check);
      absl::StatusOr<std::string> hash =
          verify_chain_ ? ChainHash(head_, payload) : written;
      if (hash.ok() && written == *hash) {
        fields->hash = *hash;
        record = FromFields(*fields);
        good = record.ok();
      }
    }
  }
  if (good) {
    good_ += kFrameHeaderBytes + payload.size() + kCheckBytes;
    seq_ = record->seq();
    head_ = record->hash();
    return std::optional<v1::RecordingRecord>(*std::move(record));
  }
  if (good_ == file_size_) return std::optional<v1::RecordingRecord>();
  // A bad or short frame. It is a torn tail when nothing good can follow:
  // the frame runs past the end of the file, ends exactly at it, or only
  // zeros (blocks allocated but never written) follow.
  // hyg: a frame with a sane length that runs past the end of the file is
  // a torn tail only when the bytes there are the start of the record that
  // length announces: a length damaged in the middle of the file (the
  // record's own lengths say it ends earlier, with records after it) must
  // not make Repair cut the good records after it.
  if (!got && !insane_length_) {
    if (file_size_ - good_ < kFrameHeaderBytes + kCheckBytes) {
      return std::optional<v1::RecordingRecord>();
    }
    absl::StatusOr<std::optional<uint64_t>> own = RecordLengthAtGood();
    if (!own.ok() && !absl::IsDataLoss(own.status())) return own.status();
    if (own.ok() && (!own->has_value() || **own == frame_length_)) {
      return std::optional<v1::RecordingRecord>();
    }
    return absl::DataLossError(absl::StrCat(
        path_, ": damaged record after record ", seq_, " at byte ", good_,
        ": its frame length (", frame_length_,
        ") runs past the end of the file but ",
        own.ok() ? absl::StrCat("its record is ", **own, " bytes long")
                 : std::string("its record is malformed"),
        " (not a torn tail)"));
  }
  // A complete last frame: a torn page, unless its record's own length
  // says the frame length was damaged (it would cover later records).
  if (got &&
      good_ + kFrameHeaderBytes + payload.size() + kCheckBytes == file_size_) {
    absl::StatusOr<std::optional<uint64_t>> own =
        CanonicalLengthOfPrefix(payload);
    if (own.ok() && own->has_value() && **own != payload.size()) {
      return absl::DataLossError(absl::StrCat(
          path_, ": damaged record after record ", seq_, " at byte ", good_,
          ": its frame length (", payload.size(),
          ") reaches the end of the "
          "file but its record is ",
          **own, " bytes long (not a torn tail)"));
    }
    return std::optional<v1::RecordingRecord>();
  }
  ASSIGN_OR_RETURN(bool zeros, OnlyZerosFrom(good_));
  if (zeros) return std::optional<v1::RecordingRecord>();
  return absl::DataLossError(
      absl::StrCat(path_, ": damaged record after record ", seq_, " at byte ",
                   good_, ", followed by more data (not a torn tail)"));
}

absl::Status SpoolReader::Refresh() {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return Errno("cannot stat", path_, errno);
  file_size_ = std::max<uint64_t>(
      good_, std::min<uint64_t>(limit_, static_cast<uint64_t>(st.st_size)));
  return absl::OkStatus();
}

void SpoolReader::set_limit(uint64_t bytes) {
  limit_ = bytes;
  file_size_ = std::max(good_, std::min(file_size_, limit_));
}

absl::StatusOr<std::optional<uint64_t>> SpoolReader::RecordLengthAtGood() {
  // The canonical bytes' own lengths end within the first
  // kMaxRecordNameBytes * 2 + kMaxRecordSummaryBytes + 1 KiB of the payload.
  constexpr uint64_t kPrefix =
      2 * kMaxRecordNameBytes + kMaxRecordSummaryBytes + 1024;
  const uint64_t start = good_ + kFrameHeaderBytes;
  if (start >= file_size_) return std::optional<uint64_t>();
  std::string buf(
      static_cast<size_t>(std::min<uint64_t>(kPrefix, file_size_ - start)),
      '\0');
  size_t got = 0;
  while (got < buf.size()) {
    const ssize_t n = ::pread(fd_, buf.data() + got, buf.size() - got,
                              static_cast<off_t>(start + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot read", path_, errno);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  return CanonicalLengthOfPrefix(buf);
}

absl::StatusOr<bool> SpoolReader::OnlyZerosFrom(uint64_t offset) {
  char buf[64 * 1024];
  while (offset < file_size_) {
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(sizeof buf, file_size_ - offset));
    const ssize_t n = ::pread(fd_, buf, want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot read", path_, errno);
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != '\0') return false;
    }
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

absl::StatusOr<SpoolContents> ReadSpool(const std::string& path) {
  ASSIGN_OR_RETURN(SpoolReader r, SpoolReader::Open(path));
  SpoolContents out;
  out.session = r.session();
  while (true) {
    ASSIGN_OR_RETURN(std::optional<v1::RecordingRecord> next, r.Next());
    if (!next) break;
    out.records.push_back(*std::move(next));
  }
  out.good_bytes = r.good_bytes();
  out.torn_bytes = r.torn_bytes();
  out.head = r.head();
  return out;
}

absl::StatusOr<uint64_t> RepairSpool(const std::string& path) {
  uint64_t good = 0, torn = 0;
  {
    ASSIGN_OR_RETURN(SpoolReader r, SpoolReader::Open(path));
    while (true) {
      ASSIGN_OR_RETURN(std::optional<v1::RecordingRecord> next, r.Next());
      if (!next) break;
    }
    good = r.good_bytes();
    torn = r.torn_bytes();
  }
  if (torn == 0) return 0;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path, errno);
  absl::Status s;
  if (::ftruncate(fd, static_cast<off_t>(good)) != 0 || ::fsync(fd) != 0) {
    s = Errno("cannot truncate", path, errno);
  }
  ::close(fd);
  RETURN_IF_ERROR(s);
  return torn;
}

}  // namespace sallyport::audit
