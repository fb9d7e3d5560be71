#include "audit/recording_record.h"

#include <openssl/evp.h>

#include <array>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/safe_text.h"
#include "base/status_macros.h"

namespace sallyport::audit {
namespace {

constexpr std::string_view kDomain = kRecordingDomain;

void PutU32(std::string& out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}
void PutU64(std::string& out, uint64_t v) {
  PutU32(out, static_cast<uint32_t>(v >> 32));
  PutU32(out, static_cast<uint32_t>(v));
}
void PutStr(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// A bounds-checked reader over canonical bytes.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U32(uint32_t& v) {
    if (in_.size() < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(4);
    return true;
  }
  bool U64(uint64_t& v) {
    uint32_t hi = 0, lo = 0;
    if (!U32(hi) || !U32(lo)) return false;
    v = (uint64_t{hi} << 32) | lo;
    return true;
  }
  bool I64(int64_t& v) {
    uint64_t u = 0;
    if (!U64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool Str(std::string& s, size_t max) {
    uint32_t n = 0;
    if (!U32(n) || n > max || n > in_.size()) return false;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool empty() const { return in_.empty(); }

 private:
  std::string_view in_;
};

absl::Status CheckText(std::string_view field, std::string_view value,
                       size_t max) {
  if (value.size() > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record ", std::string(field), " is longer than ", max, " bytes"));
  }
  if (!base::IsValidUtf8(value) || value.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record ", std::string(field), " is not UTF-8 text without NUL"));
  }
  return absl::OkStatus();
}

constexpr std::array<std::pair<v1::SessionStatus, std::string_view>, 5>
    kStatuses = {{{v1::SESSION_STATUS_UNSPECIFIED, "unspecified"},
                  {v1::SESSION_STATUS_ACTIVE, "active"},
                  {v1::SESSION_STATUS_ENDED, "ended"},
                  {v1::SESSION_STATUS_FAILED, "failed"},
                  {v1::SESSION_STATUS_INTERRUPTED, "interrupted"}}};
constexpr std::array<std::pair<v1::RecordDirection, std::string_view>, 3>
    kDirections = {{{v1::RECORD_DIRECTION_NONE, "none"},
                    {v1::RECORD_DIRECTION_INPUT, "input"},
                    {v1::RECORD_DIRECTION_OUTPUT, "output"}}};

template <typename E, size_t N>
bool ParseName(const std::array<std::pair<E, std::string_view>, N>& table,
               std::string_view name, E& out) {
  for (const auto& [v, text] : table) {
    if (text == name) {
      out = v;
      return true;
    }
  }
  return false;
}

// The flat fields of a record without copying its strings (they point into
// the record, or at constant names).
struct FieldsView {
  std::string_view session_id;
  uint64_t seq = 0;
  uint32_t channel_id = 0;
  int64_t offset_us = 0;
  std::string_view kind;
  std::string_view direction = "none";
  uint32_t stream = 0;
  std::string_view name;
  std::string_view summary;
  int64_t value1 = 0;
  int64_t value2 = 0;
  std::string_view data;
};

FieldsView ViewOf(const v1::RecordingRecord& r);

// Everything of the canonical bytes but the data's own bytes, which come
// last: canonical = head || f.data.
void AppendCanonicalHead(const FieldsView& f, std::string& out) {
  PutStr(out, kDomain);
  PutStr(out, f.session_id);
  PutU64(out, f.seq);
  PutU32(out, f.channel_id);
  PutU64(out, static_cast<uint64_t>(f.offset_us));
  PutStr(out, f.kind);
  PutStr(out, f.direction);
  PutU32(out, f.stream);
  PutStr(out, f.name);
  PutStr(out, f.summary);
  PutU64(out, static_cast<uint64_t>(f.value1));
  PutU64(out, static_cast<uint64_t>(f.value2));
  PutU32(out, static_cast<uint32_t>(f.data.size()));
}

void AppendCanonical(const FieldsView& f, std::string& out) {
  AppendCanonicalHead(f, out);
  out.append(f.data);
}

}  // namespace

std::string_view SessionStatusText(v1::SessionStatus status) {
  for (const auto& [v, text] : kStatuses) {
    if (v == status) return text;
  }
  return "unspecified";
}

std::string_view DirectionText(v1::RecordDirection direction) {
  for (const auto& [v, text] : kDirections) {
    if (v == direction) return text;
  }
  return "none";
}

namespace {

FieldsView ViewOf(const v1::RecordingRecord& r) {
  FieldsView f;
  f.session_id = r.session_id();
  f.seq = r.seq();
  f.channel_id = r.channel_id();
  f.offset_us = r.offset_us();
  switch (r.kind_case()) {
    case v1::RecordingRecord::kData:
      f.kind = "data";
      f.direction = DirectionText(r.data().direction());
      f.stream = r.data().ssh_stream();
      f.data = r.data().bytes();
      break;
    case v1::RecordingRecord::kRequest:
      f.kind = "request";
      f.direction = DirectionText(r.request().direction());
      f.name = r.request().type();
      f.summary = r.request().summary();
      break;
    case v1::RecordingRecord::kWindowChange:
      f.kind = "window_change";
      f.value1 = r.window_change().columns();
      f.value2 = r.window_change().rows();
      break;
    case v1::RecordingRecord::kChannelOpen:
      f.kind = "channel_open";
      f.name = r.channel_open().type();
      f.summary = r.channel_open().destination();
      break;
    case v1::RecordingRecord::kChannelClose:
      f.kind = "channel_close";
      f.value1 = static_cast<int64_t>(r.channel_close().bytes_input());
      f.value2 = static_cast<int64_t>(r.channel_close().bytes_output());
      break;
    case v1::RecordingRecord::kStreamSummary:
      f.kind = "stream_summary";
      f.direction = DirectionText(r.stream_summary().direction());
      f.stream = r.stream_summary().ssh_stream();
      f.value1 = static_cast<int64_t>(r.stream_summary().total_bytes());
      f.value2 = static_cast<int64_t>(r.stream_summary().recorded_bytes());
      f.data = r.stream_summary().sha256();
      break;
    case v1::RecordingRecord::kSessionEnd:
      f.kind = "session_end";
      f.name = SessionStatusText(r.session_end().status());
      f.summary = r.session_end().message();
      break;
    case v1::RecordingRecord::kSessionStart:
      f.kind = "session_start";
      f.name = r.session_start().user();
      f.summary = r.session_start().host();
      f.data = r.session_start().login();
      f.value1 = r.session_start().started_at_us();
      break;
    case v1::RecordingRecord::KIND_NOT_SET:
      break;
  }
  return f;
}

}  // namespace

RecordFields ToFields(const v1::RecordingRecord& r) {
  const FieldsView v = ViewOf(r);
  RecordFields f;
  f.session_id = std::string(v.session_id);
  f.seq = v.seq;
  f.channel_id = v.channel_id;
  f.offset_us = v.offset_us;
  f.kind = std::string(v.kind);
  f.direction = std::string(v.direction);
  f.stream = v.stream;
  f.name = std::string(v.name);
  f.summary = std::string(v.summary);
  f.value1 = v.value1;
  f.value2 = v.value2;
  f.data = std::string(v.data);
  f.hash = r.hash();
  return f;
}

absl::StatusOr<v1::RecordingRecord> FromFields(const RecordFields& f) {
  v1::RecordingRecord r;
  r.set_session_id(f.session_id);
  r.set_seq(f.seq);
  r.set_channel_id(f.channel_id);
  r.set_offset_us(f.offset_us);
  r.set_hash(f.hash);
  v1::RecordDirection direction = v1::RECORD_DIRECTION_NONE;
  if (!ParseName(kDirections, f.direction, direction)) {
    return absl::InvalidArgumentError("record direction: unknown value");
  }
  const bool no_direction = direction == v1::RECORD_DIRECTION_NONE;
  const bool no_values = f.value1 == 0 && f.value2 == 0;
  auto unused = [&](bool ok, std::string_view what) -> absl::Status {
    if (ok) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("a ", f.kind, " record has ", std::string(what)));
  };
  if (f.kind == "data") {
    RETURN_IF_ERROR(unused(f.name.empty() && f.summary.empty() && no_values,
                           "names or values"));
    auto* d = r.mutable_data();
    d->set_direction(direction);
    d->set_ssh_stream(f.stream);
    d->set_bytes(f.data);
  } else if (f.kind == "request") {
    RETURN_IF_ERROR(
        unused(f.data.empty() && no_values && f.stream == 0, "data or values"));
    auto* q = r.mutable_request();
    q->set_direction(direction);
    q->set_type(f.name);
    q->set_summary(f.summary);
  } else if (f.kind == "window_change") {
    RETURN_IF_ERROR(unused(f.name.empty() && f.summary.empty() &&
                               f.data.empty() && no_direction && f.stream == 0,
                           "text or data"));
    if (f.value1 < 0 || f.value1 > 0xffffffffLL || f.value2 < 0 ||
        f.value2 > 0xffffffffLL) {
      return absl::InvalidArgumentError("window size out of range");
    }
    r.mutable_window_change()->set_columns(static_cast<uint32_t>(f.value1));
    r.mutable_window_change()->set_rows(static_cast<uint32_t>(f.value2));
  } else if (f.kind == "channel_open") {
    RETURN_IF_ERROR(
        unused(f.data.empty() && no_values && no_direction && f.stream == 0,
               "data or values"));
    r.mutable_channel_open()->set_type(f.name);
    r.mutable_channel_open()->set_destination(f.summary);
  } else if (f.kind == "channel_close") {
    RETURN_IF_ERROR(unused(f.name.empty() && f.summary.empty() &&
                               f.data.empty() && no_direction && f.stream == 0,
                           "text or data"));
    if (f.value1 < 0 || f.value2 < 0) {
      return absl::InvalidArgumentError("byte counts must be >= 0");
    }
    r.mutable_channel_close()->set_bytes_input(static_cast<uint64_t>(f.value1));
    r.mutable_channel_close()->set_bytes_output(
        static_cast<uint64_t>(f.value2));
  } else if (f.kind == "stream_summary") {
    RETURN_IF_ERROR(
        unused(f.name.empty() && f.summary.empty(), "names or text"));
    if (f.value1 < 0 || f.value2 < 0) {
      return absl::InvalidArgumentError("byte counts must be >= 0");
    }
    auto* s = r.mutable_stream_summary();
    s->set_direction(direction);
    s->set_ssh_stream(f.stream);
    s->set_total_bytes(static_cast<uint64_t>(f.value1));
    s->set_recorded_bytes(static_cast<uint64_t>(f.value2));
    s->set_sha256(f.data);
  } else if (f.kind == "session_end") {
    RETURN_IF_ERROR(
        unused(f.data.empty() && no_values && no_direction && f.stream == 0,
               "data or values"));
    v1::SessionStatus status = v1::SESSION_STATUS_UNSPECIFIED;
    if (!ParseName(kStatuses, f.name, status)) {
      return absl::InvalidArgumentError("session end: unknown status");
    }
    r.mutable_session_end()->set_status(status);
    r.mutable_session_end()->set_message(f.summary);
  } else if (f.kind == "session_start") {
    RETURN_IF_ERROR(unused(f.value2 == 0 && no_direction && f.stream == 0,
                           "a direction, a stream or value2"));
    auto* s = r.mutable_session_start();
    s->set_user(f.name);
    s->set_login(f.data);
    s->set_host(f.summary);
    s->set_started_at_us(f.value1);
  } else {
    return absl::InvalidArgumentError("record kind: unknown value");
  }
  RETURN_IF_ERROR(ValidateRecord(r));
  return r;
}

absl::Status ValidateRecord(const v1::RecordingRecord& r) {
  if (r.kind_case() == v1::RecordingRecord::KIND_NOT_SET) {
    return absl::InvalidArgumentError("record has no kind");
  }
  if (r.seq() == 0 || r.seq() > 0x7fffffffffffffffULL) {
    return absl::InvalidArgumentError("record seq out of range");
  }
  if (r.offset_us() < 0) {
    return absl::InvalidArgumentError("record offset must be >= 0");
  }
  RETURN_IF_ERROR(CheckText("session id", r.session_id(), kMaxRecordNameBytes));
  if (r.session_id().empty()) {
    return absl::InvalidArgumentError("record has no session id");
  }
  // Enum numbers this build does not know would be written as "none" /
  // "unspecified": two different records with one canonical form.
  const v1::RecordDirection direction =
      r.has_data()             ? r.data().direction()
      : r.has_request()        ? r.request().direction()
      : r.has_stream_summary() ? r.stream_summary().direction()
                               : v1::RECORD_DIRECTION_NONE;
  if (!v1::RecordDirection_IsValid(direction)) {
    return absl::InvalidArgumentError(
        absl::StrCat("record direction ", static_cast<int>(direction),
                     " is not a known direction"));
  }
  if (r.has_session_end() &&
      !v1::SessionStatus_IsValid(r.session_end().status())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "session end status ", static_cast<int>(r.session_end().status()),
        " is not a known status"));
  }
  if (r.has_session_start()) {
    // The session's metadata, once, before anything else: a second one
    // later in the chain would claim another user for what follows.
    if (r.seq() != 1 || r.channel_id() != 0 || r.offset_us() != 0) {
      return absl::InvalidArgumentError(
          "a session start must be the first record (seq 1, channel 0, "
          "offset 0)");
    }
    RETURN_IF_ERROR(
        CheckText("login", r.session_start().login(), kMaxRecordNameBytes));
    RETURN_IF_ERROR(
        CheckText("host", r.session_start().host(), kMaxRecordNameBytes));
  }
  const FieldsView f = ViewOf(r);
  if (f.stream > 0x7fffffffu) {
    return absl::InvalidArgumentError("record stream out of range");
  }
  RETURN_IF_ERROR(CheckText("name", f.name, kMaxRecordNameBytes));
  RETURN_IF_ERROR(CheckText("summary", f.summary, kMaxRecordSummaryBytes));
  if (f.data.size() > kMaxRecordDataBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record data is longer than ", kMaxRecordDataBytes, " bytes"));
  }
  if (r.has_stream_summary() && r.stream_summary().sha256().size() != 32) {
    return absl::InvalidArgumentError("stream summary sha256 is not 32 bytes");
  }
  if ((r.has_channel_close() &&
       (r.channel_close().bytes_input() > 0x7fffffffffffffffULL ||
        r.channel_close().bytes_output() > 0x7fffffffffffffffULL)) ||
      (r.has_stream_summary() &&
       (r.stream_summary().total_bytes() > 0x7fffffffffffffffULL ||
        r.stream_summary().recorded_bytes() > 0x7fffffffffffffffULL))) {
    return absl::InvalidArgumentError("record byte count out of range");
  }
  return absl::OkStatus();
}

void AppendCanonicalBytes(const RecordFields& f, std::string& out) {
  FieldsView v;
  v.session_id = f.session_id;
  v.seq = f.seq;
  v.channel_id = f.channel_id;
  v.offset_us = f.offset_us;
  v.kind = f.kind;
  v.direction = f.direction;
  v.stream = f.stream;
  v.name = f.name;
  v.summary = f.summary;
  v.value1 = f.value1;
  v.value2 = f.value2;
  v.data = f.data;
  AppendCanonical(v, out);
}

void AppendCanonicalBytes(const v1::RecordingRecord& record, std::string& out) {
  AppendCanonical(ViewOf(record), out);
}

absl::StatusOr<RecordFields> ParseCanonicalBytes(std::string_view bytes) {
  if (bytes.size() > kMaxCanonicalRecordBytes) {
    return absl::DataLossError("record is longer than the limit");
  }
  Reader r(bytes);
  RecordFields f;
  std::string domain;
  uint64_t offset = 0, v1 = 0, v2 = 0;
  if (!r.Str(domain, kDomain.size()) || domain != kDomain ||
      !r.Str(f.session_id, kMaxRecordNameBytes) || !r.U64(f.seq) ||
      !r.U32(f.channel_id) || !r.U64(offset) || !r.Str(f.kind, 64) ||
      !r.Str(f.direction, 64) || !r.U32(f.stream) ||
      !r.Str(f.name, kMaxRecordNameBytes) ||
      !r.Str(f.summary, kMaxRecordSummaryBytes) || !r.U64(v1) || !r.U64(v2) ||
      !r.Str(f.data, kMaxRecordDataBytes) || !r.empty()) {
    return absl::DataLossError("malformed recording record");
  }
  f.offset_us = static_cast<int64_t>(offset);
  f.value1 = static_cast<int64_t>(v1);
  f.value2 = static_cast<int64_t>(v2);
  return f;
}

absl::StatusOr<std::optional<uint64_t>> CanonicalLengthOfPrefix(
    std::string_view prefix) {
  size_t at = 0;
  bool short_input = false;
  // A length-prefixed string of at most `max` bytes; false when the
  // prefix ends first (short_input) or the length is over `max`.
  auto str = [&](size_t max, std::string_view want = {}) {
    if (prefix.size() - at < 4) return !(short_input = true);
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) {
      n = (n << 8) | static_cast<uint8_t>(prefix[at + i]);
    }
    if (n > max) return false;
    at += 4;
    if (!want.empty()) {
      const std::string_view have = prefix.substr(at, n);
      if (n != want.size() || have != want.substr(0, have.size())) {
        return false;
      }
    }
    if (prefix.size() - at < n) {
      at = prefix.size();
      return !(short_input = true);
    }
    at += n;
    return true;
  };
  auto fixed = [&](size_t n) {
    if (prefix.size() - at < n) return !(short_input = true);
    at += n;
    return true;
  };
  const bool ok = str(kDomain.size(), kDomain) && str(kMaxRecordNameBytes) &&
                  fixed(8 + 4 + 8) && str(64) && str(64) && fixed(4) &&
                  str(kMaxRecordNameBytes) && str(kMaxRecordSummaryBytes) &&
                  fixed(8 + 8);
  if (!ok || prefix.size() - at < 4) {
    if (short_input || (ok && prefix.size() - at < 4)) {
      return std::optional<uint64_t>();
    }
    return absl::DataLossError("malformed recording record");
  }
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) {
    n = (n << 8) | static_cast<uint8_t>(prefix[at + i]);
  }
  if (n > kMaxRecordDataBytes) {
    return absl::DataLossError("malformed recording record");
  }
  return std::optional<uint64_t>(at + 4 + uint64_t{n});
}

