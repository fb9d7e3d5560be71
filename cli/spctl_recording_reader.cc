#include "cli/spctl_recording_reader.h"

#include <algorithm>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "audit/recording_record.h"
#include "base/rpc_limits.h"
#include "proto/admin.grpc.pb.h"

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
namespace av = audit::v1;
using Stub = pb::Audit::Stub;

constexpr int kRecordPage = 1000;

// `last` (any case) names the newest session the caller may see: the
// first of `sessions ls`.
constexpr absl::string_view kLastSession = "last";

}  // namespace

std::optional<int> ResolveLast(Spctl& ctl, const std::string& purpose,
                               std::string* id) {
  if (!absl::EqualsIgnoreCase(*id, kLastSession)) return std::nullopt;
  pb::ListSessionsRequest req;
  req.set_limit(1);
  pb::ListSessionsResponse resp;
  if (auto rc = Call(ctl, ctl.Audit(), &Stub::ListSessions, req, &resp,
                     absl::StrCat("sessions ", purpose))) {
    return rc;
  }
  if (resp.sessions().empty()) {
    return ctl.Error("no recorded sessions yet", kExitNotFound);
  }
  *id = resp.sessions(0).id();
  return std::nullopt;
}

std::optional<int> ReadRecords(Spctl& ctl, std::string id,
                               const std::string& purpose,
                               const std::string& format, RecordingHead* head,
                               const RecordFn& on_record) {
  if (auto rc = ResolveLast(ctl, purpose, &id)) return rc;
  return ReadRecordPages(
      ctl, id, purpose, format,
      [&](const pb::ReadSessionRequest& req, pb::ReadSessionResponse* resp) {
        return Call(ctl, ctl.Audit(), &Stub::ReadSession, req, resp,
                    absl::StrCat("sessions ", purpose));
      },
      head, on_record);
}

int ReadingError(Spctl& ctl, absl::string_view purpose,
                 const absl::Status& why) {
  return ctl.Error(absl::StrCat("sessions ", purpose, ": ", why.message()));
}

std::optional<int> ReadRecordPages(Spctl& ctl, const std::string& id,
                                   const std::string& purpose,
                                   const std::string& format,
                                   const ReadPage& read_page,
                                   RecordingHead* head,
                                   const RecordFn& on_record) {
  uint64_t after = 0;
  for (size_t pages = 1;; ++pages) {
    pb::ReadSessionRequest req;
    req.set_id(id);
    req.set_after_seq(after);
    req.set_limit(kRecordPage);
    req.set_purpose(std::string(purpose));
    req.set_format(std::string(format));
    pb::ReadSessionResponse resp;
    if (auto rc = read_page(req, &resp)) return rc;
    if (after == 0) {
      head->session = resp.session();
      head->intact = resp.intact();
      head->first_broken_seq = resp.first_broken_seq();
      head->problem = resp.problem();
      if (resp.has_abandoned()) head->abandoned = resp.abandoned();
    }
    for (const av::RecordingRecord& r : resp.records()) {
      if (auto rc = on_record(r)) return rc;
    }
    if (resp.next_after_seq() == 0) break;
    if (absl::Status next = CheckNextPage(
            pages, static_cast<size_t>(resp.records_size()), after,
            resp.next_after_seq(), base::kMaxRecordingPages,
            "the most spctl reads of one recording");
        !next.ok()) {
      return ReadingError(ctl, purpose, next);
    }
    after = resp.next_after_seq();
  }
  return std::nullopt;
}

void ChainCheck::Add(const av::RecordingRecord& r) {
  ++records_;
  if (broken_ != 0) return;
  if (r.seq() != seq_ + 1) {
    broken_ = seq_ + 1;
    why_ = absl::StrCat("record ", seq_ + 1,
                        " is missing (deleted?): the next is ", r.seq());
    return;
  }
  absl::StatusOr<std::string> hash = audit::RecordHash(prev_, r);
  if (!hash.ok() || *hash != r.hash()) {
    broken_ = r.seq();
    why_ =
        absl::StrCat("record ", r.seq(), " does not match its hash (edited?)");
    return;
  }
  prev_ = r.hash();
  seq_ = r.seq();
  metadata_.Add(r);
}

