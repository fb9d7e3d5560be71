#include "gateway/spool_tap.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/recording_record.h"
#include "audit/scp_command.h"
#include "audit/shipper.h"
#include "base/safe_text.h"
#include "base/status_macros.h"

namespace sallyport::gateway {

static_assert(kMaxTapDataRecordBytes <= audit::kMaxRecordDataBytes);
// The recorder's coalescing keeps records within the same cap.
static_assert(audit::kDefaultCoalesceDataBytes <= kMaxTapDataRecordBytes);
// A data record with its framing stays well inside one upload message.
static_assert(kMaxTapDataRecordBytes + 16 * 1024 <=
              audit::kShipMaxMessageBytes);

namespace {

namespace v1 = ::sallyport::audit::v1;

v1::RecordDirection ToProto(Direction d) {
  return d == Direction::kInput ? v1::RECORD_DIRECTION_INPUT
                                : v1::RECORD_DIRECTION_OUTPUT;
}

// One stream (direction + SSH data type) of a channel.
struct StreamState {
  uint64_t total = 0;
  uint64_t recorded = 0;
  bool summarised = false;  // hashed from the start
  // Hashed here, on the I/O thread, as the bytes pass (issue 14 bench):
  // they are in cache now; handing them to the recorder's writer thread
  // cost a copy and a second core's cache misses (~0.3 core-s/GB more),
  // and one writer would hash every session's streams.
  audit::StreamHasher hasher;
};

}  // namespace

class SpoolTapRecorder::Tap : public ChannelTap {
 public:
  Tap(std::shared_ptr<audit::SessionRecording> session, ChannelInfo info,
      SpoolTapOptions options)
      : session_(std::move(session)),
        info_(std::move(info)),
        options_(options),
        max_record_bytes_(std::clamp<size_t>(options.max_data_record_bytes, 1,
                                             kMaxTapDataRecordBytes)) {
    // Tunnels carry no terminal: counted only.
    counts_only_ = info_.type != "session";
    if (info_.record_input.has_value()) record_input_ = *info_.record_input;
  }

  absl::Status Open(absl::Duration at) {
    v1::RecordingRecord r = Base(at);
    r.mutable_channel_open()->set_type(
        audit::RecordText(info_.type, audit::kMaxRecordNameBytes));
    r.mutable_channel_open()->set_destination(
        audit::RecordText(info_.destination));
    return Append(std::move(r));
  }

  absl::Status Data(absl::Duration at, Direction direction, uint32_t stream,
                    absl::Span<const uint8_t> bytes) override {
    RETURN_IF_ERROR(session_->status());
    const std::pair<bool, uint32_t> key{direction == Direction::kInput, stream};
    auto it = streams_.find(key);
    if (it == streams_.end()) {
      if (streams_.size() >= kMaxTapStreams) {
        return absl::InternalError(absl::StrCat(
            "channel ", info_.channel_id, " has more than ", kMaxTapStreams,
            " data streams to record (extended data code ", stream, ")"));
      }
      it = streams_.try_emplace(key).first;
    }
    StreamState& st = it->second;
    (direction == Direction::kInput ? bytes_in_ : bytes_out_) += bytes.size();
    std::string_view view(reinterpret_cast<const char*>(bytes.data()),
                          bytes.size());
    st.total += bytes.size();
    // What this channel keeps whole.
    uint64_t keep = 0;
    if (!counts_only_) {
      if (pty_) {
        keep =
            direction == Direction::kInput && !record_input_ ? 0 : bytes.size();
      } else if (direction == Direction::kOutput) {
        // The limit is the channel's: stdout and stderr together.
        const uint64_t limit =
            static_cast<uint64_t>(options_.exec_output_limit);
        keep = output_kept_ >= limit
                   ? 0
                   : std::min<uint64_t>(bytes.size(), limit - output_kept_);
        output_kept_ += keep;
      } else if (record_input_) {
        keep = bytes.size();
      }
    }
    // Streams that may not be kept whole are hashed from their first byte.
    if (counts_only_ || !pty_) {
      st.summarised = true;
      st.hasher.Update(view);
    }
    while (keep > 0) {
      const size_t n = std::min<uint64_t>(keep, max_record_bytes_);
      v1::RecordingRecord r = Base(at);
      r.mutable_data()->set_direction(ToProto(direction));
      r.mutable_data()->set_ssh_stream(stream);
      r.mutable_data()->set_bytes(std::string(view.substr(0, n)));
      RETURN_IF_ERROR(Append(std::move(r)));
      view.remove_prefix(n);
      keep -= n;
      st.recorded += n;
    }
    return absl::OkStatus();
  }