namespace {

// SHA-256(prev_hash || canonical || tail) into `digest` (32 bytes): the
// canonical bytes may come in two pieces (a record's head, then its data
// in place).
absl::Status Sha256Chain(std::string_view prev_hash, std::string_view canonical,
                         unsigned char* digest, std::string_view tail = {}) {
  unsigned int len = 0;
  base::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), prev_hash.data(), prev_hash.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), canonical.data(), canonical.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), tail.data(), tail.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1 || len != 32) {
    return absl::InternalError(
        absl::StrCat("SHA-256 failed: ", base::OpenSslErrorString()));
  }
  return absl::OkStatus();
}

std::string Hex(const unsigned char* digest, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

}  // namespace

absl::StatusOr<std::string> ChainHash(std::string_view prev_hash,
                                      std::string_view canonical) {
  unsigned char digest[32];
  RETURN_IF_ERROR(Sha256Chain(prev_hash, canonical, digest));
  return Hex(digest, sizeof digest);
}

absl::StatusOr<std::string> RecordHash(std::string_view prev_hash,
                                       const v1::RecordingRecord& record) {
  // The data is hashed where it is, not copied into the canonical bytes.
  const FieldsView view = ViewOf(record);
  std::string head;
  AppendCanonicalHead(view, head);
  unsigned char digest[32];
  RETURN_IF_ERROR(Sha256Chain(prev_hash, head, digest, view.data));
  return Hex(digest, sizeof digest);
}