std::pair<uint64_t, std::string> ChainCheck::Finish(
    const av::RecordingSession& session) const {
  if (broken_ != 0) return {broken_, why_};
  if (seq_ != session.last_seq()) {
    return {seq_ + 1, absl::StrCat("the session says ", session.last_seq(),
                                   " records but ", seq_, " are stored")};
  }
  if (prev_ != session.chain_head()) {
    return {seq_ + 1, "the session's chain head is not its last record's hash"};
  }
  if (auto differs = metadata_.Finish(session)) return *std::move(differs);
  return {0, ""};
}

std::string ChannelIndices(const std::vector<int>& indices) {
  std::string out;
  for (size_t i = 0; i < std::min(indices.size(), kChannelsNamed); ++i) {
    absl::StrAppend(&out, i ? ", " : "", indices[i]);
  }
  if (indices.size() > kChannelsNamed) absl::StrAppend(&out, ", ...");
  return out;
}

bool IsOutput(const av::RecordingRecord& r) {
  return r.has_data() && r.data().direction() == av::RECORD_DIRECTION_OUTPUT;
}

bool HasSize(const av::RecordingRecord& r) {
  return r.has_window_change() && r.window_change().columns() > 0 &&
         r.window_change().rows() > 0;
}

absl::StatusOr<Channel*> ChannelTracker::Add(const av::RecordingRecord& r) {
  // The session's metadata belongs to no channel.
  if (r.has_session_start()) return nullptr;
  if (r.has_channel_open()) {
    if (channels_.size() >= kMaxRecordingChannels) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the recording opens more than ", kMaxRecordingChannels,
                       " channels, the most spctl reads of one recording"));
    }
    Channel& c = channels_.emplace_back();
    c.index = static_cast<int>(channels_.size() - 1);
    c.channel_id = r.channel_id();
    c.type = r.channel_open().type();
    c.destination = r.channel_open().destination();
    open_[r.channel_id()] = &c;
    return &c;
  }
  auto it = open_.find(r.channel_id());
  if (it == open_.end()) return nullptr;
  Channel& c = *it->second;
  if (HasSize(r)) {
    if (!c.sized) {
      c.columns = r.window_change().columns();
      c.rows = r.window_change().rows();
      c.sized = true;
    }
    c.last_columns = r.window_change().columns();
    c.last_rows = r.window_change().rows();
  }
  if (r.has_request()) {
    const std::string& t = r.request().type();
    if (t == "exec" || t == "subsystem") {
      c.command = audit::RequestText(r.request());
    }
    if (t == "subsystem") c.subsystem = r.request().summary();
    if (t == "pty-req") c.pty = true;
    if (t == "exit-status") c.exit = r.request().summary();
    if (t == "exit-signal") c.exit_signal = r.request().summary();
  }
  if (r.has_data() || r.has_stream_summary()) {
    const auto [direction, ssh_stream] =
        r.has_data() ? std::pair(r.data().direction(), r.data().ssh_stream())
                     : std::pair(r.stream_summary().direction(),
                                 r.stream_summary().ssh_stream());
    const std::pair<bool, uint32_t> key(direction == av::RECORD_DIRECTION_INPUT,
                                        ssh_stream);
    if (c.streams.size() >= kMaxRecordingStreamsPerChannel &&
        c.streams.count(key) == 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat("channel ", c.index, " of the recording has more than ",
                       kMaxRecordingStreamsPerChannel,
                       " streams, the most spctl reads of one channel"));
    }
    RecordedStream& stream = c.streams[key];
    if (r.has_data()) {
      stream.bytes += r.data().bytes().size();
    } else {
      stream.summary = r.stream_summary();
    }
  }
  if (r.has_channel_close()) {
    c.closed = true;
    c.bytes_in = r.channel_close().bytes_input();
    c.bytes_out = r.channel_close().bytes_output();
  }
  if (IsOutput(r)) c.has_output = true;
  return &c;
}

}  // namespace sallyport::cli
