#include "gateway/spool_tap.h"

#include <algorithm>
#include <deque>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/recording_record.h"
#include "audit/shipper.h"
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

// Text for a record: valid UTF-8 without NUL, within the limit.
std::string Printable(std::string_view in, size_t max) {
  std::string out;
  for (unsigned char c : in) {
    if (out.size() + 4 > max) break;
    if (c == 0 || c >= 0x80) {
      out += absl::StrCat("\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// One stream (direction + SSH data type) of a channel.
struct StreamState {
  uint64_t total = 0;
  uint64_t recorded = 0;
  bool summarised = false;  // hashed from the start
  // Hashed on the recorder's writer thread (SessionRecording::AppendHash):
  // `pending` gathers up to audit::kHashPieceBytes first.
  std::shared_ptr<audit::StreamHasher> hasher =
      std::make_shared<audit::StreamHasher>();
  std::string pending;
};

// Hash pieces of a channel handed to the writer and not yet hashed before
// the channel's data waits for the hashing (bounded memory: at most this
// many pieces plus a window); the writer keeps up at SHA-256 speed unless
// the machine is starved.
constexpr size_t kMaxHashPiecesInFlight = 16;

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

  absl::Status Open(absl::Time at) {
    v1::RecordingRecord r = Base(at);
    r.mutable_channel_open()->set_type(Printable(info_.type, 256));
    r.mutable_channel_open()->set_destination(
        Printable(info_.destination, 8192));
    return Append(std::move(r));
  }

  absl::Status Data(absl::Time at, Direction direction, uint32_t stream,
                    absl::Span<const uint8_t> bytes) override {
    RETURN_IF_ERROR(session_->status());
    (direction == Direction::kInput ? bytes_in_ : bytes_out_) += bytes.size();
    std::string_view view(reinterpret_cast<const char*>(bytes.data()),
                          bytes.size());
    StreamState& st = streams_[{direction == Direction::kInput, stream}];
    st.total += bytes.size();
    // What this channel keeps whole.
    uint64_t keep = 0;
    if (!counts_only_) {
      if (pty_) {
        keep =
            direction == Direction::kInput && !record_input_ ? 0 : bytes.size();
      } else if (direction == Direction::kOutput) {
        const uint64_t limit =
            static_cast<uint64_t>(options_.exec_output_limit);
        keep = st.recorded >= limit
                   ? 0
                   : std::min<uint64_t>(bytes.size(), limit - st.recorded);
      } else if (record_input_) {
        keep = bytes.size();
      }
    }
    // Streams that may not be kept whole are hashed from their first byte.
    if (counts_only_ || !pty_) {
      st.summarised = true;
      RETURN_IF_ERROR(Hash(st, view));
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

  absl::Status Request(absl::Time at, Direction direction,
                       std::string_view type,
                       std::string_view summary) override {
    if (type == "pty-req") {
      pty_ = true;
      // The default (no record_input in the role): input of pty sessions.
      if (!info_.record_input.has_value()) record_input_ = true;
    }
    if (type == "subsystem" || (type == "exec" && IsScp(summary))) {
      counts_only_ = true;
    }
    v1::RecordingRecord r = Base(at);
    r.mutable_request()->set_direction(ToProto(direction));
    r.mutable_request()->set_type(Printable(type, 256));
    r.mutable_request()->set_summary(Printable(summary, 8192));
    return Append(std::move(r));
  }

  absl::Status WindowChange(absl::Time at, uint32_t columns,
                            uint32_t rows) override {
    v1::RecordingRecord r = Base(at);
    r.mutable_window_change()->set_columns(columns);
    r.mutable_window_change()->set_rows(rows);
    return Append(std::move(r));
  }

  void Close(absl::Time at) override {
    // Streams that were not kept whole: their totals and SHA-256.
    for (auto& [key, st] : streams_) {
      if (!st.summarised || (!counts_only_ && st.total == st.recorded)) {
        continue;
      }
      if (!st.pending.empty() &&
          !session_->AppendHash(st.hasher, std::move(st.pending)).ok()) {
        continue;
      }
      v1::RecordingRecord r = Base(at);
      auto* s = r.mutable_stream_summary();
      s->set_direction(key.first ? v1::RECORD_DIRECTION_INPUT
                                 : v1::RECORD_DIRECTION_OUTPUT);
      s->set_ssh_stream(key.second);
      s->set_total_bytes(st.total);
      s->set_recorded_bytes(st.recorded);
      (void)session_->AppendSummary(std::move(r), st.hasher);
    }
    v1::RecordingRecord r = Base(at);
    r.mutable_channel_close()->set_bytes_input(bytes_in_);
    r.mutable_channel_close()->set_bytes_output(bytes_out_);
    (void)Append(std::move(r));
  }

  // The data waits for its records, and for the hashing when more than
  // kMaxHashPiecesInFlight pieces of the channel wait for it.
  uint64_t LastTicket() const override {
    return std::max(last_ticket_, hash_ticket_);
  }
  bool Recorded(uint64_t ticket) const override {
    return session_->Written(ticket);
  }
  absl::Status Health() const override { return session_->status(); }

 private:
  static bool IsScp(std::string_view command) {
    return command.starts_with("scp ") &&
           (command.find(" -t") != std::string_view::npos ||
            command.find(" -f") != std::string_view::npos);
  }
  v1::RecordingRecord Base(absl::Time at) const {
    v1::RecordingRecord r;
    r.set_channel_id(info_.channel_id);
    r.set_offset_us(session_->OffsetUs(at));
    return r;
  }
  absl::Status Append(v1::RecordingRecord r) {
    ASSIGN_OR_RETURN(last_ticket_, session_->Append(std::move(r)));
    return absl::OkStatus();
  }
  // Gathers `bytes` for the stream's SHA-256 and hands a full piece to the
  // writer thread (no hand-off, allocation or record per packet).
  absl::Status Hash(StreamState& st, std::string_view bytes) {
    while (!bytes.empty()) {
      if (st.pending.capacity() < audit::kHashPieceBytes) {
        st.pending.reserve(audit::kHashPieceBytes);
      }
      const size_t n =
          std::min(bytes.size(), audit::kHashPieceBytes - st.pending.size());
      st.pending.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      if (st.pending.size() < audit::kHashPieceBytes) break;
      ASSIGN_OR_RETURN(uint64_t ticket,
                       session_->AppendHash(st.hasher, std::move(st.pending)));
      st.pending = std::string();
      hash_tickets_.push_back(ticket);
      if (hash_tickets_.size() > kMaxHashPiecesInFlight) {
        hash_ticket_ = std::max(hash_ticket_, hash_tickets_.front());
        hash_tickets_.pop_front();
      }
    }
    return absl::OkStatus();
  }

  std::shared_ptr<audit::SessionRecording> session_;
  const ChannelInfo info_;
  const SpoolTapOptions options_;
  const size_t max_record_bytes_;
  uint64_t last_ticket_ = 0;
  // The hand-offs of the channel's hash pieces (any stream), newest last,
  // and the one the data waits for.
  std::deque<uint64_t> hash_tickets_;
  uint64_t hash_ticket_ = 0;
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
    ASSIGN_OR_RETURN(session, recorder_.OpenSession(meta, absl::Now()));
    absl::MutexLock lock(&mu_);
    sessions_[info.session_id] = session;
  }
  // Every channel of a session belongs to one connection: any channel's
  // wake reaches it (a relay's tap may have come first without one).
  if (info.wake) session->SetWaker(info.wake);
  RETURN_IF_ERROR(session->status());
  auto tap = std::make_unique<Tap>(session, info, options_);
  RETURN_IF_ERROR(tap->Open(absl::Now()));
  return tap;
}

void SpoolTapRecorder::EndSession(const std::string& session_id,
                                  const std::string& why) {
  std::shared_ptr<audit::SessionRecording> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return;
    session = std::move(it->second);
    sessions_.erase(it);
  }
  session->End(
      why.empty() ? v1::SESSION_STATUS_ENDED : v1::SESSION_STATUS_FAILED, why);
}

std::shared_ptr<audit::SessionRecording> SpoolTapRecorder::Find(
    const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

}  // namespace sallyport::gateway