absl::Status RecordChainer::Append(v1::RecordingRecord& record) {
  std::string canonical;
  return AppendTo(record, canonical, nullptr);
}

absl::Status RecordChainer::AppendTo(v1::RecordingRecord& record,
                                     std::string& out, std::string* raw_hash) {
  record.set_session_id(session_id_);
  record.set_seq(last_seq_ + 1);
  record.clear_hash();
  RETURN_IF_ERROR(ValidateRecord(record));
  const size_t start = out.size();
  AppendCanonical(ViewOf(record), out);
  unsigned char digest[32];
  absl::Status hashed = Sha256Chain(
      head_, std::string_view(out).substr(start, out.size() - start), digest);
  if (!hashed.ok()) {
    out.resize(start);
    return hashed;
  }
  std::string hash = Hex(digest, sizeof digest);
  record.set_hash(hash);
  if (raw_hash != nullptr) {
    raw_hash->assign(reinterpret_cast<const char*>(digest), sizeof digest);
  }
  ++last_seq_;
  head_ = std::move(hash);
  return absl::OkStatus();
}

void SessionMetadataCheck::Add(const v1::RecordingRecord& r) {
  last_seq_ = r.seq();
  if (r.has_session_start() && !start_) {
    start_ = r.session_start();
    start_seq_ = r.seq();
  }
  if (r.has_session_end()) {
    end_ = r;
    end_->mutable_session_end()->clear_message();
  }
}