  absl::Status Request(absl::Duration at, Direction direction,
                       std::string_view type,
                       std::string_view summary) override {
    // The default (no record_input in the role): input of pty sessions,
    // and of a shell without a pty (`ssh -T`, `ssh gw < script`), whose
    // input is the commands it runs: there is no command line to record.
    if (type == "pty-req" || type == "shell") {
      if (type == "pty-req") pty_ = true;
      if (!info_.record_input.has_value()) record_input_ = true;
    }
    // scp never asks for a pty: "scp -f x" on a terminal is a shell the
    // user typed into, recorded as one.
    if (type == "subsystem" ||
        (type == "exec" && !pty_ && audit::IsScpTransferCommand(summary))) {
      counts_only_ = true;
    }
    v1::RecordingRecord r = Base(at);
    r.mutable_request()->set_direction(ToProto(direction));
    r.mutable_request()->set_type(
        audit::RecordText(type, audit::kMaxRecordNameBytes));
    std::string text = audit::RecordText(summary);
    // Not the text as sent (bytes escaped, or cut): the record keeps that
    // too. The gateway takes a request's text up to 64 KiB
    // (ssh::connection::ParseStringRequest), well within a tap record that
    // uploads (kMaxTapDataRecordBytes); the cut only keeps a longer one
    // from failing the session.
    if (text != summary) {
      r.mutable_request()->set_raw(
          std::string(summary.substr(0, kMaxTapDataRecordBytes)));
    }
    r.mutable_request()->set_summary(std::move(text));
    return Append(std::move(r));
  }

  absl::Status WindowChange(absl::Duration at, uint32_t columns,
                            uint32_t rows) override {
    v1::RecordingRecord r = Base(at);
    r.mutable_window_change()->set_columns(columns);
    r.mutable_window_change()->set_rows(rows);
    return Append(std::move(r));
  }

  void Close(absl::Duration at) override {
    // Streams that were not kept whole: their totals and SHA-256.
    for (auto& [key, st] : streams_) {
      if (!st.summarised || (!counts_only_ && st.total == st.recorded)) {
        continue;
      }
      absl::StatusOr<std::string> digest = st.hasher.Finish();
      if (!digest.ok()) continue;  // OpenSSL failed: no digest to record
      v1::RecordingRecord r = Base(at);
      auto* s = r.mutable_stream_summary();
      s->set_direction(key.first ? v1::RECORD_DIRECTION_INPUT
                                 : v1::RECORD_DIRECTION_OUTPUT);
      s->set_ssh_stream(key.second);
      s->set_total_bytes(st.total);
      s->set_recorded_bytes(st.recorded);
      s->set_sha256(*digest);
      (void)Append(std::move(r));
    }
    v1::RecordingRecord r = Base(at);
    r.mutable_channel_close()->set_bytes_input(bytes_in_);
    r.mutable_channel_close()->set_bytes_output(bytes_out_);
    (void)Append(std::move(r));
  }

  // The data waits for its records (none past a stream's limit).
  uint64_t LastTicket() const override { return last_ticket_; }
  bool Recorded(uint64_t ticket) const override {
    return session_->Written(ticket);
  }
  absl::Status Health() const override { return session_->status(); }

 private:
  v1::RecordingRecord Base(absl::Duration at) const {
    v1::RecordingRecord r;
    r.set_channel_id(info_.channel_id);
    r.set_offset_us(session_->OffsetUs(at));
    return r;
  }
  absl::Status Append(v1::RecordingRecord r) {
    ASSIGN_OR_RETURN(last_ticket_, session_->Append(std::move(r)));
    return absl::OkStatus();
  }
  std::shared_ptr<audit::SessionRecording> session_;
  const ChannelInfo info_;
  const SpoolTapOptions options_;
  const size_t max_record_bytes_;
  uint64_t last_ticket_ = 0;
  // Output (stdout + stderr) kept whole so far: exec_output_limit bounds it.
  uint64_t output_kept_ = 0;
  bool pty_ = false;
  bool record_input_ = false;
  bool counts_only_ = false;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  // (input?, ssh stream) -> state
  std::map<std::pair<bool, uint32_t>, StreamState> streams_;
};

absl::StatusOr<std::unique_ptr<ChannelTap>> SpoolTapRecorder::Attach(
    const ChannelInfo& info) {
  std::shared_ptr<audit::SessionRecording> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(info.session_id);
    if (it != sessions_.end()) session = it->second;
  }
  if (session == nullptr) {
    audit::v1::RecordingSession meta;
    meta.set_session_id(info.session_id);
    meta.set_user(info.user);
    meta.set_login(info.login);
    meta.set_host(info.host);
    const bool known = info.session_started_at != absl::InfinitePast();
    ASSIGN_OR_RETURN(
        session, recorder_.OpenSession(
                     meta, known ? info.session_started_at : absl::Now(),
                     known ? std::make_optional(info.session_started_monotonic)
                           : std::nullopt));
    absl::MutexLock lock(&mu_);
    sessions_[info.session_id] = session;
  }
  // Every channel of a session belongs to one connection: any channel's
  // wake reaches it (a relay's tap may have come first without one).
  if (info.wake) session->SetWaker(info.wake);
  RETURN_IF_ERROR(session->status());
  auto tap = std::make_unique<Tap>(session, info, options_);
  RETURN_IF_ERROR(tap->Open(recorder_.clock().Monotonic()));
  return tap;
}

void SpoolTapRecorder::EndSession(const std::string& session_id,
                                  const SessionEnding& ending) {
  std::shared_ptr<audit::SessionRecording> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return;
    session = std::move(it->second);
    sessions_.erase(it);
  }
  session->End(ending.recording_failed ? v1::SESSION_STATUS_FAILED
                                       : v1::SESSION_STATUS_ENDED,
               ending.reason);
}

std::shared_ptr<audit::SessionRecording> SpoolTapRecorder::Find(
    const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

}  // namespace sallyport::gateway
