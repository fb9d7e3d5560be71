// SessionMetadataCheck: a session's stored metadata against its
// recording's session_start and session_end records (see
// recording_record.h).
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/recording_record.h"
#include "base/safe_text.h"

namespace sallyport::audit {

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

}  // namespace sallyport::audit
