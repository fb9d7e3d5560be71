// Records in their flat form (RecordFields, the Store's and the spool's)
// and their validation. The canonical bytes: recording_canonical.cc; the
// SHA-256 chain: recording_chain.cc; the session metadata check:
// recording_metadata.cc.
#include "audit/recording_record.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/recording_record_internal.h"
#include "base/safe_text.h"
#include "base/status_macros.h"

namespace sallyport::audit {

using recording_record_internal::CopySharedFields;
using recording_record_internal::FieldsView;
using recording_record_internal::ViewOf;

namespace {

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

// A request's raw text is its text as sent when the summary is not that:
// set only then, and the summary is what RecordText makes of it.
absl::Status CheckRequestRaw(const v1::RequestRecord& q) {
  if (q.raw().empty()) return absl::OkStatus();
  if (q.raw() == q.summary() || RecordText(q.raw()) != q.summary()) {
    return absl::InvalidArgumentError(
        "a request's raw text must be set only when its summary is not that "
        "text, and the summary must be the text as a record writes it");
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

namespace recording_record_internal {

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
      f.data = r.request().raw();
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

}  // namespace recording_record_internal

std::string RecordText(std::string_view text, size_t max) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t len = base::Utf8SequenceLength(text, i);
    if (len == 0 || text[i] == '\0') {
      if (out.size() + 4 > max) break;
      absl::StrAppend(
          &out, "\\x",
          absl::Hex(static_cast<unsigned char>(text[i]), absl::kZeroPad2));
      ++i;
    } else {
      if (out.size() + len > max) break;
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

RecordFields ToFields(const v1::RecordingRecord& r) {
  RecordFields f;
  CopySharedFields(ViewOf(r), f);
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
    RETURN_IF_ERROR(unused(no_values && f.stream == 0, "a stream or values"));
    auto* q = r.mutable_request();
    q->set_direction(direction);
    q->set_type(f.name);
    q->set_summary(f.summary);
    q->set_raw(f.data);
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
  if (r.has_request()) RETURN_IF_ERROR(CheckRequestRaw(r.request()));
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

}  // namespace sallyport::audit