namespace {

std::string MicrosText(int64_t us) {
  if (us == 0) return "none";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(us),
                          absl::UTCTimeZone());
}

std::string Differs(std::string_view what, std::string_view stored,
                    std::string_view recorded) {
  return absl::StrCat("the session's ", std::string(what), " is \"",
                      base::EscapeControls(stored),
                      "\" but its recording says \"",
                      base::EscapeControls(recorded), "\"");
}

}  // namespace

std::optional<std::string> SessionStartDiffers(
    const v1::RecordingSession& s, const v1::SessionStartRecord& r) {
  if (s.user() != r.user()) return Differs("user", s.user(), r.user());
  if (s.login() != r.login()) return Differs("login", s.login(), r.login());
  if (s.host() != r.host()) return Differs("host", s.host(), r.host());
  if (s.started_at_us() != r.started_at_us()) {
    return Differs("start", MicrosText(s.started_at_us()),
                   MicrosText(r.started_at_us()));
  }
  return std::nullopt;
}

std::optional<std::pair<uint64_t, std::string>> SessionMetadataCheck::Finish(
    const v1::RecordingSession& s) const {
  using Found = std::pair<uint64_t, std::string>;
  if (start_) {
    if (std::optional<std::string> differs = SessionStartDiffers(s, *start_)) {
      return Found{start_seq_, *std::move(differs)};
    }
  }
  const std::string_view status = SessionStatusText(s.status());
  if (end_) {
    const std::string_view recorded =
        SessionStatusText(end_->session_end().status());
    if (status != recorded) {
      return Found{end_->seq(), Differs("status", status, recorded)};
    }
    // The CA ends a session at its start + the end record's offset.
    const int64_t ended = s.started_at_us() + end_->offset_us();
    if (s.ended_at_us() != ended) {
      return Found{end_->seq(), Differs("end", MicrosText(s.ended_at_us()),
                                        MicrosText(ended))};
    }
  } else if (start_) {
    // A session still recording (or whose end is not stored yet) is
    // active; older recordings without a start are not checked here (a
    // session stored before recordings had records ended without any).
    if (s.status() != v1::SESSION_STATUS_ACTIVE) {
      return Found{
          last_seq_ + 1,
          absl::StrCat("the session's status is \"", std::string(status),
                       "\" but its recording has no end")};
    }
    if (s.ended_at_us() != 0) {
      return Found{
          last_seq_ + 1,
          absl::StrCat("the session's end is ", MicrosText(s.ended_at_us()),
                       " but its recording has no end")};
    }
  }
  return std::nullopt;
}

StreamHasher::StreamHasher() { Start(); }

void StreamHasher::Start() {
  ctx_.reset(EVP_MD_CTX_new());
  failed_ = ctx_ == nullptr ||
            EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1;
}

void StreamHasher::Update(std::string_view bytes) {
  if (failed_) return;
  if (EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) != 1) {
    failed_ = true;
  }
}

absl::StatusOr<std::string> StreamHasher::Finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok = !failed_ && EVP_DigestFinal_ex(ctx_.get(), digest, &len) == 1;
  Start();
  if (!ok) {
    return absl::InternalError(
        absl::StrCat("SHA-256 failed: ", base::OpenSslErrorString()));
  }
  return std::string(reinterpret_cast<const char*>(digest), len);
}

}  // namespace sallyport::audit
